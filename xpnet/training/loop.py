"""The training loop: mini-batch gradient descent with no host synchronization inside an epoch.

The data come from a source (:mod:`xpnet.sources`, chosen by :mod:`xpnet.training.inputs`): arrays
moved to the device once, an out-of-memory array read in chunks, or a stream of chunks. Each epoch
draws a fresh shuffle on the device (arrays). Arrays on the device train through the step programs of
:mod:`xpnet.training.step` (recorded as CUDA graphs on a GPU, see :mod:`xpnet.graphs`), which gather
each mini-batch themselves; chunks read from the host or a stream train one
:func:`~xpnet.training.step.train_step` per mini-batch. Each step's cost (and L2 penalty and correct
count) is copied into a per-epoch device array, read in one transfer at the end of the epoch together
with a finiteness check of the parameters. Between epochs: validation, the History, what ``verbose``
prints, and the callbacks (:mod:`xpnet.training.callbacks`).
"""
from __future__ import annotations

import math
import time

import numpy as np

from xpnet import checks, data, evaluation, sources
from xpnet import graphs as cuda_graphs
from xpnet.backend import to_numpy
from xpnet.nn.layers import Activation, BatchNorm
from xpnet.nn.losses import get_loss
from xpnet.rng import make_random_source
from xpnet.training import callbacks as callback_hooks
from xpnet.training import schedules
from xpnet.training.inputs import fit_data
from xpnet.training.optim import Adam, Optimizer
from xpnet.training.progress import Progress
from xpnet.training.regularization import L2
from xpnet.training.snapshot import BufferCopy
from xpnet.training.step import TrainingPrograms, train_step

NAN_OR_INF = "the cost became NaN or inf"


class DivergenceError(FloatingPointError):
    """The cost or the parameters became NaN or inf (or, with :class:`~xpnet.callbacks.TerminateOnDivergence`,
    grew too large); the model was rolled back to its last finite state."""

    def __init__(self, epoch: int, iteration: int, iterations: int, lr, reason: str = NAN_OR_INF,
                 population: bool = False):
        self.epoch, self.iteration, self.reason = epoch, iteration, reason
        subject = "every model of the population diverged; the last" if population else "training diverged:"
        kept = ("Each model keeps the parameters it had before it diverged" if population else
                f"The model keeps the parameters it had at the start of epoch {epoch}, before it diverged")
        super().__init__(
            f"{subject} {reason} at epoch {epoch}, iteration {iteration} of {iterations} (learning rate "
            f"{np.nanmin(lr):g}). {kept}; try a smaller learning rate.")


def fit(model, X, y=None, loss=None, optimizer=None, batch_size=32, epochs=1, validation_data=None,
        seed=None, shuffle=None, l2=0.0, verbose=0, callbacks=None, validation_split=None,
        class_weight=None, sample_weight=None, graphs=None):
    """Train ``model`` in place and return its History; the arguments are :meth:`Sequential.fit`'s."""
    loss = _resolve_loss(model, loss)
    seed = checks.seed(seed)
    epochs = checks.count(epochs, "epochs")
    l2_values = checks.non_negative(l2, "l2", model.lead)
    graphs = cuda_graphs.graphs_enabled(graphs)
    report = Progress(verbose)
    hooks = callback_hooks.check_callbacks(callbacks)
    inputs = fit_data(model, loss, X, y, sample_weight=sample_weight, class_weight=class_weight,
                      validation_data=validation_data, validation_split=validation_split, shuffle=shuffle,
                      seed=seed, epochs=epochs)
    train = inputs.train
    batch_size = data.check_batch_size(batch_size, train.rows)
    _check_batchnorm_batches(model, train, batch_size)
    before = (model.loss, model.classes_, model.optimizer)
    optimizer = _resolve_optimizer(model, optimizer)
    model.loss, model.classes_ = loss, inputs.classes
    run = callback_hooks.Run(model, optimizer, epochs, _metrics(loss, inputs.validation is not None))
    try:
        callback_hooks.call(hooks, "on_train_begin", run)  # may refuse its settings: nothing changed yet
    except BaseException:
        model.loss, model.classes_, model.optimizer = before
        raise
    optimizer.freeze(~model.alive)
    shuffler = _shuffler(model, seed) if inputs.shuffle else None
    iterations = train.iterations(batch_size)
    epoch = _epoch_runner(model, train, batch_size, inputs.shuffle, loss, optimizer, l2_values, graphs,
                          run.divergence_tests, report.advance)
    try:
        for _ in range(epochs):
            started = time.perf_counter()
            report.start_epoch(model.epoch + 1, iterations)
            order = shuffler.permutation(train.rows) if shuffler is not None else None
            record = epoch(order)
            if inputs.validation is not None:
                scores = evaluation.scores(model, inputs.validation, loss)
                record.update({f"val_{key}": value for key, value in scores.items()})
            iteration_cost = record.pop("iteration_cost")
            iterations = len(iteration_cost)
            model.history.append_epoch(record, iteration_cost)
            model.epoch += 1
            record["epoch"] = model.epoch
            report.end_epoch(model.epoch, record, time.perf_counter() - started)
            callback_hooks.call(hooks, "on_epoch_end", run, record)
            if run.stopped:
                break
    except BaseException as error:
        run.error = error
        raise
    finally:
        report.close()
        callback_hooks.call(hooks, "on_train_end", run)
    return model.history


