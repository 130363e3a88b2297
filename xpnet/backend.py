"""Backend resolution: which array namespace, device, dtype and random source a model uses.

A :class:`Backend` is built once when a model is made and passed down to every kernel, so the
math never asks "which library is this?" again. Supported backends:

========================  ===================================  ==================================
``backend=``              ``device=``                          arrays
========================  ===================================  ==================================
``"numpy"``               ``"cpu"``                            NumPy (the default for ``"cpu"``)
``"cupy"``                ``"cuda"``, ``"cuda:N"``             CuPy (the default for ``"cuda"``)
``"torch"``               ``"cpu"``, ``"cuda"``, ``"cuda:N"``  torch tensors
``"array_api_strict"``    ``"cpu"``, ``"device1"``, ...        array-api-strict (testing)
========================  ===================================  ==================================
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Any

import numpy as np

from xpnet import checks
from xpnet.kernels import Kernels, select_kernels

BACKENDS = ("numpy", "cupy", "torch", "array_api_strict")
_CUDA_INSTALL_HINT = ("install CuPy and nvmath-python for the driver's CUDA version: "
                      "pip install 'xpnet[cuda13]' or 'xpnet[cuda12]' (`xpnet info` says which)")


@dataclasses.dataclass(frozen=True, eq=False)
class Backend:
    """Everything a kernel needs: namespace ``xp``, ``device``, ``dtype``, ``random`` source and the
    ``kernels`` in use (the reference, or a fast path for this backend).

    ``name`` is one of :data:`BACKENDS`; ``device_name`` is the user's spelling (``"cpu"``,
    ``"cuda:0"``, ``"device1"``) and is what gets saved.
    """

    name: str
    device_name: str
    xp: Any
    device: Any
    dtype: Any
    dtype_name: str
    kernels: Kernels
    seed: dataclasses.InitVar[int | None] = None
    random: Any = dataclasses.field(init=False)

    def __post_init__(self, seed):
        from xpnet.rng import make_random_source

        object.__setattr__(self, "random", make_random_source(self, seed))

    def asarray(self, values, dtype=None):
        """Move host data (NumPy array, list, scalar) to this backend's device in one transfer."""
        if dtype is None:
            dtype = self.dtype
        if namespace_name(values) == self.name:
            return self.xp.asarray(values, dtype=dtype, device=self.device)
        host = np.asarray(values)
        return self.xp.asarray(host, dtype=dtype, device=self.device)

    def zeros(self, shape, dtype=None):
        """A zero array of ``shape`` on this device."""
        with self.activate():  # CuPy's creation functions use the current GPU, whatever device= says
            return self.xp.zeros(shape, dtype=self.dtype if dtype is None else dtype, device=self.device)

    def empty(self, shape, dtype=None):
        """An uninitialized array of ``shape`` on this device."""
        with self.activate():
            return self.xp.empty(shape, dtype=self.dtype if dtype is None else dtype, device=self.device)

    def synchronize(self) -> None:
        """Wait until queued device work is done (a no-op on the CPU); call before reading a clock."""
        if self.name == "cupy":
            import cupy

            cupy.cuda.get_current_stream().synchronize()
        elif self.name == "torch" and self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)

    def activate(self):
        """A context in which CuPy launches work on this model's GPU (a no-op elsewhere)."""
        return self.device if self.name == "cupy" else contextlib.nullcontext()


def to_numpy(array) -> np.ndarray:
    """A NumPy copy of any supported array (NumPy, CuPy, torch, array-api-strict on any device).

    Always a copy, never a view, so later in-place updates of ``array`` do not show through.
    """
    kind = namespace_name(array)
    if kind == "cupy":
        return array.get()
    if kind == "torch":
        return array.detach().cpu().numpy().copy()
    if kind == "array_api_strict":
        import array_api_strict

        return np.array(array.to_device(array_api_strict.Device("CPU_DEVICE")), copy=True)
    return np.array(array, copy=True)


