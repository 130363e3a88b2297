"""CuPy's fast-path kernels run on the CPU: ``xpnet/kernels/cupy.py`` loaded against a stand-in ``cupy``
module that is NumPy plus an ElementwiseKernel which evaluates each kernel's C statements with NumPy.

This checks what can go wrong without a GPU (argument order, which arrays are outputs, the formulas
as written, broadcasting of per-model hyperparameters); the CUDA compilation itself is left to the
GPU run. The stand-in reads the small subset of C the kernels use: statements ``out = expr``,
``out -= expr`` or ``T local = expr`` separated by ``;``, ``(T)`` casts, ``sqrt``, and one top-level
``c ? a : b``.
"""
from __future__ import annotations

import importlib.util
import pathlib
import re
import sys
import types

import array_api_compat.numpy
import numpy as np

import xpnet.kernels
import xpnet.kernels.numpy
from xpnet.kernels import fast_kernels

_STATEMENT = re.compile(r"^\s*(?:T\s+)?(\w+)\s*(-=|=)\s*(.+?)\s*$", re.S)


def _python_expression(expression: str) -> str:
    expression = expression.replace("(T)", "").replace("sqrt(", "np.sqrt(")
    if "?" not in expression:
        return expression
    condition, branches = expression.split("?", 1)
    when_true, when_false = branches.split(":", 1)
    return f"np.where({condition}, {when_true}, {when_false})"


class ElementwiseKernel:
    """``ElementwiseKernel(in_params, out_params, operation, name)`` evaluated with NumPy."""

    def __init__(self, in_params: str, out_params: str, operation: str, name: str, **options):
        self.inputs = [param.split()[-1] for param in in_params.split(",")]
        self.outputs = [param.split()[-1] for param in out_params.split(",")]
        self.statements = [_STATEMENT.match(text).groups() for text in operation.split(";") if text.strip()]
        self.name = name

    def __call__(self, *args):
        if len(args) not in (len(self.inputs), len(self.inputs) + len(self.outputs)):
            raise TypeError(f"{self.name} takes {len(self.inputs)} inputs and optionally "
                            f"{len(self.outputs)} outputs, got {len(args)} arguments")
        inputs = args[:len(self.inputs)]
        arrays = [value for value in inputs if isinstance(value, np.ndarray)]
        outputs = list(args[len(self.inputs):]) or [
            np.empty(np.broadcast_shapes(*(a.shape for a in arrays)), dtype=np.result_type(*arrays))
            for _ in self.outputs]
        names = dict(zip(self.inputs, inputs)) | dict(zip(self.outputs, outputs))
        for target, operator, expression in self.statements:
            value = eval(_python_expression(expression), {"np": np}, names)  # noqa: S307 (test-only)
            if target not in self.outputs:
                names[target] = value  # a local
            elif operator == "=":
                names[target][...] = value
            else:
                names[target][...] -= value
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


class _StandInCupy(types.ModuleType):
    """NumPy under CuPy's name, with the stand-in ElementwiseKernel."""

    ElementwiseKernel = ElementwiseKernel

    def __getattr__(self, name):
        return getattr(np, name)


def cupy_module_on_numpy() -> types.ModuleType:
    """``xpnet/kernels/cupy.py`` loaded with the stand-in as its ``cupy`` (named ``stand_in.cupy``)."""
    path = pathlib.Path(xpnet.kernels.__file__).parent / "cupy.py"
    spec = importlib.util.spec_from_file_location("stand_in.cupy", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = _StandInCupy("cupy")
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            del sys.modules["cupy"]
        else:
            sys.modules["cupy"] = saved
    return module


def cupy_kernels_on_numpy():
    """The CuPy kernel set (cupy.py, then the NumPy fast path, then the reference) over NumPy arrays."""
    return fast_kernels("cupy", [cupy_module_on_numpy(), xpnet.kernels.numpy], np, array_api_compat.numpy)
