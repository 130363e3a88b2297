"""Where training and evaluation data come from, handed out as device arrays ``(X, Y, W)``.

* :class:`DeviceArrays`: arrays held in memory, checked and moved to the device once; mini-batches
  are gathered there (the fastest path, for data that fits).
* :class:`HostArrays`: memory-mapped files (``np.memmap``, ``np.load(..., mmap_mode="r")``) and other
  out-of-memory arrays (anything with ``shape``, ``dtype`` and row indexing, such as h5py or zarr
  arrays), of any float dtype, read a chunk of rows at a time and converted to the model's dtype.
  Chunks hold about :data:`CHUNK_BYTES` of model-dtype values (a whole number of mini-batches), and
  at most two are alive at once (the one in use and the next one being copied), so memory stays
  bounded by about ``2 * CHUNK_BYTES`` plus the rows of one chunk as read (in the file's dtype).
* :class:`Stream`: an iterable of ``(X, y)`` or ``(X, y, sample_weight)`` chunks (a list, a
  re-iterable object, a function returning a fresh iterator, or a ``torch.utils.data.DataLoader``);
  one pass over it is one epoch, and its chunks are cut into (or joined to) mini-batches in order.

``batches(batch_size, order)`` yields the mini-batches of one epoch (``order``: a permutation of the
rows, or None to keep theirs); ``chunks()`` yields the data in order for evaluation. ``W`` holds the
per-example weights ``(rows, 1)``, or is None. Chunks read from the host are checked as they arrive
(:class:`Converter`) and copied to the device by a copier (:mod:`xpnet.transfer`), the next chunk's
copy overlapping the work on the current one on CUDA.
"""
from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import numpy as np

from xpnet import data
from xpnet.backend import namespace_name, to_numpy
from xpnet.transfer import prefetched

CHUNK_BYTES = 8 << 20  # model-dtype bytes per chunk read from an out-of-memory array


class Source(Protocol):
    """What the loop and the evaluation read: ``rows`` (None for a stream), ``iterations(batch_size)``
    (None where unknown), ``batches(batch_size, order)`` and ``chunks()``."""

    rows: int | None

    def iterations(self, batch_size): ...

    def batches(self, batch_size, order=None): ...

    def chunks(self): ...


class Converter:
    """Host data to checked host arrays in the model's dtype: features, and with ``targets`` (a
    :class:`~xpnet.data.Targets`) the loss's targets and the per-example weights."""

    def __init__(self, model, targets: data.Targets | None = None):
        self.input_dim, self.targets = model.input_dim, targets
        self.dtype = np.dtype(model.dtype)

    def host(self, X, y=None, sample_weight=None, names=("X", "y", "sample_weight")) -> tuple:
        """``(X,)``, or ``(X, Y, W)`` with targets (W None without weights)."""
        X = data.check_features(X, self.input_dim, names[0], self.dtype.name)
        return (self._cast(X),) + self.targets_of(X.shape[0], y, sample_weight, names)

    def targets_of(self, m: int, y, sample_weight, names=("X", "y", "sample_weight")) -> tuple:
        """``(Y, W)`` for ``m`` examples (W None without weights), or ``()`` without targets."""
        if self.targets is None:
            return ()
        Y, indices = self.targets.encode(y, m, names[1])
        W = self.targets.weights(sample_weight, indices, m, names[2])
        return self._cast(Y), None if W is None else self._cast(W)

    def _cast(self, host: np.ndarray) -> np.ndarray:
        """In the model's dtype, and writable (a read-only view of a file becomes a copy, which torch
        needs)."""
        result = np.asarray(host, dtype=self.dtype)
        return result if result.flags.writeable else result.copy()


def is_out_of_memory(X) -> bool:
    """A memory-mapped NumPy array, or an array-like that is neither NumPy nor a backend's array."""
    if isinstance(X, np.memmap):
        return True
    if isinstance(X, (np.ndarray, list, tuple)) or namespace_name(X) is not None:
        return False
    return all(hasattr(X, name) for name in ("shape", "dtype", "__getitem__"))


