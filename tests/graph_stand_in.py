"""Recording a training step on the CPU: a stand-in for CUDA-graph capture, a stand-in for nvmath's
``Matmul``, and a model whose backend looks like CuPy's but computes with NumPy.

:class:`RecordingCapture` records the kernel calls a step makes (without running them, as stream
capture does) and replays the list. While it records, asking the backend for a new array or reading a
device array back to the host raises, as they would break a real CUDA graph; any work a step does
outside its kernels, or any host value it bakes into a kernel call, shows as a replay that differs from
the eager step.
"""
from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import inspect
import pathlib
import sys
import types

import array_api_compat.numpy
import numpy as np

import xpnet as xn
import xpnet.kernels
import xpnet.kernels.numpy
from xpnet.backend import Backend
from xpnet.graphs import Capture
from xpnet.kernels import fast_kernels, reference
from xpnet.rng import CounterRandom

import cupy_stand_in


class HostAccessDuringRecording(AssertionError):
    """A recorded step allocated an array or read one back to the host."""


# nvmath's Matmul over NumPy --------------------------------------------------------------------

class _Epilog:
    BIAS, RELU, RELU_BIAS = "BIAS", "RELU", "RELU_BIAS"


class StandInMatmul:
    """``c = epilog(a @ b + bias)`` in place, as cuBLASLt computes it: the bias (length M, the rows of
    the result) is added along the rows. Checks what the real one requires of its operands."""

    executions = 0

    def __init__(self, a, b, /, c=None, *, alpha=None, beta=None, options=None, **unused):
        if c is None or not (options or {}).get("inplace") or beta != 0.0:
            raise ValueError("the products are planned in place into c with beta=0")
        if a.shape[:-2] != b.shape[:-2] or a.shape[-1] != b.shape[-2] or c.shape != a.shape[:-1] + b.shape[-1:]:
            raise ValueError(f"operands do not match: a {a.shape}, b {b.shape}, c {c.shape}")
        self.a, self.b, self.c = a, b, c
        self.epilog, self.bias = None, None

    def plan(self, epilog=None, epilog_inputs=None):
        self.epilog = epilog
        self.bias = (epilog_inputs or {}).get("bias")
        if (self.bias is not None) != (epilog in (_Epilog.BIAS, _Epilog.RELU_BIAS)):
            raise ValueError(f"epilog {epilog} and epilog inputs {epilog_inputs} do not go together")
        if self.bias is not None and self.bias.shape != self.a.shape[:-2] + self.a.shape[-2:-1]:
            raise ValueError(f"the bias runs along M ({self.a.shape[-2]}), got shape {self.bias.shape}")

    def execute(self, stream=None):
        StandInMatmul.executions += 1
        result = np.matmul(self.a, self.b)
        if self.bias is not None:
            result = result + self.bias[..., :, None]
        if self.epilog in (_Epilog.RELU, _Epilog.RELU_BIAS):
            result = np.maximum(result, 0.0)
        self.c[...] = result
        return self.c


def _stand_in_nvmath():
    advanced = types.SimpleNamespace(Matmul=StandInMatmul, MatmulEpilog=_Epilog)
    linalg = types.SimpleNamespace(advanced=advanced, ComputeType=types.SimpleNamespace(COMPUTE_32F_FAST_TF32=1))
    return types.SimpleNamespace(linalg=linalg)


def products_on_numpy(cupy_module):
    """A ``Products`` from ``xpnet/kernels/nvmath.py`` loaded against the stand-in CuPy, nvmath and CuPy
    kernel module."""
    path = pathlib.Path(xpnet.kernels.__file__).parent / "nvmath.py"
    spec = importlib.util.spec_from_file_location("stand_in.nvmath", path)
    module = importlib.util.module_from_spec(spec)
    stand_ins = {"cupy": cupy_stand_in.StandInCupy("cupy"), "nvmath": _stand_in_nvmath(),
                 "xpnet.kernels.cupy": cupy_module}
    saved = {name: sys.modules.get(name) for name in stand_ins}
    sys.modules.update(stand_ins)
    try:
        spec.loader.exec_module(module)
    finally:
        for name, previous in saved.items():
            if previous is None:
                del sys.modules[name]
            else:
                sys.modules[name] = previous
    return module.Products()


