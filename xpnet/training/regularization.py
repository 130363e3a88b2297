"""L2 regularization of the Dense weights: the cost gains ``l2 / (2 m) * sum(W^2)`` and each weight
gradient ``(l2 / m) W`` (the formulas are the kernels ``l2_penalty`` and ``add_l2_grad``). Biases and
batch-norm parameters are not decayed: they sit after the weights in the flat buffers, outside the
decayed slice."""
from __future__ import annotations

import numpy as np

from xpnet import checks


class L2:
    """The coefficient ``l2``: a number, or for a population one per model (``[0.0, 1e-3, ...]``).

    ``active`` is False for a single coefficient of 0, so the step skips the work entirely."""

    def __init__(self, l2, backend, lead: tuple):
        values = checks.non_negative(l2, "l2", lead)
        self.active = not (isinstance(values, float) and values == 0.0)
        if isinstance(values, float):
            self.per_model = self.per_row = values
        else:
            self.per_model = backend.asarray(np.asarray(values))
            self.per_row = backend.xp.reshape(self.per_model, lead + (1,))

    def penalty(self, kernels, params, m: int, out=None):
        """``l2 / (2 m) * sum(W^2)``, one value per model."""
        return kernels.l2_penalty(params.decayed(), l2=self.per_model, m=m, out=out)

    def add_gradient(self, kernels, params, grads, m: int) -> None:
        """``dW += (l2 / m) W`` for every Dense weight, in place in the gradient buffer."""
        kernels.add_l2_grad(grads.decayed(), params.decayed(), l2=self.per_row, m=m)
