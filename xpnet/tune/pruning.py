"""Stopping unpromising trials early, inside a population.

A pruner names the epochs after which it decides (``checkpoints``) and, at each, which of the
population's running members stop (``prune``). The runner records the stopped members as pruned,
keeps their weights as they were, and trains the others on as a smaller population, so a pruned
member costs nothing after it stops.
"""
from __future__ import annotations

import math

import numpy as np

from xpnet import checks


class Pruner:
    """Interface: ``checkpoints(epochs)`` and ``prune(numbers, val_losses, epoch)``."""

    def checkpoints(self, epochs: int) -> list:
        """The epochs (1..epochs-1) after which :meth:`prune` is asked."""
        raise NotImplementedError

    def prune(self, numbers: list, val_losses: np.ndarray, epoch: int) -> np.ndarray:
        """Which of the running trials ``numbers`` stop now, given their validation losses after
        ``epoch`` epochs (NaN for a diverged one); a boolean array, True = stop."""
        raise NotImplementedError


class SuccessiveHalving(Pruner):
    """After each epoch in ``epochs``, keep the best ``keep`` fraction of the running members (by
    validation loss, at least one) and stop the rest: ``SuccessiveHalving((2, 4, 8), keep=0.5)`` trains
    64 members 2 epochs, the best 32 to epoch 4, the best 16 to epoch 8 and the best 8 to the end."""

    def __init__(self, epochs=(2, 4, 8), keep: float = 0.5):
        rungs = [checks.positive_int(epoch, "SuccessiveHalving epochs") for epoch in epochs]
        if rungs != sorted(set(rungs)):
            raise ValueError(f"SuccessiveHalving epochs must increase, got {list(epochs)!r}")
        self.epochs = rungs
        self.keep = checks.in_range(keep, "SuccessiveHalving keep", 0.0, 1.0, high_open=True)
        if self.keep == 0.0:
            raise ValueError("SuccessiveHalving keep must be a fraction above 0, got 0.0")

    def checkpoints(self, epochs):
        return [epoch for epoch in self.epochs if epoch < epochs]

    def prune(self, numbers, val_losses, epoch):
        losses = np.where(np.isnan(val_losses), np.inf, val_losses)
        survivors = np.argsort(losses, kind="stable")[:max(1, math.ceil(self.keep * len(numbers)))]
        stop = np.ones(len(numbers), dtype=bool)
        stop[survivors] = False
        return stop

    def __repr__(self):
        return f"SuccessiveHalving(epochs={self.epochs}, keep={self.keep})"
