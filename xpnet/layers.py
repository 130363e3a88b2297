"""Layers: ``forward(X, training) -> A`` and ``backward(dA) -> dX``, written by hand.

A layer declares its parameters (:class:`~xpnet.params.ParamSpec`) when the model builds it;
the model then hands it views into the shared flat buffers (``self.params``, ``self.grads``,
``self.state``) and the backend. ``backward`` writes parameter gradients into ``self.grads`` in
place and returns the gradient for the layer below. ``lead`` is the tuple of leading axes of a
population of stacked models (``()`` for one model); parameter specs give one model's shapes and
the model stacks them.
"""
from __future__ import annotations

import numpy as np

from xpnet import functional as F
from xpnet import init as initializers
from xpnet.ewa import ewa_update
from xpnet.kernels import Workspace
from xpnet.params import ParamSpec, fill


class Layer:
    """Base class. Subclasses set ``param_specs``/``state_specs`` in ``build`` if they have any."""

    def build(self, input_dim: int, lead: tuple = ()) -> int:
        """Record the input width and return the output width."""
        self.input_dim = input_dim
        self.lead = lead
        return input_dim

    def param_specs(self) -> list:
        return []

    def state_specs(self) -> list:
        return []

    def bind(self, backend, params: dict, grads: dict, state: dict) -> None:
        """Attach the backend and this layer's views (short names such as ``"W"``)."""
        self.backend = backend
        self.xp = backend.xp
        self.kernels = backend.kernels
        self.workspace = Workspace(backend)
        self.params = params
        self.grads = grads
        self.state = state

    def buffer(self, key: str, shape, training: bool):
        """A reusable output buffer for a training step when the kernels write into buffers, else None.

        Such outputs are overwritten by the next training step of the same batch size.
        """
        if training and self.kernels.uses_buffers:
            return self.workspace.get(key, shape)
        return None

    def forward(self, X, training: bool):
        raise NotImplementedError

    def backward(self, dA, need_dX: bool = True):
        raise NotImplementedError

    def get_config(self) -> dict:
        """Constructor arguments, JSON-serializable (used by save/load)."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Fully connected: ``Z = X @ W + b``, W ``(fan_in, fan_out)`` drawn by ``init``, b zeros.

    ``use_bias=None`` (the default) means: a bias unless the next layer is :class:`BatchNorm`, whose
    mean subtraction cancels it; the model drops it there automatically.
    """

    def __init__(self, units: int, use_bias: bool | None = None, init="he", scale: float | None = None):
        if not isinstance(units, int) or isinstance(units, bool) or units < 1:
            raise ValueError(f"Dense units must be a positive int, got {units!r}")
        self.units = units
        self.use_bias = use_bias
        self.init = init
        self.initializer = initializers.get_initializer(init)
        self.scale = scale

    def build(self, input_dim, lead=()):
        super().build(input_dim, lead)
        self.has_bias = self.use_bias is not False
        return self.units

    def param_specs(self):
        shape = (self.input_dim, self.units)
        specs = [ParamSpec("W", shape, lambda rng, s: self.initializer(rng, s, self.scale), decayed=True)]
        if self.has_bias:
            specs.append(ParamSpec("b", (self.units,), fill(0.0)))
        return specs

    def _stacked(self, X) -> tuple:
        """Leading axes of the result: X's and the weights' broadcast together."""
        lead = tuple(X.shape[:-2])
        return lead if lead == self.lead else np.broadcast_shapes(lead, self.lead)

    def forward(self, X, training):
        return self.product(X, training, add_bias=True)

    def backward(self, dZ, need_dX=True):
        return self.product_backward(dZ, need_dX, sum_bias=True)

    def product(self, X, training, add_bias: bool):
        """``Z = X W``, plus b when ``add_bias``; X is kept for the backward pass."""
        self.X = X
        out = self.buffer("Z", self._stacked(X) + (X.shape[-2], self.units), training)
        b = self.params.get("b") if add_bias else None
        return self.kernels.dense_forward(X, self.params["W"], b, out)

    def product_backward(self, dZ, need_dX: bool, sum_bias: bool):
        """``dW = X^T dZ`` into the gradients, ``db = sum_m dZ`` too when ``sum_bias``; returns
        ``dX = dZ W^T`` (None unless ``need_dX``)."""
        X = self.X
        dX_out = self.buffer("dX", self._stacked(X) + tuple(X.shape[-2:]), need_dX)
        return self.kernels.dense_backward(dZ, X, self.params["W"], self.grads["W"],
                                           self.grads.get("b") if sum_bias else None, need_dX, dX_out)

    def get_config(self):
        if callable(self.init):
            raise TypeError("a Dense layer with a callable init cannot be saved; use an init name")
        return {"units": self.units, "use_bias": self.use_bias, "init": self.init, "scale": self.scale}


class Activation(Layer):
    """An elementwise ``A = f(Z)`` whose backward is ``dZ = dA * f'(Z)``; ``kind`` names the pair of
    kernels (see :data:`xpnet.kernels.ACTIVATIONS`)."""

    kind = ""

    def forward(self, Z, training):
        self.Z = Z
        self.A = self.kernels.activation_forward(self.kind, Z, self.buffer("A", Z.shape, training),
                                                 **self.get_config())
        return self.A

    def backward(self, dA, need_dX=True):
        out = self.buffer("dZ", self.Z.shape, True)
        return self.kernels.activation_backward(self.kind, dA, self.Z, self.A, out, **self.get_config())