def _epoch_runner(model, train, batch_size, shuffle, loss, optimizer, l2_values, graphs, divergence_tests,
                  after_step):
    """``epoch(order) -> record``: one pass over ``train`` in ``order``. Arrays on the device train through
    the model's step programs; chunks from the host or a stream one train step per mini-batch."""
    if isinstance(train, sources.DeviceArrays):
        bounds = data.batch_bounds(train.rows, batch_size)

        def epoch(order):
            # asked for again each epoch: a callback that changes the optimizer's settings gets new programs
            training = _training_programs(model, train, batch_size, shuffle, loss, optimizer, l2_values, graphs)
            with training.replays.scope():
                return _run_program_epoch(model, training, bounds, optimizer, order, divergence_tests, after_step)
        return epoch
    if graphs:
        raise ValueError("graphs=True records the step over arrays held on the device; data read from the host "
                         "in chunks or streamed trains one step at a time")
    l2 = L2(l2_values, model.backend, model.lead)
    iterations = train.iterations(batch_size)
    return lambda order: _run_epoch(model, train.batches(batch_size, order), loss, optimizer, l2, divergence_tests,
                                    after_step, iterations)


def capture_for(model, optimizer, graphs):
    """The capture ``fit`` records its steps with (see :mod:`xpnet.graphs`), or None."""
    obstacle = None
    if not schedules.is_tabulable(optimizer.lr):
        obstacle = ("the learning rate is a Python function, which must run on the host at every step; use a "
                    "schedule from xpnet.schedules to train with graphs")
    return cuda_graphs.capture_for(model.backend, graphs, obstacle)


def _training_programs(model, train, batch, shuffle, loss, optimizer, l2_values, graphs):
    """The model's :class:`~xpnet.training.step.TrainingPrograms` for these settings, loaded with
    ``train``'s arrays: the last ``fit``'s when the settings are the same (its recorded graphs are
    replayed again), else new ones."""
    X, Y, W = (tuple(train.arrays) + (None, None))[:3]
    key = (tuple(Y.shape), W is not None, batch, shuffle, loss.name, id(optimizer), optimizer.version,
           np.asarray(l2_values).tobytes(), graphs)
    if model.training_programs is None or model.training_programs.key != key:
        replays = cuda_graphs.Replays(model, capture_for(model, optimizer, graphs))
        sizes = {stop - start for start, stop in data.batch_bounds(train.rows, batch)}
        model.training_programs = TrainingPrograms(model, key, train.rows, Y.shape[1], W is not None, sizes, batch,
                                                   shuffle, loss, optimizer, L2(l2_values, model.backend, model.lead),
                                                   replays)
    if not model.training_programs.holds(X, Y, W):
        model.training_programs.load(X, Y, W)
    return model.training_programs


