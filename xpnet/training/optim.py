"""Optimizers: update rules applied in place to a model's flat parameter buffer.

Every rule is a handful of whole-buffer operations per step, however deep the network (the formulas
are the kernels ``sgd_update``, ``momentum_update``, ``rmsprop_update``, ``adam_update`` and
``decay_weights``; fast paths fuse each into one loop or kernel). The moments are exponentially
weighted averages; ``t`` counts the updates made so far (not epochs) and drives Adam's bias
correction. ``lr`` is a number or a schedule (see :mod:`xpnet.training.schedules`).

For a population of P stacked models every hyperparameter (``lr`` included) may be a sequence of P
values, or a schedule returning P values; they act inside the update as arrays of shape ``(P, 1)``.
"""
from __future__ import annotations

import weakref

import numpy as np

from xpnet import checks
from xpnet.backend import to_numpy
from xpnet.params import FlatBuffer, per_model_array
from xpnet.training import schedules


class Optimizer:
    """Base class: ``init(params)`` makes the state, ``step(params, grads, epoch)`` updates in place.

    Subclasses list their state buffers in ``slots`` and their hyperparameters (other than ``lr``)
    in ``hyperparameter_names``; ``self.hyper[name]`` holds each as the update uses it (a float, or
    a ``(P, 1)`` device array for a population).

    An optimizer holds the state of one model: ``bound`` is that model's parameter buffer. Giving it
    to a second model while the first still exists is refused; :meth:`clone` makes another optimizer
    with the same settings.
    """

    slots: tuple[str, ...] = ()
    hyperparameter_names: tuple[str, ...] = ()

    def __init__(self, lr):
        self.lr = schedules.check_learning_rate(lr)
        self.t = 0
        self.state: dict[str, FlatBuffer] = {}
        self.hyper: dict = {}
        self.frozen = np.zeros((), dtype=bool)
        self._bound: weakref.ref | None = None
        self._lr_cache: tuple = (None, None)

    @property
    def bound(self) -> FlatBuffer | None:
        """The parameters whose state this optimizer holds (None before :meth:`init`, or once that model
        is gone)."""
        return self._bound() if self._bound is not None else None

    def init(self, params) -> None:
        """Create zeroed state buffers with the layout of ``params`` (a FlatBuffer).

        Refused, with nothing changed, when the optimizer holds another live model's state or a
        per-model hyperparameter has the wrong number of values."""
        if self.bound is not None and self.bound is not params:
            raise ValueError(f"this {type(self).__name__} already holds the state (step count, moments) of "
                             "another model; an optimizer belongs to one model. Give each model its own: "
                             "optimizer.clone() makes one with the same settings")
        self.check_counts(params.lead)
        self.state = {slot: params.zeros_like() for slot in self.slots}
        self._bound = weakref.ref(params)
        self.t = 0
        self.frozen = np.zeros(params.lead, dtype=bool)
        self._lr_cache = (None, None)
        self.hyper = {name: per_model_array(params.backend, getattr(self, name), params.lead)
                      for name in self.hyperparameter_names}

    def check_counts(self, lead: tuple) -> None:
        """Every per-model hyperparameter (a schedule's arguments too) has one value per model of ``lead``."""
        if isinstance(self.lr, schedules.Schedule):
            self.lr.check_counts(lead)
        for name in ("lr",) + self.hyperparameter_names:
            value = getattr(self, name)
            if not callable(value) and np.ndim(value):
                checks.one_per_model(value, name, lead)

    def clone(self) -> Optimizer:
        """A new optimizer with the same settings (the schedule too) and no state, for another model."""
        return type(self)(**self._arguments())

    def set(self, **values) -> None:
        """Change hyperparameters between epochs (``opt.set(lr=1e-4, beta1=0.95)``), keeping the state.

        Every value is checked before any is changed."""
        unknown = [name for name in values if name != "lr" and name not in self.hyperparameter_names]
        if unknown:
            raise ValueError(f"{type(self).__name__} has no hyperparameter {unknown[0]!r}; it has lr and "
                             f"{list(self.hyperparameter_names)}")
        checked = type(self)(**{**self._arguments(), **values})
        if self.bound is not None:
            checked.check_counts(self.bound.lead)
        for name in values:
            setattr(self, name, getattr(checked, name))
            if name == "lr":
                self._lr_cache = (None, None)
            elif self.bound is not None:
                self.hyper[name] = per_model_array(self.bound.backend, getattr(self, name), self.bound.lead)

    def learning_rate(self, epoch: int):
        """The rate for the next update (a float, or one per model as a NumPy array): a schedule is
        called with the epoch or the step count, and what it returns is checked (finite, > 0, one
        value or one per model). Frozen models of a population get 0."""
        lead = self.bound.lead if self.bound is not None else ()
        lr = schedules.evaluate(self.lr, epoch=epoch, step=self.t, lead=lead)
        if lead:
            return np.where(self.frozen, 0.0, np.broadcast_to(lr, lead))
        return lr

    def freeze(self, members) -> None:
        """Stop updating the given models of a population: their learning rate becomes 0 and their
        gradients are replaced by 0 (a NaN or inf gradient times a zero rate would still be NaN)."""
        self.frozen = self.frozen | np.asarray(members, dtype=bool)

    def step(self, params, grads, epoch: int = 0):
        """Apply one update to ``params`` (FlatBuffer) from ``grads``; returns the rate used."""
        lr = self.learning_rate(epoch)
        self.t += 1
        if params.lead and self.frozen.any():
            _zero_rows(grads, self.frozen)
        self.update(params.backend.kernels, params, grads, self._device_lr(params, lr))
        return lr

    def _device_lr(self, params, lr):
        """Per-model rates moved to the device only when they change."""
        if not params.lead:
            return lr
        cached_host = self._lr_cache[0]
        if cached_host is None or not np.array_equal(cached_host, lr):
            self._lr_cache = (np.array(lr), per_model_array(params.backend, lr, params.lead))
        return self._lr_cache[1]

    def update(self, kernels, params, grads, lr) -> None:
        raise NotImplementedError

    def state_dict(self) -> dict:
        """The step count, the frozen models of a population and each state buffer as a NumPy array
        (for checkpoints)."""
        result: dict = {"t": self.t, "frozen": self.frozen.copy()}
        for slot, buffer in self.state.items():
            result[slot] = to_numpy(buffer.flat)
        return result

    def load_state_dict(self, state: dict, params) -> None:
        """Restore what :meth:`state_dict` returned, on the device of ``params``, which this optimizer
        now updates (the state moves with the model)."""
        self._bound = None
        self.init(params)
        self.t = int(state["t"])
        self.frozen = np.array(np.broadcast_to(state.get("frozen", False), params.lead), dtype=bool)
        for slot in self.slots:
            if slot in state:
                self.state[slot].flat[...] = params.backend.asarray(state[slot])

    def _arguments(self) -> dict:
        """The constructor's arguments as they are now (``lr`` as given: a number, list or schedule)."""
        return {"lr": self.lr, **{name: getattr(self, name) for name in self.hyperparameter_names}}

    def get_config(self) -> dict:
        """The constructor's arguments, JSON-serializable (a schedule as its class and arguments)."""
        return {**self._arguments(), "lr": schedules.to_config(self.lr)}

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self._arguments().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain (mini-batch) gradient descent: ``p -= lr g``."""

    def __init__(self, lr=0.01):
        super().__init__(lr)

    def update(self, kernels, params, grads, lr):
        kernels.sgd_update(params.flat, grads.flat, lr=lr)


class Momentum(Optimizer):
    """Gradient descent with momentum: ``v = beta v + (1 - beta) g``; ``p -= lr v``.

    ``nesterov=True`` looks ahead: ``p -= lr (beta v + (1 - beta) g)`` with the updated ``v``.
    """

    slots = ("v",)
    hyperparameter_names = ("beta",)

    def __init__(self, lr=0.01, beta=0.9, nesterov: bool = False):
        super().__init__(lr)
        self.beta = checks.averaging_beta(beta, "beta")
        self.nesterov = checks.flag(nesterov, "nesterov")

    def update(self, kernels, params, grads, lr):
        kernels.momentum_update(params.flat, grads.flat, self.state["v"].flat, lr=lr, beta=self.hyper["beta"],
                                nesterov=self.nesterov)

    def _arguments(self):
        return {**super()._arguments(), "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """``s = beta s + (1 - beta) g^2``; ``p -= lr g / (sqrt(s) + eps)``."""

    slots = ("s",)
    hyperparameter_names = ("beta", "eps")

    def __init__(self, lr=0.001, beta=0.9, eps=1e-8):
        super().__init__(lr)
        self.beta = checks.averaging_beta(beta, "beta")
        self.eps = checks.positive(eps, "eps")

    def update(self, kernels, params, grads, lr):
        kernels.rmsprop_update(params.flat, grads.flat, self.state["s"].flat, lr=lr, beta=self.hyper["beta"],
                               eps=self.hyper["eps"])


class Adam(Optimizer):
    """Adam: momentum and RMSprop moments with bias correction.

    ``v = beta1 v + (1 - beta1) g``, ``s = beta2 s + (1 - beta2) g^2``,
    ``v_hat = v / (1 - beta1^t)``, ``s_hat = s / (1 - beta2^t)``, ``p -= lr v_hat / (sqrt(s_hat) + eps)``.
    """

    slots = ("v", "s")
    hyperparameter_names: tuple[str, ...] = ("beta1", "beta2", "eps")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1 = checks.averaging_beta(beta1, "beta1")
        self.beta2 = checks.averaging_beta(beta2, "beta2")
        self.eps = checks.positive(eps, "eps")

    def update(self, kernels, params, grads, lr):
        h = self.hyper
        kernels.adam_update(params.flat, grads.flat, self.state["v"].flat, self.state["s"].flat, lr=lr,
                            beta1=h["beta1"], beta2=h["beta2"], eps=h["eps"], t=self.t)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the Adam step.

    Only Dense weights decay; biases and batch-norm parameters are masked out.
    """

    hyperparameter_names = Adam.hyperparameter_names + ("weight_decay",)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay = checks.non_negative(weight_decay, "weight_decay")

    def update(self, kernels, params, grads, lr):
        kernels.decay_weights(params.decayed(), lr=lr, weight_decay=self.hyper["weight_decay"])
        super().update(kernels, params, grads, lr)


def _zero_rows(buffer: FlatBuffer, rows: np.ndarray) -> None:
    """Set the chosen models' rows of a population's buffer to 0 (whatever they held: NaN, inf)."""
    backend = buffer.backend
    chosen = backend.asarray(rows.reshape(rows.shape + (1,)), dtype=backend.xp.bool)
    buffer.flat[...] = backend.xp.where(chosen, backend.zeros(()), buffer.flat)


OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Momentum, RMSprop, Adam, AdamW)}


def optimizer_from_config(class_name: str, config: dict) -> Optimizer:
    """Rebuild an optimizer from its class name and :meth:`Optimizer.get_config`."""
    if not isinstance(class_name, str) or class_name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {class_name!r}; expected one of {sorted(OPTIMIZERS)}")
    if not isinstance(config, dict) or "lr" not in config:
        raise ValueError(f"an optimizer's config must be a dict of its arguments with 'lr', got {config!r}")
    return OPTIMIZERS[class_name](**{**config, "lr": schedules.from_config(config["lr"])})
