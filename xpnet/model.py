"""Sequential: a stack of layers whose parameters live in one flat buffer on one device."""
from __future__ import annotations

import collections
import collections.abc
import contextlib
import copy
import dataclasses
import threading
import warnings

import numpy as np

from xpnet import checks, data, evaluation, labels
from xpnet import graphs as cuda_graphs
from xpnet.backend import namespace_name, resolve_backend
from xpnet.nn import fusion
from xpnet.nn.layers import BatchNorm, Dense, Dropout, Layer
from xpnet.nn.losses import Loss, get_loss
from xpnet.params import FlatBuffer, Layout, Workspace
from xpnet.threads import limit as threads_limit
from xpnet.training import inputs, loop
from xpnet.training.history import History
from xpnet.training.optim import Optimizer


class Sequential:
    """A feed-forward network ``layers[0] -> layers[1] -> ...`` on one backend and device.

    ``params`` maps ``"<layer index>.<name>"`` (``"0.W"``, ``"0.b"``, ``"1.gamma"``) to the live
    parameter arrays, in layer order; ``grads`` holds the latest gradients under the same names and
    ``state`` the non-trained buffers (batch norm's running statistics). All three are views of one
    flat buffer each (``param_buffer``, ``grad_buffer``, ``state_buffer``). Initial weights come from
    a NumPy generator seeded with ``seed``, so they are bit-identical on every backend. ``dtype`` is
    ``"float32"`` or ``"float64"`` (or NumPy's ``np.float32``, ``np.float64``, ``np.dtype("float32")``);
    ``model.dtype`` is its name.
    ``fast=False`` (or ``XPNET_FAST=0``) runs the reference kernels instead of the backend's fast path.

    ``population=P`` stacks P same-shaped models on a leading axis, trained together in one pass
    (every array gains a leading ``P``); ``seed`` may then be one seed per model, so model ``i``
    starts exactly as ``Sequential(..., seed=seed[i])`` would, and ``init_scale`` (one number, or
    one per model) multiplies each model's initial weights. The dropout and shuffle streams of a
    population follow its first seed.

    ``loss`` (a name or a :class:`~xpnet.nn.losses.Loss`) lets a model that was never fitted predict
    and evaluate; ``fit(..., loss=...)`` sets or replaces it.

    Training passes write into the model's ``workspace``; every evaluation pass (``predict``,
    ``evaluate``) works in buffers of its own, so predicting from another thread while ``fit`` runs
    leaves the training step alone (it sees the weights as they are at that moment).
    """

    def __init__(self, layers, input_dim: int, device: str = "cpu", dtype="float32",
                 seed: int | None = 0, backend: str | None = None, fast: bool | None = None,
                 population: int | None = None, init_scale=1.0, loss=None):
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
        _check_representable(stacked, self.backend.dtype_name)
        self._allocate(stacked, _initial_values(states, None, 1.0, self.lead))
        self.loss: Loss | None = get_loss(loss) if loss is not None else None
        self.optimizer: Optimizer | None = None
        self.history = History()
        self.epoch = 0
        self.alive = np.ones(self.lead, dtype=bool)  # models of a population still training
        self.shuffle_random = None  # made by fit, from fit's seed or the model's
        self.metadata: dict = {}  # JSON-serializable notes saved with the model (see xpnet.save)
        self._classes: np.ndarray | None = None

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
        self.kernels = self.backend.kernels
        self._evaluation: EvaluationPrograms | bool | None = None  # False: evaluate eagerly
        self.training_programs = None  # what fit records and reuses (xpnet.training.step.TrainingPrograms)

    @contextlib.contextmanager
    def kernels_in_use(self, kernels):
        """Run the network with another kernel set of the same backend inside the block (a recorded
        CUDA-graph step uses products that can be recorded); ``model.kernels`` is the set in use."""
        previous = self.kernels
        self.kernels = kernels
        for layer in self.layers:
            layer.kernels = kernels
        try:
            yield kernels
        finally:
            self.kernels = previous
            for layer in self.layers:
                layer.kernels = previous

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

    @property
    def classes_(self) -> np.ndarray | None:
        """The labels a classifier predicts, in the order of its outputs (``predict_classes`` returns
        them): set by ``fit`` from the training labels, saved with the model; None for mse. Set it
        before streaming chunks whose labels are not class indices."""
        return self._classes

    @classes_.setter
    def classes_(self, values) -> None:
        self._classes = None if values is None else labels.check_classes(values)

    def count_params(self) -> int:
        return self.param_layout.size

    def set_weights(self, values: dict) -> None:
        """Copy values (NumPy or backend arrays) into the named parameters or state buffers:
        ``values`` is a dict name -> array, as :meth:`get_weights` returns (all names or some)."""
        targets = {**self.params, **self.state}
        if not isinstance(values, collections.abc.Mapping):
            raise TypeError(f"set_weights takes a dict name -> array, as get_weights returns (names "
                            f"{', '.join(map(repr, targets))}), got {type(values).__name__}")
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

    def clone(self, dtype=None, device: str | None = None,
              backend: str | None = None) -> Sequential:
        """An independent copy (same layers, parameters, state and loss), optionally in another dtype
        or on another device. The optimizer and history are not copied."""
        if backend is None and device is None:
            backend = self.backend.name
        twin = Sequential([copy.copy(layer) for layer in self.layers], self.input_dim, device=device or self.device,
                          dtype=self.dtype if dtype is None else dtype, seed=self.seed, backend=backend,
                          fast=self.fast, population=self.population)
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
        training = checks.flag(training, "training")
        if not _on_backend(X, self.backend):
            X = self.backend.asarray(data.check_features(X, self.input_dim))
        return self.forward_on_device(X, training, workspace)

    def forward_on_device(self, X, training: bool = False, workspace: Workspace | None = None):
        """:meth:`forward` for ``X`` already on the device as the model's dtype, unchecked."""
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

    def evaluation_forward(self, X, workspace: Workspace):
        """Evaluation-mode logits of a chunk ``X`` on the device: on a CUDA GPU with graphs on, by
        replaying the recorded forward pass of its size (a new array), else computed in ``workspace``
        (a buffer of it, overwritten by the next chunk of the same size)."""
        programs = self.evaluation_programs()
        if programs is None:
            return self.forward_on_device(X, workspace=workspace)
        return programs.forward(X)

    def evaluation_programs(self) -> EvaluationPrograms | None:
        """The recorded forward passes of this model (on a CUDA GPU with graphs on), made on first use."""
        if self._evaluation is None:
            capture = cuda_graphs.capture_for(self.backend, cuda_graphs.graphs_enabled(None), what="evaluates")
            self._evaluation = EvaluationPrograms(self, capture) if capture is not None else False
        return self._evaluation if isinstance(self._evaluation, EvaluationPrograms) else None

    def features_on_device(self, X):
        return self.backend.asarray(data.check_features(X, self.input_dim, dtype=self.dtype))

    def predict(self, X) -> np.ndarray:
        """Probabilities (sigmoid or softmax of the logits) for cross-entropy losses, raw outputs for
        mse, as a NumPy array ``(m, output_dim)`` in the model's dtype. A memory-mapped ``X`` is read a
        chunk at a time."""
        loss = self.require_loss("predict")
        return evaluation.predictions(self, inputs.array_source(self, None, X), loss)

    def predict_classes(self, X) -> np.ndarray:
        """Predicted labels: the class of the largest probability (softmax) or of ``probability > 0.5``
        (binary), as the labels the model was trained with (``classes_``)."""
        probabilities = self.predict(X)
        if self.require_loss("predict_classes").name == "softmax_cross_entropy":
            indices = probabilities.argmax(axis=-1)
        else:
            indices = (probabilities > 0.5).astype(np.int64).squeeze(axis=-1)
        return indices if self.classes_ is None else labels.decode(indices, self.classes_)

    def evaluate(self, X, y, loss=None, sample_weight=None) -> dict:
        """``{"loss": ..., "accuracy": ...}`` in evaluation mode (accuracy absent for mse); with
        ``sample_weight`` the loss is ``sum_i w_i loss_i / m``, as in training. A memory-mapped ``X``
        is read a chunk at a time."""
        loss = get_loss(loss) if loss is not None else self.require_loss("evaluate")
        classes = data.resolve_classes(y, loss.name, self.output_dim, self.classes_)
        targets = data.Targets(loss.name, self.output_dim, classes, dtype=self.dtype)
        return evaluation.scores(self, inputs.array_source(self, targets, X, y, sample_weight), loss)

    def require_loss(self, action: str):
        """The model's loss, or an error saying how ``action`` (``"predict"``, ...) gets one."""
        if self.loss is None:
            also = ", or pass loss= to evaluate" if action == "evaluate" else ""
            raise ValueError(f"{action} needs the model's loss, which says how outputs become predictions: pass "
                             f"loss= to Sequential (such as loss='softmax_cross_entropy'), or train with "
                             f"fit(..., loss=...) first{also}")
        return self.loss

    # training ----------------------------------------------------------------------------------

    def fit(self, X, y=None, loss=None, optimizer=None, batch_size: int | None = 32, epochs: int = 1,
            validation_data=None, seed: int | None = None, shuffle: bool | None = None, l2: float = 0.0,
            verbose: int = 0, callbacks=None, validation_split: float | None = None, class_weight=None,
            sample_weight=None, graphs: bool | None = None, threads: int | None = None) -> History:
        """Train with mini-batch gradient descent, in place; returns the model's :class:`History`.

        Data. ``X`` is ``(m, input_dim)``: a NumPy or backend array, or a memory-mapped file
        (``np.load(path, mmap_mode="r")``) or other out-of-memory array of any float dtype, read a
        chunk of rows at a time (memory bounded by about 16 MiB of chunks, see :mod:`xpnet.sources`).
        ``y`` as the loss expects: for ``binary_cross_entropy`` and ``softmax_cross_entropy``, labels
        of any kind (integers in ``[0, n_classes)`` are used as class indices; other labels, such as
        strings or ``{1, 2}``, are sorted and numbered), or 0/1 columns and one-hot rows; real values
        for ``mse``. The labels are kept in ``classes_`` (saved with the model) and
        ``predict_classes`` returns them. With ``y=None``, ``X`` is a stream of ``(X, y)`` or
        ``(X, y, sample_weight)`` chunks (a list, a ``torch.utils.data.DataLoader``, a function
        returning a fresh iterator, or, for one epoch, a generator): one pass is one epoch, the
        chunks are cut into (or joined to) mini-batches of ``batch_size`` in their order (None: each
        chunk is a mini-batch), and labels must be class indices or among ``classes_``.

        Training. ``loss`` is needed on the first call (later calls keep it). ``optimizer`` (an
        :mod:`xpnet` optimizer) defaults to the previous one, Adam at first. ``batch_size=None`` is
        batch gradient descent, 1 stochastic, k mini-batch (the last, smaller batch is kept).
        ``epochs`` full passes. ``seed`` reseeds the shuffle (None continues the model's stream);
        ``shuffle`` (default: True for arrays) draws a new order of the examples every epoch; a
        stream keeps its own order. ``l2`` adds ``l2 / (2 m) * sum(W^2)`` over the Dense weights to the
        cost (one value per model for a population).

        Weights. ``sample_weight`` (``(m,)``, >= 0) and ``class_weight`` (``"balanced"``: scikit-learn's
        ``n_samples / (n_classes * count_c)``, or a dict ``{label: weight}``, others 1) multiply each
        example's loss in the cost and its gradient. The weighted sum is divided by the number of
        examples, as in Keras (not by the sum of the weights, as PyTorch's class weights are), so the
        History's ``loss`` is exactly ``sum_i w_i loss_i / m`` over the epoch and equals
        ``evaluate(..., sample_weight=w)``. Validation is weighted only by the sample weights that
        come with it (accuracy is never weighted). Weights that give every training example 0 are
        refused (nothing would be learned).

        Validation. ``validation_data`` is ``(X_val, y_val)``, ``(X_val, y_val, sample_weight)`` or a
        stream; ``validation_split=f`` holds out a fraction f of the arrays instead (stratified by
        class for classifiers, each class keeping at least one training example; drawn with
        ``seed``, else the model's seed). Either is evaluated after
        each epoch (``val_loss``, ``val_accuracy``).

        Watching. ``verbose``: 0 silent, 1 a progress bar per epoch on a terminal (with tqdm; one line
        per epoch otherwise), 2 one line per epoch. ``callbacks``: objects called between epochs
        (:mod:`xpnet.callbacks`: ``EarlyStopping``, ``ModelCheckpoint``, ``ReduceLROnPlateau``,
        ``CSVLogger``, ``TerminateOnDivergence``, ``TensorBoard``, or your own), which may stop
        training.

        Speed. ``graphs``: on a CUDA GPU each batch size's step is recorded once as a CUDA graph and
        replayed (the default, None: where possible; False, or ``XPNET_GRAPHS=0``: one kernel at a
        time; True: required), with the same numbers either way (see :mod:`xpnet.graphs`).
        ``threads`` caps the BLAS threads for this call (None: as they are; see
        :func:`xpnet.threads.limit`).

        Another call continues from where the last stopped: same optimizer state, epoch count and
        History. When the cost becomes NaN or inf the model is rolled back to the start of that epoch
        and :class:`~xpnet.DivergenceError` is raised (a population freezes the diverged models and
        goes on, and raises when none is left); any other exception, Ctrl-C included, also rolls back
        the unfinished epoch. Inputs beyond the range of the model's dtype are refused before training.
        """
        with self.backend.activate(), threads_limit(threads):
            return loop.fit(self, X, y, loss=loss, optimizer=optimizer, batch_size=batch_size, epochs=epochs,
                            validation_data=validation_data, seed=seed, shuffle=shuffle, l2=l2,
                            verbose=verbose, callbacks=callbacks, validation_split=validation_split,
                            class_weight=class_weight, sample_weight=sample_weight, graphs=graphs)

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


