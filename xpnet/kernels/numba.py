"""NumPy fast path with numba (the ``fast`` extra): each update rule, the ReLU backward, the bias sums
and a Dense layer's bias with the (leaky) ReLU after it as one compiled loop instead of a chain of
whole-array operations.

The loops read and write each array once and do their arithmetic in the arrays' dtype (float32
vectors are twice as wide as float64 ones, and the results match NumPy's float32 arithmetic), except
bias gradients, which are sums over the batch and are accumulated in float64. They run on one
thread: a multi-threaded loop would fight OpenBLAS's worker threads, which keep spinning on the other
cores after each matrix product. Compiled on first use, then cached on disk. Each function falls back
to the NumPy fast path for layouts its loop does not handle (non-contiguous arrays).
"""
from __future__ import annotations

import math
from typing import Any

import numba
import numpy as np

from xpnet.kernels import numpy as numpy_kernels
from xpnet.kernels import reference

_jit: Any = numba.njit(cache=True, error_model="numpy")


# Compiled loops ----------------------------------------------------------------------------------
# Arrays of a population arrive as (P, m, k) stacks and flat (P, m k) rows; a single model is a stack
# of one. Hyperparameters arrive as float64 vectors with one value per row (per model).

@_jit
def _add_bias(Z, b):
    for model in range(Z.shape[0]):
        for i in range(Z.shape[1]):
            for j in range(Z.shape[2]):
                Z[model, i, j] += b[model, j]


