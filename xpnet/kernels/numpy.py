"""NumPy fast path: matrix products and ReLU written straight into the caller's buffers (``out=``).

The reference writes a fresh result and then copies it into the buffer; NumPy's own ``out=`` skips
both the multi-megabyte temporary (a page fault per step) and the copy. These functions are written
against NumPy's API, which CuPy shares, so the CuPy kernel set uses them too: ``xp`` is the native
module (``numpy`` or ``cupy``), not an array-API wrapper.
"""
from __future__ import annotations


def dense_forward(xp, X, W, b, *, out=None):
    """``Z = X W + b`` (b may be None), the product written into ``out``."""
    Z = xp.matmul(X, W, out=out)
    if b is not None:
        Z += b[..., None, :]
    return Z


def weight_grad(xp, X, dZ, *, out=None):
    """``dW = X^T dZ``."""
    return xp.matmul(xp.swapaxes(X, -1, -2), dZ, out=out)


def bias_grad(xp, dZ, *, out=None):
    """``db = sum over the samples of dZ``."""
    return xp.sum(dZ, axis=-2, out=out)


def input_grad(xp, dZ, W, *, out=None):
    """``dX = dZ W^T``."""
    return xp.matmul(dZ, xp.swapaxes(W, -1, -2), out=out)


def relu(xp, Z, *, out=None):
    """``max(Z, 0)``."""
    return xp.maximum(Z, 0, out=out)


def relu_backward(xp, dA, Z, *, out=None):
    """``dA * [Z > 0]``."""
    return xp.multiply(dA, Z > 0, out=out)


def gather_rows(xp, X, order, it, *, stride, out):
    """Mini-batch ``it``: rows ``order[it * stride + r]`` of X (``it * stride + r`` without an order),
    taken straight into ``out``."""
    start = int(it) * stride
    if order is None:
        out[...] = X[start:start + out.shape[0]]
        return out
    return xp.take(X, order[start:start + out.shape[0]], axis=0, out=out)


def select_row(xp, table, it, *, out):
    """``out = table[it]``, indexed on the host (one small copy instead of a gather)."""
    out[...] = table[int(it)]
    return out


def record_at(xp, series, value, it):
    """``series[it] = value``, written in place on the host (instead of a masked rewrite of the series)."""
    series[int(it)] = value
