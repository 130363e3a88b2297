"""What this installation can use: versions, backends and the devices they see, fast paths, BLAS
threads. ``xpnet info`` prints :func:`report`.

Every probe catches its own failures: a broken optional package is reported, never raised.
"""
from __future__ import annotations

import ctypes
import importlib
import importlib.util
import os
import platform
import sys

import numpy as np

import xpnet as xn


def report() -> str:
    """A few lines describing this installation."""
    lines = [f"xpnet {xn.__version__}",
             f"Python {platform.python_version()} ({sys.executable})",
             f"NumPy {np.__version__}",
             "backends:"]
    lines += [_row(*entry) for entry in backends()]
    lines.append("fast paths:" + ("  (off: XPNET_FAST=0)" if os.environ.get("XPNET_FAST") == "0" else ""))
    lines += [_row(*entry) for entry in fast_paths()]
    lines.append(f"BLAS: {blas_threads()}")
    return "\n".join(lines)


def _row(name: str, version: str | None, text: str) -> str:
    return f"  {name:<17} {version or '-':<14} {text}"


def version_of(module_name: str) -> str | None:
    """The installed version of a module, or None when it is not installed or does not import."""
    if importlib.util.find_spec(module_name) is None:
        return None
    try:
        return getattr(importlib.import_module(module_name), "__version__", "installed")
    except Exception:  # a broken installation counts as absent
        return None


def backends() -> list:
    """``(backend, version, devices)`` for numpy, torch, cupy and array_api_strict; ``devices`` lists
    the devices a model can be built on, or says why none."""
    rows = []
    for name, module, hint, devices in (
            ("numpy", "numpy", "", lambda: ["cpu"]),
            ("torch", "torch", "pip install torch", _torch_devices),
            ("cupy", "cupy", f"pip install 'xpnet[{cuda_extra()}]'", _cupy_devices),
            ("array_api_strict", "array_api_strict", "pip install array-api-strict", lambda: ["cpu"])):
        version = version_of(module)
        rows.append((name, version, _usable(name, devices()) if version else f"not installed ({hint})"))
    return rows


def _usable(backend: str, devices: list) -> str:
    """The devices on which ``xn.resolve_backend`` succeeds, and the first failure's reason."""
    usable, failures = [], []
    for device in devices:
        try:
            xn.resolve_backend(backend, device)
            usable.append(device)
        except Exception as error:
            failures.append(f"{device}: {error}")
    if not devices:
        return "no CUDA device"
    return ", ".join(usable) + ("" if not failures else f"  (unusable: {failures[0]})")


def cuda_extra() -> str:
    """The pip extra with CuPy for this machine: ``cuda12`` for a driver of CUDA 12, else ``cuda13``."""
    version = cuda_driver_version()
    return "cuda12" if version is not None and version[0] == 12 else "cuda13"


def cuda_driver_version() -> tuple | None:
    """``(major, minor)`` of the CUDA version the NVIDIA driver supports, from the driver library's
    ``cuDriverGetVersion`` (no CUDA toolkit or CuPy needed); None without a driver."""
    try:
        driver = ctypes.CDLL("nvcuda.dll" if sys.platform == "win32" else "libcuda.so.1")
        version = ctypes.c_int(0)
        if driver.cuDriverGetVersion(ctypes.pointer(version)) != 0:
            return None
    except (OSError, AttributeError):  # no driver library, or not NVIDIA's
        return None
    return version.value // 1000, version.value % 1000 // 10


def _torch_devices() -> list:
    import torch

    return ["cpu"] + [f"cuda:{index}" for index in range(torch.cuda.device_count())]


def _cupy_devices() -> list:
    try:
        import cupy

        return [f"cuda:{index}" for index in range(cupy.cuda.runtime.getDeviceCount())]
    except Exception:  # no driver or no device
        return []


def fast_paths() -> list:
    """``(package, version, what it speeds up)`` for numba and CuPy's kernels."""
    numba = version_of("numba")
    return [("numba", numba, "fused NumPy kernels" if numba else "not installed (pip install 'xpnet[fast]')"),
            ("cupy kernels", None, "with cupy on a CUDA device" if _cupy_devices() else "no CUDA device")]


def blas_threads() -> str:
    """The BLAS libraries NumPy uses and their thread counts (needs threadpoolctl)."""
    try:
        import threadpoolctl
    except ImportError:
        return "thread count unknown (pip install threadpoolctl)"
    pools = [pool for pool in threadpoolctl.threadpool_info() if pool.get("user_api") == "blas"]
    if not pools:
        return "no BLAS library found by threadpoolctl"
    return "; ".join(f"{pool['internal_api']} {pool.get('version') or ''}, {pool['num_threads']} threads"
                     for pool in pools)