@_jit
def _span(k):
    """Values per span: the fewest whole rows of ``k`` that make at least 64."""
    return -(-64 // k) * k


@_jit
def _fold_columns(position_sums, k, out):
    """``out[c] = sum of position_sums[c], position_sums[c + k], ...`` for each of the k columns."""
    for column in range(k):
        total = 0.0
        for position in range(column, position_sums.shape[0], k):
            total += position_sums[position]
        out[column] = total


# Bias gradients: column sums of each model's (m, k) block, summed in float64. The block is read as
# one flat row of m k values in spans of whole rows at least 64 values long, with one float64
# accumulator per position in the span, then folded to k columns: the loop runs over the span, so it
# vectorizes even where k is tiny (a population of 2-5-2-1 networks has k = 5, 2, 1).

@_jit
def _sum_rows(dZ, out, k):
    """On flat ``(P, m k)`` rows: ``out = sum_m dZ``."""
    span = _span(k)
    position_sums = np.zeros(span, dtype=np.float64)
    for model in range(dZ.shape[0]):
        position_sums[:] = 0.0
        for start in range(0, dZ.shape[1], span):
            values = dZ[model, start:start + span]
            for t in range(values.shape[0]):
                position_sums[t] += values[t]
        _fold_columns(position_sums, k, out[model])


@_jit
def _relu_backward(dA, Z, out):
    one, zero = out.dtype.type(1), out.dtype.type(0)
    for i in range(out.size):
        out[i] = dA[i] * (one if Z[i] > 0 else zero)


@_jit
def _bias_activation(Z, b, out, alpha, leaky, has_bias):
    """``out = f(Z + b)`` on ``(P, m, k)`` stacks: leaky ReLU with slope ``alpha`` if ``leaky``,
    else ReLU (written so that NaN passes through both, as in the reference)."""
    zero = out.dtype.type(0)
    slope = out.dtype.type(alpha)
    for model in range(Z.shape[0]):
        for i in range(Z.shape[1]):
            for j in range(Z.shape[2]):
                v = Z[model, i, j] + b[model, j] if has_bias else Z[model, i, j]
                if leaky:
                    out[model, i, j] = v if v > zero else slope * v
                else:
                    out[model, i, j] = zero if v <= zero else v


@_jit
def _activation_bias_backward(dA, A, dZ, db, k, alpha, has_bias):
    """On flat ``(P, m k)`` rows: ``dZ = dA * f'(A)`` (``f' = 1`` where A > 0, else ``alpha``) and
    ``db = sum_m dZ`` (if has_bias)."""
    one = dZ.dtype.type(1)
    slope = dZ.dtype.type(alpha)
    span = _span(k)
    position_sums = np.zeros(span, dtype=np.float64)
    for model in range(dZ.shape[0]):
        position_sums[:] = 0.0
        for start in range(0, dZ.shape[1], span):
            upstream, output = dA[model, start:start + span], A[model, start:start + span]
            result = dZ[model, start:start + span]
            for t in range(result.shape[0]):
                v = upstream[t] * (one if output[t] > 0 else slope)
                result[t] = v
                position_sums[t] += v
        if has_bias:
            _fold_columns(position_sums, k, db[model])


@_jit
def _sgd(p, g, lr):
    for row in range(p.shape[0]):
        rate = p.dtype.type(lr[row])
        for i in range(p.shape[1]):
            p[row, i] -= rate * g[row, i]


@_jit
def _momentum(p, g, v, lr, beta, nesterov):
    cast = p.dtype.type
    for row in range(p.shape[0]):
        rate, keep, rest = cast(lr[row]), cast(beta[row]), cast(1.0 - beta[row])
        for i in range(p.shape[1]):
            vi = keep * v[row, i] + rest * g[row, i]
            v[row, i] = vi
            if nesterov:
                p[row, i] -= rate * (keep * vi + rest * g[row, i])
            else:
                p[row, i] -= rate * vi


@_jit
def _rmsprop(p, g, s, lr, beta, eps):
    cast = p.dtype.type
    for row in range(p.shape[0]):
        rate, keep, rest, tiny = cast(lr[row]), cast(beta[row]), cast(1.0 - beta[row]), cast(eps[row])
        for i in range(p.shape[1]):
            gi = g[row, i]
            si = keep * s[row, i] + rest * gi * gi
            s[row, i] = si
            p[row, i] -= rate * gi / (math.sqrt(si) + tiny)


@_jit
def _adam(p, g, v, s, step, beta1, beta2, eps, root2):
    cast = p.dtype.type
    for row in range(p.shape[0]):
        rate, tiny, root = cast(step[row]), cast(eps[row]), cast(root2[row])
        keep1, rest1 = cast(beta1[row]), cast(1.0 - beta1[row])
        keep2, rest2 = cast(beta2[row]), cast(1.0 - beta2[row])
        for i in range(p.shape[1]):
            gi = g[row, i]
            vi = keep1 * v[row, i] + rest1 * gi
            si = keep2 * s[row, i] + rest2 * gi * gi
            v[row, i] = vi
            s[row, i] = si
            p[row, i] -= rate * vi / (math.sqrt(si) / root + tiny)


# Views the loops take ------------------------------------------------------------------------------

def _contiguous(*arrays) -> bool:
    return all(array is not None and array.flags.c_contiguous for array in arrays)


def _stack(array, ndim: int):
    """A single model's array as a stack of one (``(m, k) -> (1, m, k)``, a view) unless it already
    has the stacked ``ndim``."""
    return array if array.ndim == ndim else array[None]


def _model_rows(array):
    """``(m, k)`` or ``(P, m, k)`` C-contiguous activations as one flat row per model, ``(P, m k)``."""
    stack = _stack(array, 3)
    return stack.reshape(stack.shape[0], -1)


def _update_rows(*arrays):
    """C-contiguous flat update buffers as 2-D ``(rows, n)`` views (1-D: one row), or None."""
    if not all(array.flags.c_contiguous and array.ndim in (1, 2) for array in arrays):
        return None
    return [array.reshape(1, -1) if array.ndim == 1 else array for array in arrays]


def _row_values(rows: int, *values):
    """Each hyperparameter (a number, or a ``(P, 1)`` array) as a float64 vector of ``rows`` values."""
    vectors = [np.asarray(value, dtype=np.float64).reshape(-1) for value in values]
    return [vector if vector.shape[0] == rows else np.broadcast_to(vector, (rows,)) for vector in vectors]


# The kernels --------------------------------------------------------------------------------------

def dense_forward(xp, X, W, b, *, out=None):
    """``Z = X W + b``: NumPy's product, then a population's bias added in one loop (NumPy broadcasts
    a ``(P, 1, k)`` bias over short rows slowly)."""
    if b is None or b.ndim != 2 or W.ndim != 3:
        return numpy_kernels.dense_forward(xp, X, W, b, out=out)
    Z = xp.matmul(X, W, out=out)
    _add_bias(Z, b)
    return Z


def bias_grad(xp, dZ, *, out=None):
    """``db = sum_m dZ``, accumulated in float64 (NumPy sums float32 rows in float32)."""
    if out is None or not (_contiguous(dZ, out) and dZ.ndim in (2, 3) and out.ndim == dZ.ndim - 1):
        return numpy_kernels.bias_grad(xp, dZ, out=out)
    _sum_rows(_model_rows(dZ), _stack(out, 2), dZ.shape[-1])
    return out


def relu_backward(xp, dA, Z, *, out=None):
    """``dA * [Z > 0]`` in one pass."""
    if out is None or not (_contiguous(dA, Z, out) and dA.shape == Z.shape == out.shape):
        return numpy_kernels.relu_backward(xp, dA, Z, out=out)
    _relu_backward(dA.reshape(-1), Z.reshape(-1), out.reshape(-1))
    return out


def dense_relu(xp, X, W, b, *, out=None):
    """``relu(X W + b)``: NumPy's product into ``out``, then bias and ReLU in one pass over it."""
    Z = xp.matmul(X, W, out=out)
    if not _fusable(Z, b, None):
        return reference.dense_relu(xp, X, W, b, out=Z)
    return _add_bias_and_activate(Z, b, 0.0, False)


def dense_leaky_relu(xp, X, W, b, *, alpha, out=None):
    """``leaky_relu(X W + b)``: NumPy's product into ``out``, then bias and activation in one pass."""
    Z = xp.matmul(X, W, out=out)
    if not _fusable(Z, b, None):
        return reference.dense_leaky_relu(xp, X, W, b, alpha=alpha, out=Z)
    return _add_bias_and_activate(Z, b, alpha, True)


def _add_bias_and_activate(Z, b, alpha, leaky):
    """In place over the product Z: ``f(Z + b)``."""
    stack = _stack(Z, 3)
    bias = _stack(b, 2) if b is not None else stack[:, 0, :]  # unread without a bias
    _bias_activation(stack, bias, stack, alpha, leaky, b is not None)
    return Z


def relu_bias_backward(xp, dA, A, *, out=None):
    """``out = (dZ, db)``: ``dZ = dA [A > 0]`` and ``db = sum_m dZ`` (db optional) in one pass."""
    if out is None or not _fusable(A, out[1], out[0], dA):
        return reference.relu_bias_backward(xp, dA, A, out=out)
    return _activation_bias_backward_op(dA, A, out, 0.0)


def leaky_relu_bias_backward(xp, dA, A, *, alpha, out=None):
    """``out = (dZ, db)``: ``dZ = dA (1 where A > 0, alpha elsewhere)`` and ``db = sum_m dZ`` (db
    optional) in one pass."""
    if out is None or not _fusable(A, out[1], out[0], dA):
        return reference.leaky_relu_bias_backward(xp, dA, A, alpha=alpha, out=out)
    return _activation_bias_backward_op(dA, A, out, alpha)


def _fusable(Z, b, out, *more) -> bool:
    """Whether the fused loops can run: C-contiguous ``(m, k)`` or ``(P, m, k)`` arrays of Z's shape
    (bias ``(k,)`` or ``(P, k)``, or None)."""
    same = [array for array in (out, *more) if array is not None]
    return (_contiguous(Z, *same) and Z.ndim in (2, 3) and all(a.shape == Z.shape for a in same)
            and (b is None or (b.ndim == Z.ndim - 1 and b.flags.c_contiguous)))


def _activation_bias_backward_op(dA, A, out, alpha):
    dZ, db = out
    rows = _model_rows(dZ)
    bias_grad_rows = _stack(db, 2) if db is not None else rows  # unwritten without a bias
    _activation_bias_backward(_model_rows(dA), _model_rows(A), rows, bias_grad_rows, A.shape[-1],
                              alpha, db is not None)
    return dZ, db


def sgd_update(xp, p, g, *, lr):
    rows = _update_rows(p, g)
    if rows is None:
        return reference.sgd_update(xp, p, g, lr=lr)
    _sgd(*rows, *_row_values(rows[0].shape[0], lr))


def momentum_update(xp, p, g, v, *, lr, beta, nesterov):
    rows = _update_rows(p, g, v)
    if rows is None:
        return reference.momentum_update(xp, p, g, v, lr=lr, beta=beta, nesterov=nesterov)
    _momentum(*rows, *_row_values(rows[0].shape[0], lr, beta), nesterov)


def rmsprop_update(xp, p, g, s, *, lr, beta, eps):
    rows = _update_rows(p, g, s)
    if rows is None:
        return reference.rmsprop_update(xp, p, g, s, lr=lr, beta=beta, eps=eps)
    _rmsprop(*rows, *_row_values(rows[0].shape[0], lr, beta, eps))


def adam_update(xp, p, g, v, s, *, step, root2, beta1, beta2, eps):
    rows = _update_rows(p, g, v, s)
    if rows is None:
        return reference.adam_update(xp, p, g, v, s, step=step, root2=root2, beta1=beta1, beta2=beta2, eps=eps)
    _adam(*rows, *_row_values(rows[0].shape[0], step, beta1, beta2, eps, root2))
