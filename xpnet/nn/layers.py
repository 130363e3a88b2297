"""Layers: ``forward(X, workspace, training) -> A`` and ``backward(dA, workspace, need_dX) -> dX``,
written by hand with the kernels of :mod:`xpnet.kernels`.

A layer declares its parameters (:class:`~xpnet.params.ParamSpec`) when the model builds it; the
model then binds it to the backend and to views into the shared flat buffers (``self.params``,
``self.grads``, ``self.state``). Every result is written into a buffer of the pass's
:class:`~xpnet.params.Workspace`, and what the backward pass needs is saved there too, so the layer
object itself holds no per-pass data. ``backward`` writes parameter gradients into ``self.grads`` in
place and returns the gradient for the layer below (None unless ``need_dX``). ``lead`` is the tuple
of leading axes of a population of stacked models (``()`` for one model); parameter specs give one
model's shapes and the model stacks them.
"""
from __future__ import annotations

import weakref

import numpy as np

from xpnet import checks
from xpnet.nn import init as initializers
from xpnet.params import ParamSpec, fill, per_model_array


class Layer:
    """Base class. Subclasses declare ``param_specs``/``state_specs`` if they have any."""

    def build(self, input_dim: int, lead: tuple = ()) -> int:
        """Record the input width and population axes; return the output width."""
        self.input_dim = input_dim
        self.lead = lead
        return input_dim

    def param_specs(self) -> list:
        return []

    def state_specs(self) -> list:
        return []

    def bind(self, model, backend, params: dict, grads: dict, state: dict) -> None:
        """Attach the layer to ``model``: its backend and its views (short names such as ``"W"``).

        A layer belongs to one model: placing the same layer object in a second model is refused,
        since both would write its views."""
        owner = getattr(self, "_owner", None)
        if owner is not None and owner() not in (None, model):
            raise ValueError(f"{self!r} already belongs to another model; give each model its own layer "
                             "objects (copy.deepcopy(layer) makes an independent one)")
        self._owner = weakref.ref(model)
        self.backend = backend
        self.kernels = backend.kernels
        self.params = params
        self.grads = grads
        self.state = state

    def forward(self, X, workspace, training: bool):
        raise NotImplementedError

    def backward(self, dA, workspace, need_dX: bool = True):
        raise NotImplementedError

    def get_config(self) -> dict:
        """Constructor arguments, JSON-serializable (used by save/load)."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __getstate__(self):
        """Copies of a layer (copy.copy, copy.deepcopy, pickle) keep its settings and belong to no model."""
        return {key: value for key, value in vars(self).items() if key not in _BOUND}


#: What ``bind`` attaches: a copy of a layer leaves these behind.
_BOUND = ("_owner", "backend", "kernels", "params", "grads", "state", "keep")


class Dense(Layer):
    """Fully connected: ``Z = X @ W + b``, W ``(fan_in, fan_out)`` drawn by ``init``, b zeros.

    ``use_bias=None`` (the default) means: a bias unless the next layer is :class:`BatchNorm`, whose
    mean subtraction cancels it; the model drops it there automatically. ``scale`` multiplies the
    initializer's standard deviation (or bound).
    """

    def __init__(self, units: int, use_bias: bool | None = None, init="he", scale: float | None = None):
        self.units = checks.positive_int(units, "Dense units")
        self.use_bias = None if use_bias is None else checks.flag(use_bias, "Dense use_bias")
        self.init = init
        self.initializer = initializers.get_initializer(init)
        self.scale = None if scale is None else checks.positive(scale, "Dense scale", per_model=False)

    def build(self, input_dim, lead=()):
        super().build(input_dim, lead)
        self.has_bias = self.use_bias is not False
        return self.units

    def param_specs(self):
        shape = (self.input_dim, self.units)
        specs = [ParamSpec("W", shape, self.initial_weights, decayed=True)]
        if self.has_bias:
            specs.append(ParamSpec("b", (self.units,), fill(0.0)))
        return specs

    def initial_weights(self, rng, shape):
        """The initializer's draw of ``shape`` (float64), refused unless it has that shape and is finite."""
        values = np.asarray(self.initializer(rng, shape, self.scale), dtype=np.float64)
        if values.shape != tuple(shape):
            raise ValueError(f"Dense init={self.init!r} must give weights of shape {tuple(shape)}, got shape "
                             f"{values.shape}")
        if not np.all(np.isfinite(values)):
            raise ValueError(f"Dense init={self.init!r} (scale={self.scale!r}) gave NaN or inf weights")
        return values

    def forward(self, X, workspace, training):
        """``Z = X W + b`` into the workspace; X is saved for the backward pass."""
        workspace.saved[self, "X"] = X
        out = workspace.get(self, "Z", self.output_shape(X))
        return self.kernels.dense_forward(X, self.params["W"], self.params.get("b"), out=out)

    def backward(self, dZ, workspace, need_dX=True):
        if self.has_bias:
            self.kernels.bias_grad(dZ, out=self.grads["b"])
        return self.product_backward(dZ, workspace, need_dX)

    def output_shape(self, X) -> tuple:
        """``lead + (m, units)`` for inputs X ``(..., m, input_dim)``."""
        return self.lead + (X.shape[-2], self.units)

    def product_backward(self, dZ, workspace, need_dX: bool):
        """``dW = X^T dZ`` into the gradients; returns ``dX = dZ W^T`` (None unless ``need_dX``)."""
        X = workspace.saved[self, "X"]
        self.kernels.weight_grad(X, dZ, out=self.grads["W"])
        if not need_dX:
            return None
        out = workspace.get(self, "dX", self.lead + tuple(X.shape[-2:]))
        return self.kernels.input_grad(dZ, self.params["W"], out=out)

    def get_config(self):
        if callable(self.init):
            raise TypeError("a Dense layer with a callable init cannot be saved; use an init name")
        return {"units": self.units, "use_bias": self.use_bias, "init": self.init, "scale": self.scale}


