"""The benchmarked workloads, built the same way for xpnet and its peers (:mod:`benchmarks.peers`):
one training step of an MLP 784-512-512-10 (float32, synthetic data, softmax cross-entropy); one
epoch of ``fit`` over 60,000 x 784; one step of a population of small models.

Every ``make_*`` function returns ``(step, info)``: ``step()`` runs the workload once and returns only
when the device has finished it; ``info`` goes into the benchmark's extra_info.
"""
from __future__ import annotations

import contextlib
import os
import tracemalloc

import numpy as np

WIDTHS = (784, 512, 512, 10)
POPULATION_WIDTHS = (40, 100, 100, 10)
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
LR = {"sgd": 0.01, "momentum": 0.01, "rmsprop": 0.001, "adam": 0.001}
#: steps before the step counter is set back to 0 (more than any benchmark runs)
STEPS = 10_000


def flops_per_step(batch: int, widths=WIDTHS, population: int = 1) -> int:
    """Forward + backward matrix products: ``6 * batch * sum(fan_in * fan_out)`` per model."""
    return 6 * batch * population * sum(a * b for a, b in zip(widths, widths[1:]))


def synthetic_batch(batch: int, features: int = WIDTHS[0], classes: int = WIDTHS[-1], seed: int = 0):
    """``(X, labels)``: float32 features and integer labels."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal((batch, features)).astype(np.float32), rng.integers(0, classes, batch)


def cpu_threads() -> int:
    """The thread count NumPy's BLAS uses; peers are given the same."""
    from threadpoolctl import threadpool_info

    counts = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    return counts[0] if counts else os.cpu_count()


def memory_budget(batch: int, optimizer: str, widths=WIDTHS, itemsize: int = 4) -> int:
    """Parameters, their gradients and the optimizer's moments, plus one batch of activations and
    their gradients (input, and every Dense and activation output), in bytes."""
    params = sum(a * b + b for a, b in zip(widths, widths[1:]))
    moments = {"sgd": 0, "momentum": 1, "rmsprop": 1, "adam": 2}[optimizer]
    outputs = widths[0] + 2 * sum(widths[1:-1]) + widths[-1]
    return itemsize * (params * (2 + moments) + 2 * batch * outputs)


def optimizer_for(optimizer: str, population: int | None = None):
    """An xpnet optimizer with the benchmark's learning rate (one per model for a population)."""
    import xpnet as xn

    rule = {"sgd": xn.SGD, "momentum": xn.Momentum, "rmsprop": xn.RMSprop, "adam": xn.Adam}[optimizer]
    lr = LR[optimizer]
    return rule(lr=[lr * (1 + i / population) for i in range(population)] if population else lr)


def mlp(widths, device: str, population: int | None = None, fast: bool | None = None):
    """Dense + ReLU per hidden width, then a Dense output layer, float32."""
    import xpnet as xn

    layers = [layer for width in widths[1:-1] for layer in (xn.Dense(width), xn.ReLU())]
    return xn.Sequential(layers + [xn.Dense(widths[-1])], input_dim=widths[0], device=device, dtype="float32",
                         seed=list(range(population)) if population else 0, population=population, fast=fast)


# xpnet's training step, as fit runs it ----------------------------------------------------------

def _xpnet_step(device, optimizer, batch, widths, population, graphs, fast):
    """The step ``fit`` takes for a mini-batch (replayed from a CUDA graph where graphs are on), here on
    the same batch every time; returns ``(step, model, replays)``."""
    from xpnet import graphs as cuda_graphs
    from xpnet.nn.losses import get_loss
    from xpnet.training.regularization import L2
    from xpnet.training.step import EpochState, StepProgram

    model = mlp(widths, device, population, fast)
    opt = optimizer_for(optimizer, population)
    opt.init(model.param_buffer)
    backend = model.backend
    X, labels = synthetic_batch(batch, widths[0], widths[-1])
    X_device = backend.asarray(X)
    Y_device = backend.asarray(np.eye(widths[-1], dtype=np.float32)[labels])
    state = EpochState(model, opt, batch, STEPS, shuffle=False, penalty=False, correct=False)
    program = StepProgram(model, state, X_device, Y_device, batch, 0, get_loss("softmax_cross_entropy"), opt,
                          L2(0.0, backend, model.lead))
    replays = cuda_graphs.Replays(model, cuda_graphs.capture_for(backend, cuda_graphs.graphs_enabled(graphs)))
    state.start(0, None)

    def step():
        replays(program)
        opt.t += 1
        backend.synchronize()

    return step, model, replays


def make_xpnet(device: str, optimizer: str, batch: int, widths=WIDTHS, population: int | None = None,
               graphs: bool | None = None, fast: bool | None = None):
    """xpnet's step with its memory: on the CPU the peak of the arrays it allocates (tracemalloc); on a
    GPU every byte its memory pools hold after three steps (model, workspace, recorded graphs)."""
    if device == "cpu":
        _xpnet_step(device, optimizer, 4, (4, 3, 2), population, graphs, fast)[0]()  # compile fused loops first
        tracemalloc.start()
        step, model, replays = _xpnet_step(device, optimizer, batch, widths, population, graphs, fast)
        tracemalloc.reset_peak()  # the peak of training, with the model's buffers already counted
        for _ in range(3):
            step()
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    else:
        with _fresh_memory_pool(device) as pools:
            step, model, replays = _xpnet_step(device, optimizer, batch, widths, population, graphs, fast)
            for _ in range(3):
                step()
        capture_pool = getattr(replays.capture, "pool", None)
        peak = pools.used() + (capture_pool.total_bytes() if hasattr(capture_pool, "total_bytes") else 0)
    kernels = model.kernels.name + ("+graphs" if replays.capture is not None else "")
    return step, {"kernels": kernels, "budget_bytes": memory_budget(batch, optimizer, widths) * (population or 1),
                  "peak_bytes": peak}


@contextlib.contextmanager
def _fresh_memory_pool(device: str):
    """Allocations of the block come from a new memory pool: ``used()`` is what they hold afterwards
    (freed blocks included, since a pool keeps them), not what earlier benchmarks left cached."""
    if device.startswith("cuda"):
        import cupy

        pool = cupy.cuda.MemoryPool()
        with cupy.cuda.using_allocator(pool.malloc):
            yield type("Pool", (), {"used": staticmethod(pool.total_bytes)})
    else:
        yield type("Pool", (), {"used": staticmethod(lambda: 0)})


# One epoch of fit -----------------------------------------------------------------------------------

def epoch_data(rows: int, seed: int = 1):
    """``(X, labels)``: ``rows`` x 784 float32 features and labels of 10 classes."""
    return synthetic_batch(rows, seed=seed)


def make_xpnet_fit(device: str, batch: int, rows: int, graphs: bool | None = None):
    """One epoch of ``model.fit`` with Adam and shuffled mini-batches, the data already on the device."""
    import xpnet as xn

    model = mlp(WIDTHS, device)
    X, labels = epoch_data(rows)
    X_device = model.backend.asarray(X)
    model.fit(X_device, labels, loss="softmax_cross_entropy", optimizer=xn.Adam(LR["adam"]), batch_size=batch,
              epochs=1, seed=0, graphs=graphs)  # records the graphs, compiles the kernels

    def epoch():
        model.fit(X_device, labels, batch_size=batch, epochs=1, graphs=graphs)
        model.backend.synchronize()

    return epoch, {"kernels": model.kernels.name, "rows": rows}
