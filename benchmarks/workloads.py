"""The benchmarked workload: one training step of an MLP 784-512-512-10 (float32, synthetic data,
softmax cross-entropy), built the same way for xpnet and for each peer.

Every ``make_*`` function returns ``(step, info)``: ``step()`` runs one complete training step and
returns only when the device has finished it; ``info`` goes into the benchmark's extra_info.
"""
from __future__ import annotations

import os
import tracemalloc

import numpy as np

WIDTHS = (784, 512, 512, 10)
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")
LR = {"sgd": 0.01, "momentum": 0.01, "rmsprop": 0.001, "adam": 0.001}


def flops_per_step(batch: int, widths=WIDTHS) -> int:
    """Forward + backward matrix products: ``6 * batch * sum(fan_in * fan_out)``."""
    return 6 * batch * sum(a * b for a, b in zip(widths, widths[1:]))


def synthetic_batch(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, WIDTHS[0])).astype(np.float32)
    labels = rng.integers(0, WIDTHS[-1], batch)
    return X, labels


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


# xpnet --------------------------------------------------------------------------------------------

def _xpnet_step(device, optimizer, batch, fast, widths):
    import xpnet as xn
    from xpnet.nn.losses import get_loss
    from xpnet.training.regularization import L2
    from xpnet.training.step import train_step

    layers = [layer for width in widths[1:-1] for layer in (xn.Dense(width), xn.ReLU())]
    model = xn.Sequential(layers + [xn.Dense(widths[-1])], input_dim=widths[0], device=device,
                          dtype="float32", seed=0, fast=fast)
    rule = {"sgd": xn.SGD, "momentum": xn.Momentum, "rmsprop": xn.RMSprop, "adam": xn.Adam}[optimizer]
    opt = rule(lr=LR[optimizer])
    opt.init(model.param_buffer)
    X, labels = synthetic_batch(batch)
    backend = model.backend
    X_device = backend.asarray(X[:, :widths[0]])
    Y_device = backend.asarray(np.eye(widths[-1], dtype=np.float32)[labels % widths[-1]])
    loss, l2 = get_loss("softmax_cross_entropy"), L2(0.0, backend, model.lead)

    def step():
        train_step(model, X_device, Y_device, loss, opt, l2)
        backend.synchronize()

    return step, backend


def make_xpnet(device: str, optimizer: str, batch: int, fast: bool | None = None):
    """xpnet's step; on the CPU, tracemalloc measures the peak of the arrays it allocates."""
    warm_up, _ = _xpnet_step(device, optimizer, 4, fast, (4, 3, 2))
    warm_up()  # compiles any fused kernels before memory is traced
    tracing = device == "cpu"
    if tracing:
        tracemalloc.start()
    step, backend = _xpnet_step(device, optimizer, batch, fast, WIDTHS)
    if tracing:
        tracemalloc.reset_peak()  # the peak of training, with the model's buffers already counted
    for _ in range(3):
        step()
    info = {"kernels": backend.kernels.name, "budget_bytes": memory_budget(batch, optimizer)}
    if tracing:
        info["peak_bytes"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    elif backend.name == "cupy":
        import cupy

        info["peak_bytes"] = cupy.get_default_memory_pool().total_bytes()
    return step, info


# PyTorch eager -------------------------------------------------------------------------------------

def make_torch(device: str, optimizer: str, batch: int, fused: bool = False):
    import torch

    if device == "cpu":
        torch.set_num_threads(cpu_threads())
    torch.manual_seed(0)
    layers = []
    for fan_in, fan_out in zip(WIDTHS, WIDTHS[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).to(device)
    options = {"fused": True} if fused else {}
    params = net.parameters()
    opt = {"sgd": lambda: torch.optim.SGD(params, lr=LR["sgd"], **options),
           "momentum": lambda: torch.optim.SGD(params, lr=LR["momentum"], momentum=0.9, **options),
           "rmsprop": lambda: torch.optim.RMSprop(params, lr=LR["rmsprop"], alpha=0.9, **options),
           "adam": lambda: torch.optim.Adam(params, lr=LR["adam"], **options)}[optimizer]()
    X, labels = synthetic_batch(batch)
    X, labels = torch.from_numpy(X).to(device), torch.from_numpy(labels).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()
    synchronize = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(X), labels).backward()
        opt.step()
        synchronize()

    for _ in range(3):
        step()
    return step, {"threads": torch.get_num_threads(), "fused": fused}


# scikit-learn ----------------------------------------------------------------------------------------

def make_sklearn(optimizer: str, batch: int, samples: int = 8192):
    """One epoch of ``MLPClassifier.fit`` over ``samples`` examples in mini-batches of ``batch``; the
    step time is the epoch's time divided by its number of updates (``steps_per_call``).
    alpha=0: no L2 penalty, as for the others."""
    import warnings

    from sklearn.neural_network import MLPClassifier

    solver = {"sgd": ("sgd", 0.0), "momentum": ("sgd", 0.9), "adam": ("adam", 0.0)}[optimizer]
    steps = max(1, samples // batch)
    X, labels = synthetic_batch(batch * steps)
    model = MLPClassifier(hidden_layer_sizes=WIDTHS[1:-1], activation="relu", solver=solver[0],
                          momentum=solver[1], nesterovs_momentum=False, alpha=0.0, batch_size=batch,
                          learning_rate_init=LR[optimizer], shuffle=False, max_iter=1, random_state=0)

    def epoch():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(X, labels)

    epoch()
    return epoch, {"steps_per_call": steps}
