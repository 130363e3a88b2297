"""xpnet's peers, each doing the same work as a workload of :mod:`benchmarks.workloads` with the same
data, widths, learning rates and matrix-multiply precision: PyTorch eager (default and fused
optimizers), PyTorch replaying a CUDA graph (capturable optimizers), JAX (``jit`` of one step, and
``jit(vmap(step))`` for populations) and scikit-learn's MLPClassifier. Each skips where its package or
a GPU is missing.
"""
from __future__ import annotations

import numpy as np
import pytest

from benchmarks.workloads import LR, POPULATION_WIDTHS, WIDTHS, cpu_threads, epoch_data, synthetic_batch

# PyTorch ---------------------------------------------------------------------------------------------

def _torch_setup(device: str, optimizer: str, batch: int, widths=WIDTHS, **options):
    import torch

    if device == "cpu":
        torch.set_num_threads(cpu_threads())
    torch.manual_seed(0)
    layers = []
    for fan_in, fan_out in zip(widths, widths[1:]):
        layers += [torch.nn.Linear(fan_in, fan_out), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).to(device)
    params = net.parameters()
    capturable = {"capturable": True} if options.pop("capturable", False) else {}
    opt = {"sgd": lambda: torch.optim.SGD(params, lr=LR["sgd"], **options),
           "momentum": lambda: torch.optim.SGD(params, lr=LR["momentum"], momentum=0.9, **options),
           "rmsprop": lambda: torch.optim.RMSprop(params, lr=LR["rmsprop"], alpha=0.9, **options, **capturable),
           "adam": lambda: torch.optim.Adam(params, lr=LR["adam"], **options, **capturable)}[optimizer]()
    X, labels = synthetic_batch(batch, widths[0], widths[-1])
    return net, opt, torch.from_numpy(X).to(device), torch.from_numpy(labels).to(device)


def _synchronizer(device: str):
    import torch

    return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def make_torch(device: str, optimizer: str, batch: int, fused: bool = False):
    """One eager step: zero the gradients, forward, loss, backward, update."""
    import torch

    net, opt, X, labels = _torch_setup(device, optimizer, batch, **({"fused": True} if fused else {}))
    loss_fn, synchronize = torch.nn.CrossEntropyLoss(), _synchronizer(device)

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(net(X), labels).backward()
        opt.step()
        synchronize()

    for _ in range(3):
        step()
    return step, {"threads": torch.get_num_threads(), "fused": fused}


def make_torch_graph(device: str, optimizer: str, batch: int):
    """The same step captured once with ``torch.cuda.graph`` (optimizers with device-side step counts)
    and replayed, as PyTorch documents whole-network capture."""
    import torch

    if not device.startswith("cuda"):
        pytest.skip("CUDA graphs need a GPU")
    net, opt, X, labels = _torch_setup(device, optimizer, batch, capturable=True)
    loss_fn = torch.nn.CrossEntropyLoss()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(3):
            opt.zero_grad(set_to_none=True)
            loss_fn(net(X), labels).backward()
            opt.step()
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    opt.zero_grad(set_to_none=True)
    with torch.cuda.graph(graph):
        loss_fn(net(X), labels).backward()
        opt.step()

    def step():
        graph.replay()
        torch.cuda.synchronize()

    return step, {"capturable": True}


def make_torch_fit(device: str, batch: int, rows: int):
    """One epoch of the plain PyTorch loop: shuffled mini-batches of data already on the device."""
    import torch

    net, opt, _, _ = _torch_setup(device, "adam", 1)
    X, labels = (torch.from_numpy(array).to(device) for array in epoch_data(rows))
    loss_fn, synchronize = torch.nn.CrossEntropyLoss(), _synchronizer(device)
    generator = torch.Generator(device=device).manual_seed(0)

    def epoch():
        order = torch.randperm(rows, generator=generator, device=device)
        for start in range(0, rows, batch):
            rows_now = order[start:start + batch]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(X[rows_now]), labels[rows_now]).backward()
            opt.step()
        synchronize()

    epoch()
    return epoch, {"rows": rows}


# JAX ---------------------------------------------------------------------------------------------------

def _jax(device: str, tf32: bool):
    """JAX on ``device`` with float32 products at full precision unless ``tf32`` (JAX's default is TF32)."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_default_matmul_precision", "tensorfloat32" if tf32 else "highest")
    platform = "gpu" if device.startswith("cuda") else "cpu"
    try:
        target = jax.devices(platform)[0]
    except RuntimeError:
        pytest.skip(f"JAX sees no {platform}")
    return jax, target


def _jax_init(jax, widths, seed):
    keys = jax.random.split(jax.random.PRNGKey(seed), len(widths) - 1)
    return [(jax.random.normal(key, (a, b), dtype="float32") * (2.0 / a) ** 0.5, jax.numpy.zeros(b, "float32"))
            for key, a, b in zip(keys, widths, widths[1:])]


def _jax_rule(jax, optimizer: str):
    """``(init(params) -> state, update(params, grads, state, lr) -> (params, state))``, the same rules
    as xpnet's (momentum and RMSprop as exponential averages, Adam with bias correction)."""
    jnp, tree = jax.numpy, jax.tree_util

    def zeros(params):
        return tree.tree_map(jnp.zeros_like, params)

    if optimizer == "sgd":
        return (lambda params: 0), (lambda p, g, s, lr: (tree.tree_map(lambda p, g: p - lr * g, p, g), s))
    if optimizer == "momentum":
        def momentum(p, g, v, lr):
            v = tree.tree_map(lambda v, g: 0.9 * v + 0.1 * g, v, g)
            return tree.tree_map(lambda p, v: p - lr * v, p, v), v
        return zeros, momentum
    if optimizer == "rmsprop":
        def rmsprop(p, g, s, lr):
            s = tree.tree_map(lambda s, g: 0.9 * s + 0.1 * g * g, s, g)
            return tree.tree_map(lambda p, g, s: p - lr * g / (jnp.sqrt(s) + 1e-8), p, g, s), s
        return zeros, rmsprop

    def adam_init(params):
        return zeros(params), zeros(params), jnp.zeros((), "float32")

    def adam(p, g, state, lr):
        v, s, t = state
        t = t + 1
        v = tree.tree_map(lambda v, g: 0.9 * v + 0.1 * g, v, g)
        s = tree.tree_map(lambda s, g: 0.999 * s + 0.001 * g * g, s, g)
        step, root2 = lr / (1 - 0.9 ** t), jnp.sqrt(1 - 0.999 ** t)
        return tree.tree_map(lambda p, v, s: p - step * v / (jnp.sqrt(s) / root2 + 1e-8), p, v, s), (v, s, t)
    return adam_init, adam


