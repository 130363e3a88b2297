"""Learning-rate decay: schedules are plain callables of the epoch (or of the update step).

``epoch`` counts from 0, so every schedule starts at ``lr0``. A schedule's ``unit`` says what it is
called with: ``"epoch"`` (the default) or ``"step"`` (updates made so far). Any callable works as a
learning rate; a plain function is called with the epoch unless wrapped in :func:`per_step`.
"""
from __future__ import annotations

import math

import numpy as np

from xpnet.checks import per_model_numbers


class Schedule:
    """Base class: ``schedule(t) -> lr`` with ``t`` counted in ``unit`` (``"epoch"`` or ``"step"``)."""

    def __init__(self, unit: str = "epoch"):
        if unit not in ("epoch", "step"):
            raise ValueError(f"schedule unit must be 'epoch' or 'step', got {unit!r}")
        self.unit = unit

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        return dict(vars(self))

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"


class InverseTimeDecay(Schedule):
    """``lr0 / (1 + decay_rate * t)``; with ``interval``, the staircase
    ``lr0 / (1 + decay_rate * floor(t / interval))`` that drops once every ``interval`` epochs.
    ``lr0`` and ``decay_rate`` may be lists, one per model of a population."""

    def __init__(self, lr0: float, decay_rate: float, interval: int | None = None, unit: str = "epoch"):
        super().__init__(unit)
        self.lr0, self.decay_rate, self.interval = lr0, decay_rate, interval

    def __call__(self, t):
        if self.interval is not None:
            t = t // self.interval
        return np.asarray(self.lr0) / (1.0 + np.asarray(self.decay_rate) * t)


class ExponentialDecay(Schedule):
    """``lr0 * k^t`` (e.g. ``k = 0.95``); lists give one schedule per model of a population."""

    def __init__(self, lr0: float, k: float, unit: str = "epoch"):
        super().__init__(unit)
        self.lr0, self.k = lr0, k

    def __call__(self, t):
        return np.asarray(self.lr0) * np.asarray(self.k) ** t


class InverseSqrtDecay(Schedule):
    """``lr0 * k / sqrt(t + 1)``: the textbook ``k / sqrt(epoch_num)`` with ``epoch_num = t + 1``,
    counted from one so the first epoch is finite."""

    def __init__(self, lr0: float, k: float = 1.0, unit: str = "epoch"):
        super().__init__(unit)
        self.lr0, self.k = lr0, k

    def __call__(self, t):
        return self.lr0 * self.k / math.sqrt(t + 1)


class PiecewiseConstant(Schedule):
    """Step decay: ``values[i]`` while ``boundaries[i-1] <= t < boundaries[i]``
    (``len(values) == len(boundaries) + 1``)."""

    def __init__(self, boundaries: list, values: list, unit: str = "epoch"):
        super().__init__(unit)
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstant needs len(values) == len(boundaries) + 1, got "
                             f"{len(values)} values and {len(boundaries)} boundaries")
        if list(boundaries) != sorted(boundaries):
            raise ValueError(f"PiecewiseConstant boundaries must be increasing, got {boundaries!r}")
        self.boundaries, self.values = list(boundaries), list(values)

    def __call__(self, t):
        index = sum(1 for boundary in self.boundaries if t >= boundary)
        return self.values[index]


class CosineWithWarmup(Schedule):
    """Linear warm-up from ``lr0 * (t + 1) / warmup`` to ``lr0`` over the first ``warmup`` units, then
    cosine decay ``min_lr + (lr0 - min_lr) * (1 + cos(pi * p)) / 2`` with ``p`` going 0 -> 1 at ``total``."""

    def __init__(self, lr0: float, total: int, warmup: int = 0, min_lr: float = 0.0, unit: str = "step"):
        super().__init__(unit)
        if not 0 <= warmup < total:
            raise ValueError(f"CosineWithWarmup needs 0 <= warmup < total, got warmup={warmup!r}, "
                             f"total={total!r}")
        self.lr0, self.total, self.warmup, self.min_lr = lr0, total, warmup, min_lr

    def __call__(self, t):
        if t < self.warmup:
            return self.lr0 * (t + 1) / self.warmup
        progress = min(1.0, (t - self.warmup) / (self.total - self.warmup))
        return self.min_lr + (self.lr0 - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class PerStep(Schedule):
    """Wraps a plain callable so it is called with the update step instead of the epoch."""

    def __init__(self, function):
        super().__init__("step")
        self.function = function

    def __call__(self, t):
        return self.function(t)

    def get_config(self):
        raise TypeError("a schedule wrapping a plain function cannot be saved; use a schedule class")


def per_step(function) -> PerStep:
    """Use ``function(step) -> lr`` as a per-update schedule."""
    return PerStep(function)


SCHEDULES = {cls.__name__: cls for cls in (InverseTimeDecay, ExponentialDecay, InverseSqrtDecay,
                                           PiecewiseConstant, CosineWithWarmup)}


def check_learning_rate(lr):
    """Accept a positive number, one per model of a population, or a callable; anything else is an
    error naming ``lr``."""
    if callable(lr):
        return lr
    return per_model_numbers(lr, "lr", lambda values: values > 0,
                             "a positive finite number (or one per model) or a schedule")


def is_tabulable(lr) -> bool:
    """Whether the rates of a whole epoch can be computed before it starts: a number, or one of the
    schedules here (pure functions of the epoch or step). A plain function, or one wrapped in
    :func:`per_step`, is called at each update instead, since it may depend on anything."""
    return not callable(lr) or (isinstance(lr, Schedule) and not isinstance(lr, PerStep))


def evaluate(lr, epoch: int, step: int):
    """The learning rate now: ``lr`` itself, or the schedule at the epoch or step it asks for
    (a float, or a NumPy array with one rate per model)."""
    if callable(lr):
        lr = lr(step if getattr(lr, "unit", "epoch") == "step" else epoch)
    return float(lr) if np.ndim(lr) == 0 else np.asarray(lr, dtype=np.float64)


def to_config(lr):
    """A JSON-friendly form of a learning rate: the number, or the schedule's class and arguments."""
    if not callable(lr):
        return lr
    if not isinstance(lr, Schedule):
        raise TypeError("a learning rate given as a plain function cannot be saved; "
                        "use a schedule from xpnet.schedules")
    return {"schedule": type(lr).__name__, **lr.get_config()}


def from_config(config):
    """Inverse of :func:`to_config`."""
    if not isinstance(config, dict):
        return config
    config = dict(config)
    return SCHEDULES[config.pop("schedule")](**config)
