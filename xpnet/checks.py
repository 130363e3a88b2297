"""Argument checks shared by the optimizers, the schedules and ``fit``."""
from __future__ import annotations

import math

import numpy as np


def per_model_numbers(value, name: str, accept, expected: str):
    """``value`` as a float, or as a list with one float per model of a population.

    Every entry must be finite and pass ``accept`` (a function of a float64 array returning booleans);
    otherwise ``ValueError("{name} must be {expected}, got {value!r}")``.
    """
    try:
        values = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        values = np.asarray(math.nan)
    if isinstance(value, bool) or values.ndim > 1 or not np.all(accept(values) & np.isfinite(values)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(values) if values.ndim == 0 else values.tolist()
