"""CuPy fast path: each elementwise chain as one fused ElementwiseKernel (compiled once per dtype and
cached by CuPy) instead of a chain of whole-array operations, each of which would read and write the
whole array again. The matrix products and bias sums are the NumPy fast path's, which CuPy shares.

Each kernel's C statement is its formula; the comments say which reference function it implements.
"""
from __future__ import annotations

import cupy

from xpnet.kernels import reference

# ewa_update: average = beta * average + (1 - beta) * value.
_ewa = cupy.ElementwiseKernel(
    "T value, T beta", "T average", "average = beta * average + ((T)1 - beta) * value", "xpnet_ewa")
# dA * [Z > 0], dA * (1 or alpha), dA (1 - A^2), dA A (1 - A): the activations' backward passes. The
# products by 0 keep a NaN gradient NaN, as the reference's multiply by the 0/1 mask does.
_relu_backward = cupy.ElementwiseKernel(
    "T dA, T Z", "T dZ", "dZ = Z > 0 ? dA : (T)0 * dA", "xpnet_relu_backward")
_leaky_relu_backward = cupy.ElementwiseKernel(
    "T dA, T Z, T alpha", "T dZ", "dZ = Z > 0 ? dA : alpha * dA", "xpnet_leaky_relu_backward")
_tanh_backward = cupy.ElementwiseKernel(
    "T dA, T A", "T dZ", "dZ = dA * ((T)1 - A * A)", "xpnet_tanh_backward")
_sigmoid_backward = cupy.ElementwiseKernel(
    "T dA, T A", "T dZ", "dZ = dA * A * ((T)1 - A)", "xpnet_sigmoid_backward")
# relu(Z + b), leaky_relu(Z + b): NaN passes through, as through the reference's maximum.
_bias_relu = cupy.ElementwiseKernel(
    "T Z, T b", "T A", "T v = Z + b; A = v <= (T)0 ? (T)0 : v", "xpnet_bias_relu")
_bias_leaky_relu = cupy.ElementwiseKernel(
    "T Z, T b, T alpha", "T A", "T v = Z + b; A = v > (T)0 ? v : alpha * v", "xpnet_bias_leaky_relu")
# dropout_forward: mask = [U < keep_prob] / keep_prob, out = A * mask.
_dropout = cupy.ElementwiseKernel(
    "T A, T u, T keep", "T out, T mask",
    "mask = u < keep ? (T)1 / keep : (T)0; out = A * mask", "xpnet_dropout")
# batchnorm_forward and the elementwise part of batchnorm_backward.
_batchnorm_normalize = cupy.ElementwiseKernel(
    "T Z, T mean, T inv_std, T gamma, T beta", "T out, T Z_hat",
    "Z_hat = (Z - mean) * inv_std; out = gamma * Z_hat + beta", "xpnet_batchnorm_normalize")
_batchnorm_backward = cupy.ElementwiseKernel(
    "T dout, T Z_hat, T scale, T dbeta, T dgamma, T m", "T dZ",
    "dZ = scale * (m * dout - dbeta - Z_hat * dgamma)", "xpnet_batchnorm_backward")
# The update rules.
_sgd = cupy.ElementwiseKernel("T g, T lr", "T p", "p -= lr * g", "xpnet_sgd")
_momentum = cupy.ElementwiseKernel(
    "T g, T lr, T beta, bool nesterov", "T p, T v",
    "v = beta * v + ((T)1 - beta) * g;"
    "p -= nesterov ? lr * (beta * v + ((T)1 - beta) * g) : lr * v", "xpnet_momentum")
_rmsprop = cupy.ElementwiseKernel(
    "T g, T lr, T beta, T eps", "T p, T s",
    "s = beta * s + ((T)1 - beta) * g * g; p -= lr * g / (sqrt(s) + eps)", "xpnet_rmsprop")
_adam = cupy.ElementwiseKernel(
    "T g, T step, T beta1, T beta2, T eps, T root2", "T p, T v, T s",
    "v = beta1 * v + ((T)1 - beta1) * g; s = beta2 * s + ((T)1 - beta2) * g * g;"
    "p -= step * v / (sqrt(s) / root2 + eps)", "xpnet_adam")


