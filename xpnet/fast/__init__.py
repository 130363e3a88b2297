"""Optional fast paths that replace hot reference kernels on one backend.

``select_kernels`` picks the kernel set for a backend: the reference :class:`~xpnet.kernels.Kernels`
when fast paths are off, else NumPy's (``out=`` buffers, fused numba loops when numba is installed)
or CuPy's (cached ElementwiseKernels). One switch turns them all off: ``fast=False`` when making a
model, or the environment variable ``XPNET_FAST=0``.
"""
from __future__ import annotations

import importlib.util
import os

from xpnet.kernels import Kernels

ENVIRONMENT_SWITCH = "XPNET_FAST"


def fast_enabled(fast: bool | None) -> bool:
    """``fast`` if given, else the environment switch (on unless ``XPNET_FAST`` is 0/false/off/no)."""
    if fast is not None:
        return bool(fast)
    return os.environ.get(ENVIRONMENT_SWITCH, "1").strip().lower() not in ("0", "false", "off", "no")


def select_kernels(backend_name: str, xp, fast: bool | None = None) -> Kernels:
    """The kernel set for ``backend_name``: a fast path where one exists and is enabled."""
    if not fast_enabled(fast):
        return Kernels(xp)
    if backend_name == "numpy":
        if importlib.util.find_spec("numba") is not None:
            from xpnet.fast.numba import NumbaKernels

            return NumbaKernels(xp)
        from xpnet.fast.numpy import NumpyKernels

        return NumpyKernels(xp)
    if backend_name == "cupy":
        from xpnet.fast.cupy import CupyKernels

        return CupyKernels(xp)
    return Kernels(xp)
