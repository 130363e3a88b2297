"""Callbacks: code that ``fit`` runs between epochs, which may stop training.

The protocol: a callback is any object with some of these methods (:class:`Callback` gives do-nothing
versions to inherit):

* ``on_train_begin(run)``: before the first epoch of a ``fit`` call;
* ``on_epoch_end(run, record)``: after each epoch, once it is in the History. ``record`` holds the
  epoch's entries (``loss``, ``l2_penalty``, ``accuracy``, ``val_loss``, ``val_accuracy``, ``lr``:
  floats, or NumPy arrays with one value per model of a population; None where not recorded) and
  ``epoch``, the model's epoch count (from 1, over all ``fit`` calls);
* ``on_train_end(run)``: however training ends; ``run.error`` is the exception that ended it, or None.

``run`` is the :class:`Run`. Callbacks run in the order given, between epochs only, so they add no
host synchronization to the training steps.
"""
from __future__ import annotations

import csv
import math
import os

import numpy as np

from xpnet import checks, files
from xpnet.training.history import EPOCH_KEYS
from xpnet.training.snapshot import model_weights


class Run:
    """A ``fit`` call in progress, as callbacks see it.

    ``model``, ``optimizer``, ``history`` (the model's), ``epochs`` (asked for in this call) and
    ``metrics`` (the record entries this call fills in). ``stop()`` ends training after the current
    epoch; ``stop_members(members)`` freezes models of a population (their weights stop changing; the
    others go on, and training ends when none is left); ``add_divergence_test(test)`` adds a test to
    the loop's divergence check (see :class:`TerminateOnDivergence`).
    """

    def __init__(self, model, optimizer, epochs: int, metrics: tuple):
        self.model, self.optimizer, self.epochs, self.metrics = model, optimizer, epochs, metrics
        self.stopped = False
        self.error: BaseException | None = None
        self.divergence_tests: list = []

    @property
    def history(self):
        return self.model.history

    def stop(self) -> None:
        self.stopped = True

    def stop_members(self, members) -> None:
        """Freeze the models of a population where ``members`` is True."""
        self.optimizer.freeze(members)
        if np.all(self.optimizer.frozen):
            self.stop()

    def add_divergence_test(self, test) -> None:
        """``test(costs, losses)`` gets the epoch's per-iteration data costs (``(iterations,) + lead``)
        and its losses (``lead``) on the host, and returns a boolean array shaped like ``costs``
        marking the iterations that count as diverged; ``test.reason`` says what it checks."""
        self.divergence_tests.append(test)


class Callback:
    """Base class with do-nothing hooks; override the ones you need."""

    def on_train_begin(self, run: Run) -> None:
        pass

    def on_epoch_end(self, run: Run, record: dict) -> None:
        pass

    def on_train_end(self, run: Run) -> None:
        pass


HOOKS = ("on_train_begin", "on_epoch_end", "on_train_end")


def check_callbacks(callbacks) -> list:
    """``callbacks`` as a list of objects each with at least one hook."""
    if callbacks is None:
        return []
    if not isinstance(callbacks, (list, tuple)):
        callbacks = [callbacks]
    for index, callback in enumerate(callbacks):
        if not any(callable(getattr(callback, hook, None)) for hook in HOOKS):
            raise TypeError(f"callbacks[{index}] must be a callback (an object with on_train_begin, on_epoch_end "
                            f"or on_train_end, such as xn.callbacks.EarlyStopping()), got {callback!r}")
    return list(callbacks)


def call(callbacks: list, hook: str, *args) -> None:
    """Run ``hook`` of every callback that has it, in order."""
    for callback in callbacks:
        method = getattr(callback, hook, None)
        if method is not None:
            method(*args)


class Monitor:
    """The best value so far of one record entry, per model of a population. ``mode="auto"``: higher
    is better for accuracies, lower for everything else; an improvement beats the best by more than
    ``min_delta``."""

    def __init__(self, key: str, mode: str = "auto", min_delta: float = 0.0):
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
        if not isinstance(key, str):
            raise TypeError(f"monitor must be a record entry such as 'val_loss', got {key!r}")
        self.key, self.min_delta = key, checks.non_negative(min_delta, "min_delta")
        self.sign = 1.0 if mode == "max" or (mode == "auto" and "accuracy" in key) else -1.0

    def start(self, run: Run, owner: str) -> None:
        if self.key not in run.metrics:
            hint = " (pass validation_data= or validation_split=)" if self.key.startswith("val_") else ""
            raise ValueError(f"{owner} monitors {self.key!r}, which this fit does not record{hint}; it records "
                             f"{', '.join(run.metrics)}")
        self.best = np.full(run.model.lead, -np.inf)  # in the sign-adjusted scale: higher is better
        self.best_epoch = np.zeros(run.model.lead, dtype=np.int64)

    def update(self, record: dict) -> np.ndarray:
        """Which models improved this epoch (a boolean array of the population's shape, 0-d for one
        model); their best value and epoch are updated."""
        value = self.sign * np.asarray(record[self.key], dtype=np.float64)
        improved = value > self.best + self.min_delta  # NaN never improves
        self.best = np.where(improved, value, self.best)
        self.best_epoch = np.where(improved, record["epoch"], self.best_epoch)
        return improved


