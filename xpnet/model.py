"""Sequential: a stack of layers whose parameters live in one flat buffer on one device."""
from __future__ import annotations

import copy
import dataclasses
import warnings

import numpy as np

from xpnet import checks, data
from xpnet.backend import namespace_name, resolve_backend, to_numpy
from xpnet.nn import fusion
from xpnet.nn.layers import BatchNorm, Dense, Dropout, Layer
from xpnet.nn.losses import Loss, get_loss
from xpnet.params import FlatBuffer, Layout, Workspace
from xpnet.training import loop
from xpnet.training.history import History
from xpnet.training.optim import Optimizer

EVAL_CHUNK = 8192  # rows per forward pass in predict/evaluate, to bound memory


class Sequential:
    """A feed-forward network ``layers[0] -> layers[1] -> ...`` on one backend and device.

    ``params`` maps ``"<layer index>.<name>"`` (``"0.W"``, ``"0.b"``, ``"1.gamma"``) to the live
    parameter arrays, in layer order; ``grads`` holds the latest gradients under the same names and
    ``state`` the non-trained buffers (batch norm's running statistics). All three are views of one
    flat buffer each (``param_buffer``, ``grad_buffer``, ``state_buffer``). Initial weights come from
    a NumPy generator seeded with ``seed``, so they are bit-identical on every backend.
    ``fast=False`` (or ``XPNET_FAST=0``) runs the reference kernels instead of the backend's fast path.

    ``population=P`` stacks P same-shaped models on a leading axis, trained together in one pass
    (every array gains a leading ``P``); ``seed`` may then be one seed per model, so model ``i``
    starts exactly as ``Sequential(..., seed=seed[i])`` would, and ``init_scale`` (one number, or
    one per model) multiplies each model's initial weights. The dropout and shuffle streams of a
    population follow its first seed.

    Training passes write into the model's ``workspace``; every evaluation pass (``predict``,
    ``evaluate``) works in buffers of its own, so predicting from another thread while ``fit`` runs
    leaves the training step alone (it sees the weights as they are at that moment).
    """

    def __init__(self, layers, input_dim: int, device: str = "cpu", dtype: str = "float32",
                 seed: int | None = 0, backend: str | None = None, fast: bool | None = None,
                 population: int | None = None, init_scale=1.0):
        self.layers = check_layers(layers)
        self.input_dim = checks.positive_int(input_dim, "input_dim")
        self.lead = checks.population(population)
        self.seeds = [checks.seed(value) for value in checks.one_per_model(seed, "seed", self.lead)]
        self.seed = seed
        self.fast = fast
        scales = [checks.positive(scale, "init_scale")
                  for scale in checks.one_per_model(init_scale, "init_scale", self.lead)]
        self.backend = resolve_backend(backend, device, dtype, self.seeds[0], fast)
        self.output_dim, specs, states = architecture(self.layers, self.input_dim, self.lead)
        _warn_about_cancelled_biases(self.layers)
        self.param_layout = Layout(specs)
        self.state_layout = Layout(states)
        initial = [_initial_values(specs, np.random.default_rng(member_seed), scale)
                   for member_seed, scale in zip(self.seeds, scales)]
        stacked = {name: np.stack([values[name] for values in initial]).reshape(
            self.lead + initial[0][name].shape) for name in initial[0]}
        _check_representable(stacked, dtype)
        self._allocate(stacked, _initial_values(states, None, 1.0, self.lead))
        self.loss: Loss | None = None
        self.optimizer: Optimizer | None = None
        self.history = History()
        self.epoch = 0
        self.alive = np.ones(self.lead, dtype=bool)  # models of a population still training
        self.shuffle_random = None  # made by fit, from fit's seed or the model's
        self.metadata: dict = {}  # JSON-serializable notes saved with the model (see xpnet.save)

    # construction ----------------------------------------------------------------------------

    def _allocate(self, params: dict, state: dict) -> None:
        """Create the flat buffers on the backend from host values and bind every layer's views."""
        self.param_buffer = FlatBuffer.from_host(self.param_layout, self.backend, params, self.lead)
        self.grad_buffer = self.param_buffer.zeros_like()
        self.state_buffer = FlatBuffer.from_host(self.state_layout, self.backend, state, self.lead)
        for i, layer in enumerate(self.layers):
            layer.bind(self, self.backend, *(_local(buffer.views, i) for buffer in
                                             (self.param_buffer, self.grad_buffer, self.state_buffer)))
        self.stages = fusion.stages(self.layers, self.backend.kernels)
        self.workspace = Workspace(self.backend)

    # parameters ------------------------------------------------------------------------------

    @property
    def params(self) -> dict:
        return self.param_buffer.views

    @property
    def grads(self) -> dict:
        return self.grad_buffer.views

    @property
    def state(self) -> dict:
        return self.state_buffer.views

    @property
    def population(self) -> int | None:
        """The number of stacked models, or None for a single model."""
        return self.lead[0] if self.lead else None

    @property
    def device(self) -> str:
        return self.backend.device_name

    @property
    def dtype(self) -> str:
        return self.backend.dtype_name

    def count_params(self) -> int:
        return self.param_layout.size

    def set_weights(self, values: dict) -> None:
        """Copy values (NumPy or backend arrays) into the named parameters or state buffers."""
        targets = {**self.params, **self.state}
        checked = {}
        for name, value in values.items():
            if name not in targets:
                raise KeyError(f"set_weights: unknown parameter {name!r}; expected names from "
                               f"{sorted(targets)}")
            host = data.as_host_array(value, f"set_weights[{name!r}]")
            if host.shape != tuple(targets[name].shape):
                raise ValueError(f"set_weights[{name!r}] must have shape {tuple(targets[name].shape)}, "
                                 f"got {host.shape}")
            checked[name] = host
        for name, host in checked.items():
            targets[name][...] = self.backend.asarray(host)

    def get_weights(self) -> dict:
        """name -> NumPy copy of every parameter and state buffer."""
        return {**self.param_buffer.to_host(), **self.state_buffer.to_host()}

    def get_params(self) -> dict:
        """Deprecated name of :meth:`get_weights` (scikit-learn uses ``get_params`` for settings)."""
        warnings.warn("Sequential.get_params is deprecated; use get_weights", DeprecationWarning,
                      stacklevel=2)
        return self.get_weights()

    def set_params(self, values: dict) -> None:
        """Deprecated name of :meth:`set_weights`."""
        warnings.warn("Sequential.set_params is deprecated; use set_weights", DeprecationWarning,
                      stacklevel=2)
        self.set_weights(values)

    def __reduce__(self):
        """Pickle and deepcopy through the arrays of :func:`xpnet.save` (no Python objects of the
        backend travel); unpickling resolves the backend and device again."""
        from xpnet import io

        return io.from_arrays, (io.to_arrays(self),)

    def clone(self, dtype: str | None = None, device: str | None = None,
              backend: str | None = None) -> Sequential:
        """An independent copy (same layers, parameters, state and loss), optionally in another dtype
        or on another device. The optimizer and history are not copied."""
        if backend is None and device is None:
            backend = self.backend.name
        twin = Sequential([copy.copy(layer) for layer in self.layers], self.input_dim,
                          device=device or self.device, dtype=dtype or self.dtype, seed=self.seed,
                          backend=backend, fast=self.fast, population=self.population)
        twin.set_weights(self.get_weights())
        twin.loss = self.loss
        return twin

    def to(self, device: str, backend: str | None = None) -> Sequential:
        """Move parameters, state and optimizer state to another device (and backend), in place.

        The dropout and shuffle random streams restart there from the model's seed."""
        params, state = self.param_buffer.to_host(), self.state_buffer.to_host()
        optimizer = self.optimizer
        optimizer_state = optimizer.state_dict() if optimizer is not None else {}
        self.backend = resolve_backend(backend, device, self.backend.dtype_name, self.seeds[0], self.fast)
        self.shuffle_random = None
        self._allocate(params, state)
        if optimizer is not None:
            optimizer.load_state_dict(optimizer_state, self.param_buffer)
        return self

    # forward and backward --------------------------------------------------------------------

    def forward(self, X, training: bool = False, workspace: Workspace | None = None):
        """Raw network outputs (logits) ``lead + (m, output_dim)`` as a backend array.

        A training pass works in the model's ``workspace`` (its result is overwritten by the next
        training step of the same batch size: copy it if you keep it) and saves what ``backward``
        needs there; an evaluation pass works in ``workspace`` if given, else in fresh buffers.
        """
        if not _on_backend(X, self.backend):
            X = self.backend.asarray(data.check_features(X, self.input_dim))
        if training:
            workspace = self.workspace
        elif workspace is None:
            workspace = Workspace(self.backend)
        with self.backend.activate():
            for stage in self.stages:
                X = stage.forward(X, workspace, training)
        return X

    def backward(self, grad_output, need_input_grad: bool = True):
        """Back-propagate ``dLoss/dOutput`` through the last training pass; fills ``grads`` and
        returns ``dLoss/dX`` (or None)."""
        grad = grad_output
        with self.backend.activate():
            for index in range(len(self.stages) - 1, -1, -1):
                grad = self.stages[index].backward(grad, self.workspace,
                                                   need_dX=need_input_grad or index > 0)
        return grad

    # prediction ------------------------------------------------------------------------------

    def _outputs(self, X):
        """Evaluation-mode logits of a device array ``X``, computed in chunks of rows."""
        workspace = Workspace(self.backend)
        bounds = data.batch_bounds(X.shape[0], EVAL_CHUNK)
        if len(bounds) == 1:
            return self.forward(X, workspace=workspace)
        logits = self.backend.empty(self.lead + (X.shape[0], self.output_dim))
        for start, stop in bounds:
            logits[..., start:stop, :] = self.forward(X[start:stop, ...], workspace=workspace)
        return logits

    def features_on_device(self, X):
        return self.backend.asarray(data.check_features(X, self.input_dim))

    def predict(self, X) -> np.ndarray:
        """Probabilities (sigmoid or softmax of the logits) for cross-entropy losses, raw outputs for
        mse, as a NumPy array ``(m, output_dim)``."""
        loss = self.require_loss("predict")
        with self.backend.activate():
            logits = self._outputs(self.features_on_device(X))
            return to_numpy(loss.probabilities(self.backend.kernels, logits))

    def predict_classes(self, X) -> np.ndarray:
        """Class labels: argmax for softmax, ``probability > 0.5`` for binary (NumPy ints)."""
        probabilities = self.predict(X)
        if self.require_loss("predict_classes").name == "softmax_cross_entropy":
            return probabilities.argmax(axis=-1)
        return (probabilities > 0.5).astype(np.int64).squeeze(axis=-1)

    def evaluate(self, X, y, loss=None) -> dict:
        """``{"loss": ..., "accuracy": ...}`` in evaluation mode (accuracy absent for mse)."""
        loss = get_loss(loss) if loss is not None else self.require_loss("evaluate")
        with self.backend.activate():
            X = self.features_on_device(X)
            Y = self.backend.asarray(data.check_targets(y, X.shape[0], loss.name, self.output_dim))
            return self.evaluate_on_device(X, Y, loss)

    def evaluate_on_device(self, X, Y, loss) -> dict:
        """:meth:`evaluate` for data already on the device (``Y`` as the loss expects it)."""
        xp, kernels = self.backend.xp, self.backend.kernels
        logits = self._outputs(X)
        cost, _ = loss.value_and_grad(kernels, logits, Y)
        if not loss.has_accuracy:
            return {"loss": _scalar_or_array(to_numpy(cost).astype(np.float64))}
        values = to_numpy(xp.stack([cost, loss.correct(kernels, logits, Y)])).astype(np.float64)
        return {"loss": _scalar_or_array(values[0]),
                "accuracy": _scalar_or_array(values[1] / Y.shape[-2])}

    def require_loss(self, action: str):
        if self.loss is None:
            raise ValueError(f"{action} needs the model's loss: train with fit(..., loss=...) first, or "
                             "pass loss= to evaluate")
        return self.loss

    # training ----------------------------------------------------------------------------------

    def fit(self, X, y, loss=None, optimizer=None, batch_size: int | None = 32, epochs: int = 1,
            validation_data=None, seed: int | None = None, shuffle: bool = True, l2: float = 0.0,
            verbose: bool = False) -> History:
        """Train with mini-batch gradient descent, in place; returns the model's :class:`History`.

        ``X`` is ``(m, input_dim)``; ``y`` as the loss expects: 0/1 values for
        ``binary_cross_entropy``, integer labels ``(m,)`` or one-hot rows for
        ``softmax_cross_entropy``, real values for ``mse``. ``loss`` is needed on the first call
        (later calls keep it). ``optimizer`` (an :mod:`xpnet` optimizer) defaults to the previous one,
        Adam at first. ``batch_size=None`` is batch gradient descent, 1 stochastic, k mini-batch (the
        last, smaller batch is kept). ``epochs`` full passes; ``validation_data=(X_val, y_val)`` is
        evaluated after each epoch. ``seed`` reseeds the shuffle (None continues the model's stream);
        ``shuffle=False`` keeps the data's order. ``l2`` adds ``l2 / (2 m) * sum(W^2)`` over the
        Dense weights to the cost (one value per model for a population). ``verbose`` prints one
        line per epoch.

        Another call continues from where the last stopped: same optimizer state, epoch count and
        History. When the cost becomes NaN or inf the model is rolled back to the start of that epoch
        and :class:`~xpnet.DivergenceError` is raised (a population freezes the diverged models and
        goes on); any other exception, Ctrl-C included, also rolls back the unfinished epoch.
        """
        with self.backend.activate():
            return loop.fit(self, X, y, loss=loss, optimizer=optimizer, batch_size=batch_size, epochs=epochs,
                            validation_data=validation_data, seed=seed, shuffle=shuffle, l2=l2,
                            verbose=verbose)

    # description -------------------------------------------------------------------------------

    def get_config(self) -> dict:
        """The architecture and settings, JSON-serializable."""
        return {"input_dim": self.input_dim, "dtype": self.dtype, "device": self.device,
                "backend": self.backend.name, "seed": self.seed, "population": self.population,
                "layers": [{"class": type(layer).__name__, "config": layer.get_config()}
                           for layer in self.layers]}

    def summary(self) -> str:
        """One line per layer with its parameter shapes, and the total count."""
        lines = []
        for i, layer in enumerate(self.layers):
            shapes = ", ".join(f"{name}{tuple(view.shape)}" for name, view in layer.params.items())
            lines.append(f"{i:>3}  {layer!r:<48} {shapes}")
        lines.append(f"total parameters: {self.count_params()}  ({self.backend.name} on {self.device}, "
                     f"{self.dtype})")
        return "\n".join(lines)

    def __repr__(self):
        return f"Sequential({self.layers!r}, input_dim={self.input_dim}, device={self.device!r})"


