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
from xpnet.kernels import reference
from xpnet.params import FlatBuffer, per_model_array
from xpnet.training import schedules


class Optimizer:
    """Base class: ``init(params)`` makes the state, ``step(params, grads, epoch)`` updates in place.

    Subclasses list their state buffers in ``slots`` and their hyperparameters (other than ``lr``)
    in ``hyperparameter_names``; ``self.hyper[name]`` holds each as the update uses it (a float, or
    a ``(P, 1)`` device array for a population). What changes from one update to the next (the
    learning rate, and what a rule derives from it and the step count) is computed on the host by
    ``step_values(epoch, t)`` and handed to ``update``; a recorded training step reads the same
    values from a table made for the whole epoch (see :mod:`xpnet.training.step`).

    An optimizer holds the state of one model: ``bound`` is that model's parameter buffer. Giving it
    to a second model while the first still exists is refused; :meth:`clone` makes another optimizer
    with the same settings.
    """

    slots: tuple[str, ...] = ()
    hyperparameter_names: tuple[str, ...] = ()
    #: what :meth:`step_values` gives, the values ``update`` takes
    value_names: tuple[str, ...] = ("lr",)

    def __init__(self, lr):
        self.lr = schedules.check_learning_rate(lr)
        self.t = 0
        self.state: dict[str, FlatBuffer] = {}
        self.hyper: dict = {}
        self.frozen = np.zeros((), dtype=bool)
        self.version = 0  # changes with every change of settings, so that recorded steps are made again
        self.pending_state: dict | None = None  # a state_dict to restore when next bound
        self._bound: weakref.ref | None = None

    @property
    def bound(self) -> FlatBuffer | None:
        """The parameters whose state this optimizer holds (None before :meth:`init`, or once that model
        is gone)."""
        return self._bound() if self._bound is not None else None

    def init(self, params) -> None:
        """Create the state buffers with the layout of ``params`` (a FlatBuffer): zeros, or the
        ``pending_state`` left by :meth:`load_state_dict` or by unpickling.

        Refused, with nothing changed, when the optimizer holds another live model's state or a
        per-model hyperparameter has the wrong number of values."""
        if self.bound is not None and self.bound is not params:
            raise ValueError(f"this {type(self).__name__} already holds the state (step count, moments) of "
                             "another model; an optimizer belongs to one model. Give each model its own: "
                             "optimizer.clone() makes one with the same settings")
        self.check_counts(params.lead)
        self.state = {slot: params.zeros_like() for slot in self.slots}
        self._bound = weakref.ref(params)
        self.version += 1
        self.t = 0
        self.frozen = np.zeros(params.lead, dtype=bool)
        self.hyper = {name: per_model_array(params.backend, getattr(self, name), params.lead)
                      for name in self.hyperparameter_names}
        pending, self.pending_state = self.pending_state, None
        if pending is not None:
            self._restore(pending, params)

    def _restore(self, state: dict, params) -> None:
        expected = tuple(params.flat.shape)
        for slot in self.slots:
            if slot in state and tuple(np.shape(state[slot])) != expected:
                raise ValueError(f"{type(self).__name__} state {slot!r} has shape {np.shape(state[slot])}, but "
                                 f"the parameters have {expected}: bind it to the model it was trained with")
        self.t = int(state["t"])
        for slot in self.slots:
            if slot in state:
                self.state[slot].flat[...] = params.backend.asarray(state[slot])
        if "frozen" in state:
            self.frozen = np.array(np.broadcast_to(np.asarray(state["frozen"], dtype=bool), params.lead))

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
        self.version += 1
        for name in values:
            setattr(self, name, getattr(checked, name))
            if name != "lr" and self.bound is not None:
                self.hyper[name] = per_model_array(self.bound.backend, getattr(self, name), self.bound.lead)

    def learning_rate(self, epoch: int, t: int | None = None):
        """The rate of update number ``t + 1`` (default: the next update) in ``epoch``, a float or one
        per model as a NumPy array: a schedule is called with the epoch or with ``t``, the updates made
        before, and what it returns is checked (finite, > 0, one value or one per model). Frozen models
        of a population get 0."""
        lead = self.bound.lead if self.bound is not None else ()
        lr = schedules.evaluate(self.lr, epoch=epoch, step=self.t if t is None else t, lead=lead)
        if lead:
            return np.where(self.frozen, 0.0, np.broadcast_to(lr, lead))
        return lr

    def step_values(self, epoch: int, t: int) -> dict:
        """The host values update number ``t`` (counting from 1) of ``epoch`` uses: the learning rate.
        Rules that derive more from it and ``t`` add their own."""
        return {"lr": self.learning_rate(epoch, t - 1)}

    def freeze(self, members) -> None:
        """Stop updating the given models of a population: their learning rate becomes 0 and their
        gradients are replaced by 0 (a NaN or inf gradient times a zero rate would still be NaN)."""
        self.frozen = self.frozen | np.asarray(members, dtype=bool)

    def step(self, params, grads, epoch: int = 0):
        """Apply one update to ``params`` (FlatBuffer) from ``grads``; returns the rate used."""
        self.t += 1
        values = self.step_values(epoch, self.t)
        if params.lead and self.frozen.any():
            frozen = params.backend.asarray(self.frozen.reshape(params.lead + (1,)))
            params.backend.kernels.zero_rows(grads.flat, frozen, out=grads.flat)
        self.update(params.backend.kernels, params, grads,
                    {name: per_model_array(params.backend, value, params.lead) for name, value in values.items()})
        return values["lr"]

    def update(self, kernels, params, grads, values: dict) -> None:
        """Apply the rule with this update's ``values`` (from :meth:`step_values`, on the device)."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        """The step count, each state buffer as a NumPy array and (once bound) which models of a
        population are frozen, for checkpoints; an unbound copy returns the state it will restore."""
        if self.pending_state is not None:
            return dict(self.pending_state)
        result: dict = {"t": self.t}
        for slot, buffer in self.state.items():
            result[slot] = to_numpy(buffer.flat)
        if self.bound is not None:
            result["frozen"] = self.frozen.copy()
        return result

    def load_state_dict(self, state: dict, params) -> None:
        """Restore what :meth:`state_dict` returned, on the device of ``params``, which this optimizer
        now updates (the state moves with the model)."""
        self.pending_state = dict(state)
        self._bound = None
        self.init(params)

    def __reduce__(self):
        """Pickle and deepcopy through what :func:`xpnet.save` keeps (class, config, ``t``, the
        state buffers as NumPy arrays): no backend object travels. The copy is bound to no model; its
        state comes back when it is next bound (``fit(..., optimizer=copy)``), on that model's device
        and backend."""
        return optimizer_from_state, (type(self).__name__, self.get_config(), self.state_dict())

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

    def update(self, kernels, params, grads, values):
        kernels.sgd_update(params.flat, grads.flat, lr=values["lr"])


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

    def update(self, kernels, params, grads, values):
        kernels.momentum_update(params.flat, grads.flat, self.state["v"].flat, lr=values["lr"],
                                beta=self.hyper["beta"], nesterov=self.nesterov)

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

    def update(self, kernels, params, grads, values):
        kernels.rmsprop_update(params.flat, grads.flat, self.state["s"].flat, lr=values["lr"],
                               beta=self.hyper["beta"], eps=self.hyper["eps"])


class Adam(Optimizer):
    """Adam: momentum and RMSprop moments with bias correction.

    ``v = beta1 v + (1 - beta1) g``, ``s = beta2 s + (1 - beta2) g^2``,
    ``v_hat = v / (1 - beta1^t)``, ``s_hat = s / (1 - beta2^t)``, ``p -= lr v_hat / (sqrt(s_hat) + eps)``.
    """

    slots = ("v", "s")
    hyperparameter_names: tuple[str, ...] = ("beta1", "beta2", "eps")
    value_names = ("lr", "step", "root2")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(lr)
        self.beta1 = checks.averaging_beta(beta1, "beta1")
        self.beta2 = checks.averaging_beta(beta2, "beta2")
        self.eps = checks.positive(eps, "eps")

    def step_values(self, epoch, t):
        """The learning rate, and Adam's bias corrections after ``t`` updates as the ``step`` and ``root2``
        of :func:`~xpnet.kernels.reference.adam_step_sizes`, computed in float64."""
        values = super().step_values(epoch, t)
        beta1, beta2 = (np.asarray(getattr(self, name), dtype=np.float64) for name in ("beta1", "beta2"))
        values["step"], values["root2"] = reference.adam_step_sizes(values["lr"], beta1, beta2, t)
        return values

    def update(self, kernels, params, grads, values):
        h = self.hyper
        kernels.adam_update(params.flat, grads.flat, self.state["v"].flat, self.state["s"].flat,
                            step=values["step"], root2=values["root2"], beta1=h["beta1"], beta2=h["beta2"],
                            eps=h["eps"])


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` before the Adam step.

    Only Dense weights decay; biases and batch-norm parameters are masked out.
    """

    hyperparameter_names = Adam.hyperparameter_names + ("weight_decay",)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01):
        super().__init__(lr, beta1, beta2, eps)
        self.weight_decay = checks.non_negative(weight_decay, "weight_decay")

    def update(self, kernels, params, grads, values):
        kernels.decay_weights(params.decayed(), lr=values["lr"], weight_decay=self.hyper["weight_decay"])
        super().update(kernels, params, grads, values)


OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Momentum, RMSprop, Adam, AdamW)}


def optimizer_from_config(class_name: str, config: dict) -> Optimizer:
    """Rebuild an optimizer from its class name and :meth:`Optimizer.get_config`."""
    if not isinstance(class_name, str) or class_name not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {class_name!r}; expected one of {sorted(OPTIMIZERS)}")
    if not isinstance(config, dict) or "lr" not in config:
        raise ValueError(f"an optimizer's config must be a dict of its arguments with 'lr', got {config!r}")
    return OPTIMIZERS[class_name](**{**config, "lr": schedules.from_config(config["lr"])})


def optimizer_from_state(class_name: str, config: dict, state: dict) -> Optimizer:
    """An unbound optimizer that restores ``state`` (a :meth:`Optimizer.state_dict`) when bound."""
    optimizer = optimizer_from_config(class_name, config)
    optimizer.pending_state = dict(state)
    optimizer.t = int(state["t"])
    return optimizer
