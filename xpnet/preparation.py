"""From table columns to what a network trains on, and back: the task, class labels, standardized
features (and regression targets), and a held-out validation split.

An :class:`Encoding` is saved in a model's metadata (:meth:`Encoding.to_metadata`), so that
``xpnet predict`` applies exactly the transform ``xpnet train`` used.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from xpnet.data import validation_rows
from xpnet.tabular import DataError

TASKS = ("classify", "regress")
#: an integer-valued target with at most this many distinct values is taken for class labels
MAX_CLASSES = 20


def infer_task(y: np.ndarray) -> str:
    """``"classify"`` for text, or for integers with at most :data:`MAX_CLASSES` distinct values
    (and at least two rows per value on average); ``"regress"`` otherwise."""
    if y.dtype.kind not in "biuf":
        return "classify"
    distinct = np.unique(y)
    integers = bool(np.all(distinct == np.round(distinct)))
    return "classify" if integers and distinct.size <= min(MAX_CLASSES, y.size // 2) else "regress"


def class_labels(y: np.ndarray) -> list:
    """The distinct values of ``y``, sorted, as JSON values (integer-valued numbers as ints)."""
    labels = [_json_value(value) for value in np.unique(y).tolist()]
    if len(labels) < 2:
        raise DataError(f"the target has a single value ({labels[0]!r}); there is nothing to classify")
    return labels


def _json_value(value):
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclasses.dataclass
class Encoding:
    """Features ``(X - mean) / std`` with the training split's statistics; targets as class indices
    ``0..K-1`` (``classes[k]`` is the label of index ``k``) or as ``(y - target_mean) / target_std``.

    ``features`` names the input columns in order (None: whatever columns the file has);
    ``features_array`` is the ``.npz`` array they came from (None: not an ``.npz`` file)."""

    task: str
    target: str
    features: list | None
    mean: np.ndarray
    std: np.ndarray
    classes: list = dataclasses.field(default_factory=list)
    target_mean: float = 0.0
    target_std: float = 1.0
    features_array: str | None = None

    @classmethod
    def fit(cls, task: str, target: str, features: list | None, X: np.ndarray, y: np.ndarray,
            classes: list | None = None) -> Encoding:
        """Statistics from the training rows ``X (m, n)``, ``y (m,)``; ``classes`` defaults to
        ``y``'s distinct values (pass every split's labels so the validation rows are covered)."""
        if task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {task!r}")
        mean, std = _mean_and_std(X)
        if task == "classify":
            return cls(task, target, features, mean, std, classes or class_labels(y))
        if y.dtype.kind != "f":
            raise DataError(f"target column {target!r} is not numeric, so it cannot be regressed on; "
                            "use --task classify")
        target_mean, target_std = _mean_and_std(y[:, None])
        return cls(task, target, features, mean, std, [], float(target_mean[0]), float(target_std[0]))

    @classmethod
    def plain(cls, input_dim: int, loss: str, output_dim: int) -> Encoding:
        """No standardization, classes ``0..K-1``: for data prepared by hand (bundled datasets,
        models trained from Python)."""
        mean, std = np.zeros(input_dim), np.ones(input_dim)
        if loss == "mse":
            return cls("regress", "prediction", None, mean, std)
        classes = list(range(max(2, output_dim)))
        return cls("classify", "label", None, mean, std, classes)

    @classmethod
    def for_model(cls, model) -> Encoding:
        """The encoding saved with ``model`` (see :meth:`to_metadata`), else :meth:`plain`."""
        if "encoding" in model.metadata:
            return cls.from_metadata(model.metadata["encoding"])
        return cls.plain(model.input_dim, model.loss.name, model.output_dim)

    @property
    def loss(self) -> str:
        if self.task == "regress":
            return "mse"
        return "binary_cross_entropy" if len(self.classes) == 2 else "softmax_cross_entropy"

    @property
    def output_dim(self) -> int:
        return 1 if self.loss != "softmax_cross_entropy" else len(self.classes)

    def inputs(self, X: np.ndarray) -> np.ndarray:
        """Standardized features ``(m, n)``."""
        return (X - self.mean) / self.std

    def targets(self, y: np.ndarray) -> np.ndarray:
        """Class indices (float64, ``(m,)``) or standardized regression targets ``(m,)``."""
        if self.task == "regress":
            if y.dtype.kind != "f":
                raise DataError(f"target column {self.target!r} must be numeric for this regression model")
            return (y - self.target_mean) / self.target_std
        return self._class_indices(y).astype(np.float64)

    def _class_indices(self, y: np.ndarray) -> np.ndarray:
        classes = np.asarray(self.classes)
        if (classes.dtype.kind in "biuf") != (y.dtype.kind in "biuf"):
            self._refuse_labels(y)
        positions = np.clip(np.searchsorted(classes, y), 0, len(classes) - 1)
        known = classes[positions] == y
        if not np.all(known):
            self._refuse_labels(y[~known])
        return positions

    def _refuse_labels(self, unseen: np.ndarray):
        labels = [_json_value(value) for value in np.unique(unseen).tolist()[:3]]
        raise DataError(f"target column {self.target!r} holds label(s) {labels} that the model "
                        f"was not trained on; its classes are {self.classes}")

    def probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """Class probabilities ``(m, K)`` from ``model.predict`` (one sigmoid column for two classes)."""
        if outputs.shape[1] == 1:
            return np.concatenate([1.0 - outputs, outputs], axis=1)
        return outputs

    def values(self, outputs: np.ndarray) -> np.ndarray:
        """Regression predictions ``(m,)`` in the target's own units."""
        return outputs[:, 0] * self.target_std + self.target_mean

    def labels(self, probabilities: np.ndarray) -> list:
        """The most probable class label of each row."""
        return [self.classes[index] for index in probabilities.argmax(axis=1)]

    def to_metadata(self) -> dict:
        """JSON-serializable fields (see :meth:`from_metadata`)."""
        fields = dataclasses.asdict(self)
        fields.update(mean=self.mean.tolist(), std=self.std.tolist())
        return fields

    @classmethod
    def from_metadata(cls, fields: dict) -> Encoding:
        return cls(**{**fields, "mean": np.asarray(fields["mean"]), "std": np.asarray(fields["std"])})


def _mean_and_std(X: np.ndarray) -> tuple:
    """Per-column mean and standard deviation of ``X (m, n)``; a constant column's std is 1."""
    std = X.std(axis=0)
    return X.mean(axis=0), np.where(std > 0, std, 1.0)


def validation_split(m: int, fraction: float, seed: int, strata: np.ndarray | None = None) -> tuple:
    """Row indices ``(train, validation)`` for ``--val-split``: :func:`xpnet.data.validation_rows`,
    stratified by the values of ``strata`` when given; a fraction of 0 holds out nothing."""
    if fraction == 0.0:
        everything = np.arange(m)
        return everything, everything[:0]
    classes = None if strata is None else np.unique(strata, return_inverse=True)[1].reshape(-1)
    try:
        return validation_rows(m, fraction, seed, classes, name="--val-split")
    except ValueError as error:
        raise DataError(f"{error}; use more data or --val-split 0") from error
