"""NumPy fast path with numba (the ``fast`` extra): each optimizer update, the ReLU backward, and a
Dense layer's bias with the ReLU or LeakyReLU after it, as one fused loop instead of a chain of
whole-array operations.

The loops read and write each array once and do their arithmetic in the arrays' dtype (float32
vectors are twice as wide as float64 ones, and the results match NumPy's float32 arithmetic), except
bias gradients, which are sums over the batch and are accumulated in float64. They run
on one thread: a multi-threaded loop would fight OpenBLAS's worker threads, which keep spinning on
the other cores after each matrix product. Compiled on first use, then cached on disk.
"""
from __future__ import annotations

import math

import numba
import numpy as np

from xpnet.fast.numpy import NumpyKernels

_jit = numba.njit(cache=True, error_model="numpy")


# Each update runs over rows: one row per model of a population (a single model is one row), with
# that row's hyperparameters, cast to the arrays' dtype.

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
def _adam(p, g, v, s, step, beta1, beta2, eps, root_correction2):
    cast = p.dtype.type
    for row in range(p.shape[0]):
        rate, tiny, root = cast(step[row]), cast(eps[row]), cast(root_correction2[row])
        keep1, rest1 = cast(beta1[row]), cast(1.0 - beta1[row])
        keep2, rest2 = cast(beta2[row]), cast(1.0 - beta2[row])
        for i in range(p.shape[1]):
            gi = g[row, i]
            vi = keep1 * v[row, i] + rest1 * gi
            si = keep2 * s[row, i] + rest2 * gi * gi
            v[row, i] = vi
            s[row, i] = si
            p[row, i] -= rate * vi / (math.sqrt(si) / root + tiny)


@_jit
def _relu_backward(dA, Z, out):
    zero = out.dtype.type(0)
    for i in range(out.size):
        out[i] = dA[i] if Z[i] > 0 else zero


# A Dense layer's bias and the (leaky) ReLU after it: ``(P, m, k)`` activations, ``(P, k)`` biases.
# ``slope`` is the leaky slope (0 for ReLU); the derivative is read off the output, ``A > 0``.

@_jit
def _bias_leaky_relu(Z, b, slope, has_bias):
    zero = Z.dtype.type(0)
    alpha = Z.dtype.type(slope)
    for model in range(Z.shape[0]):
        for i in range(Z.shape[1]):
            for j in range(Z.shape[2]):
                v = Z[model, i, j] + b[model, j] if has_bias else Z[model, i, j]
                Z[model, i, j] = v if v > zero else (alpha * v if slope != 0.0 else zero)


@_jit
def _add_bias(Z, b):
    for model in range(Z.shape[0]):
        for i in range(Z.shape[1]):
            for j in range(Z.shape[2]):
                Z[model, i, j] += b[model, j]


# Bias gradients: column sums of each model's (m, k) block, summed in float64. The block is read as
# one flat row of m k values in spans of whole rows at least 64 values long, with one float64
# accumulator per position in the span, then folded to k columns: the loop runs over the span, so it
# vectorizes even where k is tiny (a population of 2-5-2-1 networks has k = 5, 2, 1).

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


@_jit
def _leaky_relu_backward_bias(dA, A, dZ, db, k, slope, has_bias):
    """On flat ``(P, m k)`` rows: ``dZ = dA * f'(A)`` and ``db = sum_m dZ`` (if has_bias)."""
    zero = dZ.dtype.type(0)
    alpha = dZ.dtype.type(slope)
    span = _span(k)
    position_sums = np.zeros(span, dtype=np.float64)
    for model in range(dZ.shape[0]):
        position_sums[:] = 0.0
        for start in range(0, dZ.shape[1], span):
            upstream, output = dA[model, start:start + span], A[model, start:start + span]
            result = dZ[model, start:start + span]
            for t in range(result.shape[0]):
                v = upstream[t] if output[t] > zero else (alpha * upstream[t] if slope != 0.0 else zero)
                result[t] = v
                position_sums[t] += v
        if has_bias:
            _fold_columns(position_sums, k, db[model])


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


def _flat(*arrays):
    """1-D views of C-contiguous arrays, or None if any would need a copy."""
    if all(array.flags.c_contiguous for array in arrays):
        return [array.reshape(-1) for array in arrays]
    return None


def _rows(*arrays):
    """2-D ``(rows, n)`` views of C-contiguous update buffers (1-D: one row), or None."""
    if not all(array.flags.c_contiguous and array.ndim in (1, 2) for array in arrays):
        return None
    return [array.reshape(1, -1) if array.ndim == 1 else array for array in arrays]


