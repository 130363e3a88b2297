"""Losses computed from the network's raw outputs (logits), value and gradient together.

For logits ``Z`` and targets ``Y`` of shape ``(..., m, k)`` a loss gives ``(cost, dZ)``: the cost
averaged over the m samples (shape ``(...)``, one value per stacked model) and its gradient with
respect to Z. The formulas are kernels (:mod:`xpnet.kernels.reference`); a loss names the three it
uses: its value and gradient, the probabilities ``predict`` returns, and the count of correct
predictions behind accuracy.
"""
from __future__ import annotations


class Loss:
    """A named loss: ``value_and_grad``, ``probabilities`` (what ``predict`` returns), ``correct``.

    Each takes the model's :class:`~xpnet.kernels.Kernels` and writes into ``out`` when given."""

    name = ""
    value_and_grad_op = ""
    probabilities_op: str | None = None
    correct_op = ""

    @property
    def has_accuracy(self) -> bool:
        return bool(self.correct_op)

    def value_and_grad(self, kernels, Z, Y, weights=None, out=None):
        """``(cost, dZ)``; ``weights`` (``(m, 1)`` or None) weigh each sample's loss, the weighted sum
        divided by m (see :mod:`xpnet.kernels.reference`)."""
        return getattr(kernels, self.value_and_grad_op)(Z, Y, weights, out=out)

    def probabilities(self, kernels, Z, out=None):
        """What ``predict`` returns for logits Z (Z itself for a loss without an output activation)."""
        if self.probabilities_op is None:
            return Z
        return getattr(kernels, self.probabilities_op)(Z, out=out)

    def correct(self, kernels, Z, Y, out=None):
        """Number of correctly classified samples, per stacked model."""
        return getattr(kernels, self.correct_op)(Z, Y, out=out)

    def __repr__(self):
        return f"{type(self).__name__}()"


class BinaryCrossEntropy(Loss):
    """``-1/m * sum(y log a + (1 - y) log(1 - a))`` with ``a = sigmoid(z)``, targets 0/1."""

    name = "binary_cross_entropy"
    value_and_grad_op = "binary_cross_entropy"
    probabilities_op = "sigmoid"
    correct_op = "binary_correct"


class SoftmaxCrossEntropy(Loss):
    """``-1/m * sum(Y * log softmax(Z))`` with one-hot Y; ``dZ = (softmax(Z) - Y) / m``."""

    name = "softmax_cross_entropy"
    value_and_grad_op = "softmax_cross_entropy"
    probabilities_op = "softmax"
    correct_op = "softmax_correct"


class MeanSquaredError(Loss):
    """``1/(m k) * sum((Z - Y)^2)``; the network's output is used as is."""

    name = "mse"
    value_and_grad_op = "mean_squared_error"


LOSSES = {cls.name: cls for cls in (BinaryCrossEntropy, SoftmaxCrossEntropy, MeanSquaredError)}


def get_loss(loss) -> Loss:
    """A :class:`Loss` from its name (or the instance itself)."""
    if isinstance(loss, Loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {loss!r}")
    return LOSSES[loss]()