def _run_program_epoch(model, training, bounds, optimizer, order, divergence_tests, after_step) -> dict:
    """One pass with the step programs (see :func:`_guarded_epoch`)."""
    state = training.state

    def steps() -> dict:
        state.start(model.epoch, order)
        for start, stop in bounds:
            state.prepare_step(model.epoch)
            training.replays(training.programs[stop - start])
            optimizer.t += 1
            if after_step is not None:
                after_step()
        host = state.read(model.param_buffer.flat)
        host["sizes"] = np.array([stop - start for start, stop in bounds], dtype=np.float64)
        return host

    return _guarded_epoch(model, optimizer, divergence_tests, steps)


def _run_epoch(model, batches, loss, optimizer, l2, divergence_tests=(), after_step=None,
               iterations: int | None = None) -> dict:
    """One pass over the ``batches`` (device triples ``(X, Y, W)``), a train step each (see
    :func:`_guarded_epoch`)."""
    kernels = model.kernels

    def steps() -> dict:
        series = _Series(model, l2.active, loss.has_accuracy, iterations or 64)
        for X_batch, Y_batch, W_batch in batches:
            cost, penalty, logits = train_step(model, X_batch, Y_batch, loss, optimizer, l2, W_batch)
            series.record(X_batch.shape[0], cost, penalty,
                          loss.correct(kernels, logits, Y_batch) if loss.has_accuracy else None)
            if after_step is not None:
                after_step()
        return series.read(model.param_buffer.flat)

    return _guarded_epoch(model, optimizer, divergence_tests, steps)


def _guarded_epoch(model, optimizer, divergence_tests, steps) -> dict:
    """Run an epoch's ``steps()`` (which return the epoch's values read to the host) and return the
    epoch's record. A single model that diverges is rolled back and raises; diverging models of a
    population are rolled back and frozen, the rest go on. Any other exception (Ctrl-C included) rolls
    the model back to the epoch's start and is re-raised."""
    snapshot = _Snapshot(model, optimizer)
    lr = optimizer.learning_rate(model.epoch)
    try:
        host = steps()
    except BaseException:
        snapshot.restore()
        raise
    return _judge_epoch(model, optimizer, snapshot, host, lr, divergence_tests)


def _judge_epoch(model, optimizer, snapshot, host: dict, lr, divergence_tests) -> dict:
    """Check the epoch for divergence (NaN or inf, and the ``divergence_tests``), roll back what
    diverged, keep frozen models as they were, and return the epoch's record."""
    sizes = host["sizes"]

    def epoch_mean(values):
        return np.tensordot(sizes, values, axes=1) / sizes.sum()

    losses = epoch_mean(host["cost"])
    iteration_cost = host["cost"] + host.get("penalty", 0.0)
    nonfinite = ~np.isfinite(iteration_cost)
    bad = nonfinite.copy()
    for test in divergence_tests:
        bad |= test(host["cost"], losses)
    healthy = ~np.any(bad, axis=0) & host["finite"]
    if model.lead and snapshot.frozen.any():
        snapshot.restore(rows=snapshot.frozen)  # frozen models stay exactly as they were
    diverged = model.alive & ~healthy if model.lead else ~healthy
    if np.any(diverged):
        _roll_back(model, optimizer, snapshot, diverged)
        if not model.lead or not model.alive.any():
            raise _divergence(model, host, bad, nonfinite, diverged, lr, divergence_tests)

    def recorded(values):
        mean = epoch_mean(values)
        return float(mean) if mean.ndim == 0 else np.where(model.alive, mean, np.nan)

    return {"loss": recorded(host["cost"]),
            "l2_penalty": recorded(host["penalty"]) if "penalty" in host else 0.0,
            "accuracy": recorded(host["correct"] / sizes.reshape((-1,) + (1,) * len(model.lead)))
            if "correct" in host else None,
            "lr": lr, "iteration_cost": list(iteration_cost)}


def _divergence(model, host: dict, bad, nonfinite, diverged, lr, divergence_tests) -> DivergenceError:
    """The error for the models in ``diverged``: their first bad iteration, and why it was bad."""
    iterations = bad.shape[0]
    members = np.ravel(diverged)
    first = np.flatnonzero(bad.reshape(iterations, -1)[:, members].any(axis=1))
    iteration = int(first[0]) + 1 if first.size else iterations
    not_finite = nonfinite.reshape(iterations, -1)[:, members].any() or not np.all(host["finite"][diverged])
    reason = NAN_OR_INF if not_finite else "; ".join(test.reason for test in divergence_tests)
    return DivergenceError(model.epoch + 1, iteration, iterations, lr, reason, population=bool(model.lead))


