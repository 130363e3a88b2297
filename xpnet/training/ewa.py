"""Exponentially weighted averages of a stream of numbers on the host (the smoothed cost in History).

``v_t = beta * v_{t-1} + (1 - beta) * theta_t`` with ``v_0 = 0``; with bias correction the estimate
is ``v_t / (1 - beta^t)``, which removes the pull towards zero of the first steps. An average with
``beta`` spans roughly ``1 / (1 - beta)`` recent values. Both formulas are the kernels'
(:func:`~xpnet.kernels.reference.ewa_update`, :func:`~xpnet.kernels.reference.bias_correction`), which
the optimizers' moments and batch norm's running statistics use on device arrays.
"""
from __future__ import annotations

import numpy as np

from xpnet import checks
from xpnet.kernels import reference


class EWA:
    """A running exponentially weighted average of a stream of numbers.

    >>> ewa = EWA(0.9, bias_correction=False)
    >>> [round(ewa.update(t), 4) for t in (40, 49, 45)]
    [4.0, 8.5, 12.15]
    """

    def __init__(self, beta: float, bias_correction: bool = True):
        self.beta = checks.averaging_beta(beta, "EWA beta", per_model=False)
        self.bias_correction = checks.flag(bias_correction, "bias_correction")
        self._average = np.zeros(())
        self.steps = 0

    @property
    def value(self) -> float:
        """The average without bias correction."""
        return float(self._average)

    def update(self, theta: float) -> float:
        """Fold in ``theta`` and return the (optionally bias-corrected) average."""
        self.steps += 1
        reference.ewa_update(np, self._average, float(theta), beta=self.beta)
        return self.estimate

    @property
    def estimate(self) -> float:
        if self.bias_correction and self.steps:
            return self.value / reference.bias_correction(self.beta, self.steps)
        return self.value

    def average(self, values) -> list:
        """The average after each of ``values`` (continuing from the current state)."""
        return [self.update(theta) for theta in values]