class Activation(Layer):
    """An elementwise ``A = f(Z)`` whose backward is ``dZ = dA * f'(Z)``. Subclasses give ``activate``
    and ``derivative``; those a fast path fuses with the Dense layer before them (see
    :mod:`xpnet.nn.fusion`) also give ``fused_op``, ``dense_activate`` and ``bias_derivative``."""

    fused_op: str | None = None

    def forward(self, Z, workspace, training):
        A = self.activate(Z, out=workspace.get(self, "A", Z.shape))
        workspace.saved[self, "Z"], workspace.saved[self, "A"] = Z, A
        return A

    def backward(self, dA, workspace, need_dX=True):
        Z, A = workspace.saved[self, "Z"], workspace.saved[self, "A"]
        return self.derivative(dA, Z, A, out=workspace.get(self, "dZ", A.shape))

    def activate(self, Z, out):
        raise NotImplementedError

    def derivative(self, dA, Z, A, out):
        raise NotImplementedError


class ReLU(Activation):
    """``max(Z, 0)``."""

    fused_op = "dense_relu"

    def activate(self, Z, out):
        return self.kernels.relu(Z, out=out)

    def derivative(self, dA, Z, A, out):
        return self.kernels.relu_backward(dA, Z, out=out)

    def dense_activate(self, X, W, b, out):
        return self.kernels.dense_relu(X, W, b, out=out)

    def bias_derivative(self, dA, A, out):
        return self.kernels.relu_bias_backward(dA, A, out=out)


class LeakyReLU(Activation):
    """``Z`` where positive, ``alpha * Z`` elsewhere."""

    fused_op = "dense_leaky_relu"

    def __init__(self, alpha: float = 0.01):
        self.alpha = checks.in_range(alpha, "LeakyReLU alpha", 0.0, 1.0, per_model=False)

    def activate(self, Z, out):
        return self.kernels.leaky_relu(Z, alpha=self.alpha, out=out)

    def derivative(self, dA, Z, A, out):
        return self.kernels.leaky_relu_backward(dA, Z, alpha=self.alpha, out=out)

    def dense_activate(self, X, W, b, out):
        return self.kernels.dense_leaky_relu(X, W, b, alpha=self.alpha, out=out)

    def bias_derivative(self, dA, A, out):
        return self.kernels.leaky_relu_bias_backward(dA, A, alpha=self.alpha, out=out)

    def get_config(self):
        return {"alpha": self.alpha}


class Tanh(Activation):
    """``tanh(Z)``."""

    def activate(self, Z, out):
        return self.kernels.tanh(Z, out=out)

    def derivative(self, dA, Z, A, out):
        return self.kernels.tanh_backward(dA, A, out=out)