def _members(mask: np.ndarray):
    """A mask as :class:`~xpnet.training.snapshot.BufferCopy` takes it: None (all) for one model."""
    return mask if mask.ndim else None


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved for ``patience`` epochs.

    An improvement beats the best value by more than ``min_delta`` (``mode``: see :class:`Monitor`).
    With ``restore_best_weights`` the model ends training with the parameters and batch-norm
    statistics of its best epoch (also when it ran all its epochs). In a population every model is
    watched on its own: a model that stops is frozen (with its best weights, if restored) while the
    others go on, and training ends when all have stopped. ``best_epoch`` and ``stopped_epoch``
    (0: not stopped) say what happened, per model.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 0, min_delta: float = 0.0, mode: str = "auto",
                 restore_best_weights: bool = False):
        self.monitor = Monitor(monitor, mode, min_delta)
        self.patience = checks.count(patience, "patience")
        self.restore_best_weights = checks.flag(restore_best_weights, "restore_best_weights")

    def on_train_begin(self, run: Run) -> None:
        self.monitor.start(run, "EarlyStopping")
        lead = run.model.lead
        self.wait = np.zeros(lead, dtype=np.int64)
        self.stopped = np.zeros(lead, dtype=np.int64)
        self.best = model_weights(run.model) if self.restore_best_weights else None

    def on_epoch_end(self, run: Run, record: dict) -> None:
        improved = self.monitor.update(record)
        if self.best is not None and improved.any():
            self.best.save(_members(improved))
        self.wait = np.where(improved, 0, self.wait + 1)
        stopping = (self.wait >= max(self.patience, 1)) & (self.stopped == 0)
        if not stopping.any():
            return
        self.stopped = np.where(stopping, record["epoch"], self.stopped)
        if not run.model.lead:
            run.stop()
            return
        if self.best is not None:
            self.best.restore(stopping)
        run.stop_members(stopping)

    def on_train_end(self, run: Run) -> None:
        if self.best is not None and run.error is None:
            self.best.restore()

    @property
    def best_epoch(self):
        """The epoch of the best value (an int, or one per model of a population)."""
        return _int_or_array(self.monitor.best_epoch)

    @property
    def stopped_epoch(self):
        """The epoch at which training stopped, 0 if it did not (an int, or one per model)."""
        return _int_or_array(self.stopped)


def _int_or_array(values: np.ndarray):
    return int(values) if values.ndim == 0 else values


