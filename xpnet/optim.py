"""Optimizers: in-place update rules on the model's flat parameter buffer.

Every rule is a handful of whole-buffer array operations per step, however deep the network (the
reference code is in :mod:`xpnet.update_rules`; fast paths fuse it into one loop or kernel). The
moments are exponentially weighted averages; ``t`` counts the updates made so far (not epochs) and
drives Adam's bias correction. ``lr`` is a float or a schedule (see :mod:`xpnet.schedules`).

For a population of P stacked models every hyperparameter (``lr`` included) may be a sequence of P
values, or a schedule returning P values; they act inside the update as arrays of shape ``(P, 1)``.

Notation: parameters ``W``, gradient ``dW``, learning rate ``lr``.
"""
from __future__ import annotations

import math

import numpy as np

from xpnet import schedules
from xpnet.backend import to_numpy
from xpnet.checks import per_model_numbers


class Optimizer:
    """Base class: ``init(params)`` makes the state, ``step(params, grads, epoch)`` updates in place.

    Subclasses list their state buffers in ``slots`` and their hyperparameters (other than ``lr``)
    in ``hyperparameter_names``; ``self.hyper[name]`` holds each as the update uses it (a float, or
    a ``(P, 1)`` device array for a population).
    """

    slots: tuple = ()
    hyperparameter_names: tuple = ()

    def __init__(self, lr):
        self.lr = schedules.check_learning_rate(lr)
        self.t = 0
        self.state = None
        self.bound = None
        self.hyper = {}

    def init(self, params) -> None:
        """Create zeroed state buffers with the layout of ``params`` (a FlatBuffer)."""
        self.state = {slot: params.zeros_like() for slot in self.slots}
        self.bound = params
        self.t = 0
        if not params.lead and not callable(self.lr) and np.ndim(self.lr):
            raise ValueError(f"lr has one value per model ({self.lr!r}); that needs a population model")
        self.frozen = np.zeros(params.lead, dtype=bool)
        self._lr_cache = (None, None)
        self.hyper = {name: self._per_model(params, getattr(self, name))
                      for name in self.hyperparameter_names}

    @staticmethod
    def _per_model(params, value):
        """A float for one model; a ``(P, 1)`` device array for a population."""
        if not params.lead:
            if np.ndim(value):
                raise ValueError(f"one value per model ({value!r}) needs a population model")
            return float(value)
        values = np.array(np.broadcast_to(np.asarray(value, dtype=np.float64), params.lead))
        return params.backend.asarray(values.reshape(params.lead + (1,)))

    def set(self, **values) -> None:
        """Change hyperparameters between epochs (``opt.set(lr=1e-4, beta1=0.95)``), keeping the state."""
        for name, value in values.items():
            if name == "lr":
                self.lr = schedules.check_learning_rate(value)
                self._lr_cache = (None, None)
            elif name in self.hyperparameter_names:
                checked = type(self)(**{**self.get_config(), "lr": 1.0, name: value})
                setattr(self, name, getattr(checked, name))
                if self.bound is not None:
                    self.hyper[name] = self._per_model(self.bound, getattr(self, name))
            else:
                raise ValueError(f"{type(self).__name__} has no hyperparameter {name!r}; it has lr and "
                                 f"{list(self.hyperparameter_names)}")

    def learning_rate(self, epoch: int):
        """The rate for the next update (a float, or one per model as a NumPy array): a schedule is
        called with the epoch or the step count. Frozen models of a population get 0."""
        lr = schedules.evaluate(self.lr, epoch=epoch, step=self.t)
        if self.bound is not None and self.bound.lead:
            return np.where(self.frozen, 0.0, np.broadcast_to(lr, self.bound.lead))
        return lr

    def freeze(self, members) -> None:
        """Stop updating the given models of a population (their learning rate becomes 0)."""
        self.frozen = self.frozen | np.asarray(members, dtype=bool)

    def step(self, params, grads, epoch: int = 0):
        """Apply one update to ``params`` (FlatBuffer) from ``grads``; returns the rate used."""
        lr = self.learning_rate(epoch)
        self.t += 1
        self.update(params, grads, self._device_lr(params, lr))
        return lr

    def _device_lr(self, params, lr):
        """Per-model rates moved to the device only when they change."""
        if not params.lead:
            return lr
        cached_host = self._lr_cache[0]
        if cached_host is None or not np.array_equal(cached_host, lr):
            self._lr_cache = (np.array(lr), params.backend.asarray(np.reshape(lr, params.lead + (1,))))
        return self._lr_cache[1]

    def update(self, params, grads, lr) -> None:
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
        config = {name: _plain(getattr(self, name)) for name in self.hyperparameter_names}
        config["lr"] = schedules.to_config(self.lr)
        return config

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
    hyperparameter_names = ("beta",)

    def __init__(self, lr=0.01, beta=0.9, nesterov: bool = False):
        super().__init__(lr)
        self.beta = _check_beta("beta", beta)
        self.nesterov = bool(nesterov)

    def update(self, params, grads, lr):
        params.backend.kernels.momentum_update(params.flat, grads.flat, self.state["v"].flat, lr,
                                               self.hyper["beta"], self.nesterov)

    def get_config(self):
        return {**super().get_config(), "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """``s = beta s + (1 - beta) dW^2``; ``W -= lr dW / (sqrt(s) + eps)``."""

    slots = ("s",)
    hyperparameter_names = ("beta", "eps")

    def __init__(self, lr=0.001, beta=0.9, eps=1e-8):
        super().__init__(lr)
        self.beta = _check_beta("beta", beta)
        self.eps = _check_positive("eps", eps)

    def update(self, params, grads, lr):
        params.backend.kernels.rmsprop_update(params.flat, grads.flat, self.state["s"].flat, lr,
                                              self.hyper["beta"], self.hyper["eps"])


class Adam(Optimizer):
    """Adam: momentum and RMSprop moments with bias correction.

    ``v = beta1 v + (1 - beta1) dW``, ``s = beta2 s + (1 - beta2) dW^2``,
    ``v_hat = v / (1 - beta1^t)``, ``s_hat = s / (1 - beta2^t)``, ``W -= lr v_hat / (sqrt(s_hat) + eps)``.
    """

    slots = ("v", "s")
    hyperparameter_names = ("beta1", "beta2", "eps")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1 = _check_beta("beta1", beta1)
        self.beta2 = _check_beta("beta2", beta2)
        self.eps = _check_positive("eps", eps)

    def update(self, params, grads, lr):
        h = self.hyper
        correction1 = 1.0 - h["beta1"] ** self.t
        root_correction2 = _sqrt(params.backend.xp, 1.0 - h["beta2"] ** self.t)
        params.backend.kernels.adam_update(params.flat, grads.flat, self.state["v"].flat,
                                           self.state["s"].flat, lr, h["beta1"], h["beta2"], h["eps"],
                                           correction1, root_correction2)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``W *= 1 - lr * weight_decay`` before the Adam step.

    Only Dense weights decay; biases and batch-norm parameters are masked out.
    """

    hyperparameter_names = Adam.hyperparameter_names + ("weight_decay",)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay = _check_range("weight_decay", weight_decay, 0.0, math.inf)

    def update(self, params, grads, lr):
        decayed = params.decayed()
        decayed *= 1.0 - lr * self.hyper["weight_decay"]
        super().update(params, grads, lr)


OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Momentum, RMSprop, Adam, AdamW)}


def optimizer_from_config(class_name: str, config: dict) -> Optimizer:
    """Rebuild an optimizer from its class name and :meth:`Optimizer.get_config`."""
    if class_name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {class_name!r}; expected one of {sorted(OPTIMIZERS)}")
    config = dict(config)
    config["lr"] = schedules.from_config(config["lr"])
    return OPTIMIZERS[class_name](**config)


def _sqrt(xp, value):
    return math.sqrt(value) if isinstance(value, float) else xp.sqrt(value)


def _plain(value):
    """A hyperparameter as JSON: a float, or a list of floats."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def _check_range(name, value, low, high, high_open=False):
    """A finite number (or one per model) with ``low <= value <= high`` (``< high`` if ``high_open``)."""
    def accept(values):
        return (values >= low) & ((values < high) if high_open else (values <= high))

    bound = ")" if high_open else "]"
    return per_model_numbers(value, name, accept, f"in [{low}, {high}{bound} (or one such value per model)")


def _check_beta(name, beta):
    return _check_range(name, beta, 0.0, 1.0, high_open=True)


def _check_positive(name, value):
    return per_model_numbers(value, name, lambda values: values > 0, "> 0 (or one such value per model)")
