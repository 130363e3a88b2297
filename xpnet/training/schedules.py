"""Learning-rate decay: schedules are plain callables of the epoch (or of the update step).

``epoch`` counts from 0, so every schedule starts at ``lr0``. A schedule's ``unit`` says what it is
called with: ``"epoch"`` (the default, for every schedule here) or ``"step"`` (updates made so far).
Any callable works as a learning rate; a plain function is called with the epoch unless wrapped in
:func:`per_step`. Whatever a schedule returns is checked each time it is used: a finite number > 0,
or one per model of a population.

Arguments named ``lr0``, ``decay_rate``, ``k``, ``min_lr`` and ``values`` may be lists, one value
per model of a population.
"""
from __future__ import annotations

import math

import numpy as np

from xpnet import checks


class Schedule:
    """Base class: ``schedule(t) -> lr`` with ``t`` counted in ``unit`` (``"epoch"`` or ``"step"``)."""

    def __init__(self, unit: str = "epoch"):
        if unit not in ("epoch", "step"):
            raise ValueError(f"schedule unit must be 'epoch' or 'step', got {unit!r}")
        self.unit = unit

    def __call__(self, t: int) -> float:
        raise NotImplementedError

    def per_model_arguments(self) -> dict:
        """The arguments that may hold one value per model: name -> value."""
        return {}

    def check_counts(self, lead: tuple) -> None:
        """Every argument given as a list has one value per model of ``lead``."""
        for name, value in self.per_model_arguments().items():
            if np.ndim(value):
                checks.one_per_model(value, f"{type(self).__name__} {name}", lead)

    def get_config(self) -> dict:
        return dict(vars(self))

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"


class InverseTimeDecay(Schedule):
    """``lr0 / (1 + decay_rate * t)``; with ``interval``, the staircase
    ``lr0 / (1 + decay_rate * floor(t / interval))`` that drops once every ``interval`` epochs."""

    def __init__(self, lr0, decay_rate, interval: int | None = None, unit: str = "epoch"):
        super().__init__(unit)
        self.lr0 = checks.positive(lr0, "InverseTimeDecay lr0")
        self.decay_rate = checks.non_negative(decay_rate, "InverseTimeDecay decay_rate")
        self.interval = None if interval is None else checks.positive_int(interval, "InverseTimeDecay interval")

    def per_model_arguments(self):
        return {"lr0": self.lr0, "decay_rate": self.decay_rate}

    def __call__(self, t):
        if self.interval is not None:
            t = t // self.interval
        return np.asarray(self.lr0) / (1.0 + np.asarray(self.decay_rate) * t)


class ExponentialDecay(Schedule):
    """``lr0 * k^t`` (e.g. ``k = 0.95``)."""

    def __init__(self, lr0, k, unit: str = "epoch"):
        super().__init__(unit)
        self.lr0 = checks.positive(lr0, "ExponentialDecay lr0")
        self.k = checks.positive(k, "ExponentialDecay k")

    def per_model_arguments(self):
        return {"lr0": self.lr0, "k": self.k}

    def __call__(self, t):
        return np.asarray(self.lr0) * np.asarray(self.k) ** t


class InverseSqrtDecay(Schedule):
    """``lr0 * k / sqrt(t + 1)``: the textbook ``k / sqrt(epoch_num)`` with ``epoch_num = t + 1``,
    counted from one so the first epoch is finite."""

    def __init__(self, lr0, k=1.0, unit: str = "epoch"):
        super().__init__(unit)
        self.lr0 = checks.positive(lr0, "InverseSqrtDecay lr0")
        self.k = checks.positive(k, "InverseSqrtDecay k")

    def per_model_arguments(self):
        return {"lr0": self.lr0, "k": self.k}

    def __call__(self, t):
        return np.asarray(self.lr0) * np.asarray(self.k) / math.sqrt(t + 1)


class PiecewiseConstant(Schedule):
    """Step decay: ``values[i]`` while ``boundaries[i-1] <= t < boundaries[i]``
    (``len(values) == len(boundaries) + 1``, boundaries increasing ints)."""

    def __init__(self, boundaries: list, values: list, unit: str = "epoch"):
        super().__init__(unit)
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise TypeError(f"PiecewiseConstant needs lists of boundaries and values, got {boundaries!r} and "
                            f"{values!r}")
        if len(values) != len(boundaries) + 1:
            raise ValueError(f"PiecewiseConstant needs len(values) == len(boundaries) + 1, got "
                             f"{len(values)} values and {len(boundaries)} boundaries")
        boundaries = [checks.count(boundary, "PiecewiseConstant boundary") for boundary in boundaries]
        if boundaries != sorted(boundaries):
            raise ValueError(f"PiecewiseConstant boundaries must be increasing, got {boundaries!r}")
        self.boundaries = boundaries
        self.values = [checks.positive(value, "PiecewiseConstant value") for value in values]

    def per_model_arguments(self):
        return {f"values[{index}]": value for index, value in enumerate(self.values)}

    def __call__(self, t):
        index = sum(1 for boundary in self.boundaries if t >= boundary)
        return self.values[index]


