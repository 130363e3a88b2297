"""Matrix products that a CUDA graph can record: nvmath-python's cuBLASLt ``Matmul`` on CuPy arrays.

CuPy's own products go through cuBLAS, which refuses stream capture; a cuBLASLt ``Matmul`` planned once
for its operand buffers can be recorded and replayed, and it fuses a Dense layer's bias and ReLU into
the product (the ``BIAS`` and ``RELU_BIAS`` epilogues). :class:`Products` supplies the four products of
a training step (``dense_forward``, ``dense_relu``, ``dense_leaky_relu``, ``weight_grad``,
``input_grad``): each is planned on its first call for its arrays (the step's persistent buffers) and
the plan, which keeps those arrays alive, is reused for every later call and every replay.

Layouts: cuBLASLt adds the bias along the rows of its result, so ``Z = X W + b`` (rows are samples) is
computed as ``Z^T = W^T X^T`` with the bias along ``Z^T``'s rows, written in place into ``Z`` seen
transposed. A population's products are batched over its leading axis; its bias and activation are
then one CuPy kernel over the product, and an input shared by every model (the first layer's
mini-batch) is first copied once per step into a stacked buffer.
"""
from __future__ import annotations

import os

import cupy
import nvmath

from xpnet.kernels import cupy as cupy_kernels
from xpnet.kernels import numpy as numpy_kernels

#: Full float32 products unless CuPy's own switch asks for TF32, so that both paths compute alike.
TF32 = os.environ.get("CUPY_TF32", "0") == "1"


class Products:
    """The step's products, each planned once per set of operand buffers (see the module notes)."""

    __name__ = "nvmath"

    def __init__(self):
        self.plans = {}
        self.stacked_inputs = {}

    def dense_forward(self, xp, X, W, b, *, out=None):
        if out is None:
            return numpy_kernels.dense_forward(cupy, X, W, b)
        if W.ndim == 2:
            return self._transposed_product("dense_forward", X, W, b, out, "BIAS" if b is not None else None)
        self._transposed_product("dense_forward", X, W, None, out, None)
        if b is not None:
            out += b[..., None, :]
        return out

    def dense_relu(self, xp, X, W, b, *, out=None):
        if out is None:
            return cupy_kernels.dense_relu(cupy, X, W, b)
        if W.ndim == 2:
            return self._transposed_product("dense_relu", X, W, b, out, "RELU_BIAS" if b is not None else "RELU")
        return cupy_kernels.add_bias_and_relu(self._transposed_product("dense_relu", X, W, None, out, None), b)

    def dense_leaky_relu(self, xp, X, W, b, *, alpha, out=None):
        if out is None:
            return cupy_kernels.dense_leaky_relu(cupy, X, W, b, alpha=alpha)
        product = self._transposed_product("dense_leaky_relu", X, W, None, out, None)
        return cupy_kernels.add_bias_and_leaky_relu(product, b, alpha)

    def weight_grad(self, xp, X, dZ, *, out=None):
        """``dW = X^T dZ``."""
        if out is None:
            return numpy_kernels.weight_grad(cupy, X, dZ)
        X = self._stacked(X, dZ)
        return self._execute(("weight_grad", id(X), id(dZ), id(out)), cupy.swapaxes(X, -1, -2), dZ, out, None,
                             None, (X, dZ, out))

    def input_grad(self, xp, dZ, W, *, out=None):
        """``dX = dZ W^T``."""
        if out is None:
            return numpy_kernels.input_grad(cupy, dZ, W)
        return self._execute(("input_grad", id(dZ), id(W), id(out)), dZ, cupy.swapaxes(W, -1, -2), out, None, None,
                             (dZ, W, out))

    def _transposed_product(self, name, X, W, b, out, epilog):
        """``out = epilog(X W + b)`` as ``out^T = epilog(W^T X^T + b)``."""
        X = self._stacked(X, W)
        key = (name, id(X), id(W), id(b), id(out), epilog)
        self._execute(key, cupy.swapaxes(W, -1, -2), cupy.swapaxes(X, -1, -2), cupy.swapaxes(out, -1, -2),
                      epilog, b, (X, W, b, out))
        return out

    def _stacked(self, X, W):
        """A population's shared input ``(m, n)`` copied into a ``(P, m, n)`` buffer (kept, and refilled
        at every call), so that every operand of a batched product has the batch axis."""
        if X.ndim == W.ndim:
            return X
        key = (id(X), W.shape[:-2])
        if key not in self.stacked_inputs:
            self.stacked_inputs[key] = (X, cupy.empty(W.shape[:-2] + X.shape, dtype=X.dtype))
        stacked = self.stacked_inputs[key][1]
        cupy.copyto(stacked, X)
        return stacked

    def _execute(self, key, a, b, c, epilog, bias, keep):
        """``c = epilog(a @ b + bias)`` in place, with the plan made on the first call for ``key``."""
        if key not in self.plans:
            options = {"inplace": True}
            if TF32:
                options["compute_type"] = nvmath.linalg.ComputeType.COMPUTE_32F_FAST_TF32
            product = nvmath.linalg.advanced.Matmul(a, b, c=c, beta=0.0, options=options)
            product.plan(epilog=None if epilog is None else getattr(nvmath.linalg.advanced.MatmulEpilog, epilog),
                         epilog_inputs=None if bias is None else {"bias": bias})
            self.plans[key] = (product, keep)
        self.plans[key][0].execute(stream=cupy.cuda.get_current_stream())
        return c
