"""Host-to-device copies of data chunks, the next chunk's copy overlapping the work on the current one.

A copier moves a tuple of host arrays (a chunk's features, targets and weights, already in the
model's dtype; None entries stay None) to the device in two steps: ``start`` begins the copy and
``finish`` hands out the device arrays once the model's work may use them; ``release`` says the
work on a chunk has been queued, so its buffers may be filled again. :func:`prefetched` drives a
copier over a stream of chunks, starting chunk ``i + 1`` before handing out chunk ``i``.

:class:`Copies` copies at once (NumPy, torch, array-api-strict). :class:`CudaCopies` (CuPy) stages
each chunk in pinned host memory and copies it on a second CUDA stream into one of two device buffers,
with events ordering the streams: the compute stream waits for a chunk's copy before using it, and the
copy into a buffer waits until the compute stream has finished with the chunk held there before.
Its logic is tested on the CPU against a stand-in CUDA module that checks this ordering; it has not
been run on a GPU.
"""
from __future__ import annotations

import dataclasses
import importlib
from typing import Any

import numpy as np


class Copies:
    """Copies that complete at once: ``backend.asarray`` of each array."""

    asynchronous = False

    def __init__(self, backend):
        self.backend = backend

    def start(self, arrays: tuple):
        return tuple(None if array is None else self.backend.asarray(array) for array in arrays)

    def finish(self, ticket) -> tuple:
        return ticket

    def release(self, ticket) -> None:
        """Nothing to do: every chunk has its own device arrays."""


@dataclasses.dataclass
class _Slot:
    """One of the two places a chunk can occupy: per array, pinned host memory and device memory
    (flat, grown to the largest chunk seen); ``copied`` is recorded on the copy stream once the
    chunk's copies are queued, ``free`` on the compute stream once the work on the chunk is queued."""

    copied: Any
    free: Any
    pinned: list = dataclasses.field(default_factory=list)
    device: list = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class _Ticket:
    slot: _Slot
    arrays: tuple


class CudaCopies:
    """Double-buffered asynchronous copies on a second CUDA stream from pinned host memory (CuPy).

    ``cuda`` is the ``cupy`` module (a stand-in in tests). Buffers grow to the largest chunk seen and
    are then reused, so a stream of equal chunks allocates only while filling the two slots."""

    asynchronous = True

    def __init__(self, backend, cuda=None):
        self.cuda = importlib.import_module("cupy") if cuda is None else cuda
        self.backend = backend
        with backend.activate():
            self.stream = cuda.cuda.Stream(non_blocking=True)
            self.slots = [_Slot(self._event(), self._event()) for _ in range(2)]
        self.next = 0

    def _event(self):
        return self.cuda.cuda.Event(disable_timing=True)

    def start(self, arrays: tuple) -> _Ticket:
        """Stage ``arrays`` in the next slot's pinned memory and queue their copies on the copy stream."""
        slot = self.slots[self.next]
        self.next = 1 - self.next
        slot.copied.synchronize()  # the copies out of this slot's pinned memory are done
        with self.backend.activate():
            grew = self._fit(slot, arrays)
            if grew:  # new device memory may be a block the compute stream has just given up
                self.stream.wait_event(self._recorded_on_compute())
            self.stream.wait_event(slot.free)  # the work on the chunk held here before is done
            device: list = []
            for index, array in enumerate(arrays):
                if array is None:
                    device.append(None)
                    continue
                size = array.size
                pinned = slot.pinned[index][:size].reshape(array.shape)
                pinned[...] = array
                target = slot.device[index][:size].reshape(array.shape)
                target.set(pinned, stream=self.stream)
                device.append(target)
            slot.copied.record(self.stream)
        return _Ticket(slot, tuple(device))

    def _fit(self, slot: _Slot, arrays: tuple) -> bool:
        """Grow the slot's buffers to hold ``arrays``; whether any device memory was allocated."""
        dtype = np.dtype(self.backend.dtype)
        grew = False
        for index, array in enumerate(arrays):
            if index == len(slot.pinned):
                slot.pinned.append(np.empty(0, dtype))
                slot.device.append(None)
            if array is not None and slot.pinned[index].size < array.size:
                memory = self.cuda.cuda.alloc_pinned_memory(array.size * dtype.itemsize)
                slot.pinned[index] = np.frombuffer(memory, dtype=dtype, count=array.size)
                slot.device[index] = self.cuda.empty(array.size, dtype=dtype)
                grew = True
        return grew

    def _recorded_on_compute(self):
        event = self._event()
        event.record(self.cuda.cuda.get_current_stream())
        return event

    def finish(self, ticket: _Ticket) -> tuple:
        """The chunk's device arrays, once the compute stream has been told to wait for their copy."""
        self.cuda.cuda.get_current_stream().wait_event(ticket.slot.copied)
        return ticket.arrays

    def release(self, ticket: _Ticket) -> None:
        """The work on this chunk is queued: its slot may be refilled once that work is done."""
        ticket.slot.free.record(self.cuda.cuda.get_current_stream())


def copies_for(backend):
    """The copier for a backend: :class:`CudaCopies` for CuPy, :class:`Copies` elsewhere."""
    return CudaCopies(backend) if backend.name == "cupy" else Copies(backend)


def prefetched(chunks, copies):
    """Device chunks from host ``chunks`` (tuples of host arrays); with an asynchronous copier the
    copy of the next chunk is started before the current one is handed out."""
    pending = None
    for chunk in chunks:
        ticket = copies.start(chunk)
        if not copies.asynchronous:
            yield copies.finish(ticket)
            continue
        if pending is not None:
            yield copies.finish(pending)
            copies.release(pending)
        pending = ticket
    if pending is not None:
        yield copies.finish(pending)
        copies.release(pending)