class ReLU(Activation):
    """``max(Z, 0)``."""

    kind = "relu"


class LeakyReLU(Activation):
    """``Z`` where positive, ``alpha * Z`` elsewhere."""

    kind = "leaky_relu"

    def __init__(self, alpha: float = 0.01):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"LeakyReLU alpha must be in [0, 1], got {alpha!r}")
        self.alpha = float(alpha)

    def get_config(self):
        return {"alpha": self.alpha}


class Tanh(Activation):
    """``tanh(Z)``."""

    kind = "tanh"


class Sigmoid(Activation):
    """``1 / (1 + exp(-Z))``."""

    kind = "sigmoid"


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
        if rate is None:
            rate = 0.5 if keep_prob is None else 1.0 - np.asarray(keep_prob, dtype=float)
        rates = np.asarray(rate, dtype=float)
        if rates.ndim > 1 or not np.all((rates >= 0.0) & (rates < 1.0)):
            raise ValueError(f"Dropout rate must be in [0, 1) (keep_prob in (0, 1]), or one such rate per "
                             f"model, got rate={rate!r}")
        self.rate = float(rates) if rates.ndim == 0 else rates.tolist()
        self.keep_prob = 1.0 - rates if rates.ndim else 1.0 - float(rates)
        self.drops = bool(np.any(rates > 0.0))
        self.freeze_mask = False

    def bind(self, backend, params, grads, state):
        super().bind(backend, params, grads, state)
        self.mask = None
        self.keep = self.keep_prob
        if isinstance(self.rate, list):
            if len(self.rate) != (self.lead[-1] if self.lead else 1):
                raise ValueError(f"Dropout got {len(self.rate)} rates for a population of "
                                 f"{self.lead[-1] if self.lead else 1} model(s)")
            self.keep = backend.asarray(np.reshape(self.keep_prob, self.lead + (1, 1)))

    def forward(self, A, training):
        self.active = training and self.drops
        if not self.active:
            return A
        if self.freeze_mask and self.mask is not None:
            return F.dropout(self.xp, A, self.mask)
        uniform = self.backend.random.uniform(A.shape, A.dtype)
        out, self.mask = self.kernels.dropout_forward(A, uniform, self.keep)
        return out

    def backward(self, dA, need_dX=True):
        return self.kernels.dropout_backward(dA, self.mask) if self.active else dA

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
        if not eps > 0:
            raise ValueError(f"BatchNorm eps must be > 0, got {eps!r}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"BatchNorm momentum (weight on the old running value) must be in [0, 1), "
                             f"got {momentum!r}")
        self.eps = float(eps)
        self.momentum = float(momentum)

    def param_specs(self):
        shape = (self.input_dim,)
        return [ParamSpec("gamma", shape, fill(1.0)), ParamSpec("beta", shape, fill(0.0))]

    def state_specs(self):
        shape = (self.input_dim,)
        return [ParamSpec("running_mean", shape, fill(0.0)), ParamSpec("running_var", shape, fill(1.0))]

    def forward(self, Z, training):
        xp = self.xp
        gamma, beta = self.params["gamma"], self.params["beta"]
        if not training:
            mean = xp.expand_dims(self.state["running_mean"], axis=-2)
            var = xp.expand_dims(self.state["running_var"], axis=-2)
            return self.kernels.batchnorm_normalize(Z, mean, var, gamma, beta, self.eps)[0]
        m = Z.shape[-2]
        if m < 2:
            raise ValueError(f"BatchNorm needs at least 2 examples per training batch, got a batch of {m} "
                             "(its variance is undefined); use a larger batch_size")
        mean, var = F.batchnorm_statistics(xp, Z)
        out, self.Z_hat, self.inv_std = self.kernels.batchnorm_normalize(Z, mean, var, gamma, beta, self.eps)
        self._update_running(mean[..., 0, :], var[..., 0, :] * (m / (m - 1)))
        return out

    def _update_running(self, mean, unbiased_var):
        ewa_update(self.state["running_mean"], mean, self.momentum)
        ewa_update(self.state["running_var"], unbiased_var, self.momentum)

    def backward(self, dout, need_dX=True):
        dZ, dgamma, dbeta = self.kernels.batchnorm_backward(dout, self.Z_hat, self.inv_std,
                                                            self.params["gamma"])
        self.grads["gamma"][...] = dgamma
        self.grads["beta"][...] = dbeta
        return dZ

    def get_config(self):
        return {"eps": self.eps, "momentum": self.momentum}


LAYERS = {cls.__name__: cls for cls in (Dense, ReLU, LeakyReLU, Tanh, Sigmoid, Dropout, BatchNorm)}


def layer_from_config(class_name: str, config: dict) -> Layer:
    """Rebuild a layer saved with :meth:`Layer.get_config`."""
    if class_name not in LAYERS:
        raise ValueError(f"unknown layer {class_name!r}; expected one of {sorted(LAYERS)}")
    return LAYERS[class_name](**config)
