"""Training many configurations: one after another, as populations on one device (padded where
widths differ, pruned as they go), or in worker processes (one per core or per GPU), all with the same
data and the same mini-batch order."""
from __future__ import annotations

import copy
import dataclasses
import math
import os
import time

import numpy as np

from xpnet import checks, data
from xpnet.backend import resolve_backend
from xpnet.nn.losses import get_loss
from xpnet.threads import limit
from xpnet.training.loop import DivergenceError
from xpnet.tune import populations, pruning, trials

MODES = ("population", "sequential", "processes")
PADDING = ("buckets", "widest", "none")


@dataclasses.dataclass
class Problem:
    """The data every trial trains and validates on, and where it trains.

    ``shuffle_seed`` fixes the mini-batch order, the same for every trial, and the ``seed``
    hyperparameter sets initial weights and dropout masks, so a configuration gives the same result
    whichever way it is run, with one exception: a model with dropout draws its masks from its
    population's stream, so trained in a population and alone it sees other masks (same
    distribution, different numbers).

    Everything is checked when the problem is made, as ``fit`` would check it (the loss name,
    ``output_dim`` against the labels or targets, the feature and row counts of the four arrays,
    their values, the device, backend and dtype), so that a mistake is one clear error rather than
    a search whose every trial fails."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    loss: str
    output_dim: int
    device: str = "cpu"
    backend: str | None = None
    dtype: str = "float32"
    shuffle_seed: int = 0

    def __post_init__(self):
        self.loss = get_loss(self.loss).name
        self.output_dim = checks.positive_int(self.output_dim, "output_dim")
        self.shuffle_seed = checks.count(self.shuffle_seed, "shuffle_seed")
        self.dtype = resolve_backend(self.backend, self.device, self.dtype).dtype_name
        try:
            self._check_data()
        except (ValueError, TypeError) as error:
            kind = TypeError if isinstance(error, TypeError) else ValueError
            raise kind(f"tune.Problem(loss={self.loss!r}, output_dim={self.output_dim}): {error}") from error

    def _check_data(self) -> None:
        shape = np.shape(self.X_train)
        if len(shape) != 2:
            raise ValueError(f"X_train must be 2-D with shape (m, n_features), got shape {shape}")
        val_shape = np.shape(self.X_val)
        if len(val_shape) != 2 or val_shape[1] != shape[1]:
            raise ValueError(f"X_val must have shape (m_val, {shape[1]}), as many features as X_train, got shape "
                             f"{val_shape}")
        for X, y, part in ((self.X_train, self.y_train, "train"), (self.X_val, self.y_val, "val")):
            if np.shape(y)[:1] != np.shape(X)[:1]:
                raise ValueError(f"y_{part} must have one entry per row of X_{part} ({np.shape(X)[0]}), got shape "
                                 f"{np.shape(y)}")
            data.check_features(X, shape[1], f"X_{part}", self.dtype)
        classes = data.resolve_classes(self.y_train, self.loss, self.output_dim, None, "y_train")
        targets = data.Targets(self.loss, self.output_dim, classes, dtype=self.dtype)
        targets.indices(self.y_train, shape[0], "y_train")
        targets.indices(self.y_val, val_shape[0], "y_val")

    def on_device(self, device: str) -> Problem:
        """The same problem trained on ``device`` (the data are not checked again)."""
        moved = copy.copy(self)
        moved.device = device
        return moved

    @property
    def input_dim(self) -> int:
        return int(np.shape(self.X_train)[1])


def run(problem: Problem, configs: list, mode: str = "population", workers: int | None = None,
        devices: list | None = None, first_number: int = 0, pad: str = "buckets",
        pruner: pruning.Pruner | None = None, threads: int | None = None) -> list:
    """Train every complete configuration; returns one :class:`~xpnet.tune.trials.TrialResult`
    each, in the order given.

    ``mode``: ``"population"`` trains configurations that share a shape as one population,
    ``"sequential"`` one at a time, ``"processes"`` spreads population groups over ``workers``
    processes (joblib's loky workers, which do not re-run the calling script), worker ``i`` on
    ``devices[i % len(devices)]`` (default: the problem's device). ``pad``: configurations that differ
    only in hidden widths share a population padded to the widest of them: all of them
    (``"widest"``), those within a factor of two (``"buckets"``: widths 33..64 together, 65..128, ...),
    or none (``"none"``). ``pruner`` (e.g. :class:`~xpnet.tune.pruning.SuccessiveHalving`) stops
    members of a population early (in ``"processes"`` mode each population then goes whole to one
    worker, so the same members are pruned as in one process). ``threads`` caps the BLAS threads
    (None: as they are; one per worker process). A configuration whose training raises is recorded
    as failed, with its error.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if pad not in PADDING:
        raise ValueError(f"pad must be one of {PADDING}, got {pad!r}")
    numbered = list(enumerate(configs, start=first_number))
    groups = [[item] for item in numbered] if mode == "sequential" else group_by_shape(numbered, pad)
    if mode == "processes":
        results = _run_in_processes(problem, groups, workers, devices, pruner, threads)
    else:
        with limit(threads):
            results = [result for group in groups for result in train_group(problem, group, pruner)]
    return sorted(results, key=lambda result: result.number)


def group_by_shape(numbered: list, pad: str = "none") -> list:
    """Lists of ``(number, config)`` that can share one population (see :func:`run` for ``pad``)."""
    groups: dict[tuple, list] = {}
    for number, config in numbered:
        key = trials.shape_key(config, widths=pad == "none") + _width_bucket(config, pad)
        groups.setdefault(key, []).append((number, config))
    return list(groups.values())


def _width_bucket(config: dict, pad: str) -> tuple:
    if pad != "buckets":
        return ()
    return tuple(math.ceil(math.log2(width)) for width in trials.hidden_widths(config))


def train_group(problem: Problem, group: list, pruner: pruning.Pruner | None = None) -> list:
    """Train configurations of one shape together (a population; a plain model for one). If that
    raises, each is trained alone, and one that raises again is recorded as failed."""
    try:
        return _train_together(problem, group, pruner)
    except Exception as error:  # one bad configuration must not end the search
        if len(group) == 1:
            number, config = group[0]
            return [trials.failed(number, config, error)]
        return [result for item in group for result in train_group(problem, [item], pruner)]


def _train_together(problem: Problem, group: list, pruner: pruning.Pruner | None) -> list:
    """Train up to each pruning checkpoint, record the members that diverged or were pruned (their
    weights stay where they stopped), go on with the others as a smaller population."""
    configs = [config for _, config in group]
    epochs = int(configs[0]["epochs"])
    model = populations.build_population(configs, problem.input_dim, problem.output_dim, problem.device,
                                         problem.dtype, problem.backend)
    model.optimizer = trials.build_optimizer(configs)
    running = list(range(len(group)))  # the group position of each of the model's rows
    finished: dict[int, tuple] = {}  # group position -> (state, trained model or (population, row))
    seconds = np.zeros(len(group))
    seed: int | None = problem.shuffle_seed
    checkpoints = pruner.checkpoints(epochs) if pruner is not None else []
    for stop in checkpoints + [epochs]:
        started = time.perf_counter()
        diverged = _fit(model, problem, configs, running, stop - model.epoch, seed)
        seed = None  # later segments go on with the same shuffle stream
        seconds[running] += (time.perf_counter() - started) / len(running)  # equal shares: see TrialResult
        states = {int(row): "diverged" for row in np.flatnonzero(diverged)}
        if pruner is not None and stop < epochs:
            states.update(_pruned(model, pruner, [group[position][0] for position in running], diverged))
        finished.update({running[row]: (state, _trained(model, row)) for row, state in states.items()})
        kept = [row for row in range(len(running)) if row not in states]
        if not kept or stop == epochs:
            break
        if len(kept) < len(running):
            model = populations.select(model, kept)
            running = [running[row] for row in kept]
    for row, position in enumerate(running):
        finished.setdefault(position, ("complete", _trained(model, row)))
    return [_summary(number, config, finished[position], float(seconds[position]))
            for position, (number, config) in enumerate(group)]


def _pruned(model, pruner: pruning.Pruner, numbers: list, diverged: np.ndarray) -> dict:
    """row -> "pruned" for the rows (among those that have not diverged) the pruner stops now."""
    rows = np.flatnonzero(~diverged)
    if not rows.size:
        return {}
    losses = np.reshape(model.history["val_loss"][-1], -1).astype(float)[rows]
    stopped = pruner.prune([numbers[row] for row in rows], losses, model.epoch)
    return {int(row): "pruned" for row in rows[stopped]}


def _summary(number, config, outcome: tuple, seconds: float):
    """The TrialResult of a trial that ended as ``outcome = (state, trained)``."""
    state, trained = outcome
    history = trained[0].history.member(trained[1]) if isinstance(trained, tuple) else trained.history
    return trials.summarize(number, config, history, seconds, state, trained)


def _fit(model, problem: Problem, configs: list, running: list, epochs: int, seed) -> np.ndarray:
    """Train ``epochs`` more epochs; returns which rows have diverged (frozen, rolled back)."""
    l2 = [configs[position]["l2"] for position in running]
    try:
        with np.errstate(all="ignore"):
            model.fit(problem.X_train, problem.y_train, loss=problem.loss, batch_size=int(configs[0]["batch_size"]),
                      epochs=epochs, validation_data=(problem.X_val, problem.y_val), seed=seed,
                      l2=l2 if model.population else l2[0])
    except DivergenceError:
        return np.ones(1, dtype=bool)
    return ~np.reshape(model.alive, len(running))


def _trained(model, row: int):
    """What a result keeps of its model: the model itself, or (population, row)."""
    return (model, int(row)) if model.population else model


def refit(problem: Problem, config: dict, threads: int | None = None):
    """Train ``config`` afresh on the training and validation data together; returns the model."""
    model = trials.build_model(config, problem.input_dim, problem.output_dim, loss=problem.loss,
                               device=problem.device, dtype=problem.dtype, backend=problem.backend)
    X = np.concatenate([np.asarray(problem.X_train), np.asarray(problem.X_val)])
    y = np.concatenate([np.asarray(problem.y_train), np.asarray(problem.y_val)])
    model.fit(X, y, seed=problem.shuffle_seed, threads=threads, **trials.fit_options(config))
    return model


def _run_in_processes(problem, groups, workers, devices, pruner, threads):
    try:
        import joblib
    except ImportError as error:
        raise ImportError("mode='processes' needs joblib: pip install 'xpnet[tune]'") from error
    workers = workers or os.cpu_count() or 1
    devices = devices or [problem.device]
    pieces = groups if pruner is not None else _balanced(groups, workers)  # a pruner ranks whole groups
    tasks = [(problem.on_device(devices[i % len(devices)]), group)
             for i, group in enumerate(pieces)]
    chunks = joblib.Parallel(n_jobs=min(workers, len(tasks)), backend="loky")(
        joblib.delayed(_train_chunk)(task_problem, group, pruner, threads or 1) for task_problem, group in tasks)
    return [result for chunk in chunks for result in chunk]


def _balanced(groups, workers):
    """Split groups so each worker gets work: large groups are cut into ``workers`` parts."""
    pieces = []
    for group in groups:
        size = math.ceil(len(group) / max(1, min(workers, len(group))))
        pieces += [group[i:i + size] for i in range(0, len(group), size)]
    return pieces


def _train_chunk(problem, group, pruner, threads):
    """A worker's job; workers share the cores, one BLAS thread each unless told otherwise."""
    with limit(threads):
        return train_group(problem, group, pruner)