def resolve_backend(backend: str | None = None, device: str = "cpu", dtype="float32",
                    seed: int | None = None, fast: bool | None = None) -> Backend:
    """Build a :class:`Backend` from user strings (``dtype`` may also be a NumPy type or dtype, see
    :func:`xpnet.checks.dtype_name`), with errors that say what was expected.

    ``fast``: use this backend's fast path if it has one (None: on unless ``XPNET_FAST=0``).
    """

    if not isinstance(device, str):
        raise TypeError(f"device must be a string such as 'cpu' or 'cuda:0', got {device!r}")
    dtype = checks.dtype_name(dtype)
    if backend is None:
        backend = "cupy" if device.startswith("cuda") else "numpy"
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    xp, device_object = _NAMESPACE_LOADERS[backend](device)
    return Backend(name=backend, device_name=device, xp=xp, device=device_object,
                   dtype=getattr(xp, dtype), dtype_name=dtype, kernels=select_kernels(backend, xp, fast),
                   seed=seed)


def _cuda_index(device: str, gpu_backend: str | None = None) -> int:
    """N of ``'cuda'`` (0) or ``'cuda:N'``; ``gpu_backend`` names a backend that only runs on a GPU."""
    if device == "cuda":
        return 0
    prefix, _, index = device.partition(":")
    if prefix != "cuda" or not index.isdigit():
        why = f"the {gpu_backend} backend runs on a CUDA GPU: " if gpu_backend else ""
        raise ValueError(f"{why}device must be 'cuda' or 'cuda:N' for a GPU, got {device!r}")
    return int(index)


def _load_numpy(device: str):
    if device != "cpu":
        raise ValueError(f"device must be 'cpu' for the numpy backend, got {device!r} "
                         "(use device='cuda' for CuPy)")
    import array_api_compat.numpy as xp

    return xp, "cpu"


def _load_cupy(device: str):
    index = _cuda_index(device, gpu_backend="cupy")
    try:
        import array_api_compat.cupy as xp
        import cupy
    except ImportError as error:
        raise ImportError(f"device={device!r} needs CuPy, which is not installed; "
                          f"{_CUDA_INSTALL_HINT}") from error
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as error:
        raise RuntimeError(f"device={device!r}: CuPy found no usable CUDA GPU ({error}); "
                           "use device='cpu'") from error
    if index >= count:
        raise ValueError(f"device={device!r}: only {count} CUDA GPU(s) are present")
    return xp, cupy.cuda.Device(index)


def _load_torch(device: str):
    try:
        import array_api_compat.torch as xp
        import torch
    except ImportError as error:
        raise ImportError("backend='torch' needs PyTorch: pip install torch") from error
    if device != "cpu":
        _cuda_index(device)
        if not torch.cuda.is_available():
            raise RuntimeError(f"device={device!r}: torch sees no CUDA GPU; use device='cpu'")
    return xp, torch.device(device)


def _load_strict(device: str):
    try:
        import array_api_strict as xp
    except ImportError as error:
        raise ImportError("backend='array_api_strict' needs: pip install array-api-strict") from error
    name = "CPU_DEVICE" if device in ("cpu", "CPU_DEVICE") else device
    try:
        return xp, xp.Device(name)
    except ValueError as error:
        raise ValueError(f"device={device!r} is not an array_api_strict device; expected 'cpu', "
                         "'device1' or 'device2'") from error


_NAMESPACE_LOADERS = {"numpy": _load_numpy, "cupy": _load_cupy, "torch": _load_torch,
                      "array_api_strict": _load_strict}


def namespace_name(array) -> str | None:
    """Which backend an array belongs to, by its type's module, without importing anything."""
    module = type(array).__module__.split(".")[0]
    return {"numpy": "numpy", "cupy": "cupy", "torch": "torch",
            "array_api_strict": "array_api_strict"}.get(module)