def _roll_back(model, optimizer, snapshot, diverged) -> None:
    """A single model goes back to the epoch's start; diverged models of a population too, and are frozen."""
    if not model.lead:
        snapshot.restore()
        return
    snapshot.restore(rows=diverged)
    optimizer.freeze(diverged)
    model.alive = model.alive & ~diverged


class _Series:
    """The epoch's per-iteration values on the device: one row per series (cost, then the L2 penalty
    and the correct count when recorded), one column per iteration (grown as needed), plus the
    model's leading axes; the batch sizes on the host."""

    def __init__(self, model, penalty: bool, correct: bool, capacity: int):
        self.names = ["cost"] + ["penalty"] * penalty + ["correct"] * correct
        self.row = {name: index for index, name in enumerate(self.names)}
        self.backend, self.lead = model.backend, model.lead
        self.values = self.backend.zeros((len(self.names), capacity) + self.lead)
        self.sizes: list = []

    def record(self, size: int, cost, penalty, correct) -> None:
        iteration = len(self.sizes)
        if iteration == self.values.shape[1]:
            self.values = self.backend.xp.concat([self.values, self.backend.zeros(self.values.shape)], axis=1)
        for name, value in (("cost", cost), ("penalty", penalty), ("correct", correct)):
            if name in self.row:
                self.values[self.row[name], iteration, ...] = value
        self.sizes.append(size)

    def read(self, params_flat) -> dict:
        """Every series, whether all parameters are finite (per model), in ONE device-to-host read,
        and the batch sizes."""
        xp = self.backend.xp
        shape = (len(self.names), len(self.sizes)) + self.lead
        values = self.values[:, :len(self.sizes), ...]
        finite = xp.astype(xp.all(xp.isfinite(params_flat), axis=-1), values.dtype)
        flat = to_numpy(xp.concat([xp.reshape(values, (-1,)), xp.reshape(finite, (-1,))]))
        count = math.prod(shape)
        host = dict(zip(self.names, flat[:count].reshape(shape).astype(np.float64)))
        host["finite"] = flat[count:].reshape(tuple(finite.shape)) > 0
        host["sizes"] = np.asarray(self.sizes, dtype=np.float64)
        return host


class _Snapshot(BufferCopy):
    """A device copy of everything an epoch changes (parameters, state, optimizer moments and step
    count, which models are alive and frozen), to roll back to when training diverges."""

    def __init__(self, model, optimizer):
        super().__init__(model.backend, [model.param_buffer.flat, model.state_buffer.flat] + [
            slot.flat for slot in optimizer.state.values()])
        self.model, self.optimizer = model, optimizer
        self.t = optimizer.t
        self.alive = model.alive.copy()
        self.frozen = np.array(optimizer.frozen, copy=True)

    def restore(self, rows=None) -> None:
        """Roll everything back, or (population) only the models where ``rows`` is True."""
        super().restore(rows)
        if rows is None:
            self.optimizer.t = self.t
            self.model.alive = self.alive


def _metrics(loss, validated: bool) -> tuple:
    """The record entries a fit call fills in."""
    names = ["loss", "l2_penalty", "lr"] + ["accuracy"] * loss.has_accuracy
    if validated:
        names += ["val_loss"] + ["val_accuracy"] * loss.has_accuracy
    return tuple(names)


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


def _check_batchnorm_batches(model, train, batch_size) -> None:
    if train.rows is None or not any(isinstance(layer, BatchNorm) for layer in model.layers):
        return
    bounds = data.batch_bounds(train.rows, batch_size)
    single = [i for i, (start, stop) in enumerate(bounds) if stop - start == 1]
    if single:
        raise ValueError(f"batch_size gives a training batch of 1 example (batch {single[0] + 1} of "
                         f"{len(bounds)}), which BatchNorm cannot normalize; choose a batch_size that "
                         "leaves at least 2 examples in every batch")