class Sigmoid(Activation):
    """``1 / (1 + exp(-Z))``."""

    def activate(self, Z, out):
        return self.kernels.sigmoid(Z, out=out)

    def derivative(self, dA, Z, A, out):
        return self.kernels.sigmoid_backward(dA, A, out=out)


class Dropout(Layer):
    """Inverted dropout: in training, drop each unit with probability ``rate`` and scale the kept ones
    by ``1 / keep_prob`` (``keep_prob = 1 - rate``), a fresh mask every call, drawn on the device;
    backward applies the same mask. In evaluation it is the identity.

    Give ``rate`` (as in PyTorch and Keras) or ``keep_prob``, not both; the default is ``rate=0.5``.
    In a population either may be a sequence, one rate per model.
    ``freeze_mask = True`` reuses the last mask instead of drawing a new one (gradient checking).
    """

    def __init__(self, rate=None, keep_prob=None):
        if rate is not None and keep_prob is not None:
            raise ValueError(f"Dropout takes rate or keep_prob, not both (got rate={rate!r}, "
                             f"keep_prob={keep_prob!r})")
        expected = "in [0, 1) (keep_prob in (0, 1]), or one such rate per model"
        if keep_prob is not None:
            keep = checks.per_model_numbers(keep_prob, "Dropout keep_prob",
                                            lambda values: (values > 0) & (values <= 1), expected)
            rate = 1.0 - np.asarray(keep)
        rates = checks.per_model_numbers(0.5 if rate is None else rate, "Dropout rate",
                                         lambda values: (values >= 0) & (values < 1), expected)
        self.rate = rates
        self.keep_prob = (1.0 - np.asarray(rates)).tolist() if isinstance(rates, list) else 1.0 - rates
        self.drops = bool(np.any(np.asarray(rates) > 0.0))
        self.freeze_mask = False

    def build(self, input_dim, lead=()):
        if isinstance(self.rate, list):
            checks.one_per_model(self.rate, "Dropout rate", lead)
        return super().build(input_dim, lead)

    def bind(self, model, backend, params, grads, state):
        super().bind(model, backend, params, grads, state)
        self.keep = per_model_array(backend, self.keep_prob, self.lead, trailing=2)

    def forward(self, A, workspace, training):
        active = training and self.drops
        workspace.saved[self, "active"] = active
        if not active:
            return A
        out = workspace.get(self, "out", A.shape)
        saved_mask = workspace.saved.get((self, "mask"))
        if self.freeze_mask and saved_mask is not None and saved_mask.shape == A.shape:
            return self.kernels.dropout(A, saved_mask, out=out)
        uniform = self.backend.random.uniform(A.shape, A.dtype, out=workspace.get(self, "uniform", A.shape),
                                              kernels=self.kernels)
        _, mask = self.kernels.dropout_forward(A, uniform, keep_prob=self.keep,
                                               out=(out, workspace.get(self, "mask", A.shape)))
        workspace.saved[self, "mask"] = mask
        return out

    def backward(self, dA, workspace, need_dX=True):
        if not workspace.saved[self, "active"]:
            return dA
        mask = workspace.saved[self, "mask"]
        return self.kernels.dropout(dA, mask, out=workspace.get(self, "dA", mask.shape))

    def get_config(self):
        return {"rate": self.rate}