class ModelCheckpoint(Callback):
    """Save the model with :func:`xpnet.save` (atomically: a crash never leaves a half-written file).

    ``path`` may name the epoch and record entries as format fields (``"ckpt-{epoch:03d}.npz"``,
    ``"{val_loss:.3f}.npz"``). Saves every ``every`` epochs (of the model's epoch count), or with
    ``save_best_only`` whenever ``monitor`` improves; for a population each model is then saved with
    the weights of its own best epoch. A checkpoint holds everything :func:`xpnet.load` needs to
    continue exactly where it stopped (optimizer state, epoch count, random streams, History). A
    folder that does not exist is refused when training begins (unless format fields name it).
    """

    def __init__(self, path, every: int = 1, save_best_only: bool = False, monitor: str = "val_loss",
                 mode: str = "auto"):
        self.path = os.fspath(path)
        self.every = checks.positive_int(every, "every")
        self.save_best_only = checks.flag(save_best_only, "save_best_only")
        self.monitor = Monitor(monitor, mode)
        self.saved: list = []  # the paths written

    def on_train_begin(self, run: Run) -> None:
        if "{" not in os.path.dirname(self.path):  # a folder named by format fields is known when saving
            files.check_folder(self.path)
        if self.save_best_only:
            self.monitor.start(run, "ModelCheckpoint")
            self.best = model_weights(run.model) if run.model.lead else None

    def on_epoch_end(self, run: Run, record: dict) -> None:
        if not self.save_best_only:
            if record["epoch"] % self.every == 0:
                self._save(run.model, record)
            return
        improved = self.monitor.update(record)
        if not improved.any():
            return
        if self.best is None:
            self._save(run.model, record)
            return
        self.best.save(improved)
        current = model_weights(run.model)
        self.best.restore()
        try:
            self._save(run.model, record)
        finally:
            current.restore()

    def _save(self, model, record: dict) -> None:
        from xpnet import io

        fields = {key: value for key, value in record.items() if isinstance(value, (int, float))}
        path = self.path.format(**fields)
        io.save(model, path)
        self.saved.append(path)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved (by more than
    ``min_delta``) for ``patience`` epochs, then leave ``cooldown`` epochs uncounted before counting
    again (as PyTorch does); never below ``min_lr``. Each model of a population has its own rate and
    plateau. Needs a constant learning rate (a number, or one per model), not a schedule.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10, min_delta: float = 1e-4,
                 mode: str = "auto", cooldown: int = 0, min_lr: float = 0.0):
        self.monitor = Monitor(monitor, mode, min_delta)
        self.factor = checks.in_range(factor, "factor", 0.0, 1.0, high_open=True)
        if self.factor == 0.0:
            raise ValueError("factor must be in (0, 1), the multiplier of the learning rate, got 0.0")
        self.patience = checks.count(patience, "patience")
        self.cooldown = checks.count(cooldown, "cooldown")
        self.min_lr = checks.non_negative(min_lr, "min_lr")

    def on_train_begin(self, run: Run) -> None:
        if callable(run.optimizer.lr):
            raise TypeError("ReduceLROnPlateau needs a constant learning rate, but the optimizer's lr is the schedule "
                            f"{run.optimizer.lr!r}; use one or the other")
        self.monitor.start(run, "ReduceLROnPlateau")
        lead = run.model.lead
        self.wait = np.zeros(lead, dtype=np.int64)
        self.cooldown_left = np.zeros(lead, dtype=np.int64)

    def on_epoch_end(self, run: Run, record: dict) -> None:
        improved = self.monitor.update(record)
        cooling = self.cooldown_left > 0  # epochs of cooldown are not counted
        self.cooldown_left = np.maximum(self.cooldown_left - 1, 0)
        self.wait = np.where(improved | cooling, 0, self.wait + 1)
        lr = np.broadcast_to(np.asarray(run.optimizer.lr, dtype=np.float64), run.model.lead)
        reduce = (self.wait >= max(self.patience, 1)) & (lr > self.min_lr)
        if not reduce.any():
            return
        new_lr = np.where(reduce, np.maximum(lr * self.factor, self.min_lr), lr)
        run.optimizer.set(lr=float(new_lr) if new_lr.ndim == 0 else new_lr.tolist())
        self.cooldown_left = np.where(reduce, self.cooldown, self.cooldown_left)
        self.wait = np.where(reduce, 0, self.wait)


class CSVLogger(Callback):
    """One row per epoch (per model of a population, with a ``member`` column) appended to a CSV file:
    ``epoch`` and the History's entries, numbers written exactly (``repr``). ``append=False`` starts
    the file anew at each ``fit`` call. A folder that does not exist is refused when training begins."""

    def __init__(self, path, separator: str = ",", append: bool = False):
        self.path, self.separator, self.append = os.fspath(path), separator, checks.flag(append, "append")

    def on_train_begin(self, run: Run) -> None:
        files.check_folder(self.path)
        if not self.append or not os.path.exists(self.path):
            with open(self.path, "w", newline="") as file:
                header = ["epoch"] + ["member"] * bool(run.model.lead) + list(EPOCH_KEYS)
                csv.writer(file, delimiter=self.separator).writerow(header)

    def on_epoch_end(self, run: Run, record: dict) -> None:
        lead = run.model.lead
        members = range(lead[0]) if lead else [None]
        with open(self.path, "a", newline="") as file:
            writer = csv.writer(file, delimiter=self.separator)
            for member in members:
                values = [_cell(record.get(key), member) for key in EPOCH_KEYS]
                writer.writerow([record["epoch"]] + ([] if member is None else [member]) + values)


def _cell(value, member) -> str:
    if value is None:
        return ""
    if member is not None and np.ndim(value):
        value = np.asarray(value)[member]
    return repr(float(value))


