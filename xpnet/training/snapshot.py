"""Device copies of a model's flat buffers, to go back to: the start of an epoch (when training
diverges), the best epoch (early stopping). For a population, whole or only for some models."""
from __future__ import annotations

import numpy as np


class BufferCopy:
    """A device copy of some flat buffers (``lead + (size,)`` each), saved and restored together;
    ``rows`` (a boolean array of the population's shape) limits either to some models."""

    def __init__(self, backend, buffers: list):
        self.backend, self.buffers = backend, list(buffers)
        self.copies = [backend.xp.asarray(buffer, copy=True) for buffer in self.buffers]

    def save(self, rows=None) -> None:
        """Copy the buffers' current values (of the models in ``rows``, or all)."""
        self._copy(self.buffers, self.copies, rows)

    def restore(self, rows=None) -> None:
        """Write the saved values back (for the models in ``rows``, or all)."""
        self._copy(self.copies, self.buffers, rows)

    def _copy(self, sources: list, targets: list, rows) -> None:
        if rows is None:
            for source, target in zip(sources, targets):
                target[...] = source
            return
        rows = np.asarray(rows, dtype=bool)
        if not rows.any():
            return
        xp = self.backend.xp
        chosen = self.backend.asarray(np.reshape(rows, rows.shape + (1,)), dtype=xp.bool)
        for source, target in zip(sources, targets):
            target[...] = xp.where(chosen, source, target)


def model_weights(model) -> BufferCopy:
    """A copy of the model's parameters and state (batch-norm running statistics)."""
    return BufferCopy(model.backend, [model.param_buffer.flat, model.state_buffer.flat])