def _stacked(array, ndim: int):
    """A single model's array as a stack of one (``(m, k) -> (1, m, k)``, a view) unless it already
    has the stacked ``ndim``."""
    return array if array.ndim == ndim else array[None]


def _model_rows(array):
    """``(m, k)`` or ``(P, m, k)`` activations as one flat row per model, ``(P, m k)``: a view of a
    C-contiguous array (a copy otherwise, so only ever pass written arrays that are contiguous)."""
    stack = _stacked(array, 3)
    return stack.reshape(stack.shape[0], -1)


def _per_row(rows: int, *values):
    """Each hyperparameter (a float, or a ``(P, 1)`` array) as a float64 vector of ``rows`` values."""
    vectors = [np.asarray(value, dtype=np.float64).reshape(-1) for value in values]
    return [vector if vector.shape[0] == rows else np.broadcast_to(vector, (rows,)) for vector in vectors]


class NumbaKernels(NumpyKernels):
    """NumPy kernels plus fused numba loops for the optimizer updates, the ReLU backward, and a Dense
    layer's bias with a following (leaky) ReLU (see :mod:`xpnet.fusion`)."""

    name = "numba"
    fused_activations = frozenset({"relu", "leaky_relu"})

    # A population's (P, m, k) arrays: NumPy broadcasts over tiny inner rows slowly; one loop does
    # not. Bias gradients, of one model or many, are summed in float64 (NumPy sums rows in float32).

    def add_bias(self, Z, b):
        if Z.ndim == 3 and b.ndim == 2:
            _add_bias(Z, b)
        else:
            super().add_bias(Z, b)

    def sum_rows(self, dZ, out):
        if dZ.ndim in (2, 3) and out.ndim == dZ.ndim - 1:
            _sum_rows(_model_rows(dZ), _stacked(out, 2), dZ.shape[-1])
        else:
            super().sum_rows(dZ, out)

    def activation_backward(self, name, dA, Z, A, out=None, **options):
        if name == "relu" and out is not None:
            flat = _flat(dA, Z, out)
            if flat is not None:
                _relu_backward(*flat)
                return out
        return super().activation_backward(name, dA, Z, A, out, **options)

    def bias_activation(self, name, Z, b, **options):
        stack = _stacked(Z, 3)
        has_bias = b is not None
        bias = _stacked(b, 2) if has_bias else stack[:, 0, :]  # unread without a bias
        _bias_leaky_relu(stack, bias, options.get("alpha", 0.0), has_bias)
        return Z

    def activation_bias_backward(self, name, dA, A, db, out, **options):
        out = np.empty_like(A) if out is None or not out.flags.c_contiguous else out
        has_bias = db is not None
        dZ = _model_rows(out)
        bias_grad = _stacked(db, 2) if has_bias else dZ  # unwritten without a bias
        upstream = _model_rows(dA if dA.shape == A.shape else np.broadcast_to(dA, A.shape))
        _leaky_relu_backward_bias(upstream, _model_rows(A), dZ, bias_grad, A.shape[-1],
                                  options.get("alpha", 0.0), has_bias)
        return out

    def sgd_update(self, p, g, lr):
        rows = _rows(p, g)
        if rows is None:
            return super().sgd_update(p, g, lr)
        _sgd(*rows, *_per_row(rows[0].shape[0], lr))

    def momentum_update(self, p, g, v, lr, beta, nesterov):
        rows = _rows(p, g, v)
        if rows is None:
            return super().momentum_update(p, g, v, lr, beta, nesterov)
        _momentum(*rows, *_per_row(rows[0].shape[0], lr, beta), nesterov)

    def rmsprop_update(self, p, g, s, lr, beta, eps):
        rows = _rows(p, g, s)
        if rows is None:
            return super().rmsprop_update(p, g, s, lr, beta, eps)
        _rmsprop(*rows, *_per_row(rows[0].shape[0], lr, beta, eps))

    def adam_update(self, p, g, v, s, lr, beta1, beta2, eps, correction1, root_correction2):
        rows = _rows(p, g, v, s)
        if rows is None:
            return super().adam_update(p, g, v, s, lr, beta1, beta2, eps, correction1, root_correction2)
        _adam(*rows, *_per_row(rows[0].shape[0], lr / correction1, beta1, beta2, eps, root_correction2))
