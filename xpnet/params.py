"""Buffer bookkeeping: named arrays stored as views of one flat buffer (so an optimizer step touches
the whole model at once), and the reusable work buffers of a training step.

Layout: every entry subject to L2 / weight decay (the Dense weights) comes first, so "the decayed
parameters" is the slice ``flat[..., :n_decayed]``; biases and normalization parameters follow.
``xp.reshape(flat[..., o:o + n], lead + shape)`` is a write-through view on NumPy, CuPy, torch and
array-api-strict, so in-place updates of the flat buffer are seen by every layer.

A population of P stacked models has ``lead = (P,)``: the buffer is ``(P, size)``, one row per
model, so a per-model hyperparameter of shape ``(P, 1)`` broadcasts over the whole buffer.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from xpnet.backend import to_numpy


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """One named array: its full ``shape``, whether it is ``decayed`` (L2 / weight decay applies),
    and ``initial(rng, shape) -> numpy array`` giving its starting value on the host."""

    name: str
    shape: tuple
    initial: Callable
    decayed: bool = False

    @property
    def size(self) -> int:
        return math.prod(self.shape)


def fill(value):
    """An ``initial`` function giving a constant array (zeros for biases, ones for gamma)."""
    return lambda rng, shape: np.full(shape, float(value))


class Layout:
    """Where each named array lives in the flat buffer: ``offsets[name] = (start, stop)``."""

    def __init__(self, specs):
        self.names = [spec.name for spec in specs]
        self.shapes = {spec.name: tuple(spec.shape) for spec in specs}
        self.n_decayed = sum(spec.size for spec in specs if spec.decayed)
        self.offsets = {}
        offset = 0
        for spec in sorted(specs, key=lambda spec: not spec.decayed):
            self.offsets[spec.name] = (offset, offset + spec.size)
            offset += spec.size
        self.size = offset

    def pack(self, values: dict, lead: tuple = ()) -> np.ndarray:
        """name -> host array ``lead + shape``  to  one float64 host array ``lead + (size,)``
        (zeros where a name is absent)."""
        flat = np.zeros(lead + (self.size,))
        for name, value in values.items():
            start, stop = self.offsets[name]
            flat[..., start:stop] = np.asarray(value, dtype=np.float64).reshape(lead + (-1,))
        return flat

    def unpack(self, flat: np.ndarray) -> dict:
        """A host array ``lead + (size,)``  to  name -> host array ``lead + shape``, in layer order."""
        lead = flat.shape[:-1]
        return {name: flat[..., slice(*self.offsets[name])].reshape(lead + self.shapes[name])
                for name in self.names}


class FlatBuffer:
    """Arrays ``views[name]`` that are reshaped slices of one device array ``flat`` of shape
    ``lead + (size,)``."""

    def __init__(self, layout: Layout, backend, flat):
        self.layout = layout
        self.backend = backend
        self.flat = flat
        self.lead = tuple(flat.shape[:-1])
        xp = backend.xp
        self.views = {name: xp.reshape(flat[..., slice(*layout.offsets[name])],
                                       self.lead + layout.shapes[name])
                      for name in layout.names}

    @classmethod
    def from_host(cls, layout: Layout, backend, values: dict, lead: tuple = ()) -> FlatBuffer:
        """Pack host values and move them to the device in a single transfer."""
        return cls(layout, backend, backend.asarray(layout.pack(values, lead)))

    def zeros_like(self) -> FlatBuffer:
        """A buffer with the same layout, all zeros (gradients, optimizer moments)."""
        return FlatBuffer(self.layout, self.backend, self.backend.zeros(self.lead + (self.layout.size,)))

    def decayed(self):
        """The part of ``flat`` that L2 and weight decay act on, ``lead + (n_decayed,)`` (a view)."""
        return self.flat[..., :self.layout.n_decayed]

    def to_host(self) -> dict:
        """name -> NumPy copy, read from the device in one transfer."""
        return self.layout.unpack(to_numpy(self.flat))


class Workspace:
    """Reusable buffers of one kind of pass, one per ``(owner, name, shape)``, and the values a training
    forward pass saves for its backward pass (``saved[owner, name]``).

    A model keeps one Workspace for training, so a training step of a batch size seen before allocates
    nothing; every evaluation pass makes its own, so it never touches the training step's buffers.
    """

    def __init__(self, backend):
        self.backend = backend
        self.buffers = {}
        self.saved = {}

    def get(self, owner, name: str, shape, dtype=None):
        """The buffer ``(owner, name)`` of ``shape`` (created uninitialized on first use)."""
        key = (owner, name, tuple(shape), dtype)
        buffer = self.buffers.get(key)
        if buffer is None:
            buffer = self.buffers[key] = self.backend.empty(tuple(shape), dtype)
        return buffer


def per_model_array(backend, value, lead: tuple, trailing: int = 1):
    """A hyperparameter as the kernels use it: the float itself for one model (``lead == ()``), else a
    device array ``lead + (1,) * trailing`` with one value per model (a number is repeated)."""
    if not lead:
        return float(value)
    values = np.array(np.broadcast_to(np.asarray(value, dtype=np.float64), lead))
    return backend.asarray(values.reshape(lead + (1,) * trailing))