def _jax_loss(jax):
    jnp = jax.numpy

    def loss(params, X, Y):
        A = X
        for index, (W, b) in enumerate(params):
            A = A @ W + b
            if index < len(params) - 1:
                A = jax.nn.relu(A)
        return -jnp.mean(jnp.sum(Y * jax.nn.log_softmax(A), axis=-1))
    return loss


def _jax_step(jax, optimizer: str, lr):
    init, update = _jax_rule(jax, optimizer)
    loss = _jax_loss(jax)

    def step(params, state, X, Y, lr):
        grads = jax.grad(loss)(params, X, Y)
        return update(params, grads, state, lr)
    return init, step


def make_jax(device: str, optimizer: str, batch: int, tf32: bool = False):
    """``jax.jit`` of one step (parameters and state donated, as a training loop would)."""
    jax, target = _jax(device, tf32)
    init, step = _jax_step(jax, optimizer, LR[optimizer])
    X, labels = synthetic_batch(batch)
    X = jax.device_put(X, target)
    Y = jax.device_put(np.eye(WIDTHS[-1], dtype=np.float32)[labels], target)
    params = jax.device_put(_jax_init(jax, WIDTHS, 0), target)
    state = jax.device_put(init(params), target)
    compiled = jax.jit(step, donate_argnums=(0, 1))
    holder = {"params": params, "state": state}

    def run():
        holder["params"], holder["state"] = compiled(holder["params"], holder["state"], X, Y, LR[optimizer])
        jax.block_until_ready(holder["params"])

    for _ in range(3):
        run()
    return run, {"precision": "tf32" if tf32 else "highest"}


def make_jax_population(device: str, population: int, batch: int = 100, tf32: bool = False):
    """``jax.jit(jax.vmap(step))`` over ``population`` models of 40-100-100-10 with Adam, one learning
    rate each, on one shared mini-batch."""
    jax, target = _jax(device, tf32)
    init, step = _jax_step(jax, "adam", None)
    widths = POPULATION_WIDTHS
    X, labels = synthetic_batch(batch, widths[0], widths[-1])
    X = jax.device_put(X, target)
    Y = jax.device_put(np.eye(widths[-1], dtype=np.float32)[labels], target)
    members = [_jax_init(jax, widths, seed) for seed in range(population)]
    params = jax.device_put(jax.tree_util.tree_map(lambda *leaves: jax.numpy.stack(leaves), *members), target)
    state = jax.vmap(init)(params)
    lrs = jax.device_put(np.asarray([LR["adam"] * (1 + i / population) for i in range(population)], np.float32),
                         target)
    compiled = jax.jit(jax.vmap(step, in_axes=(0, 0, None, None, 0)), donate_argnums=(0, 1))
    holder = {"params": params, "state": state}

    def run():
        holder["params"], holder["state"] = compiled(holder["params"], holder["state"], X, Y, lrs)
        jax.block_until_ready(holder["params"])

    for _ in range(3):
        run()
    return run, {"precision": "tf32" if tf32 else "highest"}


def make_jax_fit(device: str, batch: int, rows: int, tf32: bool = False):
    """One epoch of a jitted JAX loop: shuffled mini-batches gathered inside the jitted step."""
    jax, target = _jax(device, tf32)
    init, step = _jax_step(jax, "adam", None)
    X, labels = epoch_data(rows)
    X = jax.device_put(X, target)
    Y = jax.device_put(np.eye(WIDTHS[-1], dtype=np.float32)[labels], target)

    def batch_step(params, state, rows_now):
        return step(params, state, X[rows_now], Y[rows_now], LR["adam"])

    compiled = jax.jit(batch_step, donate_argnums=(0, 1))
    params = jax.device_put(_jax_init(jax, WIDTHS, 0), target)
    holder = {"params": params, "state": init(params), "key": jax.random.PRNGKey(0)}

    def epoch():
        holder["key"], key = jax.random.split(holder["key"])
        order = jax.random.permutation(key, rows)
        for start in range(0, rows - batch + 1, batch):
            holder["params"], holder["state"] = compiled(holder["params"], holder["state"], order[start:start + batch])
        jax.block_until_ready(holder["params"])

    epoch()
    return epoch, {"rows": rows, "precision": "tf32" if tf32 else "highest"}


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