class ForwardProgram:
    """An evaluation forward pass over chunks of ``rows`` examples as a fixed program: the chunk is
    copied into ``inputs``, and ``run()`` leaves the logits in ``outputs`` (buffers of its own)."""

    def __init__(self, model: Sequential, rows: int):
        self.model = model
        self.inputs = model.backend.empty((rows, model.input_dim))
        self.workspace = Workspace(model.backend)
        self.outputs = None

    def run(self) -> None:
        self.outputs = self.model.forward_on_device(self.inputs, workspace=self.workspace)


class EvaluationPrograms:
    """A model's recorded forward passes, one per chunk size (the last ``KEPT`` sizes used), replayed
    under a lock: two threads predicting at once take turns, since they would share the buffers."""

    KEPT = 4

    def __init__(self, model: Sequential, capture):
        self.model = model
        self.replays = cuda_graphs.Replays(model, capture)
        self.programs: collections.OrderedDict = collections.OrderedDict()
        self.lock = threading.Lock()

    def forward(self, X):
        """The evaluation-mode logits of a chunk ``X`` on the device, as a new array."""
        with self.lock, self.model.backend.activate():
            program = self._program(X.shape[0])
            program.inputs[...] = X
            self.replays(program)
            return self.model.backend.xp.asarray(program.outputs, copy=True)

    def _program(self, rows: int) -> ForwardProgram:
        program = self.programs.pop(rows, None) or ForwardProgram(self.model, rows)
        self.programs[rows] = program
        if len(self.programs) > self.KEPT:
            _, oldest = self.programs.popitem(last=False)
            self.replays.forget(oldest)
        return program


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


def _local(views: dict, index: int) -> dict:
    prefix = f"{index}."
    return {name[len(prefix):]: view for name, view in views.items() if name.startswith(prefix)}


def _on_backend(array, backend) -> bool:
    return namespace_name(array) == backend.name