def check_layers(layers) -> list:
    """``layers`` as a list of distinct xpnet layers that can form a model, or a clear error."""
    layers = list(layers) if isinstance(layers, (list, tuple)) else layers
    if not isinstance(layers, list) or not layers:
        raise ValueError(f"layers must be a non-empty list of xpnet layers, got {layers!r}")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"layers[{i}] must be an xpnet layer (Dense, ReLU, ...), got {layer!r}")
    if len({id(layer) for layer in layers}) != len(layers):
        raise ValueError("layers must be distinct objects; the same layer instance appears twice")
    if isinstance(layers[-1], Dropout):
        raise ValueError("Dropout cannot be the model's last layer: it would drop outputs; "
                         "put it between hidden layers")
    return layers


def architecture(layers: list, input_dim: int, lead: tuple = ()) -> tuple[int, list, list]:
    """Build ``layers`` in order for ``input_dim`` features and the population axes ``lead``; return the
    output width and the parameter and state specs, named ``"<layer index>.<name>"`` with one model's
    shapes. Nothing is allocated. A Dense directly before BatchNorm loses its bias unless
    ``use_bias=True`` (the mean subtraction cancels it)."""
    width = input_dim
    for layer, following in zip(layers, layers[1:] + [None]):
        width = layer.build(width, lead)
        if isinstance(layer, Dense) and isinstance(following, BatchNorm) and not layer.use_bias:
            layer.has_bias = False
    return (width, _named_specs(layers, lambda layer: layer.param_specs()),
            _named_specs(layers, lambda layer: layer.state_specs()))