def _launch(kernel, inputs, out):
    """Run ``kernel``: CuPy takes either every output array or none (then it allocates)."""
    if out is None:
        return kernel(*inputs)
    return kernel(*inputs, *out) if isinstance(out, tuple) else kernel(*inputs, out)


def _rows(vector):
    """``(..., n) -> (..., 1, n)``."""
    return cupy.expand_dims(vector, -2)


def ewa_update(xp, average, value, *, beta):
    _ewa(value, beta, average)


def relu_backward(xp, dA, Z, *, out=None):
    return _launch(_relu_backward, (dA, Z), out)


def leaky_relu_backward(xp, dA, Z, *, alpha, out=None):
    return _launch(_leaky_relu_backward, (dA, Z, alpha), out)


def tanh_backward(xp, dA, A, *, out=None):
    return _launch(_tanh_backward, (dA, A), out)


def sigmoid_backward(xp, dA, A, *, out=None):
    return _launch(_sigmoid_backward, (dA, A), out)


def bias_relu(xp, Z, b, *, out=None):
    return _launch(_bias_relu, (Z, 0.0 if b is None else _rows(b)), out)


def bias_leaky_relu(xp, Z, b, *, alpha, out=None):
    return _launch(_bias_leaky_relu, (Z, 0.0 if b is None else _rows(b), alpha), out)


def relu_bias_backward(xp, dA, A, *, out=None):
    dZ, db = out if out is not None else (None, None)
    dZ = relu_backward(xp, dA, A, out=dZ)
    return dZ, _bias_sum(dZ, db, out)


def leaky_relu_bias_backward(xp, dA, A, *, alpha, out=None):
    dZ, db = out if out is not None else (None, None)
    dZ = leaky_relu_backward(xp, dA, A, alpha=alpha, out=dZ)
    return dZ, _bias_sum(dZ, db, out)


def _bias_sum(dZ, db, out):
    """The bias gradient ``sum_m dZ`` into db, unless ``out`` gave None in its place."""
    if out is not None and db is None:
        return None
    return cupy.sum(dZ, axis=-2, out=db)


def dropout_forward(xp, A, uniform, *, keep_prob, out=None):
    return _launch(_dropout, (A, uniform, keep_prob), out)


def dropout(xp, A, mask, *, out=None):
    return cupy.multiply(A, mask, out=out)


def batchnorm_forward(xp, Z, mean, var, gamma, beta, *, eps, out=None):
    result, Z_hat, inv_std = out if out is not None else (None, None, None)
    inv_std = cupy.add(var, eps, out=inv_std)
    cupy.sqrt(inv_std, out=inv_std)
    cupy.reciprocal(inv_std, out=inv_std)
    outputs = None if out is None else (result, Z_hat)
    result, Z_hat = _launch(_batchnorm_normalize, (Z, mean, inv_std, _rows(gamma), _rows(beta)), outputs)
    return result, Z_hat, inv_std


def batchnorm_backward(xp, dout, Z_hat, inv_std, gamma, *, out=None):
    dZ, dgamma, dbeta = out if out is not None else (None, None, None)
    m = dout.shape[-2]
    dbeta = cupy.sum(dout, axis=-2, out=dbeta)
    dgamma = cupy.sum(dout * Z_hat, axis=-2, out=dgamma)
    scale = _rows(gamma) * inv_std * (1.0 / m)
    dZ = _launch(_batchnorm_backward, (dout, Z_hat, scale, _rows(dbeta), _rows(dgamma), m), dZ)
    return dZ, dgamma, dbeta


def sgd_update(xp, p, g, *, lr):
    _sgd(g, lr, p)


def momentum_update(xp, p, g, v, *, lr, beta, nesterov):
    _momentum(g, lr, beta, nesterov, p, v)


def rmsprop_update(xp, p, g, s, *, lr, beta, eps):
    _rmsprop(g, lr, beta, eps, p, s)


def adam_update(xp, p, g, v, s, *, lr, beta1, beta2, eps, t):
    step, root2 = reference.adam_step_sizes(xp, lr, beta1, beta2, t)
    _adam(g, step, beta1, beta2, eps, root2, p, v, s)
