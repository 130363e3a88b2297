"""Predictions and scores of a model over a data source (:mod:`xpnet.sources`), in evaluation mode,
:data:`EVAL_ROWS` rows per forward pass so memory stays bounded whatever the data's size.

Scores are summed on the device and read once: the loss is ``sum_i w_i loss_i / m`` over all m
examples (w = 1 without weights), exactly what the training History's ``loss`` averages, and the
accuracy the (unweighted) fraction of examples classified correctly.
"""
from __future__ import annotations

import numpy as np

from xpnet import data
from xpnet.backend import to_numpy
from xpnet.params import Workspace

EVAL_ROWS = 8192  # rows per forward pass


def _pieces(chunks):
    """``(start, arrays)`` for every slice of at most EVAL_ROWS rows of every chunk, ``start``
    counting rows from the source's first."""
    offset = 0
    for chunk in chunks:
        rows = chunk[0].shape[0]
        for start, stop in data.batch_bounds(rows, EVAL_ROWS):
            yield offset + start, tuple(None if array is None else array[start:stop, ...] for array in chunk)
        offset += rows


def scores(model, source, loss) -> dict:
    """``{"loss": ..., "accuracy": ...}`` (no accuracy for mse): floats, or NumPy arrays with one value
    per model of a population."""
    backend, kernels = model.backend, model.backend.kernels
    xp = backend.xp
    workspace = Workspace(backend)
    totals = backend.zeros((2,) + model.lead)
    rows = 0
    with backend.activate():
        for _, (X, Y, W) in _pieces(source.chunks()):
            logits = model.evaluation_forward(X, workspace)
            cost, _ = loss.value_and_grad(kernels, logits, Y, W)
            count = loss.correct(kernels, logits, Y) if loss.has_accuracy else xp.zeros_like(cost)
            totals[...] = totals + xp.stack([cost * X.shape[0], count])
            rows += X.shape[0]
    values = to_numpy(totals).astype(np.float64) / rows
    result = {"loss": _scalar_or_array(values[0])}
    if loss.has_accuracy:
        result["accuracy"] = _scalar_or_array(values[1])
    return result


def predictions(model, source, loss) -> np.ndarray:
    """What ``predict`` returns for every example: ``lead + (m, output_dim)`` on the host, filled a
    piece at a time."""
    backend = model.backend
    workspace = Workspace(backend)
    result = np.empty(model.lead + (source.rows, model.output_dim), dtype=np.dtype(model.dtype))
    with backend.activate():
        for start, (X,) in _pieces(source.chunks()):
            probabilities = loss.probabilities(backend.kernels, model.evaluation_forward(X, workspace))
            result[..., start:start + X.shape[0], :] = to_numpy(probabilities)
    return result


def _scalar_or_array(values: np.ndarray):
    """A float for one model, a NumPy array with one value per model for a population."""
    return float(values) if values.ndim == 0 else values
