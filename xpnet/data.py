"""Checking and preparing training data: shapes, labels, one-hot targets, mini-batch boundaries.

Checks run on the host, once per call, before anything is trained, so a bad argument never costs
a trained model. Every error names the argument, what was seen and what was expected.
"""
from __future__ import annotations

import numpy as np

from xpnet.backend import namespace_name, to_numpy


def as_host_array(values, name: str) -> np.ndarray:
    """A NumPy array of floats from a list, a NumPy array (not copied when it already holds floats)
    or a backend array; integers and booleans become float64."""
    try:
        if isinstance(values, (list, tuple, np.ndarray)) or np.isscalar(values):
            host = np.asarray(values)
        else:
            host = to_numpy(values)
    except (TypeError, ValueError) as error:
        raise TypeError(f"{name} must be an array of numbers, got {type(values).__name__}") from error
    if host.dtype == object or not (np.issubdtype(host.dtype, np.number) or host.dtype == bool):
        raise TypeError(f"{name} must hold numbers, got dtype {host.dtype}")
    if np.issubdtype(host.dtype, np.complexfloating):
        raise TypeError(f"{name} must hold real numbers, got dtype {host.dtype}")
    return host if np.issubdtype(host.dtype, np.floating) else host.astype(np.float64)


def _check_finite(host: np.ndarray, name: str) -> None:
    if not np.all(np.isfinite(host)):
        bad = np.argwhere(~np.isfinite(host))[0]
        raise ValueError(f"{name} contains NaN or inf (first at index {tuple(int(i) for i in bad)}); "
                         "clean or impute the data first")


def check_features(X, input_dim: int, name: str = "X") -> np.ndarray:
    """``X`` as a finite float64 host array of shape ``(m, input_dim)``."""
    host = as_host_array(X, name)
    if host.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (m, n_features), got shape {host.shape}")
    if host.shape[1] != input_dim:
        raise ValueError(f"{name} has {host.shape[1]} features per example, but the model expects "
                         f"input_dim={input_dim}")
    if host.shape[0] == 0:
        raise ValueError(f"{name} has no examples (shape {host.shape})")
    _check_finite(host, name)
    return host


def features_on_device(backend, X, input_dim: int, name: str = "X"):
    """``X (m, input_dim)`` on the backend's device in its dtype, finite. An array already there is used
    as it is, checked on the device (one read of one flag); anything else is checked on the host and
    moved in one transfer."""
    if namespace_name(X) != backend.name or X.dtype != backend.dtype:
        return backend.asarray(check_features(X, input_dim, name))
    if X.ndim != 2 or X.shape[1] != input_dim or X.shape[0] == 0:
        check_features(np.empty(tuple(X.shape)), input_dim, name)  # the same errors as for host data
    xp = backend.xp
    if not bool(to_numpy(xp.all(xp.isfinite(X)))):
        raise ValueError(f"{name} contains NaN or inf; clean or impute the data first")
    return X


def check_targets(y, m: int, loss_name: str, n_outputs: int, name: str = "y") -> np.ndarray:
    """Targets as a float64 host array ``(m, n_outputs)`` that the loss can use directly.

    binary_cross_entropy: 0/1 values, shape ``(m,)`` or ``(m, n_outputs)``;
    softmax_cross_entropy: integer labels in ``[0, n_outputs)`` of shape ``(m,)``, or one-hot rows;
    mse: real values of shape ``(m,)`` (one output) or ``(m, n_outputs)``.
    """
    host = as_host_array(y, name)
    if host.ndim == 0 or host.shape[0] != m:
        raise ValueError(f"{name} must have one entry per example of X ({m}), got shape {host.shape}")
    _check_finite(host, name)
    if loss_name == "softmax_cross_entropy" and host.ndim == 1:
        return one_hot(host, n_outputs, name)
    if host.ndim == 1:
        host = host[:, None]
    if host.ndim != 2 or host.shape[1] != n_outputs:
        raise ValueError(f"{name} must have shape ({m},) or ({m}, {n_outputs}) to match the model's "
                         f"{n_outputs} output(s), got {host.shape}")
    if loss_name == "binary_cross_entropy" and not np.all((host == 0) | (host == 1)):
        raise ValueError(f"{name} must hold only 0 and 1 for loss='binary_cross_entropy', got values "
                         f"{_examples(host[(host != 0) & (host != 1)])}")
    if loss_name == "softmax_cross_entropy" and (np.any(host < 0) or
                                                 not np.allclose(host.sum(axis=1), 1.0)):
        raise ValueError(f"{name} given as 2-D must hold one-hot (or probability) rows summing to 1 "
                         "for loss='softmax_cross_entropy'")
    return host


def one_hot(labels: np.ndarray, classes: int, name: str = "y") -> np.ndarray:
    """Integer labels ``(m,)`` in ``[0, classes)`` to a one-hot float64 matrix ``(m, classes)``."""
    if classes < 2:
        raise ValueError("softmax_cross_entropy needs a last Dense layer with at least 2 units, got "
                         f"{classes}; use binary_cross_entropy for one output")
    bad = (labels != np.round(labels)) | (labels < 0) | (labels >= classes)
    if np.any(bad):
        raise ValueError(f"{name} must hold integer class labels in [0, {classes}), got "
                         f"{_examples(labels[bad])}")
    result = np.zeros((labels.shape[0], classes))
    result[np.arange(labels.shape[0]), labels.astype(np.int64)] = 1.0
    return result


def _examples(values: np.ndarray, count: int = 3) -> str:
    unique = np.unique(values)
    return ", ".join(repr(float(v)) for v in unique[:count]) + (" ..." if unique.size > count else "")


def check_batch_size(batch_size, m: int):
    """``None`` (full batch) or an int >= 1; returns the effective batch size."""
    if batch_size is None:
        return m
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1 or None (full batch), got {batch_size!r}")
    return min(int(batch_size), m)


def batch_bounds(m: int, batch_size: int) -> list:
    """``(start, stop)`` of each mini-batch; the last, smaller batch is kept."""
    return [(start, min(start + batch_size, m)) for start in range(0, m, batch_size)]


class Standardizer:
    """Per-feature ``(X - mean) / std`` with statistics from the training set (std 0 becomes 1)."""

    def fit(self, X) -> Standardizer:
        X = np.asarray(X, dtype=np.float64)
        self.mean = X.mean(axis=0)
        std = X.std(axis=0)
        self.std = np.where(std > 0, std, 1.0)
        return self

    def transform(self, X) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean) / self.std
