"""Search spaces: distributions to sample hyperparameters from, and how to zoom in on good regions.

A space is a plain dict ``name -> distribution``. Each distribution samples in its own scale:
``LogUniform(1e-4, 1)`` draws ``10**r`` with ``r`` uniform in ``[-4, 0]``, so every decade is
equally likely; ``OneMinusLogUniform(0.9, 0.999)`` draws ``1 - 10**r`` with ``r`` uniform in
``[-3, -1]``, spreading betas evenly over 0.9..0.99 and 0.99..0.999. ``zoom`` shrinks a distribution
around chosen values in that same scale (coarse to fine).
"""
from __future__ import annotations

import itertools
import math

import numpy as np

from xpnet import checks


class Distribution:
    """``sample(rng, n)``, ``grid(points)``, ``zoom(values, margin)`` and the scale they work in."""

    def sample(self, rng: np.random.Generator, n: int) -> list:
        raise NotImplementedError

    def grid(self, points: int) -> list:
        raise NotImplementedError

    def zoom(self, values: list, margin: float = 0.25) -> Distribution:
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{value!r}" for value in vars(self).values())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)


class _Scaled(Distribution):
    """A continuous distribution, uniform after the map ``forward`` (its scale); ``inverse`` undoes it."""

    def __init__(self, low: float, high: float):
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"{type(self).__name__} needs finite low < high, got {low!r}, {high!r}")
        self.low, self.high = float(low), float(high)

    def forward(self, x):
        return x

    def inverse(self, u):
        return u

    def _bounds(self):
        ends = sorted((float(self.forward(self.low)), float(self.forward(self.high))))
        return ends[0], ends[1]

    def sample(self, rng, n):
        a, b = self._bounds()
        return [float(v) for v in self.inverse(rng.uniform(a, b, size=n))]

    def grid(self, points):
        a, b = self._bounds()
        return [float(v) for v in self.inverse(np.linspace(a, b, points))]

    def zoom(self, values, margin=0.25):
        """The range the ``values`` span in this scale, widened by ``margin`` of that span on each
        side, clipped to the current bounds."""
        a, b = self._bounds()
        scaled = np.sort(self.forward(np.asarray(values, dtype=float)))
        span = max(scaled[-1] - scaled[0], 1e-3 * (b - a))
        lo, hi = max(a, scaled[0] - margin * span), min(b, scaled[-1] + margin * span)
        ends = sorted(float(v) for v in self.inverse(np.array([lo, hi])))
        return type(self)(*ends)


class Uniform(_Scaled):
    """Uniform on ``[low, high]``."""


class LogUniform(_Scaled):
    """Uniform in log10 on ``[low, high]`` (``low > 0``): a learning rate in 1e-4..1 is ``10**r``,
    ``r`` uniform in ``[-4, 0]``."""

    def __init__(self, low, high):
        if not low > 0:
            raise ValueError(f"LogUniform needs low > 0, got {low!r}")
        super().__init__(low, high)

    def forward(self, x):
        return np.log10(x)

    def inverse(self, u):
        return 10.0 ** np.asarray(u)


class OneMinusLogUniform(_Scaled):
    """``1 - 10**r`` with ``r`` uniform between ``log10(1 - high)`` and ``log10(1 - low)``: for averaging
    betas, where 0.9 -> 0.99 matters as much as 0.99 -> 0.999 (``high < 1``)."""

    def __init__(self, low, high):
        if not high < 1:
            raise ValueError(f"OneMinusLogUniform needs high < 1, got {high!r}")
        super().__init__(low, high)

    def forward(self, x):
        return np.log10(1.0 - np.asarray(x))

    def inverse(self, u):
        return 1.0 - 10.0 ** np.asarray(u)


class IntUniform(Distribution):
    """Integers ``low..high`` inclusive, each equally likely (``log=True``: uniform in log scale)."""

    def __init__(self, low: int, high: int, log: bool = False):
        log = checks.flag(log, "IntUniform log")
        if not (isinstance(low, int) and isinstance(high, int) and low <= high) or (log and low < 1):
            raise ValueError(f"IntUniform needs ints low <= high (low >= 1 with log=True), got {low!r}, {high!r}")
        self.low, self.high, self.log = low, high, log

    def _continuous(self):
        return (LogUniform if self.log else Uniform)(self.low - 0.5 if not self.log else self.low,
                                                     self.high + 0.5 if not self.log else self.high + 1)

    def sample(self, rng, n):
        draws = self._continuous().sample(rng, n)
        return [int(min(self.high, max(self.low, math.floor(v + 0.5) if not self.log else math.floor(v))))
                for v in draws]

    def grid(self, points):
        values = np.linspace(self.low, self.high, min(points, self.high - self.low + 1))
        return sorted({int(round(v)) for v in values})

    def zoom(self, values, margin=0.25):
        span = max(values) - min(values)
        extra = max(1, math.ceil(margin * span))
        return IntUniform(max(self.low, min(values) - extra), min(self.high, max(values) + extra), self.log)


class Choice(Distribution):
    """One of ``options``, each equally likely (activations, optimizers, layer counts)."""

    def __init__(self, options):
        options = list(options)
        if not options:
            raise ValueError("Choice needs at least one option")
        self.options = options

    def sample(self, rng, n):
        return [self.options[i] for i in rng.integers(0, len(self.options), size=n)]

    def grid(self, points):
        return list(self.options)

    def zoom(self, values, margin=0.25):
        """Keep the options the chosen trials used."""
        return Choice([option for option in self.options if option in values])


def check_space(space: dict) -> dict:
    if not isinstance(space, dict) or not space:
        raise ValueError(f"a search space must be a non-empty dict name -> distribution, got {space!r}")
    for name, distribution in space.items():
        if not isinstance(distribution, Distribution):
            raise TypeError(f"space[{name!r}] must be an xpnet.tune distribution, got {distribution!r}")
    return space


def sample(space: dict, n: int, seed=0) -> list:
    """``n`` independent draws: a list of dicts name -> value (reproducible for a seed)."""
    rng = np.random.default_rng(seed)
    columns = {name: distribution.sample(rng, n) for name, distribution in check_space(space).items()}
    return [{name: column[i] for name, column in columns.items()} for i in range(n)]


def grid(space: dict, points: int = 3) -> list:
    """Every combination of ``points`` evenly spaced values per axis (in each axis's own scale)."""
    names = list(check_space(space))
    axes = [space[name].grid(points) for name in names]
    return [dict(zip(names, values)) for values in itertools.product(*axes)]


def zoom(space: dict, chosen: list, margin: float = 0.25) -> dict:
    """A smaller space around the hyperparameters of the ``chosen`` trials (dicts name -> value)."""
    return {name: distribution.zoom([params[name] for params in chosen], margin)
            for name, distribution in check_space(space).items()}
