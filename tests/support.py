"""Shared test helpers: which GPUs exist, the backend matrix, and comparisons after moving to NumPy."""
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
HAS_NUMBA = importlib.util.find_spec("numba") is not None
needs_numba = pytest.mark.skipif(not HAS_NUMBA, reason="needs numba (the fast extra)")
needs_cupy_gpu = pytest.mark.skipif(not HAS_CUPY_GPU, reason="needs CuPy and a CUDA GPU")

#: (backend, device) pairs; the GPU ones skip where no GPU is present.
BACKENDS = [
    pytest.param(("numpy", "cpu"), id="numpy"),
    pytest.param(("array_api_strict", "cpu"), id="strict"),
    pytest.param(("array_api_strict", "device1"), id="strict-device1"),
    pytest.param(("torch", "cpu"), id="torch"),
    pytest.param(("cupy", "cuda"), id="cupy", marks=needs_cupy_gpu),
    pytest.param(("torch", "cuda"), id="torch-cuda",
                 marks=pytest.mark.skipif(not HAS_TORCH_GPU, reason="needs torch with CUDA")),
]
CPU_BACKENDS = [param for param in BACKENDS if param.values[0][1] != "cuda"]


def host(array) -> np.ndarray:
    """Any backend array as NumPy."""
    return xn.to_numpy(array)


def assert_close(actual, expected, rtol=1e-7, atol=0.0):
    np.testing.assert_allclose(host(actual), host(expected), rtol=rtol, atol=atol)


class _Owner:
    """Stands in for the model that a layer belongs to."""


def standalone(layer, backend, input_dim: int):
    """``layer`` built for ``input_dim`` features and bound to ``backend`` outside any model (for layers
    without parameters); its passes take a :class:`~xpnet.params.Workspace`."""
    layer.build(input_dim)
    layer.bind(_Owner(), backend, {}, {}, {})
    return layer


def clusters(m, seed=0):
    """Three well separated Gaussian clusters in 3-D (labels 0, 1, 2), far from the origin and
    unevenly scaled, so standardization matters."""
    rng = np.random.default_rng(seed)
    labels = np.arange(m) % 3
    centers = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, 4.0], [0.0, 4.0, -4.0]])
    X = (centers[labels] + rng.normal(size=(m, 3))) * np.array([1.0, 100.0, 0.01]) + np.array([50, -7e3, 3])
    return X, labels