def _named_specs(layers: list, specs_of) -> list:
    """Every layer's specs (``specs_of(layer)``), renamed ``"<layer index>.<name>"``, in layer order."""
    return [dataclasses.replace(spec, name=f"{i}.{spec.name}") for i, layer in enumerate(layers)
            for spec in specs_of(layer)]


def _warn_about_cancelled_biases(layers: list) -> None:
    for layer, following in zip(layers, layers[1:]):
        if isinstance(layer, Dense) and isinstance(following, BatchNorm) and layer.use_bias:
            warnings.warn("Dense(use_bias=True) before BatchNorm: the bias is cancelled by the mean "
                          "subtraction; leave use_bias unset to drop it", stacklevel=3)


def _initial_values(specs: list, rng, scale: float, lead: tuple = ()) -> dict:
    """Starting values drawn in layer order from ``rng``; ``scale`` multiplies the decayed weights."""
    return {spec.name: spec.initial(rng, lead + spec.shape) * (scale if spec.decayed else 1.0) for spec in specs}


def _check_representable(values: dict, dtype: str) -> None:
    """Initial weights scaled past the largest number of ``dtype`` would become inf there: refuse them."""
    largest = np.finfo(dtype).max
    for name, value in values.items():
        if value.size and np.abs(value).max() > largest:
            raise ValueError(f"the initial values of {name} exceed the largest {dtype} ({largest:.4g}); the init "
                             "scale (Dense scale or init_scale) is too large")


def _scalar_or_array(values: np.ndarray):
    """A float for one model, a NumPy array with one value per model for a population."""
    return float(values) if values.ndim == 0 else values


def _local(views: dict, index: int) -> dict:
    prefix = f"{index}."
    return {name[len(prefix):]: view for name, view in views.items() if name.startswith(prefix)}


def _on_backend(array, backend) -> bool:
    return namespace_name(array) == backend.name
