"""Weight initializers, drawn on the host from a seeded NumPy generator.

Each initializer is ``f(rng, shape, scale) -> numpy.ndarray`` (float64) for a weight of shape
``(..., fan_in, fan_out)``; leading axes (a population of models) get independent draws. The
result is moved to the device by the model, so one seed gives the same weights on every backend.
``scale`` multiplies the standard deviation (or the uniform bound); ``None`` means the default.
"""
from __future__ import annotations

import math

import numpy as np


def _fans(shape):
    return shape[-2], shape[-1]


def zeros(rng, shape, scale=None):
    """All zeros: every hidden unit computes the same function, so symmetry is never broken."""
    return np.zeros(shape)


def normal(rng, shape, scale=None):
    """``randn * scale`` with ``scale = 0.01`` by default (``scale=10`` is the classic too-large init)."""
    return rng.standard_normal(shape) * (0.01 if scale is None else scale)


def he_normal(rng, shape, scale=None):
    """He et al. 2015, for ReLU: ``randn * sqrt(2 / fan_in)``."""
    fan_in, _ = _fans(shape)
    return rng.standard_normal(shape) * math.sqrt(2.0 / fan_in) * _default(scale)


def he_uniform(rng, shape, scale=None):
    """He, uniform: ``U(-l, l)`` with ``l = sqrt(6 / fan_in)`` (variance ``2 / fan_in``)."""
    fan_in, _ = _fans(shape)
    return _symmetric_uniform(rng, shape, math.sqrt(6.0 / fan_in) * _default(scale))


def xavier(rng, shape, scale=None):
    """Xavier (as usually taught for tanh): ``randn * sqrt(1 / fan_in)``; LeCun normal is the same."""
    fan_in, _ = _fans(shape)
    return rng.standard_normal(shape) * math.sqrt(1.0 / fan_in) * _default(scale)


def glorot_normal(rng, shape, scale=None):
    """Glorot & Bengio 2010: ``randn * sqrt(2 / (fan_in + fan_out))``."""
    fan_in, fan_out = _fans(shape)
    return rng.standard_normal(shape) * math.sqrt(2.0 / (fan_in + fan_out)) * _default(scale)


def glorot_uniform(rng, shape, scale=None):
    """Glorot, uniform: ``U(-l, l)`` with ``l = sqrt(6 / (fan_in + fan_out))`` (variance ``2 / (fan_in + fan_out)``)."""
    fan_in, fan_out = _fans(shape)
    return _symmetric_uniform(rng, shape, math.sqrt(6.0 / (fan_in + fan_out)) * _default(scale))


def _default(scale):
    return 1.0 if scale is None else scale


def _symmetric_uniform(rng, shape, limit):
    return rng.uniform(-limit, limit, size=shape)


INITIALIZERS = {
    "zeros": zeros,
    "normal": normal,
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "xavier": xavier,
    "lecun": xavier,
    "glorot_normal": glorot_normal,
    "glorot_uniform": glorot_uniform,
}


def get_initializer(init):
    """Look up an initializer by name, or accept a callable ``f(rng, shape, scale)``."""
    if callable(init):
        return init
    if not isinstance(init, str) or init not in INITIALIZERS:
        raise ValueError(f"init must be one of {sorted(INITIALIZERS)} or a callable "
                         f"f(rng, shape, scale), got {init!r}")
    return INITIALIZERS[init]
