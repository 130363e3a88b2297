"""Numerical gradient checking with two-sided differences, in float64, on a copy of the model.

For each checked parameter entry ``theta_i``:
``gradapprox_i = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)``, and the report's
``difference = ||grad - gradapprox||_2 / (||grad||_2 + ||gradapprox||_2)``.
``J`` is the training cost (data cost plus the L2 penalty) in training mode: batch norm uses the
batch statistics, and dropout masks are drawn once and then frozen so ``J`` is deterministic.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from xpnet import data
from xpnet.backend import to_numpy
from xpnet.nn.layers import Dropout
from xpnet.nn.losses import get_loss
from xpnet.training.regularization import L2
from xpnet.training.step import loss_and_gradients, training_cost

PASS_THRESHOLD = 2e-7


@dataclasses.dataclass
class GradientCheckReport:
    """``difference`` over all checked entries, ``per_parameter[name]`` the same per array,
    ``worst`` the entries with the largest absolute error as ``(name, index, grad, gradapprox)``,
    ``checked`` how many entries were perturbed, ``passed`` is ``difference < threshold``."""

    difference: float
    per_parameter: dict
    worst: list
    checked: int
    threshold: float = PASS_THRESHOLD

    @property
    def passed(self) -> bool:
        return self.difference < self.threshold

    def __str__(self):
        verdict = "passed" if self.passed else "FAILED"
        lines = [f"gradient check {verdict}: difference {self.difference:.3e} "
                 f"(threshold {self.threshold:.0e}, {self.checked} entries)"]
        lines += [f"  {name:<12} {value:.3e}" for name, value in self.per_parameter.items()]
        return "\n".join(lines)


def gradient_check(model, X, y, loss=None, l2: float = 0.0, epsilon: float = 1e-7,
                   max_params: int | None = None, seed: int = 0) -> GradientCheckReport:
    """Compare back-propagated gradients with numerical ones; ``model`` itself is not changed.

    ``max_params`` checks a random subset of that many entries (seeded) instead of all of them.
    """
    loss = get_loss(loss) if loss is not None else model.require_loss("gradient_check")
    if not epsilon > 0:
        raise ValueError(f"epsilon must be > 0, got {epsilon!r}")
    twin = model.clone(dtype="float64")
    for layer in twin.layers:
        if isinstance(layer, Dropout):
            layer.freeze_mask = True
    with twin.backend.activate():
        return _check(twin, X, y, loss, l2, epsilon, max_params, seed)


def _check(twin, X, y, loss, l2, epsilon, max_params, seed) -> GradientCheckReport:
    """The check itself, on the float64 ``twin``."""
    X_device = twin.features_on_device(X)
    Y_device = twin.backend.asarray(data.check_targets(y, X_device.shape[0], loss.name, twin.output_dim))
    l2 = L2(l2, twin.backend, twin.lead)
    loss_and_gradients(twin, X_device, Y_device, loss, l2)
    grad = to_numpy(twin.grad_buffer.flat)
    entries = _choose_entries(twin.param_layout.size, max_params, seed)

    def cost() -> float:
        return training_cost(twin, X_device, Y_device, loss, l2)

    flat = twin.param_buffer.flat
    original = to_numpy(flat)
    approx = np.empty(entries.size)
    for k, i in enumerate(entries):
        flat[int(i)] = original[i] + epsilon
        plus = cost()
        flat[int(i)] = original[i] - epsilon
        minus = cost()
        flat[int(i)] = original[i]
        approx[k] = (plus - minus) / (2 * epsilon)
    return _report(twin.param_layout, entries, grad[entries], approx)


def _choose_entries(size: int, max_params, seed) -> np.ndarray:
    if max_params is None or max_params >= size:
        return np.arange(size)
    if max_params < 1:
        raise ValueError(f"max_params must be >= 1 or None, got {max_params!r}")
    return np.sort(np.random.default_rng(seed).choice(size, size=max_params, replace=False))


def _relative_difference(grad, approx) -> float:
    denominator = np.linalg.norm(grad) + np.linalg.norm(approx)
    return float(np.linalg.norm(grad - approx) / denominator) if denominator > 0 else 0.0


def _report(layout, entries, grad, approx, worst_count: int = 5) -> GradientCheckReport:
    per_parameter, owners = {}, np.empty(entries.size, dtype=object)
    for name in layout.names:
        start, stop = layout.offsets[name]
        inside = (entries >= start) & (entries < stop)
        owners[inside] = name
        if inside.any():
            per_parameter[name] = _relative_difference(grad[inside], approx[inside])
    worst = []
    for k in np.argsort(-np.abs(grad - approx))[:worst_count]:
        name = owners[k]
        index = np.unravel_index(entries[k] - layout.offsets[name][0], layout.shapes[name])
        worst.append((name, tuple(int(i) for i in index), float(grad[k]), float(approx[k])))
    return GradientCheckReport(_relative_difference(grad, approx), per_parameter, worst, int(entries.size))