class CosineWithWarmup(Schedule):
    """Linear warm-up from ``lr0 * (t + 1) / warmup`` to ``lr0`` over the first ``warmup`` units, then
    cosine decay ``min_lr + (lr0 - min_lr) * (1 + cos(pi * p)) / 2`` with ``p`` going 0 -> 1 at ``total``.

    ``t`` counts epochs like every schedule (``unit="step"`` counts updates). With ``min_lr=0`` the
    rate reaches 0 at ``total``, which training refuses: train for fewer than ``total`` units or give
    ``min_lr > 0``."""

    def __init__(self, lr0, total: int, warmup: int = 0, min_lr=0.0, unit: str = "epoch"):
        super().__init__(unit)
        self.lr0 = checks.positive(lr0, "CosineWithWarmup lr0")
        self.total = checks.positive_int(total, "CosineWithWarmup total")
        self.warmup = checks.count(warmup, "CosineWithWarmup warmup")
        if self.warmup >= self.total:
            raise ValueError(f"CosineWithWarmup needs 0 <= warmup < total, got warmup={warmup!r}, "
                             f"total={total!r}")
        self.min_lr = checks.non_negative(min_lr, "CosineWithWarmup min_lr")

    def per_model_arguments(self):
        return {"lr0": self.lr0, "min_lr": self.min_lr}

    def __call__(self, t):
        lr0, min_lr = np.asarray(self.lr0), np.asarray(self.min_lr)
        if t < self.warmup:
            return lr0 * (t + 1) / self.warmup
        progress = min(1.0, (t - self.warmup) / (self.total - self.warmup))
        return min_lr + (lr0 - min_lr) * 0.5 * (1.0 + math.cos(math.pi * progress))


class PerStep(Schedule):
    """Wraps a plain callable so it is called with the update step instead of the epoch."""

    def __init__(self, function):
        super().__init__("step")
        self.function = function

    def __call__(self, t):
        return self.function(t)

    def get_config(self):
        raise TypeError("a schedule wrapping a plain function cannot be saved; use a schedule class")

    def __repr__(self):
        return f"per_step({describe(self.function)})"


def per_step(function) -> PerStep:
    """Use ``function(step) -> lr`` as a per-update schedule."""
    if not callable(function):
        raise TypeError(f"per_step needs a function of the update step, got {function!r}")
    return PerStep(function)


SCHEDULES = {cls.__name__: cls for cls in (InverseTimeDecay, ExponentialDecay, InverseSqrtDecay,
                                           PiecewiseConstant, CosineWithWarmup)}


def check_learning_rate(lr):
    """Accept a positive number, one per model of a population, or a callable; anything else is an
    error naming ``lr``."""
    if callable(lr):
        return lr
    return checks.per_model_numbers(lr, "lr", lambda values: values > 0,
                                    "a positive finite number (or one per model) or a schedule")


def is_tabulable(lr) -> bool:
    """Whether the rates of a whole epoch can be computed before it starts: a number, or one of the
    schedules here (pure functions of the epoch or step). A plain function, or one wrapped in
    :func:`per_step`, is called at each update instead, since it may depend on anything."""
    return not callable(lr) or (isinstance(lr, Schedule) and not isinstance(lr, PerStep))


def evaluate(lr, epoch: int, step: int, lead: tuple = ()):
    """The learning rate now: ``lr`` itself, or the schedule at the epoch or step it asks for (a float,
    or a NumPy array with one rate per model of ``lead``). A schedule's value must be finite and > 0,
    one number or one per model; anything else is an error naming the schedule and the epoch."""
    if not callable(lr):
        return float(lr) if np.ndim(lr) == 0 else np.asarray(lr, dtype=np.float64)
    by_step = getattr(lr, "unit", "epoch") == "step"
    rate = lr(step if by_step else epoch)
    if isinstance(rate, (int, float)) and not isinstance(rate, bool) and 0 < rate < math.inf:
        return float(rate)  # the common cases, checked cheaply: this runs once per update
    if (isinstance(rate, np.ndarray) and rate.dtype.kind == "f" and rate.shape in ((), lead)
            and np.all((rate > 0) & (rate < math.inf))):
        return np.asarray(rate, dtype=np.float64) if rate.ndim else float(rate)
    when = f"step {step} (epoch {epoch})" if by_step else f"epoch {epoch}"
    if isinstance(rate, (np.ndarray, np.generic)):
        rate = rate.tolist()  # shown as plain numbers in the error
    checked = checks.per_model_numbers(rate, f"the learning rate that {describe(lr)} gave at {when}, counting "
                                       "from 0,", lambda values: values > 0,
                                       "a finite number > 0 (or one per model)", lead)
    return checked if isinstance(checked, float) else np.asarray(checked)


def describe(lr) -> str:
    """How an error message names a learning rate: a schedule's repr, or a function's name."""
    if isinstance(lr, Schedule):
        return repr(lr)
    return getattr(lr, "__qualname__", repr(lr))


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
    arguments = dict(config)
    name = arguments.pop("schedule", None)
    if not isinstance(name, str) or name not in SCHEDULES:
        raise ValueError(f"unknown learning-rate schedule {name!r}; expected one of {sorted(SCHEDULES)}")
    return SCHEDULES[name](**arguments)
