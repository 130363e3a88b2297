"""CuPy fast path: each elementwise chain as one fused ElementwiseKernel (compiled once per dtype and
cached by CuPy) instead of a chain of whole-array operations, each of which would read and write the
whole array again. The matrix products and bias sums are the NumPy fast path's, which CuPy shares.

Each kernel's C statement is its formula; the comment above it names the reference function. None of
these kernels allocates when given its outputs, so each can be recorded into a CUDA graph.
"""
from __future__ import annotations

import functools
import math

import cupy

from xpnet.kernels.reference import GOLDEN, MIX1, MIX2

# ewa_update: average = beta * average + (1 - beta) * value.
_ewa = cupy.ElementwiseKernel(
    "T value, T beta", "T average", "average = beta * average + ((T)1 - beta) * value", "xpnet_ewa")
# relu_backward, leaky_relu_backward, tanh_backward, sigmoid_backward. The products by 0 keep a NaN
# gradient NaN, as the reference's multiply by the 0/1 mask does.
_relu_backward = cupy.ElementwiseKernel(
    "T dA, T Z", "T dZ", "dZ = Z > 0 ? dA : (T)0 * dA", "xpnet_relu_backward")
_leaky_relu_backward = cupy.ElementwiseKernel(
    "T dA, T Z, T alpha", "T dZ", "dZ = Z > 0 ? dA : alpha * dA", "xpnet_leaky_relu_backward")
_tanh_backward = cupy.ElementwiseKernel(
    "T dA, T A", "T dZ", "dZ = dA * ((T)1 - A * A)", "xpnet_tanh_backward")
_sigmoid_backward = cupy.ElementwiseKernel(
    "T dA, T A", "T dZ", "dZ = dA * A * ((T)1 - A)", "xpnet_sigmoid_backward")
# dense_relu, dense_leaky_relu after the product Z = X W, in place: NaN passes through, as through the
# reference's maximum.
_bias_relu = cupy.ElementwiseKernel(
    "T b", "T Z", "T v = Z + b; Z = v <= (T)0 ? (T)0 : v", "xpnet_bias_relu")
_bias_leaky_relu = cupy.ElementwiseKernel(
    "T b, T alpha", "T Z", "T v = Z + b; Z = v > (T)0 ? v : alpha * v", "xpnet_bias_leaky_relu")
# dropout_forward: mask = [U < keep_prob] / keep_prob, out = A * mask.
_dropout = cupy.ElementwiseKernel(
    "T A, T u, T keep", "T out, T mask",
    "mask = u < keep ? (T)1 / keep : (T)0; out = A * mask", "xpnet_dropout")
# batchnorm_forward, batchnorm_running_update and the elementwise part of batchnorm_backward.
_batchnorm_normalize = cupy.ElementwiseKernel(
    "T Z, T mean, T inv_std, T gamma, T beta", "T out, T Z_hat",
    "Z_hat = (Z - mean) * inv_std; out = gamma * Z_hat + beta", "xpnet_batchnorm_normalize")
_batchnorm_running = cupy.ElementwiseKernel(
    "T mean, T var, T momentum, T unbiased", "T running_mean, T running_var",
    "running_mean = momentum * running_mean + ((T)1 - momentum) * mean;"
    "running_var = momentum * running_var + ((T)1 - momentum) * (var * unbiased)", "xpnet_batchnorm_running")
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
# random_bits and random_uniform: SplitMix64 draw counter + position of the stream key; the counter is
# read on the device. increment: counter += by.
_SPLITMIX64 = f"""
__device__ unsigned long long xpnet_splitmix64(unsigned long long key, unsigned long long n) {{
    unsigned long long z = key + (n + 1ull) * {GOLDEN:#x}ull;
    z = (z ^ (z >> 30)) * {MIX1:#x}ull;
    z = (z ^ (z >> 27)) * {MIX2:#x}ull;
    return z ^ (z >> 31);
}}
"""
_random_bits = cupy.ElementwiseKernel(
    "uint64 key, raw uint64 counter, uint64 position", "uint64 z",
    "z = xpnet_splitmix64(key, counter[0] + position)", "xpnet_random_bits", preamble=_SPLITMIX64)
_random_uniform = {
    "float32": cupy.ElementwiseKernel(
        "uint64 key, raw uint64 counter, uint64 position", "float32 u",
        "u = (float)(xpnet_splitmix64(key, counter[0] + position) >> 40) * 5.9604644775390625e-08f",
        "xpnet_random_uniform32", preamble=_SPLITMIX64),
    "float64": cupy.ElementwiseKernel(
        "uint64 key, raw uint64 counter, uint64 position", "float64 u",
        "u = (double)(xpnet_splitmix64(key, counter[0] + position) >> 11) * 1.1102230246251565e-16",
        "xpnet_random_uniform64", preamble=_SPLITMIX64),
}
_increment = cupy.ElementwiseKernel("T by", "T counter", "counter += by", "xpnet_increment")
# gather_rows, select_row, record_at: an element's place is (row, column) of its array, and the step's
# row is read on the device at it[0].
_gather = cupy.ElementwiseKernel(
    "raw T X, raw int64 order, raw int64 it, int64 stride, int64 width, int64 row, int64 column", "T out",
    "out = X[order[it[0] * stride + row] * width + column]", "xpnet_gather")
