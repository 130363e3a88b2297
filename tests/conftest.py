"""The backend matrix every test runs on, and small helpers shared by the tests."""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import xpnet as xn


def _cupy_gpu() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # no driver, no device: skip cleanly
        return False


def _torch_gpu() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return torch.cuda.is_available()


HAS_CUPY_GPU = _cupy_gpu()
HAS_TORCH_GPU = _torch_gpu()

#: (backend, device) pairs; the GPU ones skip where no GPU is present.
BACKENDS = [
    pytest.param(("numpy", "cpu"), id="numpy"),
    pytest.param(("array_api_strict", "cpu"), id="strict"),
    pytest.param(("array_api_strict", "device1"), id="strict-device1"),
    pytest.param(("torch", "cpu"), id="torch"),
    pytest.param(("cupy", "cuda"), id="cupy",
                 marks=pytest.mark.skipif(not HAS_CUPY_GPU, reason="needs CuPy and a CUDA GPU")),
    pytest.param(("torch", "cuda"), id="torch-cuda",
                 marks=pytest.mark.skipif(not HAS_TORCH_GPU, reason="needs torch with CUDA")),
]
CPU_BACKENDS = [param for param in BACKENDS if param.values[0][1] != "cuda"]


@pytest.fixture(params=BACKENDS)
def where(request) -> dict:
    """``{"backend": ..., "device": ...}``, ready to pass to ``xn.Sequential`` or ``resolve_backend``."""
    backend, device = request.param
    return {"backend": backend, "device": device}


@pytest.fixture(params=CPU_BACKENDS)
def cpu_where(request) -> dict:
    backend, device = request.param
    return {"backend": backend, "device": device}


def host(array) -> np.ndarray:
    """Any backend array as NumPy."""
    return xn.to_numpy(array)


def assert_close(actual, expected, rtol=1e-7, atol=0.0):
    np.testing.assert_allclose(host(actual), host(expected), rtol=rtol, atol=atol)
