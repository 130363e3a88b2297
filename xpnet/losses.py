"""Losses computed from the network's raw outputs (logits), value and gradient together.

For logits ``Z`` and targets ``Y`` of shape ``(..., m, k)`` every loss returns ``(cost, dZ)``: the
cost averaged over the m samples (shape ``(...)``, one value per stacked model) and its gradient
with respect to Z. Folding the output activation into the loss gives the stable, fused gradient
``dZ = (A - Y) / m`` for both cross-entropies.
"""
from __future__ import annotations

from xpnet import functional as F


class Loss:
    """A named loss: ``value_and_grad``, ``probabilities`` (what ``predict`` returns), ``correct``."""

    name = ""
    has_accuracy = True

    def value_and_grad(self, xp, Z, Y):
        raise NotImplementedError

    def probabilities(self, xp, Z):
        raise NotImplementedError

    def correct(self, xp, Z, Y):
        """Number of correctly classified samples, per stacked model."""
        raise NotImplementedError


class BinaryCrossEntropy(Loss):
    """``-1/m * sum(y log a + (1 - y) log(1 - a))`` with ``a = sigmoid(z)``, targets 0/1.

    Computed from logits as ``max(z, 0) - z y + log(1 + exp(-|z|))``; ``dZ = (sigmoid(z) - y) / m``.
    """

    name = "binary_cross_entropy"

    def value_and_grad(self, xp, Z, Y):
        m = Z.shape[-2]
        per_entry = xp.maximum(Z, 0.0) - Z * Y + xp.log1p(xp.exp(-xp.abs(Z)))
        cost = xp.sum(per_entry, axis=(-2, -1)) / m
        return cost, (F.sigmoid(xp, Z) - Y) / m

    def probabilities(self, xp, Z):
        return F.sigmoid(xp, Z)

    def correct(self, xp, Z, Y):
        hits = (Z > 0) == (Y > 0.5)
        return xp.sum(xp.astype(hits, Z.dtype), axis=(-2, -1)) / Z.shape[-1]


class SoftmaxCrossEntropy(Loss):
    """``-1/m * sum(Y * log softmax(Z))`` with one-hot Y; ``dZ = (softmax(Z) - Y) / m``."""

    name = "softmax_cross_entropy"

    def value_and_grad(self, xp, Z, Y):
        m = Z.shape[-2]
        shifted = Z - xp.max(Z, axis=-1, keepdims=True)
        exp = xp.exp(shifted)
        total = xp.sum(exp, axis=-1, keepdims=True)
        log_probs = shifted - xp.log(total)
        cost = -xp.sum(Y * log_probs, axis=(-2, -1)) / m
        return cost, (exp / total - Y) / m

    def probabilities(self, xp, Z):
        shifted = xp.exp(Z - xp.max(Z, axis=-1, keepdims=True))
        return shifted / xp.sum(shifted, axis=-1, keepdims=True)

    def correct(self, xp, Z, Y):
        hits = xp.argmax(Z, axis=-1) == xp.argmax(Y, axis=-1)
        return xp.sum(xp.astype(hits, Z.dtype), axis=-1)


class MeanSquaredError(Loss):
    """``1/(m k) * sum((Z - Y)^2)`` (the mean over every entry, as in PyTorch and Keras);
    ``dZ = 2 (Z - Y) / (m k)``. The network's output is used as is."""

    name = "mse"
    has_accuracy = False

    def value_and_grad(self, xp, Z, Y):
        count = Z.shape[-2] * Z.shape[-1]
        diff = Z - Y
        return xp.sum(diff * diff, axis=(-2, -1)) / count, diff * (2.0 / count)

    def probabilities(self, xp, Z):
        return Z

    def correct(self, xp, Z, Y):
        return None


LOSSES = {cls.name: cls for cls in (BinaryCrossEntropy, SoftmaxCrossEntropy, MeanSquaredError)}


def get_loss(loss) -> Loss:
    """A :class:`Loss` from its name (or the instance itself)."""
    if isinstance(loss, Loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    return LOSSES[loss]()
