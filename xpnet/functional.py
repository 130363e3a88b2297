"""The hand-written kernels: forward and backward of every layer, as plain array-API functions.

Shapes: samples on axis -2, features on axis -1. Any leading axes (a population of P models stacked
as ``(P, m, n)`` with weights ``(P, n, k)``) broadcast through unchanged. Each function takes the
namespace ``xp`` first; nothing here knows which library ``xp`` is.
"""
from __future__ import annotations


def _rows(vector, xp):
    """``(..., n) -> (..., 1, n)``: a per-feature vector broadcast over the sample axis."""
    return xp.expand_dims(vector, axis=-2)


# Dense: Z = X @ W + b ---------------------------------------------------------------------------

def dense_forward(xp, X, W, b=None):
    """``Z = X @ W + b`` with X ``(..., m, n_in)``, W ``(..., n_in, n_out)``, b ``(..., n_out)``."""
    Z = xp.matmul(X, W)
    if b is not None:
        Z += _rows(b, xp)
    return Z


def dense_backward(xp, dZ, X, W, need_dX=True):
    """Gradients of ``Z = X @ W + b``: ``dW = X^T dZ``, ``db = sum_m dZ``, ``dX = dZ W^T``.

    ``dX`` is None when ``need_dX`` is False (the first layer needs no input gradient).
    """
    dW = xp.matmul(xp.matrix_transpose(X), dZ)
    db = xp.sum(dZ, axis=-2)
    dX = xp.matmul(dZ, xp.matrix_transpose(W)) if need_dX else None
    return dX, dW, db


# Activations: forward(Z) -> A, backward(dA, Z, A) -> dZ ----------------------------------------

def relu(xp, Z):
    """``max(Z, 0)``."""
    return xp.maximum(Z, 0.0)


def relu_backward(xp, dA, Z, A):
    """``dA * [Z > 0]`` (a multiply by the 0/1 mask: ``where`` is several times slower on CPUs)."""
    return dA * xp.astype(Z > 0, dA.dtype)


def leaky_relu(xp, Z, alpha):
    """``Z`` where positive, ``alpha * Z`` elsewhere: ``max(Z, alpha Z)`` for ``0 <= alpha <= 1``."""
    return xp.maximum(Z, alpha * Z)


def leaky_relu_backward(xp, dA, Z, A, alpha):
    """``dA`` where ``Z > 0``, ``alpha * dA`` elsewhere: ``dA * (alpha + (1 - alpha) [Z > 0])``."""
    return dA * (alpha + (1.0 - alpha) * xp.astype(Z > 0, dA.dtype))


def tanh(xp, Z):
    """``tanh(Z)``."""
    return xp.tanh(Z)


def tanh_backward(xp, dA, Z, A):
    """``dA * (1 - A^2)``."""
    return dA * (1.0 - A * A)


def sigmoid(xp, Z):
    """``1 / (1 + exp(-Z))``, computed as ``(tanh(Z / 2) + 1) / 2`` so it never overflows."""
    return 0.5 * (xp.tanh(0.5 * Z) + 1.0)


def sigmoid_backward(xp, dA, Z, A):
    """``dA * A * (1 - A)``."""
    return dA * A * (1.0 - A)


# Inverted dropout ----------------------------------------------------------------------------

def dropout_mask(xp, uniform, keep_prob):
    """The scaled mask ``[U < keep_prob] / keep_prob`` from uniform draws ``U`` in [0, 1).

    ``keep_prob`` is a float or an array broadcasting against ``U`` (per-model rates, ``(P, 1, 1)``).
    """
    return xp.astype(uniform < keep_prob, uniform.dtype) / keep_prob


def dropout(xp, A, mask):
    """``A * mask``: dropped units are zero, kept ones are scaled by ``1 / keep_prob``."""
    return A * mask


def dropout_backward(xp, dA, mask):
    """The same mask applied to the gradient: ``dA * mask``."""
    return dA * mask


# Batch normalization ---------------------------------------------------------------------------

def batchnorm_statistics(xp, Z):
    """Per-feature batch mean and biased variance (1/m) over the sample axis: each ``(..., 1, n)``."""
    mean = xp.mean(Z, axis=-2, keepdims=True)
    centered = Z - mean
    return mean, xp.mean(centered * centered, axis=-2, keepdims=True)


def batchnorm_forward(xp, Z, mean, var, gamma, beta, eps):
    """``Z_hat = (Z - mean) / sqrt(var + eps)``, output ``gamma * Z_hat + beta``.

    ``mean`` and ``var`` are the batch statistics in training and the running ones in evaluation
    (shape ``(..., 1, n)``); gamma and beta are ``(..., n)``. Returns ``(out, Z_hat, inv_std)``.
    """
    inv_std = 1.0 / xp.sqrt(var + eps)
    Z_hat = (Z - mean) * inv_std
    return Z_hat * _rows(gamma, xp) + _rows(beta, xp), Z_hat, inv_std


def batchnorm_backward(xp, dout, Z_hat, inv_std, gamma):
    """Closed-form gradients of training-mode batch norm.

    ``dbeta = sum_m dout``, ``dgamma = sum_m dout * Z_hat`` and
    ``dZ = gamma * inv_std / m * (m * dout - dbeta - Z_hat * dgamma)``.
    """
    m = dout.shape[-2]
    dbeta = xp.sum(dout, axis=-2)
    dgamma = xp.sum(dout * Z_hat, axis=-2)
    scale = _rows(gamma, xp) * inv_std * (1.0 / m)
    dZ = scale * (m * dout - _rows(dbeta, xp) - Z_hat * _rows(dgamma, xp))
    return dZ, dgamma, dbeta
