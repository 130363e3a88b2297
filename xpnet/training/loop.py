"""The training loop: mini-batch gradient descent with no host synchronization inside an epoch.

Each epoch draws a fresh shuffle on the device; every mini-batch gathers its rows in that order
(one batch in memory, not a shuffled copy of the data set) and runs one :func:`~xpnet.training.step.train_step`.
Each step's cost (and L2 penalty and correct count) is copied into a per-epoch device array, read in
one transfer at the end of the epoch together with a finiteness check of the parameters.
"""
from __future__ import annotations

import time

import numpy as np

from xpnet import checks, data
from xpnet import graphs as cuda_graphs
from xpnet.nn.layers import Activation, BatchNorm
from xpnet.nn.losses import get_loss
from xpnet.rng import make_random_source
from xpnet.training import schedules
from xpnet.training.optim import Adam, Optimizer
from xpnet.training.regularization import L2
from xpnet.training.step import TrainingPrograms


class DivergenceError(FloatingPointError):
    """The cost or the parameters became NaN or inf; the model was rolled back to its last finite state."""

    def __init__(self, epoch: int, iteration: int, iterations: int, lr):
        self.epoch, self.iteration = epoch, iteration
        super().__init__(
            f"training diverged: the cost became NaN or inf at epoch {epoch}, iteration {iteration} of "
            f"{iterations} (learning rate {np.min(lr):g}). The model keeps the parameters it had at the start "
            f"of epoch {epoch}, the last ones known finite; try a smaller learning rate.")


def fit(model, X, y, loss=None, optimizer=None, batch_size=32, epochs=1, validation_data=None,
        seed=None, shuffle=True, l2=0.0, verbose=False, graphs=None):
    """Train ``model`` in place and return its History; the arguments are :meth:`Sequential.fit`'s."""
    loss = _resolve_loss(model, loss)
    epochs = checks.count(epochs, "epochs")
    l2_values = checks.non_negative(l2, "l2", model.lead)
    X_device = data.features_on_device(model.backend, X, model.input_dim)
    m = X_device.shape[0]
    host_Y = data.check_targets(y, m, loss.name, model.output_dim)
    batch = data.check_batch_size(batch_size, m)
    bounds = data.batch_bounds(m, batch)
    _check_batchnorm_batches(model, bounds)
    validation = _prepare_validation(model, validation_data, loss)
    optimizer = _resolve_optimizer(model, optimizer)
    model.loss = loss
    training = _training_programs(model, host_Y.shape, batch, bounds, shuffle, loss, optimizer, l2_values, graphs)
    training.load(X_device, model.backend.asarray(host_Y))
    shuffler = _shuffler(model, seed) if shuffle else None
    with training.replays.scope():
        for _ in range(epochs):
            started = time.perf_counter()
            order = shuffler.permutation(m) if shuffler is not None else None
            record = _run_epoch(model, training, bounds, optimizer, order, loss)
            if validation is not None:
                scores = model.evaluate_on_device(*validation, loss)
                record.update({f"val_{key}": value for key, value in scores.items()})
            model.history.append_epoch(record, record.pop("iteration_cost"))
            model.epoch += 1
            if verbose:
                print(_progress_line(model.epoch, record, time.perf_counter() - started), flush=True)
    return model.history


def _training_programs(model, target_shape, batch, bounds, shuffle, loss, optimizer, l2_values, graphs):
    """The model's :class:`~xpnet.training.step.TrainingPrograms` for these settings: the last ``fit``'s
    when they are the same (its recorded graphs are replayed again), else new ones."""
    key = (target_shape, batch, shuffle, loss.name, id(optimizer), optimizer.version, np.asarray(l2_values).tobytes(),
           cuda_graphs.graphs_enabled(graphs))
    if model.training_programs is None or model.training_programs.key != key:
        replays = cuda_graphs.Replays(model, capture_for(model, optimizer, graphs))
        sizes = {stop - start for start, stop in bounds}
        model.training_programs = TrainingPrograms(model, key, target_shape[0], target_shape[1], sizes, batch,
                                                   shuffle, loss, optimizer, L2(l2_values, model.backend, model.lead),
                                                   replays)
    return model.training_programs


def _run_epoch(model, training, bounds, optimizer, order, loss) -> dict:
    """One pass over the data; returns the epoch's record. A single model that diverges is rolled
    back and raises; diverging models of a population are rolled back and frozen, the rest go on.
    Any other exception (Ctrl-C included) rolls the model back to the epoch's start and is re-raised."""
    state, l2 = training.state, training.l2
    snapshot = _Snapshot(model, optimizer)
    lr = optimizer.learning_rate(model.epoch)
    try:
        state.start(model.epoch, order)
        for start, stop in bounds:
            state.prepare_step(model.epoch)
            training.replays(training.programs[stop - start])
            optimizer.t += 1
        host = state.read(model.param_buffer.flat)
    except BaseException:
        snapshot.restore()
        raise
    iteration_cost = host["cost"] + host.get("penalty", 0.0)
    healthy = np.all(np.isfinite(iteration_cost), axis=0) & host["finite"]
    if not model.lead and not healthy:
        snapshot.restore()
        bad = np.flatnonzero(~np.isfinite(iteration_cost))
        raise DivergenceError(model.epoch + 1, int(bad[0]) + 1 if bad.size else len(bounds),
                              len(bounds), lr)
    diverged = model.alive & ~healthy
    if diverged.any():
        snapshot.restore(rows=diverged)
        optimizer.freeze(diverged)
        model.alive = model.alive & ~diverged
    sizes = np.array([stop - start for start, stop in bounds], dtype=np.float64)

    def epoch_mean(values):
        mean = np.tensordot(sizes, values, axes=1) / sizes.sum()
        return float(mean) if mean.ndim == 0 else np.where(model.alive, mean, np.nan)

    return {"loss": epoch_mean(host["cost"]),
            "l2_penalty": epoch_mean(host["penalty"]) if l2.active else 0.0,
            "accuracy": epoch_mean(host["correct"] / sizes.reshape((-1,) + (1,) * len(model.lead)))
            if loss.has_accuracy else None,
            "lr": lr, "iteration_cost": list(iteration_cost)}


