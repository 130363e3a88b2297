"""Exponentially weighted averages: ``v_t = beta * v_{t-1} + (1 - beta) * theta_t``, ``v_0 = 0``.

With bias correction the estimate is ``v_t / (1 - beta^t)``, which removes the pull towards zero of
the first steps. An average with ``beta`` spans roughly ``1 / (1 - beta)`` recent values.
The optimizers' moments and batch norm's running statistics use :func:`ewa_update` on device
arrays; :class:`EWA` averages a host sequence (the smoothed cost in History).
"""
from __future__ import annotations


def ewa_update(average, value, beta):
    """In place: ``average = beta * average + (1 - beta) * value`` (``beta`` a float or array)."""
    average *= beta
    average += (1.0 - beta) * value
    return average


class EWA:
    """A running exponentially weighted average of a stream of numbers.

    >>> ewa = EWA(0.9, bias_correction=False)
    >>> [round(ewa.update(t), 4) for t in (40, 49, 45)]
    [4.0, 8.5, 12.15]
    """

    def __init__(self, beta: float, bias_correction: bool = True):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"EWA beta must be in [0, 1), got {beta!r}")
        self.beta = beta
        self.bias_correction = bias_correction
        self.value = 0.0
        self.steps = 0

    def update(self, theta: float) -> float:
        """Fold in ``theta`` and return the (optionally bias-corrected) average."""
        self.steps += 1
        self.value = self.beta * self.value + (1.0 - self.beta) * theta
        return self.estimate

    @property
    def estimate(self) -> float:
        if self.bias_correction and self.steps:
            return self.value / (1.0 - self.beta ** self.steps)
        return self.value

    def average(self, values) -> list:
        """The average after each of ``values`` (continuing from the current state)."""
        return [self.update(float(theta)) for theta in values]
