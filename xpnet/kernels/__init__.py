"""Kernels: the operations a model runs, each the reference array-API function or a faster version of
it for one backend, bound to one namespace.

A :class:`Kernels` object has one attribute per operation in :data:`OPS` (``kernels.relu(Z, out=A)``),
with the calling convention of :mod:`xpnet.kernels.reference`. ``select_kernels`` builds it from a
chain of modules, the first module that defines an operation supplying it:

========================  =========  =====  =====  ====
operation                 reference  numpy  numba  cupy
========================  =========  =====  =====  ====
ewa_update                x                        x
dense_forward             x          x      x      n
weight_grad               x          x      n      n
bias_grad                 x          x      x      n
input_grad                x          x      n      n
relu                      x          x      n      n
relu_backward             x          x      x      x
leaky_relu                x
leaky_relu_backward       x                        x
tanh                      x
tanh_backward             x                        x
sigmoid                   x
sigmoid_backward          x                        x
dense_relu                x                 x      x
dense_leaky_relu          x                 x      x
relu_bias_backward        x                 x      x
leaky_relu_bias_backward  x                 x      x
dropout_mask              x
dropout                   x                        x
dropout_forward           x                        x
batchnorm_statistics      x
batchnorm_forward         x                        x
batchnorm_running_update  x                        x
batchnorm_backward        x                        x
binary_cross_entropy      x
softmax                   x
softmax_cross_entropy     x
mean_squared_error        x
binary_correct            x
softmax_correct           x
l2_penalty                x
add_l2_grad               x
sgd_update                x                 x      x
momentum_update           x                 x      x
rmsprop_update            x                 x      x
adam_update               x                 x      x
decay_weights             x
zero_rows                 x
random_bits               x                        x
random_uniform            x                        x
increment                 x                        x
gather_rows               x          x      n      x
select_row                x          x      n      x
record_at                 x          x      n      x
========================  =========  =====  =====  ====

``x``: the module defines the operation; ``n``: the set uses the NumPy fast path's version (written
against NumPy's API, which CuPy shares). The sets are: ``reference`` (any namespace), ``numpy``
(numpy, reference), ``numba`` (numba, numpy, reference) and ``cupy`` (cupy, numpy, reference). One
switch turns every fast path off: ``fast=False`` when making a model, or ``XPNET_FAST=0``.
"""
from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import types

from xpnet import checks
from xpnet.kernels import reference

ENVIRONMENT_SWITCH = "XPNET_FAST"

#: Every operation, in the order of :mod:`xpnet.kernels.reference`.
OPS = ("ewa_update", "dense_forward", "weight_grad", "bias_grad", "input_grad",
       "relu", "relu_backward", "leaky_relu", "leaky_relu_backward", "tanh", "tanh_backward",
       "sigmoid", "sigmoid_backward",
       "dense_relu", "dense_leaky_relu", "relu_bias_backward", "leaky_relu_bias_backward",
       "dropout_mask", "dropout", "dropout_forward",
       "batchnorm_statistics", "batchnorm_forward", "batchnorm_running_update", "batchnorm_backward",
       "binary_cross_entropy", "softmax", "softmax_cross_entropy", "mean_squared_error",
       "binary_correct", "softmax_correct",
       "l2_penalty", "add_l2_grad",
       "sgd_update", "momentum_update", "rmsprop_update", "adam_update", "decay_weights", "zero_rows",
       "random_bits", "random_uniform", "increment",
       "gather_rows", "select_row", "record_at")


class Kernels:
    """Every operation of :data:`OPS`, bound to its namespace; ``source[op]`` names the module that
    supplies it.

    ``chain`` lists ``(module, namespace)`` pairs, fastest first; each operation comes from the first
    module defining it and is called with that module's namespace (the array-API namespace for the
    reference, the native library for a fast path).
    """

    def __init__(self, name: str, chain: list):
        self.name = name
        self.source = {}
        for op in OPS:
            module, namespace = next((module, namespace) for module, namespace in chain
                                     if hasattr(module, op))
            setattr(self, op, functools.partial(getattr(module, op), namespace))
            self.source[op] = module.__name__.rsplit(".", 1)[-1]

    def is_fast(self, op: str) -> bool:
        """Whether ``op`` is a fast path's version rather than the reference."""
        return self.source[op] != "reference"

    def __repr__(self):
        return f"Kernels({self.name!r})"


def fast_enabled(fast: bool | None) -> bool:
    """``fast`` if given, else the environment switch (on unless ``XPNET_FAST`` is 0/false/off/no)."""
    fast = checks.optional_flag(fast, "fast")
    if fast is not None:
        return fast
    return os.environ.get(ENVIRONMENT_SWITCH, "1").strip().lower() not in ("0", "false", "off", "no")


def select_kernels(backend_name: str, xp, fast: bool | None = None) -> Kernels:
    """The kernel set for ``backend_name`` with array-API namespace ``xp``: a fast path where one
    exists and is enabled, else the reference."""
    if not fast_enabled(fast):
        return reference_kernels(xp)
    if backend_name == "numpy":
        import numpy

        fast_modules = ["numpy"] if importlib.util.find_spec("numba") is None else ["numba", "numpy"]
        return fast_kernels(fast_modules[0], [_module(name) for name in fast_modules], numpy, xp)
    if backend_name == "cupy":
        import cupy

        return fast_kernels("cupy", [_module("cupy"), _module("numpy")], cupy, xp)
    return reference_kernels(xp)


def reference_kernels(xp) -> Kernels:
    """The reference kernels alone, for namespace ``xp``."""
    return Kernels("reference", [(reference, xp)])


def fast_kernels(name: str, modules: list, native: types.ModuleType, xp) -> Kernels:
    """Fast-path ``modules`` (called with the ``native`` library) in front of the reference."""
    return Kernels(name, [(module, native) for module in modules] + [(reference, xp)])


def _module(name: str) -> types.ModuleType:
    return importlib.import_module(f"xpnet.kernels.{name}")