def recording_kernels():
    """The kernel set a CuPy step is recorded with (products through nvmath), over NumPy arrays."""
    cupy_module = cupy_stand_in.cupy_module_on_numpy()
    return fast_kernels("cupy-graph", [products_on_numpy(cupy_module), cupy_module, xpnet.kernels.numpy], np,
                        array_api_compat.numpy)


# A CuPy-like backend over NumPy --------------------------------------------------------------

class StandInGpuBackend(Backend):
    """Named ``cupy`` so that ``fit`` records its steps; NumPy arrays; nothing to activate."""

    def activate(self):
        return contextlib.nullcontext()


def stand_in_gpu_backend(backend=None, device="cpu", dtype="float32", seed=None, fast=None):
    """A backend named ``cupy`` that computes with NumPy through the CuPy kernel set (products through
    nvmath, as the recorded step has them), with the counter-based random stream on the device."""
    base = xn.resolve_backend("numpy", "cpu", dtype, seed, fast=False)
    fields = {field.name: getattr(base, field.name) for field in dataclasses.fields(base) if field.init}
    fields.update(name="cupy", device_name="cuda", kernels=recording_kernels() if fast is not False else base.kernels)
    gpu = StandInGpuBackend(**fields, seed=seed)
    object.__setattr__(gpu, "random", CounterRandom(seed, gpu))
    return gpu


# Recording ----------------------------------------------------------------------------------------

class RecordingKernels:
    """A kernel set whose calls run, or (while its capture records) are appended to the tape."""

    def __init__(self, kernels, capture: RecordingCapture):
        self._kernels, self._capture = kernels, capture
        self.name, self.source, self.is_fast = kernels.name, kernels.source, kernels.is_fast

    def __getattr__(self, op):
        function = getattr(self._kernels, op)

        def call(*args, **kwargs):
            tape = self._capture.tape
            if tape is None:
                return function(*args, **kwargs)
            if "out" in inspect.signature(getattr(reference, op)).parameters and kwargs.get("out") is None:
                raise HostAccessDuringRecording(f"{op} was recorded without out=: it would allocate")
            tape.append((function, args, kwargs))
            return kwargs.get("out")

        return call


class RecordingCapture(Capture):
    """Records kernel calls and replays them; counts what it did."""

    def __init__(self):
        self.recording = recording_kernels()
        self.tape = None
        self.recorded = self.replayed = 0

    def kernels(self, kernels):
        return RecordingKernels(self.recording, self)

    def record(self, run):
        run()
        tape = self.tape = []
        try:
            with _no_host_access():
                run()
        finally:
            self.tape = None
        self.recorded += 1

        def replay():
            self.replayed += 1
            for function, args, kwargs in tape:
                function(*args, **kwargs)

        return replay


@contextlib.contextmanager
def _no_host_access():
    """New device arrays and reads back to the host raise."""
    def refuse(*args, **kwargs):
        raise HostAccessDuringRecording("a recorded step allocated an array or read one to the host")

    readers = [module for name, module in sys.modules.items()
               if name.startswith("xpnet") and getattr(module, "to_numpy", None) is xn.backend.to_numpy]
    saved = Backend.empty, Backend.zeros, Backend.asarray, xn.backend.to_numpy
    Backend.empty = Backend.zeros = Backend.asarray = refuse
    for module in readers:
        module.to_numpy = refuse
    try:
        yield
    finally:
        Backend.empty, Backend.zeros, Backend.asarray = saved[:3]
        for module in readers:
            module.to_numpy = saved[3]
