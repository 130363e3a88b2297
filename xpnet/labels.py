"""Class labels: the classes a classifier predicts (``model.classes_``), the class indices the losses
use, and class weights.

A classifier's targets may be labels of any kind (strings, ``{1, 2}``, ``{-1, 1}``, booleans). Integer
labels in ``[0, n_classes)`` are class indices already and stay as they are (``classes_`` is then
``0, 1, ..., n_classes - 1``); any other labels are sorted, and each is replaced by its position in
that order. ``predict_classes`` maps the indices back to the labels.
"""
from __future__ import annotations

import numpy as np

from xpnet.backend import to_numpy

#: The kinds of labels a classifier takes (NumPy dtype kinds): bool, int, unsigned, float, str.
LABEL_KINDS = "biufU"


def class_count(loss_name: str, n_outputs: int) -> int | None:
    """How many classes the model predicts: one per output for softmax, two for a single sigmoid
    output, None where targets are not labels (mse, several independent binary outputs)."""
    if loss_name == "softmax_cross_entropy":
        return n_outputs
    if loss_name == "binary_cross_entropy" and n_outputs == 1:
        return 2
    return None


def as_labels(values, name: str) -> np.ndarray:
    """``values`` as a NumPy array of labels (numbers, booleans or strings; an object array of
    strings, as pandas gives, becomes a string array)."""
    labels = values if isinstance(values, np.ndarray) else np.asarray(
        values if isinstance(values, (list, tuple)) else to_numpy(values))
    if labels.dtype == object:
        if not all(isinstance(label, str) for label in labels.ravel()):
            raise TypeError(f"{name} must hold labels of one kind (numbers, booleans or strings), got a "
                            "mix of Python objects")
        labels = labels.astype(str)
    if labels.dtype.kind not in LABEL_KINDS:
        raise TypeError(f"{name} must hold numbers, booleans or strings, got dtype {labels.dtype}")
    return labels


def infer_classes(labels: np.ndarray, count: int, loss_name: str, name: str = "y") -> np.ndarray:
    """The sorted classes that ``labels`` (1-D) name, for a model predicting ``count`` classes."""
    if labels.dtype.kind in "iuf" and _are_indices(labels, count):
        return np.arange(count)
    distinct = np.unique(labels)
    if distinct.dtype.kind == "f" and not np.all(np.isfinite(distinct)):
        raise ValueError(f"{name} contains NaN or inf; clean or impute the data first")
    if labels.dtype.kind == "b":
        distinct = np.array([False, True])
    if distinct.size != count:
        raise ValueError(_count_message(distinct, count, loss_name, name))
    return distinct


def _are_indices(labels: np.ndarray, count: int) -> bool:
    return bool(np.all((labels >= 0) & (labels < count) & (labels == np.round(labels))))


def _count_message(distinct: np.ndarray, count: int, loss_name: str, name: str) -> str:
    seen = f"{distinct.size} distinct labels ({_examples(distinct)})"
    if loss_name == "binary_cross_entropy":
        outside = distinct[(distinct != 0) & (distinct != 1)] if distinct.dtype.kind in "iuf" else distinct
        return (f"{name} must hold only 0 and 1 for loss='binary_cross_entropy', got values "
                f"{_examples(outside)} ({seen}; any two labels, such as 'no'/'yes' or 1/2, also work)")
    return (f"{name} must hold integer class labels in [0, {count}) or exactly {count} distinct labels of any "
            f"kind (one per output of the last Dense layer), got {seen}")


def check_classes(values) -> np.ndarray:
    """Classes as ``classes_`` holds them: a 1-D array of distinct labels in sorted order."""
    classes = as_labels(values, "classes_")
    if classes.ndim != 1 or classes.size < 2:
        raise ValueError(f"classes_ must list at least 2 labels (1-D), got shape {classes.shape}")
    if classes.size != np.unique(classes).size or not np.all(np.sort(classes) == classes):
        raise ValueError(f"classes_ must hold distinct labels in sorted order, got {classes.tolist()[:5]}")
    return classes


def encode(labels: np.ndarray, classes: np.ndarray, name: str = "y") -> np.ndarray:
    """Each label's class index (int64): its position in ``classes``. Unknown labels are an error."""
    labels = labels.ravel()
    if _comparable(labels, classes):
        positions = np.clip(np.searchsorted(classes, labels), 0, classes.size - 1)
        known = classes[positions] == labels
        if np.all(known):
            return positions.astype(np.int64)
        unknown = labels[~known]
    else:
        unknown = labels
    if classes.dtype.kind in "iu" and np.array_equal(classes, np.arange(classes.size)):
        raise ValueError(f"{name} must hold integer class labels in [0, {classes.size}), got "
                         f"{_examples(unknown)} (the model's classes_ are 0 to {classes.size - 1})")
    raise ValueError(f"{name} holds labels that are not among the model's classes_ ({_examples(classes)}): "
                     f"{_examples(unknown)}")


def _comparable(labels: np.ndarray, classes: np.ndarray) -> bool:
    """Whether labels and classes are both strings or both numbers/booleans."""
    return (labels.dtype.kind == "U") == (classes.dtype.kind == "U")


def decode(indices, classes: np.ndarray) -> np.ndarray:
    """Class indices back to the labels they stand for."""
    return classes[np.asarray(indices)]


def class_weights(class_weight, indices: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """One weight per class (float64, in the order of ``classes``).

    ``"balanced"``: ``n_samples / (n_present_classes * count_c)`` for each class present in ``indices``,
    scikit-learn's ``compute_class_weight("balanced", ...)``, so the weights average 1 over the examples;
    a dict maps labels to weights (classes it leaves out weigh 1)."""
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be 'balanced' or a dict {{label: weight}}, got {class_weight!r}")
        counts = np.bincount(indices, minlength=classes.size).astype(np.float64)
        present = counts > 0
        return np.where(present, indices.size / (np.count_nonzero(present) * np.maximum(counts, 1.0)), 1.0)
    if not isinstance(class_weight, dict):
        raise TypeError(f"class_weight must be 'balanced' or a dict {{label: weight}}, got "
                        f"{type(class_weight).__name__}")
    weights = np.ones(classes.size)
    for label, weight in class_weight.items():
        index = encode(as_labels([label], "class_weight key"), classes, "class_weight keys")[0]
        value = float(weight) if isinstance(weight, (int, float, np.number)) and not isinstance(weight, bool) \
            else np.nan
        if not (np.isfinite(value) and value >= 0):
            raise ValueError(f"class_weight[{label!r}] must be a finite number >= 0, got {weight!r}")
        weights[index] = value
    return weights


def _examples(values: np.ndarray, count: int = 3) -> str:
    """The first few distinct values, numbers shown as floats."""
    unique = np.unique(values)
    shown = ", ".join(repr(float(value) if unique.dtype.kind in "iuf" else value.item()) for value in unique[:count])
    return shown + (" ..." if unique.size > count else "")
