"""Argument checks shared across the package: each normalizes one kind of argument or raises an error
that names the argument, the value seen and what was expected."""
from __future__ import annotations

import contextlib

import numpy as np

DTYPES = ("float32", "float64")  # the float types a model computes in


def dtype_name(value) -> str:
    """A model's float type, given by name (``"float32"``), as a NumPy type (``np.float32``) or as a
    NumPy dtype (``np.dtype("float32")``), as its name."""
    name = value
    if isinstance(value, (type, np.dtype)):
        with contextlib.suppress(TypeError):
            name = np.dtype(value).name
    if not isinstance(name, str) or name not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {value!r}")
    return name


def positive_int(value, name: str) -> int:
    """An int >= 1 (Python or NumPy integer, not bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
    return int(value)


def count(value, name: str) -> int:
    """An int >= 0 (Python or NumPy integer, not bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    return int(value)


def population(value) -> tuple:
    """The leading axes of a population: ``()`` for None (one model), ``(P,)`` for P stacked models."""
    if value is None:
        return ()
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"population must be a positive int (the number of stacked models) or None, "
                         f"got {value!r}")
    return (int(value),)


def seed(value):
    """A random seed: an int >= 0, or None (fresh entropy)."""
    return None if value is None else count(value, "seed")


def per_model_numbers(value, name: str, accept, expected: str, lead: tuple | None = None,
                      per_model: bool = True):
    """``value`` as a float, or (``per_model``) as a list with one float per model of a population.

    Every entry must be a real number (not a bool or a string), finite, and pass ``accept`` (a
    function of a float64 array returning booleans); otherwise
    ``ValueError("{name} must be {expected}, got {value!r}")``. With ``lead`` (the model's population
    axes), a list must have one value per model and needs a population.
    """
    values = _real_numbers(value)
    if (values is None or values.ndim > int(per_model) or values.size == 0
            or not np.all(accept(values) & np.isfinite(values))):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    if values.ndim == 0:
        return float(values)
    if lead is not None:
        _check_one_each(name, len(values), lead)
    return values.tolist()


def _real_numbers(value) -> np.ndarray | None:
    """``value`` as a float64 array when it holds only ints and floats (Python or NumPy), else None."""
    try:
        raw = np.asarray(value)
    except (TypeError, ValueError):
        return None
    if raw.dtype.kind not in "iuf":
        return None
    return raw.astype(np.float64)


def one_per_model(value, name: str, lead: tuple) -> list:
    """Any per-model setting (seeds, say) as a list of one value per model: a single value is
    repeated; a sequence must have exactly one value per model of a population."""
    if isinstance(value, (list, tuple, np.ndarray)):
        _check_one_each(name, len(value), lead)
        return list(value)
    return [value] * (lead[0] if lead else 1)


def _check_one_each(name: str, given: int, lead: tuple) -> None:
    if not lead:
        raise ValueError(f"{name} has {given} values, one per model, which needs a population model "
                         "(population=P); give a single value")
    if given != lead[0]:
        raise ValueError(f"{name} has {given} values; a population of {lead[0]} models needs one each")


def in_range(value, name: str, low: float, high: float, high_open: bool = False, lead: tuple | None = None,
             per_model: bool = True):
    """A finite number (or one per model) with ``low <= value <= high`` (``< high`` if ``high_open``)."""
    def accept(values):
        return (values >= low) & ((values < high) if high_open else (values <= high))

    bound = ")" if high_open else "]"
    return per_model_numbers(value, name, accept, _expected(f"in [{low}, {high}{bound}", per_model), lead,
                             per_model)


def averaging_beta(value, name: str, lead: tuple | None = None, per_model: bool = True):
    """An exponential-average weight in [0, 1) (or one per model)."""
    return in_range(value, name, 0.0, 1.0, high_open=True, lead=lead, per_model=per_model)


def positive(value, name: str, lead: tuple | None = None, per_model: bool = True):
    """A finite number > 0 (or one per model)."""
    return per_model_numbers(value, name, lambda values: values > 0, _expected("a finite number > 0", per_model),
                             lead, per_model)


def non_negative(value, name: str, lead: tuple | None = None, per_model: bool = True):
    """A finite number >= 0 (or one per model)."""
    return per_model_numbers(value, name, lambda values: values >= 0,
                             _expected("a finite number >= 0", per_model), lead, per_model)


def flag(value, name: str) -> bool:
    """A bool (Python or NumPy), not a value that merely looks true or false (``"no"`` is true)."""
    return _bool(value, name, "True or False")


def optional_flag(value, name: str) -> bool | None:
    """None (the default decides), or a bool as :func:`flag` takes it."""
    return None if value is None else _bool(value, name, "True, False or None")


def _bool(value, name: str, expected: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be {expected}, got {value!r}")
    return bool(value)


def _expected(what: str, per_model: bool) -> str:
    return f"{what} (or one per model)" if per_model else f"{what} (a single number)"