class TerminateOnDivergence(Callback):
    """Treat a run as diverged not only when the cost becomes NaN or inf, but also when it blows up:
    an iteration's cost exceeds ``threshold``, or the epoch's loss exceeds both ``factor`` times the
    lowest loss so far and the starting loss.

    The starting loss is the cost of the model's first mini-batch, before any update (for a model
    that has trained before: the first iteration cost in its History, which includes the L2
    penalty); the lowest loss so far is the lowest epoch loss in the History (in a model's first
    epoch: the starting loss). Both bounds are needed: close to a perfect fit the loss is tiny and
    may jump by far more than ``factor`` from one epoch to the next (1e-4 to 3e-3, say) while
    staying far below where training started, whereas a learning rate that is too large sends the
    loss past the starting loss, usually within the first epoch. A loss that never returns above
    its starting value is never stopped by ``factor`` (give a ``threshold`` for that).

    A diverged epoch is handled like a NaN: the model goes back to the parameters it had at the
    epoch's start and :class:`~xpnet.DivergenceError` is raised (a population freezes the diverged
    models, each judged by its own losses; the error comes when all have diverged).
    """

    def __init__(self, factor: float | None = 10.0, threshold: float | None = None):
        if factor is None and threshold is None:
            raise ValueError("TerminateOnDivergence needs a factor or a threshold (or both)")
        self.factor = None if factor is None else checks.positive(factor, "factor")
        if self.factor is not None and self.factor <= 1:
            raise ValueError(f"factor must be > 1 (a loss that many times the lowest counts as diverged), "
                             f"got {factor!r}")
        self.threshold = None if threshold is None else checks.positive(threshold, "threshold")

    def on_train_begin(self, run: Run) -> None:
        history = run.history
        losses = np.asarray(history["loss"], dtype=np.float64)
        self.lowest = np.nanmin(losses, axis=0) if losses.size and np.isfinite(losses).any() else None
        self.start = np.asarray(history.iteration_cost[0], dtype=np.float64) if history.iteration_cost else None
        run.add_divergence_test(self)

    def __call__(self, costs: np.ndarray, losses: np.ndarray) -> np.ndarray:
        """Which iterations (``costs``: ``(iterations,) + lead``) count as diverged, given the epoch's
        losses (``lead``): those above the threshold, and, in an epoch whose loss is above both
        ``factor`` times the lowest loss and the starting loss, those above both too."""
        bad = np.zeros(costs.shape, dtype=bool)
        if self.threshold is not None:
            bad |= costs > self.threshold
        if self.factor is not None:
            start = costs[0] if self.start is None else self.start
            lowest = start if self.lowest is None else self.lowest
            bound = np.fmax(self.factor * lowest, start)
            grown = losses > bound
            bad |= grown & (costs > bound)
            self.start, self.lowest = start, np.fmin(lowest, np.where(grown, lowest, losses))
        return bad

    @property
    def reason(self) -> str:
        parts = ([f"above {self.threshold:g}"] if self.threshold is not None else []) + (
            [f"above both {self.factor:g} times the lowest loss so far and the starting loss"]
            if self.factor is not None else [])
        return "the cost grew " + " or ".join(parts)


class TensorBoard(Callback):
    """Write the History's entries as TensorBoard scalars (step: the epoch) to ``log_dir``; a
    population writes one run per model (``log_dir/member_3``). Needs the ``tensorboard`` package
    (``pip install 'xpnet[tensorboard]'``), not TensorFlow or torch."""

    def __init__(self, log_dir):
        self.log_dir = os.fspath(log_dir)
        self.writer_class = _tensorboard_writer()
        self.writers: list = []

    def on_train_begin(self, run: Run) -> None:
        lead = run.model.lead
        directories = [os.path.join(self.log_dir, f"member_{index}") for index in range(lead[0])] if lead \
            else [self.log_dir]
        self.writers = [self.writer_class(directory) for directory in directories]

    def on_epoch_end(self, run: Run, record: dict) -> None:
        for member, writer in enumerate(self.writers):
            for key in EPOCH_KEYS:
                value = record.get(key)
                if value is None:
                    continue
                value = float(np.asarray(value)[member]) if np.ndim(value) else float(value)
                if not math.isnan(value):
                    writer.add_scalar(key, value, step=record["epoch"])
            writer.flush()

    def on_train_end(self, run: Run) -> None:
        for writer in self.writers:
            writer.close()
        self.writers = []


def _tensorboard_writer():
    try:
        from tensorboard.summary import Writer
    except ImportError as error:
        raise ImportError("the TensorBoard callback needs the tensorboard package: "
                          "pip install 'xpnet[tensorboard]'") from error
    return Writer
