"""NumPy fast path: results written into reusable buffers (``out=``) instead of fresh arrays.

Fresh multi-megabyte temporaries cost page faults on every step; writing the matrix products
straight into preallocated activations and into the gradient buffer's views removes them and the
copy into the gradient buffer.
"""
from __future__ import annotations

import numpy as np

from xpnet.kernels import Kernels


class NumpyKernels(Kernels):
    """Reference kernels with ``out=`` matrix products and ReLU into reusable buffers.

    ``module`` is the array library called directly (NumPy here; the CuPy fast path reuses these
    methods with CuPy, whose functions take the same ``out=`` arguments).
    """

    name = "numpy"
    uses_buffers = True
    module = np

    def dense_forward(self, X, W, b, out=None):
        Z = self.module.matmul(X, W, out=out)
        if b is not None:
            self.add_bias(Z, b)
        return Z

    def dense_backward(self, dZ, X, W, dW, db, need_dX, dX_out=None):
        module = self.module
        module.matmul(module.swapaxes(X, -1, -2), dZ, out=dW)
        if db is not None:
            self.sum_rows(dZ, db)
        return module.matmul(dZ, module.swapaxes(W, -1, -2), out=dX_out) if need_dX else None

    def add_bias(self, Z, b):
        """In place: ``Z += b`` over the sample axis (``Z (..., m, k)``, ``b (..., k)``)."""
        Z += b[..., None, :]

    def sum_rows(self, dZ, out):
        """``out = sum_m dZ`` (the bias gradient), written into ``out``."""
        self.module.sum(dZ, axis=-2, out=out)

    def activation_forward(self, name, Z, out=None, **options):
        if name == "relu":
            return self.module.maximum(Z, 0, out=out)
        return super().activation_forward(name, Z, out, **options)

    def activation_backward(self, name, dA, Z, A, out=None, **options):
        if name == "relu":
            return self.module.multiply(dA, Z > 0, out=out)
        return super().activation_backward(name, dA, Z, A, out, **options)