class BatchNorm(Layer):
    """Batch normalization of each feature over the mini-batch, placed after Dense, before the activation.

    Training: ``Z_hat = (Z - mean) / sqrt(var + eps)`` with the batch mean and biased variance (1/m),
    output ``gamma * Z_hat + beta`` (gamma starts at 1, beta at 0). Evaluation uses the running
    statistics instead.

    Running statistics convention: ``momentum`` is the weight on the OLD value (as in Keras),
    ``running = momentum * running + (1 - momentum) * batch``, so the default 0.9 equals PyTorch's
    ``momentum=0.1``. As in PyTorch, the running variance averages the unbiased batch variance
    (``var * m / (m - 1)``). A training batch of one example is an error (its variance is undefined).
    """

    def __init__(self, eps: float = 1e-5, momentum: float = 0.9):
        self.eps = checks.positive(eps, "BatchNorm eps", per_model=False)
        self.momentum = checks.averaging_beta(momentum, "BatchNorm momentum (weight on the old running value)",
                                              per_model=False)

    def param_specs(self):
        shape = (self.input_dim,)
        return [ParamSpec("gamma", shape, fill(1.0)), ParamSpec("beta", shape, fill(0.0))]

    def state_specs(self):
        shape = (self.input_dim,)
        return [ParamSpec("running_mean", shape, fill(0.0)), ParamSpec("running_var", shape, fill(1.0))]

    def forward(self, Z, workspace, training):
        statistics_shape = self.lead + (1, self.input_dim)
        outputs = (workspace.get(self, "out", Z.shape), workspace.get(self, "Z_hat", Z.shape),
                   workspace.get(self, "inv_std", statistics_shape))
        if training:
            mean, var = self._batch_statistics(Z, workspace, statistics_shape)
        else:
            mean, var = (self.backend.xp.expand_dims(self.state[name], axis=-2)
                         for name in ("running_mean", "running_var"))
        out, Z_hat, inv_std = self.kernels.batchnorm_forward(Z, mean, var, self.params["gamma"],
                                                             self.params["beta"], eps=self.eps, out=outputs)
        workspace.saved[self, "Z_hat"], workspace.saved[self, "inv_std"] = Z_hat, inv_std
        return out

    def _batch_statistics(self, Z, workspace, shape):
        """The batch's mean and variance; the running statistics take one step towards them."""
        m = Z.shape[-2]
        if m < 2:
            raise ValueError(f"BatchNorm needs at least 2 examples per training batch, got a batch of {m} "
                             "(its variance is undefined); use a larger batch_size")
        mean, var = self.kernels.batchnorm_statistics(
            Z, out=(workspace.get(self, "mean", shape), workspace.get(self, "var", shape)))
        self.kernels.batchnorm_running_update(self.state["running_mean"], self.state["running_var"], mean, var,
                                              momentum=self.momentum, m=m)
        return mean, var

    def backward(self, dout, workspace, need_dX=True):
        Z_hat, inv_std = workspace.saved[self, "Z_hat"], workspace.saved[self, "inv_std"]
        dZ, _, _ = self.kernels.batchnorm_backward(
            dout, Z_hat, inv_std, self.params["gamma"],
            out=(workspace.get(self, "dZ", dout.shape), self.grads["gamma"], self.grads["beta"]))
        return dZ

    def get_config(self):
        return {"eps": self.eps, "momentum": self.momentum}


class UnitMask(Layer):
    """``A * mask`` forward and ``dA * mask`` backward, with ``mask[i, j] = 1`` for the first
    ``units[i]`` units of member ``i`` and 0 for its padding (shape ``(P, 1, width)``): a population whose
    members have hidden layers of different widths, padded to the widest, keeps each member's padding
    at zero (see :mod:`xpnet.tune.populations`)."""

    def __init__(self, units):
        self.units = [int(count) for count in units]

    def build(self, input_dim, lead=()):
        super().build(input_dim, lead)
        if lead != (len(self.units),) or max(self.units) > input_dim or min(self.units) < 1:
            raise ValueError(f"UnitMask(units={self.units}) needs one width in 1..{input_dim} per model of a "
                             f"population; got a population of {lead[0] if lead else None}")
        return input_dim

    def bind(self, model, backend, params, grads, state):
        super().bind(model, backend, params, grads, state)
        own = np.arange(self.input_dim) < np.reshape(self.units, (-1, 1))
        self.mask = backend.asarray(own.reshape(self.lead + (1, self.input_dim)))

    def forward(self, A, workspace, training):
        return self.kernels.dropout(A, self.mask, out=workspace.get(self, "out", A.shape))

    def backward(self, dA, workspace, need_dX=True):
        return self.kernels.dropout(dA, self.mask, out=workspace.get(self, "dA", dA.shape))

    def get_config(self):
        return {"units": self.units}


LAYERS = {cls.__name__: cls for cls in (Dense, ReLU, LeakyReLU, Tanh, Sigmoid, Dropout, BatchNorm, UnitMask)}


def layer_from_config(class_name: str, config: dict) -> Layer:
    """Rebuild a layer saved with :meth:`Layer.get_config`."""
    if not isinstance(class_name, str) or class_name not in LAYERS:
        raise ValueError(f"unknown layer {class_name!r}; expected one of {sorted(LAYERS)}")
    return LAYERS[class_name](**config)
