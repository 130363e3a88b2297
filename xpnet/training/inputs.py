"""``fit``'s data arguments resolved into sources (:mod:`xpnet.sources`): the training data, the
validation data, the classes and the per-example weights, all checked before anything is trained.

Weights: ``sample_weight`` times the class weight of each example's class weigh the training cost
and its gradient (the weighted sum divided by the number of examples, see
:mod:`xpnet.kernels.reference`); validation is weighted only by the sample weights that come with it
(the held-out part of ``sample_weight`` for ``validation_split``, a third element of
``validation_data``), so ``val_loss`` is ``evaluate(X_val, y_val, sample_weight=...)``'s loss.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from xpnet import data, labels, sources
from xpnet.backend import namespace_name
from xpnet.transfer import copies_for


@dataclasses.dataclass
class FitData:
    """What ``fit`` trains on and validates on, the classes of its labels (None for mse), and
    whether to shuffle the training examples each epoch."""

    train: sources.Source
    validation: sources.Source | None
    classes: np.ndarray | None
    shuffle: bool


def fit_data(model, loss, X, y, *, sample_weight=None, class_weight=None, validation_data=None,
             validation_split=None, shuffle=None, seed=None, epochs: int = 1) -> FitData:
    """Check every data argument of ``fit`` and build the sources it trains and validates on."""
    if validation_split is not None:
        validation_split = data.check_fraction(validation_split, "validation_split")
        if validation_data is not None:
            raise ValueError("give either validation_data or validation_split, not both")
    if shuffle is not None and not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle must be True, False or None (shuffle arrays, keep a stream's order), got {shuffle!r}")
    if y is not None and _is_stream(X):
        raise ValueError(f"X is a stream of chunks ({type(X).__name__}), which carries its own targets: pass "
                         "y=None (or give X and y as arrays)")
    if y is None:
        return _stream_data(model, loss, X, sample_weight, class_weight, validation_data, validation_split,
                            shuffle, epochs)
    return _array_data(model, loss, X, y, sample_weight, class_weight, validation_data, validation_split,
                       True if shuffle is None else bool(shuffle), seed, epochs)


def _is_array(X) -> bool:
    """A NumPy or backend array, or an out-of-memory array (not a stream, such as a DataLoader)."""
    return (isinstance(X, np.ndarray) or (namespace_name(X) is not None and hasattr(X, "shape"))
            or sources.is_out_of_memory(X))


def _array_data(model, loss, X, y, sample_weight, class_weight, validation_data, validation_split, shuffle,
                seed, epochs) -> FitData:
    m = _row_count(X, "X")
    classes = data.resolve_classes(y, loss.name, model.output_dim, model.classes_)
    indices = None if classes is None else data.Targets(loss.name, model.output_dim, classes).indices(y, m)
    class_weights = None
    if class_weight is not None:
        if indices is None:
            raise _class_weight_without_classes(loss, model.output_dim)
        class_weights = labels.class_weights(class_weight, indices, classes)
    train_targets = data.Targets(loss.name, model.output_dim, classes, class_weights, model.dtype)
    val_targets = data.Targets(loss.name, model.output_dim, classes, None, model.dtype)
    validation = _validation(model, loss, validation_data, classes, epochs)
    train_rows = val_rows = None
    if validation_split is not None:
        split_seed = seed if seed is not None else (model.seeds[0] or 0)
        train_rows, val_rows = data.validation_rows(m, validation_split, split_seed, indices)
    if sample_weight is not None or class_weights is not None:
        _check_some_weight(sample_weight, class_weights, indices, train_rows, m)
    if validation_split is None:
        train = array_source(model, train_targets, X, y, sample_weight, None)
    else:
        train = array_source(model, train_targets, X, y, sample_weight, train_rows)
        validation = array_source(model, val_targets, X, y, sample_weight, val_rows)
    return FitData(train, validation, classes, shuffle)


def _class_weight_without_classes(loss, output_dim: int) -> ValueError:
    if loss.name == "binary_cross_entropy":
        return ValueError(f"class_weight needs one class label per example; a binary_cross_entropy model with "
                          f"{output_dim} outputs takes multi-label 0/1 targets: weight examples with "
                          "sample_weight instead")
    return ValueError(f"class_weight needs class labels (a classification loss), got loss={loss.name!r}")


def _check_some_weight(sample_weight, class_weights, indices, rows, m: int) -> None:
    """Refuse weights under which every training example (``rows``, or all) weighs 0: a cost of 0 with
    nothing to learn."""
    weights = np.ones(m) if sample_weight is None else data.check_sample_weight(sample_weight, m)
    if class_weights is not None:
        weights = weights * class_weights[indices]
    if not np.any(weights if rows is None else weights[rows]):
        given = [name for name, value in (("sample_weight", sample_weight), ("class_weight", class_weights))
                 if value is not None]
        raise ValueError(f"{' and '.join(given)} {'give' if len(given) > 1 else 'gives'} every training "
                         "example the weight 0; nothing would be learned")


def _is_stream(X) -> bool:
    """A function returning chunks, an iterator, or an iterable that is not array-like (a DataLoader);
    not a list, which stands for rows of features when ``y`` is given."""
    return callable(X) or isinstance(X, Iterator) or (
        hasattr(X, "__iter__") and not hasattr(X, "shape") and not isinstance(X, (list, tuple, str)))


def _row_count(X, name: str) -> int:
    shape = np.shape(X) if not sources.is_out_of_memory(X) else tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(f"{name} must be 2-D with shape (m, n_features), got shape {shape}")
    return int(shape[0])


def array_source(model, targets, X, y=None, sample_weight=None, rows=None, names=("X", "y", "sample_weight")):
    """Array data (the examples ``rows`` of it, or all; features alone when ``targets`` is None): a
    :class:`~xpnet.sources.HostArrays` for an out-of-memory X, else a :class:`~xpnet.sources.DeviceArrays`."""
    converter = sources.Converter(model, targets)
    if sources.is_out_of_memory(X):
        if len(X.shape) != 2:
            raise ValueError(f"{names[0]} must be 2-D with shape (m, n_features), got shape {tuple(X.shape)}")
        y_host = None if targets is None else _in_memory_targets(y, targets, names[1])
        weights = None if sample_weight is None else data.as_host_array(sample_weight, names[2])
        _check_rows(X.shape[0], y_host, weights, names)
        return sources.HostArrays(X, y_host, weights, rows, converter, copies_for(model.backend), names)
    if rows is not None:
        X, y = data.as_host_array(X, names[0])[rows], np.asarray(y)[rows]
        sample_weight = None if sample_weight is None else data.as_host_array(sample_weight, names[2])[rows]
    return sources.DeviceArrays.from_host(converter, model.backend, X, y, sample_weight, names)


def _in_memory_targets(y, targets, name: str) -> np.ndarray:
    """Labels (or target values) read whole: a vector, small beside the features."""
    if targets.classes is not None and np.ndim(y) == 1:
        return labels.as_labels(y, name)
    return data.as_host_array(y, name)


def _check_rows(m: int, y, sample_weight, names) -> None:
    if y is not None and y.shape[:1] != (m,):
        raise ValueError(f"{names[1]} must have one entry per example of {names[0]} ({m}), got shape {y.shape}")
    if sample_weight is not None and sample_weight.shape != (m,):
        raise ValueError(f"{names[2]} must have one weight per example, shape ({m},), got shape "
                         f"{sample_weight.shape}")


def _validation(model, loss, validation_data, classes, epochs: int):
    """The validation source from ``validation_data``: ``(X, y)``, ``(X, y, sample_weight)`` or a stream."""
    if validation_data is None:
        return None
    targets = data.Targets(loss.name, model.output_dim, classes, None, model.dtype)
    if isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3) \
            and not isinstance(validation_data[0], (tuple, list)):
        X, y, weights = tuple(validation_data) + (None,) * (3 - len(validation_data))
        names = ("validation_data X", "validation_data y", "validation_data sample_weight")
        return array_source(model, targets, X, y, weights, None, names)
    if _is_array(validation_data) or not (callable(validation_data) or hasattr(validation_data, "__iter__")):
        raise ValueError("validation_data must be a tuple (X_val, y_val) or (X_val, y_val, sample_weight), or a "
                         f"stream of such chunks, got {type(validation_data).__name__}")
    return _stream(model, targets, validation_data, "validation_data", epochs)


def _stream(model, targets, source, name: str, epochs: int):
    stream = sources.Stream(source, sources.Converter(model, targets), copies_for(model.backend), model.backend.xp,
                            name)
    if stream.one_shot and epochs > 1:
        raise ValueError(f"{name} is an iterator, which can be passed over only once, but epochs={epochs}; give a "
                         "list, a DataLoader or a function returning a fresh iterator")
    return stream


def _stream_data(model, loss, X, sample_weight, class_weight, validation_data, validation_split, shuffle,
                 epochs) -> FitData:
    """A stream of ``(X, y[, sample_weight])`` chunks: labels must be class indices or among the
    model's ``classes_``, since a stream cannot be read ahead to find its classes."""
    if _is_array(X):
        raise ValueError("fit needs y with an array X (or X given as a stream of (X, y) chunks with y=None)")
    if not (callable(X) or hasattr(X, "__iter__")):
        raise TypeError(f"X must be an array, or a stream of (X, y) chunks (an iterable, a DataLoader or a "
                        f"function returning an iterator), got {type(X).__name__}")
    refused = [("sample_weight", sample_weight is not None, "give chunks (X, y, sample_weight)"),
               ("validation_split", validation_split is not None, "give validation_data"),
               ("shuffle=True", bool(shuffle), "shuffle in the stream, e.g. DataLoader(..., shuffle=True)"),
               ("class_weight='balanced'", isinstance(class_weight, str), "give a dict {label: weight}")]
    for argument, given, instead in refused:
        if given:
            raise ValueError(f"{argument} cannot be used with a stream of chunks: {instead}")
    count = labels.class_count(loss.name, model.output_dim)
    classes = None
    if count is not None:
        known = model.classes_
        classes = known if known is not None and known.size == count else np.arange(count)
    class_weights = None
    if class_weight is not None:
        if classes is None:
            raise _class_weight_without_classes(loss, model.output_dim)
        class_weights = labels.class_weights(class_weight, np.zeros(0, np.int64), classes)
    targets = data.Targets(loss.name, model.output_dim, classes, class_weights, model.dtype)
    train = _stream(model, targets, X, "X", epochs)
    return FitData(train, _validation(model, loss, validation_data, classes, epochs), classes, False)
