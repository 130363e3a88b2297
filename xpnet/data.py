"""Checking and preparing training data: shapes, values, labels, targets, sample weights, mini-batch
boundaries and the validation split.

Checks run on the host, before the data reach the device, so a bad argument never costs a trained
model. Every error names the argument, what was seen and what was expected. Values are checked
against the model's dtype too: a number that is finite in float64 but overflows float32 (1e39, say)
is refused on the way in rather than becoming inf inside the network.
"""
from __future__ import annotations

import numpy as np

from xpnet import checks
from xpnet import labels as class_labels
from xpnet.backend import namespace_name, to_numpy

CHECK_BLOCK = 1 << 18  # values checked per step, so a check allocates at most a few MB


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


def check_values(host: np.ndarray, name: str, dtype: str | None = None) -> None:
    """Every value finite, and within the range of the model's ``dtype`` (``"float32"``: magnitudes up
    to about 3.4e38) when given; checked a block of rows at a time."""
    limit = float(np.finfo(dtype or np.float64).max)
    narrower = float(np.finfo(host.dtype).max) <= limit  # then only NaN and inf can be out of range

    def in_range(block):
        return np.all(np.isfinite(block)) if narrower else np.all(np.abs(block) <= limit)

    rows = max(1, CHECK_BLOCK // max(1, host[:1].size))
    for start in range(0, host.shape[0] if host.ndim else 1, rows):
        block = host[start:start + rows] if host.ndim else host
        if not in_range(block):
            _report_bad_value(block, start, name, dtype, limit)


def _report_bad_value(block: np.ndarray, start: int, name: str, dtype, limit: float) -> None:
    finite = np.isfinite(block)
    if not np.all(finite):
        where = _index(np.argwhere(~finite)[0], start)
        raise ValueError(f"{name} contains NaN or inf (first at index {where}); clean or impute the data first")
    bad = np.argwhere(np.abs(block) > limit)[0]
    value = float(block[tuple(bad)])
    raise ValueError(f"{name} holds {value:g} (at index {_index(bad, start)}), beyond the range of the model's "
                     f"dtype {dtype} (magnitudes up to {limit:.4g}); rescale the data (standardize it) or use "
                     "dtype='float64'")


def _index(position, start: int) -> tuple:
    position = [int(i) for i in position]
    if position:
        position[0] += start
    return tuple(position)


def check_features(X, input_dim: int, name: str = "X", dtype: str | None = None) -> np.ndarray:
    """``X`` as a checked float host array of shape ``(m, input_dim)`` (not copied when it already
    holds floats)."""
    host = as_host_array(X, name)
    if host.ndim != 2:
        raise ValueError(f"{name} must be 2-D with shape (m, n_features), got shape {host.shape}")
    if host.shape[1] != input_dim:
        raise ValueError(f"{name} has {host.shape[1]} features per example, but the model expects "
                         f"input_dim={input_dim}")
    if host.shape[0] == 0:
        raise ValueError(f"{name} has no examples (shape {host.shape})")
    check_values(host, name, dtype)
    return host


def on_device(backend, X) -> bool:
    """Whether ``X`` is already an array of ``backend``, in its dtype."""
    return namespace_name(X) == backend.name and X.dtype == backend.dtype


def check_device_features(backend, X, input_dim: int, name: str = "X"):
    """``X`` (an array of ``backend``, see :func:`on_device`) checked where it is: shape, then
    finiteness with one read of one flag, the same errors as :func:`check_features`."""
    if X.ndim != 2 or X.shape[1] != input_dim or X.shape[0] == 0:
        check_features(np.empty(tuple(X.shape)), input_dim, name)
    xp = backend.xp
    if not bool(to_numpy(xp.all(xp.isfinite(X)))):
        raise ValueError(f"{name} contains NaN or inf; clean or impute the data first")
    return X


class Targets:
    """How a loss takes its targets, for one model: labels become class indices (through
    ``classes``, the model's ``classes_``), then one-hot rows (softmax) or a 0/1 column (binary);
    other targets are checked as given. ``class_weights`` (one per class, or None) multiply the
    sample weights.

    binary_cross_entropy: labels (two classes) for one output, or 0/1 values ``(m, n_outputs)``;
    softmax_cross_entropy: labels ``(m,)``, or one-hot (probability) rows ``(m, n_outputs)``;
    mse: real values of shape ``(m,)`` (one output) or ``(m, n_outputs)``.
    """

    def __init__(self, loss_name: str, n_outputs: int, classes: np.ndarray | None = None,
                 class_weights: np.ndarray | None = None, dtype: str | None = None):
        self.loss_name, self.n_outputs, self.dtype = loss_name, n_outputs, dtype
        self.classes, self.class_weights = classes, class_weights

    def encode(self, y, m: int, name: str = "y") -> tuple:
        """``(Y, indices)``: targets as a float host array ``(m, n_outputs)`` and the class index of
        each example (None where targets are not one label per example)."""
        shape = tuple(np.shape(y))
        if len(shape) == 0 or shape[0] != m:
            raise ValueError(f"{name} must have one entry per example of X ({m}), got shape {shape}")
        if self._are_labels(shape):
            return self._from_labels(class_labels.as_labels(y, name).reshape(m), name)
        self._check_shape(shape, name)
        host = as_host_array(y, name)
        check_values(host, name, self.dtype)
        host = host.reshape(m, self.n_outputs)
        if self.loss_name == "binary_cross_entropy" and not np.all((host == 0) | (host == 1)):
            raise ValueError(f"{name} must hold only 0 and 1 for loss='binary_cross_entropy', got values "
                             f"{_examples(host[(host != 0) & (host != 1)])}")
        if self.loss_name == "softmax_cross_entropy":
            if np.any(host < 0) or not np.allclose(host.sum(axis=1), 1.0):
                raise ValueError(f"{name} given as 2-D must hold one-hot (or probability) rows summing to 1 "
                                 "for loss='softmax_cross_entropy'")
            return host, np.argmax(host, axis=1)
        return host, None

    def _check_shape(self, shape: tuple, name: str) -> None:
        """Targets other than labels: ``(m, n_outputs)``, or ``(m,)`` for one output; else an error
        that says what the loss needs of the model and of the targets."""
        m, n, loss = shape[0], self.n_outputs, self.loss_name
        if shape == (m, n) or (n == 1 and shape == (m,)):
            return
        if len(shape) > 2:
            raise ValueError(f"{name} must be 1-D or 2-D, got shape {shape}")
        if loss == "binary_cross_entropy" and len(shape) == 1:
            raise ValueError(f"{name} has shape {shape}, one label per example: loss='binary_cross_entropy' "
                             f"then needs a model with one output, and this model has {n}; give 0/1 targets of "
                             f"shape ({m}, {n}) (one column per output), or use loss='softmax_cross_entropy' "
                             f"for {n} classes")
        targets = {"mse": "mse targets", "binary_cross_entropy": "0/1 targets for loss='binary_cross_entropy'",
                   "softmax_cross_entropy": "one-hot rows for loss='softmax_cross_entropy'"}[loss]
        hint = f" (one value per example fits a model with one output; this model has {n})" if len(shape) == 1 else ""
        one = f" or ({m},)" if n == 1 else ""
        raise ValueError(f"{targets} must have {n} column(s), one per output of the model (shape ({m}, {n}){one}), "
                         f"but {name} has shape {shape}{hint}")

    def _are_labels(self, shape: tuple) -> bool:
        """One label per example: a vector, or a single column for one binary output."""
        return self.classes is not None and (len(shape) == 1 or (len(shape) == 2 and shape[1] == 1
                                                                  and self.classes.size == 2))

    def indices(self, y, m: int, name: str = "y"):
        """Each example's class index, checked (None where targets are not classes), without
        building the targets."""
        if self._are_labels(np.shape(y)) and np.shape(y)[:1] == (m,):
            return self._indices(class_labels.as_labels(y, name).reshape(m), name)
        return self.encode(y, m, name)[1]

    def _indices(self, labels: np.ndarray, name: str) -> np.ndarray:
        classes = self.classes
        if classes is None:
            raise ValueError(f"{name}: loss={self.loss_name!r} with {self.n_outputs} output(s) takes no class labels")
        if labels.dtype.kind == "f":
            check_values(labels, name)
        return class_labels.encode(labels, classes, name)

    def _from_labels(self, labels: np.ndarray, name: str) -> tuple:
        indices = self._indices(labels, name)
        if self.loss_name == "softmax_cross_entropy":
            return one_hot(indices, self.n_outputs), indices
        return indices.astype(np.float64)[:, None], indices

    def weights(self, sample_weight, indices, m: int, name: str = "sample_weight"):
        """Per-example weights ``(m, 1)``: ``sample_weight`` times the class weight of each example's
        class, or None when neither is given."""
        weights = None if sample_weight is None else check_sample_weight(sample_weight, m, name, self.dtype)
        if self.class_weights is not None:
            by_class = self.class_weights[indices]
            weights = by_class if weights is None else weights * by_class
        return None if weights is None else weights[:, None]


def resolve_classes(y, loss_name: str, n_outputs: int, known: np.ndarray | None, name: str = "y"):
    """The classes a classifier's targets name: ``known`` (the model's ``classes_`` from an earlier
    fit) when it has the right size, else inferred from ``y``; None for targets that are not labels."""
    count = class_labels.class_count(loss_name, n_outputs)
    if count is None:
        return None
    if known is not None and known.size == count:
        return known
    if len(np.shape(y)) == 2 and np.shape(y)[1] > 1:
        return np.arange(count)  # one-hot rows
    labels = class_labels.as_labels(y, name)
    if labels.dtype.kind == "f":
        check_values(labels, name)
    return class_labels.infer_classes(labels.reshape(-1), count, loss_name, name)


def check_targets(y, m: int, loss_name: str, n_outputs: int, name: str = "y",
                  classes: np.ndarray | None = None) -> np.ndarray:
    """Targets as a float64 host array ``(m, n_outputs)`` that the loss can use directly (labels are
    mapped through ``classes``, inferred from ``y`` when not given)."""
    classes = resolve_classes(y, loss_name, n_outputs, classes, name)
    return Targets(loss_name, n_outputs, classes).encode(y, m, name)[0]


def check_sample_weight(sample_weight, m: int, name: str = "sample_weight", dtype: str | None = None) -> np.ndarray:
    """Sample weights as a float host vector ``(m,)`` of finite numbers >= 0."""
    host = as_host_array(sample_weight, name)
    if host.shape != (m,):
        raise ValueError(f"{name} must have one weight per example, shape ({m},), got shape {host.shape}")
    check_values(host, name, dtype)
    if np.any(host < 0):
        raise ValueError(f"{name} must hold weights >= 0, got {_examples(host[host < 0])}")
    return host


def one_hot(indices: np.ndarray, classes: int) -> np.ndarray:
    """Class indices ``(m,)`` in ``[0, classes)`` to a one-hot float64 matrix ``(m, classes)``."""
    result = np.zeros((indices.shape[0], classes))
    result[np.arange(indices.shape[0]), indices] = 1.0
    return result


def _examples(values: np.ndarray, count: int = 3) -> str:
    unique = np.unique(values)
    return ", ".join(repr(float(v)) for v in unique[:count]) + (" ..." if unique.size > count else "")


def check_batch_size(batch_size, m: int | None = None):
    """``None`` (full batch: ``m``; for a stream, whose ``m`` is None, its chunks as they come) or an
    int >= 1; returns the effective batch size."""
    if batch_size is None:
        return m
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1 or None (full batch), got {batch_size!r}")
    return int(batch_size) if m is None else min(int(batch_size), m)


def batch_bounds(m: int, batch_size: int) -> list:
    """``(start, stop)`` of each mini-batch; the last, smaller batch is kept."""
    return [(start, min(start + batch_size, m)) for start in range(0, m, batch_size)]


def check_fraction(value, name: str) -> float:
    """A fraction strictly between 0 and 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not 0 < value < 1:
        raise ValueError(f"{name} must be a number in (0, 1), the share of examples held out, got {value!r}")
    return float(value)


def validation_rows(m: int, fraction: float, seed, indices: np.ndarray | None = None,
                    name: str = "validation_split") -> tuple:
    """``(train_rows, val_rows)``, sorted, holding out ``fraction`` of the ``m`` examples at random
    (``seed``). With class ``indices`` the split is stratified: each class gives
    ``round(fraction * its count)`` examples, but always keeps one for training. ``name`` is the
    fraction's name in the error when nothing (or everything) would be held out."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(m)
    if indices is None:
        held_out = np.zeros(m, dtype=bool)
        held_out[order[:int(round(fraction * m))]] = True
    else:
        by_class = order[np.argsort(indices[order], kind="stable")]  # each class in random order
        counts = np.bincount(indices, minlength=int(indices.max()) + 1)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        rank = np.arange(m) - np.repeat(starts, counts)
        held_out = np.zeros(m, dtype=bool)
        held_out[by_class] = rank < np.repeat(np.minimum(np.round(fraction * counts), counts - 1), counts)
    if held_out.all() or not held_out.any():
        stratified = "" if indices is None else (
            f" ({np.count_nonzero(counts)} classes, the largest with {counts.max()}; stratified, each class "
            "keeps one example for training)")
        raise ValueError(f"{name}={fraction} leaves {'no training' if held_out.all() else 'no validation'} "
                         f"examples out of {m}{stratified}")
    return np.flatnonzero(~held_out), np.flatnonzero(held_out)


def split_validation(X, y, fraction: float = 0.2, seed: int | None = 0, stratify: bool | None = None) -> tuple:
    """``(X_train, y_train, X_val, y_val)``: hold out ``fraction`` of the examples for validation,
    at random (``seed``), stratified by label when ``stratify`` (by default when ``y`` is a vector of
    integers, booleans or strings). Tune on the validation set; keep the test set for the end."""
    fraction = check_fraction(fraction, "fraction")
    seed = checks.seed(seed)
    X, y = np.asarray(X), np.asarray(y)
    if X.ndim == 0 or y.ndim == 0 or X.shape[0] != y.shape[0]:
        raise ValueError(f"X and y must have one row per example, got shapes {X.shape} and {y.shape}")
    stratify = checks.optional_flag(stratify, "stratify")
    if stratify is None:
        stratify = y.ndim == 1 and y.dtype.kind in "biuUO"
    if stratify and y.ndim != 1:
        raise ValueError(f"stratify=True needs y as one class label per example, shape ({y.shape[0]},), got "
                         f"shape {y.shape}")
    indices = np.unique(class_labels.as_labels(y, "y"), return_inverse=True)[1].reshape(-1) if stratify else None
    train, val = validation_rows(X.shape[0], fraction, seed, indices, name="fraction")
    return X[train], y[train], X[val], y[val]


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