class _Snapshot:
    """A device copy of everything an epoch changes, to roll back to when training diverges."""

    def __init__(self, model, optimizer):
        self.model, self.optimizer = model, optimizer
        xp = model.backend.xp
        self.buffers = [model.param_buffer.flat, model.state_buffer.flat] + [
            slot.flat for slot in optimizer.state.values()]
        self.copies = [xp.asarray(buffer, copy=True) for buffer in self.buffers]
        self.t = optimizer.t
        self.alive = model.alive.copy()

    def restore(self, rows=None) -> None:
        """Roll everything back, or (population) only the models where ``rows`` is True."""
        if rows is None:
            for buffer, copy in zip(self.buffers, self.copies):
                buffer[...] = copy
            self.optimizer.t = self.t
            self.model.alive = self.alive
            return
        backend = self.model.backend
        chosen = backend.asarray(np.reshape(rows, rows.shape + (1,)), dtype=backend.xp.bool)
        for buffer, copy in zip(self.buffers, self.copies):
            buffer[...] = backend.xp.where(chosen, copy, buffer)


def capture_for(model, optimizer, graphs):
    """The capture ``fit`` records its steps with (see :mod:`xpnet.graphs`), or None."""
    obstacle = None
    if not schedules.is_tabulable(optimizer.lr):
        obstacle = ("the learning rate is a Python function, which must run on the host at every step; use a "
                    "schedule from xpnet.schedules to train with graphs")
    return cuda_graphs.capture_for(model.backend, cuda_graphs.graphs_enabled(graphs), obstacle)


def _resolve_loss(model, loss):
    if loss is None:
        if model.loss is None:
            raise ValueError("fit needs loss=: one of 'binary_cross_entropy', 'softmax_cross_entropy', "
                             "'mse'")
        return model.loss
    loss = get_loss(loss)
    last = model.layers[-1]
    if loss.name != "mse" and isinstance(last, Activation):
        raise ValueError(f"loss={loss.name!r} takes the network's raw outputs (logits), but the model "
                         f"ends in {type(last).__name__}; remove that last activation (predict applies "
                         "sigmoid or softmax itself)")
    return loss


def _resolve_optimizer(model, optimizer) -> Optimizer:
    if optimizer is None:
        optimizer = model.optimizer if model.optimizer is not None else Adam()
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be an xpnet optimizer such as xn.SGD(lr=0.1), got {optimizer!r}")
    if optimizer.bound is not model.param_buffer:
        optimizer.init(model.param_buffer)
    model.optimizer = optimizer
    return optimizer


def _shuffler(model, seed):
    """The model's shuffle stream; ``seed`` starts a new one, None continues (or starts from the
    model's seed; a population's first seed)."""
    if seed is not None or model.shuffle_random is None:
        start = seed if seed is not None else model.seeds[0]
        backend = model.backend
        model.shuffle_random = make_random_source(backend, start)
    return model.shuffle_random


def _prepare_validation(model, validation_data, loss):
    if validation_data is None:
        return None
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
        raise ValueError("validation_data must be a tuple (X_val, y_val), got "
                         f"{type(validation_data).__name__}")
    X_val = data.check_features(validation_data[0], model.input_dim, name="validation_data X")
    Y_val = data.check_targets(validation_data[1], X_val.shape[0], loss.name, model.output_dim,
                               name="validation_data y")
    return model.backend.asarray(X_val), model.backend.asarray(Y_val)


def _check_batchnorm_batches(model, bounds):
    if any(isinstance(layer, BatchNorm) for layer in model.layers):
        single = [i for i, (start, stop) in enumerate(bounds) if stop - start == 1]
        if single:
            raise ValueError(f"batch_size gives a training batch of 1 example (batch {single[0] + 1} of "
                             f"{len(bounds)}), which BatchNorm cannot normalize; choose a batch_size that "
                             "leaves at least 2 examples in every batch")


def _progress_line(epoch, record, seconds) -> str:
    """One line per epoch; a population shows the best value over its models."""
    parts = [f"epoch {epoch:>4}"]
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        value = record.get(key)
        if value is None:
            continue
        if np.ndim(value):
            best = np.nanmax(value) if key.endswith("accuracy") else np.nanmin(value)
            parts.append(f"best {key} {best:.4g}")
        else:
            parts.append(f"{key} {value:.4g}")
    parts.append(f"{seconds:.2f}s")
    return "  ".join(parts)