_gather_in_order = cupy.ElementwiseKernel(
    "raw T X, raw int64 it, int64 stride, int64 width, int64 row, int64 column", "T out",
    "out = X[(it[0] * stride + row) * width + column]", "xpnet_gather_in_order")
_select = cupy.ElementwiseKernel(
    "raw T table, raw int64 it, int64 size, int64 position", "T out",
    "out = table[it[0] * size + position]", "xpnet_select")
_record = cupy.ElementwiseKernel(
    "T value, raw int64 it, int64 size, int64 position", "raw T series",
    "series[it[0] * size + position] = value", "xpnet_record")


def _launch(kernel, inputs, out):
    """Run ``kernel``: CuPy takes either every output array or none (then it allocates)."""
    if out is None:
        return kernel(*inputs)
    return kernel(*inputs, *out) if isinstance(out, tuple) else kernel(*inputs, out)


def _rows(vector):
    """``(..., n) -> (..., 1, n)``."""
    return cupy.expand_dims(vector, -2)


@functools.cache
def _positions(shape: tuple, dtype: str, device: int):
    """Each element's flat position in a C-contiguous array of ``shape``, made once per shape and
    device and kept: a kernel recorded into a CUDA graph reads it at every replay."""
    return cupy.arange(math.prod(shape), dtype=dtype).reshape(shape)


def _places(shape: tuple, dtype: str = "int64"):
    return _positions(tuple(shape), dtype, cupy.cuda.Device().id)


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


def dense_relu(xp, X, W, b, *, out=None):
    return add_bias_and_relu(cupy.matmul(X, W, out=out), b)


def dense_leaky_relu(xp, X, W, b, *, alpha, out=None):
    return add_bias_and_leaky_relu(cupy.matmul(X, W, out=out), b, alpha)


def add_bias_and_relu(Z, b):
    """In place over a product ``Z = X W``: ``relu(Z + b)`` (b may be None)."""
    _bias_relu(0.0 if b is None else _rows(b), Z)
    return Z


def add_bias_and_leaky_relu(Z, b, alpha):
    """In place over a product ``Z = X W``: ``leaky_relu(Z + b)`` (b may be None)."""
    _bias_leaky_relu(0.0 if b is None else _rows(b), alpha, Z)
    return Z


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


def dropout(xp, A, mask, *, out=None):
    return cupy.multiply(A, mask, out=out)


def dropout_forward(xp, A, uniform, *, keep_prob, out=None):
    return _launch(_dropout, (A, uniform, keep_prob), out)


def batchnorm_forward(xp, Z, mean, var, gamma, beta, *, eps, out=None):
    result, Z_hat, inv_std = out if out is not None else (None, None, None)
    inv_std = cupy.add(var, eps, out=inv_std)
    cupy.sqrt(inv_std, out=inv_std)
    cupy.reciprocal(inv_std, out=inv_std)
    outputs = None if out is None else (result, Z_hat)
    result, Z_hat = _launch(_batchnorm_normalize, (Z, mean, inv_std, _rows(gamma), _rows(beta)), outputs)
    return result, Z_hat, inv_std


def batchnorm_running_update(xp, running_mean, running_var, mean, var, *, momentum, m):
    _batchnorm_running(mean[..., 0, :], var[..., 0, :], momentum, m / (m - 1), running_mean, running_var)


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


def adam_update(xp, p, g, v, s, *, step, root2, beta1, beta2, eps):
    _adam(g, step, beta1, beta2, eps, root2, p, v, s)


def random_bits(xp, counter, *, key, out):
    return _random_bits(key, counter, _places(out.shape, "uint64"), out)


def random_uniform(xp, counter, *, key, out):
    return _random_uniform[out.dtype.name](key, counter, _places(out.shape, "uint64"), out)


def increment(xp, counter, *, by=1):
    _increment(by, counter)


def gather_rows(xp, X, order, it, *, stride, out):
    rows, width = out.shape
    row, column = _places((rows, 1)), _places((1, width))
    if order is None:
        return _gather_in_order(X, it, stride, width, row, column, out)
    return _gather(X, order, it, stride, width, row, column, out)


def select_row(xp, table, it, *, out):
    return _select(table, it, math.prod(out.shape), _places(out.shape), out)


def record_at(xp, series, value, it):
    _record(value, it, math.prod(value.shape), _places(value.shape), series)