def _rows(arrays: tuple, start: int, stop: int) -> tuple:
    return tuple(None if array is None else array[start:stop, ...] for array in arrays)


class DeviceArrays:
    """Data moved to the device once: ``arrays`` is ``(X, Y, W)`` or ``(X,)`` on the device."""

    def __init__(self, arrays: tuple, xp):
        self.arrays, self.xp = arrays, xp
        self.rows = arrays[0].shape[0]

    @classmethod
    def from_host(cls, converter: Converter, backend, X, y=None, sample_weight=None, names=("X", "y", "sample_weight")):
        """Checked and moved in one transfer each; features already on the device in the model's dtype
        are checked there and used as they are (a GPU's data never goes through the host)."""
        if data.on_device(backend, X):
            X = data.check_device_features(backend, X, converter.input_dim, names[0])
            host = converter.targets_of(X.shape[0], y, sample_weight, names)
            return cls((X,) + tuple(None if array is None else backend.asarray(array) for array in host), backend.xp)
        host = converter.host(X, y, sample_weight, names)
        return cls(tuple(None if array is None else backend.asarray(array) for array in host), backend.xp)

    def iterations(self, batch_size: int) -> int:
        return len(data.batch_bounds(self.rows, batch_size))

    def batches(self, batch_size: int, order=None):
        for start, stop in data.batch_bounds(self.rows, batch_size):
            if order is None:
                yield _rows(self.arrays, start, stop)
            else:
                rows = order[start:stop]
                yield tuple(None if array is None else self.xp.take(array, rows, axis=0) for array in self.arrays)

    def chunks(self):
        yield self.arrays


def read_rows(X, rows) -> np.ndarray:
    """Rows of an array-like in the given order: a slice, or an index array (read in increasing
    order, as h5py needs, then put back in order)."""
    if isinstance(rows, slice) or isinstance(X, np.ndarray):
        return np.asarray(X[rows])
    increasing = np.argsort(rows, kind="stable")
    block = np.asarray(X[rows[increasing]])
    result = np.empty_like(block)
    result[increasing] = block
    return result


class HostArrays:
    """An out-of-memory ``X`` read a chunk of rows at a time; the labels or targets ``y`` and the
    sample weights (vectors, or None) are in memory. ``rows`` (sorted indices, or None for all)
    selects the examples used, such as the training part of a validation split."""

    def __init__(self, X, y, sample_weight, rows, converter: Converter, copies, names=("X", "y", "sample_weight")):
        self.X, self.y, self.sample_weight, self.ids = X, y, sample_weight, rows
        self.converter, self.copies, self.names = converter, copies, names
        self.rows = X.shape[0] if rows is None else rows.size

    def iterations(self, batch_size: int) -> int:
        return len(data.batch_bounds(self.rows, batch_size))

    def chunk_rows(self, multiple: int = 1) -> int:
        """Rows per chunk: about CHUNK_BYTES of model-dtype features, a whole number of ``multiple``."""
        rows = CHUNK_BYTES // (self.converter.dtype.itemsize * max(1, self.X.shape[1]))
        return max(multiple, rows - rows % multiple)

    def _host_chunks(self, size: int, order):
        for start in range(0, self.rows, size):
            rows = self._ids(start, min(start + size, self.rows), order)
            y = None if self.y is None else self.y[rows]
            weights = None if self.sample_weight is None else self.sample_weight[rows]
            yield self.converter.host(read_rows(self.X, rows), y, weights, names=self.names)

    def _ids(self, start: int, stop: int, order) -> slice | np.ndarray:
        """The rows of ``X`` at positions ``start:stop`` of the epoch (in ``order``, if given)."""
        if order is None and self.ids is None:
            return slice(start, stop)
        positions = np.arange(start, stop) if order is None else order[start:stop]
        return positions if self.ids is None else self.ids[positions]

    def batches(self, batch_size: int, order=None):
        order = None if order is None else to_numpy(order)
        for chunk in prefetched(self._host_chunks(self.chunk_rows(batch_size), order), self.copies):
            for start, stop in data.batch_bounds(chunk[0].shape[0], batch_size):
                yield _rows(chunk, start, stop)

    def chunks(self):
        return prefetched(self._host_chunks(self.chunk_rows(), None), self.copies)


