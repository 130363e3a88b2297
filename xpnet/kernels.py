"""Kernel dispatch: the hot operations a model runs, bound to one namespace.

:class:`Kernels` is the reference: each method calls the plain array-API code in
:mod:`xpnet.functional` and :mod:`xpnet.update_rules`. A backend-specific fast path
(:mod:`xpnet.fast`) subclasses it and replaces single methods; whatever it does not replace stays
the reference. Methods that take ``out=`` may write their result there (a buffer of the result's
shape from a :class:`Workspace`); the reference ignores it and allocates.
"""
from __future__ import annotations

from xpnet import functional as F
from xpnet import update_rules

ACTIVATIONS = {
    "relu": (F.relu, F.relu_backward),
    "leaky_relu": (F.leaky_relu, F.leaky_relu_backward),
    "tanh": (F.tanh, F.tanh_backward),
    "sigmoid": (F.sigmoid, F.sigmoid_backward),
}


class Kernels:
    """The reference kernels for namespace ``xp``."""

    name = "reference"
    #: whether layers should hand out reusable ``out=`` buffers in training
    uses_buffers = False
    #: activations this kernel set fuses with the Dense layer before them (:mod:`xpnet.fusion`)
    fused_activations = frozenset()

    def __init__(self, xp):
        self.xp = xp

    # layers --------------------------------------------------------------------------------

    def dense_forward(self, X, W, b, out=None):
        return F.dense_forward(self.xp, X, W, b)

    def dense_backward(self, dZ, X, W, dW, db, need_dX, dX_out=None):
        """Writes ``X^T dZ`` into ``dW`` and ``sum_m dZ`` into ``db`` (if not None); returns dX."""
        dX, dW_value, db_value = F.dense_backward(self.xp, dZ, X, W, need_dX)
        dW[...] = dW_value
        if db is not None:
            db[...] = db_value
        return dX

    def activation_forward(self, name, Z, out=None, **options):
        return ACTIVATIONS[name][0](self.xp, Z, **options)

    def activation_backward(self, name, dA, Z, A, out=None, **options):
        return ACTIVATIONS[name][1](self.xp, dA, Z, A, **options)

    # a Dense layer and the activation after it (only for kinds in ``fused_activations``) ----

    def bias_activation(self, name, Z, b, **options):
        """``A = f(Z + b)`` written over ``Z`` (b may be None); returns A."""
        raise NotImplementedError(f"{self.name} kernels do not fuse {name}")

    def activation_bias_backward(self, name, dA, A, db, out, **options):
        """``dZ = dA * f'(Z)`` into ``out``, with ``f'`` read off the output ``A``, and
        ``db = sum_m dZ`` into ``db`` (if not None) in the same pass; returns dZ."""
        raise NotImplementedError(f"{self.name} kernels do not fuse {name}")

    def dropout_forward(self, A, uniform, keep_prob, out=None):
        """Returns ``(A * mask, mask)``; ``mask = [uniform < keep_prob] / keep_prob``."""
        mask = F.dropout_mask(self.xp, uniform, keep_prob)
        return F.dropout(self.xp, A, mask), mask

    def dropout_backward(self, dA, mask, out=None):
        return F.dropout_backward(self.xp, dA, mask)

    def batchnorm_normalize(self, Z, mean, var, gamma, beta, eps):
        return F.batchnorm_forward(self.xp, Z, mean, var, gamma, beta, eps)

    def batchnorm_backward(self, dout, Z_hat, inv_std, gamma):
        return F.batchnorm_backward(self.xp, dout, Z_hat, inv_std, gamma)

    # optimizer updates, in place on flat buffers -------------------------------------------

    def sgd_update(self, p, g, lr):
        update_rules.sgd(self.xp, p, g, lr)

    def momentum_update(self, p, g, v, lr, beta, nesterov):
        update_rules.momentum(self.xp, p, g, v, lr, beta, nesterov)

    def rmsprop_update(self, p, g, s, lr, beta, eps):
        update_rules.rmsprop(self.xp, p, g, s, lr, beta, eps)

    def adam_update(self, p, g, v, s, lr, beta1, beta2, eps, correction1, root_correction2):
        update_rules.adam(self.xp, p, g, v, s, lr, beta1, beta2, eps, correction1, root_correction2)


class Workspace:
    """Reusable buffers, one per (key, shape): a training step of the same batch size allocates nothing.

    Buffers returned here are overwritten by the next training step of the same shape.
    """

    def __init__(self, backend):
        self.backend = backend
        self.buffers = {}

    def get(self, key: str, shape: tuple):
        shape = tuple(shape)
        buffer = self.buffers.get((key, shape))
        if buffer is None:
            buffer = self.buffers[(key, shape)] = self.backend.empty(shape)
        return buffer
