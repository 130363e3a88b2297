"""Optimizers: in-place update rules on the model's flat parameter buffer.

Every rule is a handful of whole-buffer array operations per step, however deep the network (the
reference code is in :mod:`xpnet.update_rules`; fast paths fuse it into one loop or kernel). The
moments are exponentially weighted averages; ``t`` counts the updates made so far (not epochs) and
drives Adam's bias correction. ``lr`` is a float or a schedule (see :mod:`xpnet.schedules`).

Notation: parameters ``W``, gradient ``dW``, learning rate ``lr``.
"""
from __future__ import annotations

import math

from xpnet import schedules
from xpnet.backend import to_numpy


class Optimizer:
    """Base class: ``init(params)`` makes the state, ``step(params, grads, epoch)`` updates in place."""

    slots: tuple = ()

    def __init__(self, lr):
        self.lr = schedules.check_learning_rate(lr)
        self.t = 0
        self.state = None
        self.bound = None

    def init(self, params) -> None:
        """Create zeroed state buffers with the layout of ``params`` (a FlatBuffer)."""
        self.state = {slot: params.zeros_like() for slot in self.slots}
        self.bound = params
        self.t = 0

    def learning_rate(self, epoch: int) -> float:
        """The rate for the next update: a schedule is called with the epoch or the step count."""
        return schedules.evaluate(self.lr, epoch=epoch, step=self.t)

    def step(self, params, grads, epoch: int = 0) -> float:
        """Apply one update to ``params`` (FlatBuffer) from ``grads``; returns the rate used."""
        lr = self.learning_rate(epoch)
        self.t += 1
        self.update(params, grads, lr)
        return lr

    def update(self, params, grads, lr: float) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """The step count and each state buffer as a NumPy array (for checkpoints)."""
        result = {"t": self.t}
        for slot, buffer in (self.state or {}).items():
            result[slot] = to_numpy(buffer.flat)
        return result

    def load_state_dict(self, state: dict, params) -> None:
        """Restore what :meth:`state_dict` returned, on the device of ``params``."""
        self.init(params)
        self.t = int(state["t"])
        for slot in self.slots:
            if slot in state:
                self.state[slot].flat[...] = params.backend.asarray(state[slot])

    def get_config(self) -> dict:
        config = dict(self._hyperparameters())
        config["lr"] = schedules.to_config(self.lr)
        return config

    def _hyperparameters(self) -> dict:
        return {}

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain (mini-batch) gradient descent: ``W -= lr * dW``."""

    def __init__(self, lr=0.01):
        super().__init__(lr)

    def update(self, params, grads, lr):
        params.backend.kernels.sgd_update(params.flat, grads.flat, lr)


class Momentum(Optimizer):
    """Gradient descent with momentum: ``v = beta v + (1 - beta) dW``; ``W -= lr v``.

    ``nesterov=True`` looks ahead: ``W -= lr (beta v + (1 - beta) dW)`` with the updated ``v``.
    """

    slots = ("v",)

    def __init__(self, lr=0.01, beta: float = 0.9, nesterov: bool = False):
        super().__init__(lr)
        self.beta = _check_beta("beta", beta)
        self.nesterov = bool(nesterov)

    def update(self, params, grads, lr):
        params.backend.kernels.momentum_update(params.flat, grads.flat, self.state["v"].flat, lr,
                                               self.beta, self.nesterov)

    def _hyperparameters(self):
        return {"beta": self.beta, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """``s = beta s + (1 - beta) dW^2``; ``W -= lr dW / (sqrt(s) + eps)``."""

    slots = ("s",)

    def __init__(self, lr=0.001, beta: float = 0.9, eps: float = 1e-8):
        super().__init__(lr)
        self.beta = _check_beta("beta", beta)
        self.eps = _check_positive("eps", eps)

    def update(self, params, grads, lr):
        params.backend.kernels.rmsprop_update(params.flat, grads.flat, self.state["s"].flat, lr,
                                              self.beta, self.eps)

    def _hyperparameters(self):
        return {"beta": self.beta, "eps": self.eps}


class Adam(Optimizer):
    """Adam: momentum and RMSprop moments with bias correction.

    ``v = beta1 v + (1 - beta1) dW``, ``s = beta2 s + (1 - beta2) dW^2``,
    ``v_hat = v / (1 - beta1^t)``, ``s_hat = s / (1 - beta2^t)``, ``W -= lr v_hat / (sqrt(s_hat) + eps)``.
    """

    slots = ("v", "s")

    def __init__(self, lr=0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8):
        super().__init__(lr)
        self.beta1 = _check_beta("beta1", beta1)
        self.beta2 = _check_beta("beta2", beta2)
        self.eps = _check_positive("eps", eps)

    def update(self, params, grads, lr):
        correction1 = 1.0 - self.beta1 ** self.t
        root_correction2 = math.sqrt(1.0 - self.beta2 ** self.t)
        params.backend.kernels.adam_update(params.flat, grads.flat, self.state["v"].flat,
                                           self.state["s"].flat, lr, self.beta1, self.beta2, self.eps,
                                           correction1, root_correction2)

    def _hyperparameters(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}


class AdamW(Adam):
    """Adam with decoupled weight decay: ``W *= 1 - lr * weight_decay`` before the Adam step.

    Only Dense weights decay; biases and batch-norm parameters are masked out.
    """

    def __init__(self, lr=0.001, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.01):
        super().__init__(lr, beta1, beta2, eps)
        if not weight_decay >= 0:
            raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
        self.weight_decay = float(weight_decay)

    def update(self, params, grads, lr):
        decayed = params.decayed()
        decayed *= 1.0 - lr * self.weight_decay
        super().update(params, grads, lr)

    def _hyperparameters(self):
        return {**super()._hyperparameters(), "weight_decay": self.weight_decay}


OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Momentum, RMSprop, Adam, AdamW)}


def optimizer_from_config(class_name: str, config: dict) -> Optimizer:
    """Rebuild an optimizer from its class name and :meth:`Optimizer.get_config`."""
    if class_name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {class_name!r}; expected one of {sorted(OPTIMIZERS)}")
    config = dict(config)
    config["lr"] = schedules.from_config(config["lr"])
    return OPTIMIZERS[class_name](**config)


def _check_beta(name, beta):
    if not 0.0 <= beta < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {beta!r}")
    return float(beta)


def _check_positive(name, value):
    if not value > 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return float(value)
