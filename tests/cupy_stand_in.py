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

_STATEMENT = re.compile(r"^\s*(?:(?:T|long long|unsigned long long)\s+)?(\w+)(\[.+?\])?\s*(-=|\+=|=)\s*(.+?)\s*$",
                        re.S)
_CASTS = re.compile(r"\((?:T|float|double)\)")
_FLOAT_SUFFIX = re.compile(r"(\d)f\b")


def _python_expression(expression: str) -> str:
    expression = _FLOAT_SUFFIX.sub(r"\1", _CASTS.sub("", expression)).replace("sqrt(", "np.sqrt(")
    if "?" not in expression:
        return expression
    condition, branches = expression.split("?", 1)
    when_true, when_false = branches.split(":", 1)
    return f"np.where({condition}, {when_true}, {when_false})"


def _splitmix64(key, numbers):
    from xpnet.kernels import reference

    return reference.splitmix64(np, int(key), np.asarray(numbers, dtype=np.uint64))


#: C functions the kernels' preambles define, as NumPy functions.
DEVICE_FUNCTIONS = {"xpnet_splitmix64": _splitmix64}


def _parameters(text: str) -> list:
    """``(name, raw)`` for each entry of a parameter list such as ``"raw T X, int64 stride"``."""
    return [(words[-1], words[0] == "raw") for words in (param.split() for param in text.split(","))]


class ElementwiseKernel:
    """``ElementwiseKernel(in_params, out_params, operation, name)`` evaluated with NumPy: ``raw``
    arguments are seen flat and indexed, the others broadcast against each other."""

    def __init__(self, in_params: str, out_params: str, operation: str, name: str, **options):
        self.inputs = _parameters(in_params)
        self.outputs = _parameters(out_params)
        self.statements = [_STATEMENT.match(text).groups() for text in operation.split(";") if text.strip()]
        self.name = name

    def __call__(self, *args):
        if len(args) not in (len(self.inputs), len(self.inputs) + len(self.outputs)):
            raise TypeError(f"{self.name} takes {len(self.inputs)} inputs and optionally "
                            f"{len(self.outputs)} outputs, got {len(args)} arguments")
        inputs = args[:len(self.inputs)]
        arrays = [value for value, (_, raw) in zip(inputs, self.inputs) if isinstance(value, np.ndarray) and not raw]
        outputs = list(args[len(self.inputs):]) or [
            np.empty(np.broadcast_shapes(*(a.shape for a in arrays)), dtype=np.result_type(*arrays))
            for _ in self.outputs]
        names = {name: value.reshape(-1) if raw else value
                 for (name, raw), value in zip(self.inputs + self.outputs, list(inputs) + outputs)}
        output_names = [name for name, _ in self.outputs]
        scope = {"np": np, **DEVICE_FUNCTIONS}
        for target, index, operator, expression in self.statements:
            value = eval(_python_expression(expression), scope, names)  # noqa: S307 (test-only)
            if target not in output_names:
                names[target] = value  # a local
                continue
            place = eval(index[1:-1], scope, names) if index else ...  # noqa: S307
            if operator == "=":
                names[target][place] = value
            elif operator == "+=":
                names[target][place] += value
            else:
                names[target][place] -= value
        return outputs[0] if len(outputs) == 1 else tuple(outputs)


class StandInCupy(types.ModuleType):
    """NumPy under CuPy's name, with the stand-in ElementwiseKernel."""

    ElementwiseKernel = ElementwiseKernel
    cuda = types.SimpleNamespace(Device=lambda: types.SimpleNamespace(id=0), get_current_stream=lambda: None)

    def __getattr__(self, name):
        return getattr(np, name)


def cupy_module_on_numpy() -> types.ModuleType:
    """``xpnet/kernels/cupy.py`` loaded with the stand-in as its ``cupy`` (named ``stand_in.cupy``)."""
    path = pathlib.Path(xpnet.kernels.__file__).parent / "cupy.py"
    spec = importlib.util.spec_from_file_location("stand_in.cupy", path)
    module = importlib.util.module_from_spec(spec)
    saved = sys.modules.get("cupy")
    sys.modules["cupy"] = StandInCupy("cupy")
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