class Stream:
    """Chunks ``(X, y)`` or ``(X, y, sample_weight)`` from an iterable; one pass is one epoch.

    ``source`` is re-iterable (a list, a DataLoader), a function returning a fresh iterable, or a
    one-shot iterator (a generator), which allows only one pass."""

    rows = None

    def __init__(self, source, converter: Converter, copies, xp, name: str = "X"):
        self.source, self.converter, self.copies, self.xp, self.name = source, converter, copies, xp, name
        self.passes = 0

    @property
    def one_shot(self) -> bool:
        """An iterator (a generator, say): only one pass. (A DataLoader is asked for no iterator here,
        which would start its workers.)"""
        return isinstance(self.source, Iterator)

    def iterations(self, batch_size) -> int | None:
        return None

    def _host_chunks(self):
        if self.one_shot and self.passes:
            raise ValueError(f"{self.name} is an iterator, which can be passed over only once; give a list, a "
                             "DataLoader or a function returning a fresh iterator to pass over it again")
        self.passes += 1
        source = self.source() if callable(self.source) else self.source
        count = 0
        for index, chunk in enumerate(source):
            X, y, sample_weight = _unpack(chunk, index, self.name)
            if np.shape(X)[:1] == (0,):
                continue
            count += 1
            where = f"{self.name} chunk {index}"
            yield self.converter.host(X, y, sample_weight, names=(f"{where}: X", f"{where}: y",
                                                                  f"{where}: sample_weight"))
        if not count:
            raise ValueError(f"{self.name} gave no examples in a whole pass")

    def batches(self, batch_size: int | None, order=None):
        chunks = prefetched(self._host_chunks(), self.copies)
        return chunks if batch_size is None else rebatched(chunks, batch_size, self.xp)

    def chunks(self):
        return prefetched(self._host_chunks(), self.copies)


def _unpack(chunk, index: int, name: str) -> tuple:
    if not isinstance(chunk, (tuple, list)) or len(chunk) not in (2, 3):
        raise TypeError(f"{name} must give chunks (X, y) or (X, y, sample_weight); chunk {index} is "
                        f"{type(chunk).__name__}" + (f" of length {len(chunk)}" if isinstance(chunk, (tuple, list))
                                                     else ""))
    return tuple(chunk) + (None,) * (3 - len(chunk))


def rebatched(chunks, batch_size: int, xp):
    """Mini-batches of ``batch_size`` rows, in order, from device chunks of any size: a batch that
    spans chunks is joined from their pieces (copied, so a chunk's buffers are free once the next
    chunk is asked for); the last, smaller batch is kept."""
    pending: list = []
    count = 0
    for chunk in chunks:
        rows, start = chunk[0].shape[0], 0
        if count:
            start = min(batch_size - count, rows)
            pending.append(_rows(chunk, 0, start))
            count += start
            if count == batch_size:
                yield _joined(xp, pending)
                pending, count = [], 0
        while rows - start >= batch_size:
            yield _rows(chunk, start, start + batch_size)
            start += batch_size
        if start < rows:
            pending.append(_rows(chunk, start, rows))
            count += rows - start
        if count:
            pending[-1] = _joined(xp, pending[-1:])
    if count:
        yield _joined(xp, pending)


def _joined(xp, pieces: list) -> tuple:
    """The pieces' rows, one after another, as new arrays."""
    return tuple(None if parts[0] is None else xp.concat(list(parts), axis=0) for parts in zip(*pieces))
