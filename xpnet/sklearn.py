"""scikit-learn estimators around :class:`xpnet.Sequential` (needs the ``sklearn`` extra).

``XPNetClassifier`` and ``XPNetRegressor`` take their settings as constructor arguments (most named
as in scikit-learn's ``MLPClassifier``; :class:`XPNetClassifier` lists the ones that differ), take
``sample_weight`` in ``fit`` and ``partial_fit``, and work with ``Pipeline``, ``GridSearchCV``,
``cross_val_score``, ``clone`` and pickle::

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from xpnet.sklearn import XPNetClassifier

    classifier = make_pipeline(StandardScaler(), XPNetClassifier(hidden_layer_sizes=(64,)))
    classifier.fit(X_train, y_train).score(X_test, y_test)
"""
from __future__ import annotations

import math
import numbers
import types
import warnings

import numpy as np

import xpnet as xn
from xpnet import checks, data, labels
from xpnet.nn.layers import Layer

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.model_selection import train_test_split
    from sklearn.utils import check_random_state
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as error:
    raise ImportError("xpnet.sklearn needs scikit-learn >= 1.6: pip install 'xpnet[sklearn]'") from error

__all__ = ["XPNetClassifier", "XPNetRegressor", "train_until_no_improvement"]

#: activation name -> (layer class, initializer of the Dense layers)
ACTIVATIONS = {"relu": (xn.ReLU, "he"), "leaky_relu": (xn.LeakyReLU, "he"),
               "tanh": (xn.Tanh, "xavier"), "sigmoid": (xn.Sigmoid, "xavier")}

#: optimizer name -> the xpnet optimizer an estimator's settings describe
OPTIMIZERS = {
    "sgd": lambda e: xn.SGD(e.learning_rate_init),
    "momentum": lambda e: xn.Momentum(e.learning_rate_init, beta=e.momentum),
    "rmsprop": lambda e: xn.RMSprop(e.learning_rate_init, beta=e.rho, eps=e.epsilon),
    "adam": lambda e: xn.Adam(e.learning_rate_init, e.beta_1, e.beta_2, e.epsilon),
    "adamw": lambda e: xn.AdamW(e.learning_rate_init, e.beta_1, e.beta_2, e.epsilon, e.weight_decay),
}

#: (names, what they must be, test) for the real-valued settings
REAL_SETTINGS = [
    (("learning_rate_init", "epsilon"), "a number > 0", lambda v: v > 0),
    (("alpha", "weight_decay", "tol"), "a number >= 0", lambda v: v >= 0),
    (("beta_1", "beta_2", "momentum", "rho", "dropout"), "a number in [0, 1)", lambda v: 0 <= v < 1),
    (("validation_fraction",), "a number in (0, 1)", lambda v: 0 < v < 1),
]

FLOAT_TYPES = (np.float64, np.float32)  # X of another type becomes float64
AUTO_BATCH = 200  # batch_size="auto" is min(200, n_samples), as in MLPClassifier


def train_until_no_improvement(model, run_epoch, max_iter: int, n_iter_no_change: int, tol: float,
                               restore_best: bool) -> bool:
    """Train ``model`` for at most ``max_iter`` epochs; ``run_epoch()`` trains one and returns the
    monitored loss.

    Stops once ``n_iter_no_change`` epochs in a row end without the loss falling below
    ``best - tol`` (``best``: the lowest loss so far). ``restore_best`` puts back the weights of the
    lowest-loss epoch at the end. Returns whether training stopped that way before ``max_iter``.

    This is ``MLPClassifier``'s rule, not :class:`~xpnet.callbacks.EarlyStopping`'s (Keras's): there
    ``best`` moves only on an improvement by more than ``min_delta``, so small decreases that add up
    to more than it reset the count there but not here, and the weights restored differ.
    """
    best, best_weights, stale = math.inf, None, 0
    for _ in range(max_iter):
        loss = run_epoch()
        stale = 0 if loss < best - tol else stale + 1
        if loss < best:
            best = loss
            best_weights = model.get_weights() if restore_best else None
        if stale >= n_iter_no_change:
            break
    if best_weights is not None:
        model.set_weights(best_weights)
    return stale >= n_iter_no_change


class _XPNetEstimator(BaseEstimator):
    """What both estimators share: settings, building and training the network, predicting.

    Each estimator supplies ``_validate`` (X and y checked), ``_learn_outputs`` (the fitted
    attributes that describe y), ``_encode_targets`` (y as the loss takes it), ``_output_units``
    and ``_loss_name``.
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", dropout=0.0, batch_norm=False,
                 optimizer="adam", learning_rate_init=0.001, beta_1=0.9, beta_2=0.999, momentum=0.9,
                 rho=0.9, epsilon=1e-8, weight_decay=0.01, alpha=0.0001, batch_size="auto",
                 max_iter=200, shuffle=True, tol=1e-4, n_iter_no_change=10, early_stopping=False,
                 validation_fraction=0.1, random_state=None, device="cpu", dtype=None,
                 verbose=False):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.optimizer = optimizer
        self.learning_rate_init = learning_rate_init
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.momentum = momentum
        self.rho = rho
        self.epsilon = epsilon
        self.weight_decay = weight_decay
        self.alpha = alpha
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.verbose = verbose

    def __init_subclass__(cls, **kwargs):
        """Give each estimator its own copy of ``__init__``, so that a misspelled setting's TypeError
        names the public class: ``XPNetClassifier.__init__() got an unexpected keyword argument``."""
        super().__init_subclass__(**kwargs)
        shared = _XPNetEstimator.__init__
        own = types.FunctionType(shared.__code__, shared.__globals__, shared.__name__, shared.__defaults__)
        own.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = own  # type: ignore[method-assign]

    # training ----------------------------------------------------------------------------------

    def fit(self, X, y, sample_weight=None):
        """Train a new network on X ``(m, n_features)`` and y (labels ``(m,)``, or regression targets
        ``(m,)`` or ``(m, n_outputs)``) until the monitored loss stops improving; returns self.

        ``sample_weight`` ``(m,)``, weights >= 0 (not all zero), counts each example as often as its
        weight: the loss is the weighted mean and alpha's penalty is divided by the sum of the
        weights, as in ``MLPClassifier``, so with all examples in one batch a weight of 2 trains exactly
        as the example repeated twice."""
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def _fit(self, X, y, incremental: bool, classes=None, sample_weight=None):
        """``fit`` (a new network, trained until it stops improving) or ``partial_fit`` (one more
        epoch; a new network only on the first call)."""
        hidden = _check_hyperparameters(self)
        first = not (incremental and hasattr(self, "model_"))
        X, y = self._validate(X, y, reset=first)
        weights = None if sample_weight is None else _checked_weights(sample_weight, len(X), "sample_weight")
        if first:
            self._learn_outputs(y, classes, weights)
            try:
                random = check_random_state(self.random_state)
            except ValueError as error:
                raise ValueError(f"random_state must be None, an int in [0, 2**32) or a numpy RandomState, got "
                                 f"{self.random_state!r}") from error
            seed = int(random.randint(np.iinfo(np.int32).max))
            self.model_ = self._new_model(hidden, X, seed)
        rows = (X, self._encode_targets(y), weights)
        validation = None
        if self.early_stopping and not incremental:
            rows, validation = self._hold_out(rows, seed)
        batch_size = self._batch_size(len(rows[0]))
        if incremental:
            self._train(rows, batch_size, epochs=1)
        else:  # a new model: first is true
            self._train_until_converged(rows, batch_size, validation)
        self._record_curves()
        return self

    def _new_model(self, hidden_layer_sizes: tuple, X, seed: int):
        """The network for X; ``dtype=None`` computes in X's float type (float32 or float64)."""
        layers = _network_layers(hidden_layer_sizes, self.activation, self.dropout, self.batch_norm,
                                self._output_units)
        dtype = self.dtype if self.dtype is not None else X.dtype.name
        return xn.Sequential(layers, input_dim=X.shape[1], device=self.device, dtype=dtype, seed=seed)

    def _batch_size(self, n_samples: int) -> int:
        """``"auto"`` is ``min(200, n_samples)``; a larger int is clipped to ``n_samples`` with a
        warning, as ``MLPClassifier`` does."""
        if self.batch_size == "auto":
            return min(AUTO_BATCH, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(f"batch_size={self.batch_size} is larger than the {n_samples} training examples; "
                          f"it is clipped to {n_samples}", UserWarning, stacklevel=4)
        return min(self.batch_size, n_samples)

    def _train(self, rows: tuple, batch_size: int, epochs: int, validation: tuple | None = None):
        """``model_.fit`` on ``rows`` ``(X, targets, weights or None)`` for ``epochs`` more epochs,
        monitoring ``validation`` (rows too); the first call also sets a new optimizer."""
        X, targets, weights = rows
        # alpha's penalty is divided by the sum of the weights rather than m, as in MLPClassifier, so
        # that a weight counts as that many copies of its example
        l2 = float(self.alpha) if weights is None else float(self.alpha) / float(np.mean(weights))
        validation_data = None if validation is None else (*validation[:2], _mean_one(validation[2]))
        started = self.model_.history.epochs > 0
        return self.model_.fit(
            X, targets, loss=self._loss_name, optimizer=None if started else OPTIMIZERS[self.optimizer](self),
            batch_size=batch_size, epochs=epochs, validation_data=validation_data, shuffle=self.shuffle,
            l2=l2, sample_weight=_mean_one(weights), verbose=bool(self.verbose))

    def _train_until_converged(self, rows: tuple, batch_size: int, validation: tuple | None) -> None:
        """Epochs until the monitored loss stops improving: the loss on the ``validation`` rows held
        out with ``early_stopping``, else the training cost."""

        def run_epoch():
            history = self._train(rows, batch_size, epochs=1, validation=validation)
            if validation is not None:
                return history["val_loss"][-1]
            return history["loss"][-1] + history["l2_penalty"][-1]

        stopped = train_until_no_improvement(self.model_, run_epoch, self.max_iter, self.n_iter_no_change,
                                             self.tol, restore_best=self.early_stopping)
        if not stopped:
            warnings.warn(f"{type(self).__name__} reached max_iter={self.max_iter} epochs while the "
                          "monitored loss was still improving by more than tol; raise max_iter for a "
                          "converged model", ConvergenceWarning, stacklevel=4)

    def _hold_out(self, rows: tuple, seed: int) -> tuple:
        """``(training rows, validation rows)``: a seeded split of ``validation_fraction`` of the rows
        ``(X, targets, weights or None)``, stratified for a classifier."""
        X, targets, weights = rows
        arrays = (X, targets) if weights is None else (X, targets, weights)
        try:
            parts = train_test_split(*arrays, test_size=self.validation_fraction, random_state=seed,
                                     stratify=targets if is_classifier(self) else None)
        except ValueError as error:
            raise ValueError(f"early_stopping cannot hold out validation_fraction={self.validation_fraction!r} "
                             f"of n_samples={len(X)} training examples: {error}") from error
        training, validation = tuple(parts[0::2]), tuple(parts[1::2])
        if weights is None:
            return training + (None,), validation + (None,)
        for part, name in ((training, "training"), (validation, "validation")):
            _checked_weights(part[2], len(part[2]), f"sample_weight of the early_stopping {name} part")
        return training, validation

    def _record_curves(self) -> None:
        history = self.model_.history
        self.n_iter_ = history.epochs
        self.loss_curve_ = [loss + penalty for loss, penalty in zip(history["loss"], history["l2_penalty"])]
        self.validation_loss_curve_ = list(history["val_loss"]) if self.early_stopping else None

    # prediction --------------------------------------------------------------------------------

    def _outputs(self, X) -> np.ndarray:
        """The network's outputs ``(m, units)`` as float64: probabilities, or values for mse."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=FLOAT_TYPES)
        return self.model_.predict(X).astype(np.float64)


class XPNetClassifier(ClassifierMixin, _XPNetEstimator):
    """A fully connected network classifier trained by mini-batch gradient descent.

    Labels of any type are mapped to ``0..K-1`` in the order of ``classes_``. Two classes use one
    sigmoid output and binary cross-entropy; more use K softmax outputs and softmax cross-entropy.
    Each hidden layer is ``Dense -> [BatchNorm] -> activation -> [Dropout]``.

    Parameters. These are named and mean as in ``MLPClassifier``: ``hidden_layer_sizes``, ``alpha``,
    ``batch_size``, ``learning_rate_init``, ``beta_1``, ``beta_2``, ``epsilon``, ``max_iter``,
    ``shuffle``, ``tol``, ``n_iter_no_change``, ``early_stopping``, ``validation_fraction``,
    ``random_state`` and ``verbose``. These differ: ``optimizer`` is ``MLPClassifier``'s ``solver``
    (no "lbfgs"; "momentum", "rmsprop" and "adamw" added); ``activation`` says "sigmoid" for
    "logistic", adds "leaky_relu" and has no "identity"; ``momentum`` is the averaging rate of
    ``xn.Momentum`` (``v = beta v + (1 - beta) dW``, no Nesterov), not ``MLPClassifier``'s
    ``v = momentum v - lr dW``. ``dropout``, ``batch_norm``, ``rho``, ``weight_decay``, ``device`` and
    ``dtype`` are new; ``learning_rate`` schedules, ``power_t``, ``nesterovs_momentum``,
    ``warm_start`` and ``max_fun`` do not exist (``partial_fit`` continues training).

    hidden_layer_sizes : tuple of int, default (100,)
        Units of each hidden layer; ``()`` is logistic (softmax) regression.
    activation : {"relu", "leaky_relu", "tanh", "sigmoid"}, default "relu"
        Hidden activation. Dense layers start He-initialized for relu / leaky_relu (alpha 0.01),
        Xavier-initialized for tanh / sigmoid.
    dropout : float in [0, 1), default 0.0
        Inverted-dropout rate after every hidden activation (0: no dropout layers).
    batch_norm : bool, default False
        Batch normalization between every hidden Dense layer and its activation. Every training
        batch must then hold at least 2 examples.
    optimizer : {"sgd", "momentum", "rmsprop", "adam", "adamw"}, default "adam"
        The update rule (``xn.SGD``, ``xn.Momentum``, ``xn.RMSprop``, ``xn.Adam``, ``xn.AdamW``).
    learning_rate_init : float > 0, default 0.001
        The learning rate of every optimizer.
    beta_1, beta_2 : float in [0, 1), default 0.9, 0.999
        Adam's / AdamW's decay rates of the gradient mean and of its square.
    momentum : float in [0, 1), default 0.9
        The "momentum" optimizer's ``beta``: ``v = beta v + (1 - beta) dW``.
    rho : float in [0, 1), default 0.9
        RMSprop's decay rate of the squared gradient: ``s = rho s + (1 - rho) dW^2``.
    epsilon : float > 0, default 1e-8
        Added to the denominator by rmsprop, adam and adamw.
    weight_decay : float >= 0, default 0.01
        AdamW's decoupled weight decay, ``W *= 1 - lr * weight_decay`` each step.
    alpha : float >= 0, default 0.0001
        L2 penalty ``alpha / (2 m) * sum(W^2)`` over the Dense weights, m the batch size.
    batch_size : int >= 1 or "auto", default "auto"
        Examples per update; "auto" is ``min(200, n_samples)``; more than n_samples is clipped to
        n_samples, with a warning.
    max_iter : int >= 1, default 200
        The most epochs (passes over the data) ``fit`` trains.
    shuffle : bool, default True
        Reshuffle the training data every epoch.
    tol : float >= 0, default 1e-4
        An epoch improves on the best loss so far only by lowering it by more than ``tol``.
    n_iter_no_change : int >= 1, default 10
        ``fit`` stops after this many epochs in a row without improvement of the monitored loss:
        the training cost (data loss plus L2 penalty), or with ``early_stopping`` the validation loss.
    early_stopping : bool, default False
        Hold out a stratified ``validation_fraction`` of the training data, monitor its loss, and
        end with the weights of the epoch where it was lowest.
    validation_fraction : float in (0, 1), default 0.1
        The held-out share with ``early_stopping``.
    random_state : int, RandomState or None, default None
        Seeds the initial weights, the shuffles, the dropout masks and the validation split.
    device : str, default "cpu"
        "cpu" (NumPy), or "cuda" / "cuda:N" (CuPy, the ``cuda`` extra).
    dtype : {"float32", "float64"} or None, default None
        The network's floating-point type; None follows X (float32 for float32 data, float64
        otherwise, as MLPClassifier). float32 is about twice as fast on a CPU and more on a GPU.
        Predictions are returned as float64.
    verbose : bool, default False
        Print one progress line per epoch.

    ``partial_fit`` trains one epoch (``early_stopping`` does not apply); the first call needs
    ``classes=``, every label that will ever appear.

    Attributes: ``classes_`` (the labels, sorted), ``model_`` (the trained ``xn.Sequential``, its
    ``history`` included), ``n_iter_`` (epochs trained), ``loss_curve_`` (training cost per epoch),
    ``validation_loss_curve_`` (validation loss per epoch with ``early_stopping``, None entries for
    ``partial_fit`` epochs; else None), ``n_features_in_``, and ``feature_names_in_`` when X had
    string column names.
    """

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch on (X, y), continuing the network; ``classes`` (all labels) is required on the
        first call and, when given later, must not change; ``sample_weight`` as in ``fit``. Returns
        self."""
        if not hasattr(self, "model_") and classes is None:
            raise ValueError("classes must be given on the first call to partial_fit: every label "
                             "that will appear, e.g. classes=np.unique(y_all)")
        if hasattr(self, "model_") and classes is not None and not np.array_equal(
                _checked_classes(classes, "classes"), self.classes_):
            raise ValueError(f"classes={classes!r} differs from the classes_ of the first call "
                             f"{self.classes_.tolist()!r}")
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities ``(m, K)``, columns in the order of ``classes_``."""
        probabilities = self._outputs(X)
        return np.hstack([1.0 - probabilities, probabilities]) if len(self.classes_) == 2 else probabilities

    def predict(self, X) -> np.ndarray:
        """The most probable label of each row ``(m,)``."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]

    def _validate(self, X, y, reset: bool):
        X, y = validate_data(self, X, y, reset=reset, dtype=FLOAT_TYPES)
        check_classification_targets(y)
        return X, y

    def _learn_outputs(self, y, classes, weights) -> None:
        """``classes_``: ``classes`` when given, else the labels of y, of which at least two must
        have weights > 0."""
        if classes is not None:
            self.classes_ = _checked_classes(classes, "classes")
            return
        self.classes_ = _checked_classes(y, "y")
        if weights is not None:
            _checked_classes(y[weights > 0], "y where sample_weight > 0")

    def _encode_targets(self, y) -> np.ndarray:
        """Labels ``(m,)`` as their indices in ``classes_``."""
        unknown = ~np.isin(y, self.classes_)
        if unknown.any():
            raise ValueError(f"y has labels {np.unique(y[unknown]).tolist()!r} that are not in "
                             f"classes_ {self.classes_.tolist()!r} (partial_fit's classes)")
        return np.searchsorted(self.classes_, y)

    @property
    def _output_units(self) -> int:
        return 1 if len(self.classes_) == 2 else len(self.classes_)

    @property
    def _loss_name(self) -> str:
        return "binary_cross_entropy" if len(self.classes_) == 2 else "softmax_cross_entropy"


class XPNetRegressor(RegressorMixin, _XPNetEstimator):
    """A fully connected network regressor (mean squared error, linear outputs).

    Targets y of shape ``(m,)`` or ``(m, n_outputs)``; ``predict`` returns the same shape. The
    targets are used as they are: standardize them (e.g. ``TransformedTargetRegressor`` with a
    ``StandardScaler``) when their scale is far from 1.

    The parameters are those of :class:`XPNetClassifier`; ``early_stopping`` holds out a random
    (not stratified) ``validation_fraction``. Attributes as there, with ``n_outputs_`` instead of
    ``classes_``. ``partial_fit(X, y)`` trains one epoch.
    """

    _loss_name = "mse"

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch on (X, y), continuing the network (a new one on the first call);
        ``sample_weight`` as in ``fit``. Returns self."""
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predictions ``(m,)`` or ``(m, n_outputs)``, as y was in ``fit``."""
        outputs = self._outputs(X)
        return outputs[:, 0] if self._one_dimensional else outputs

    def _validate(self, X, y, reset: bool):
        return validate_data(self, X, y, reset=reset, dtype=FLOAT_TYPES, multi_output=True, y_numeric=True)

    def _learn_outputs(self, y, classes, weights) -> None:
        """``classes`` is partial_fit's argument of the classifier, always None here."""
        self.n_outputs_ = 1 if y.ndim == 1 else y.shape[1]
        self._one_dimensional = y.ndim == 1

    def _encode_targets(self, y) -> np.ndarray:
        return y

    @property
    def _output_units(self) -> int:
        return self.n_outputs_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags


# building blocks ---------------------------------------------------------------------------------

def _network_layers(hidden_layer_sizes: tuple, activation: str, dropout: float, batch_norm: bool,
                   output_units: int) -> list:
    """``[Dense, [BatchNorm], activation, [Dropout]]`` per hidden layer, then ``Dense(output_units)``."""
    make_activation, init = ACTIVATIONS[activation]
    layers: list[Layer] = []
    for units in hidden_layer_sizes:
        layers.append(xn.Dense(units, init=init))
        if batch_norm:
            layers.append(xn.BatchNorm())
        layers.append(make_activation())
        if dropout > 0:
            layers.append(xn.Dropout(dropout))
    return layers + [xn.Dense(output_units, init=init)]


def _checked_weights(sample_weight, m: int, name: str) -> np.ndarray:
    """``sample_weight`` as a float vector ``(m,)`` of finite weights >= 0, not all zero."""
    weights = data.check_sample_weight(np.asarray(sample_weight), m, name)
    if not weights.any():
        raise ValueError(f"{name} must hold at least one weight > 0, got all zeros")
    return weights


def _mean_one(weights):
    """Weights divided by their mean (None stays None). ``Sequential.fit`` divides the weighted loss
    sum by the number of examples m; with these weights that is the weighted mean, the sum divided
    by the sum of the weights."""
    return None if weights is None else weights / float(np.mean(weights))


def _checked_classes(values, name: str) -> np.ndarray:
    """The distinct labels, sorted: one kind (numbers, booleans or strings), 1-D, finite, at least two."""
    given = labels.as_labels(values, name)
    if given.ndim != 1:
        raise ValueError(f"{name} must be 1-D, one entry per label, got shape {given.shape}")
    if given.dtype.kind == "f" and not np.all(np.isfinite(given)):
        raise ValueError(f"{name} contains NaN or inf; labels must be finite")
    classes = np.unique(given)
    if len(classes) < 2:
        raise ValueError(f"{name} has {len(classes)} class ({classes.tolist()!r}); a classifier needs "
                         "at least 2 classes")
    return classes


def _check_hyperparameters(estimator) -> tuple:
    """Raise ValueError / TypeError for a setting out of its range; returns the hidden layer sizes
    as a tuple of ints."""
    for name, options in (("activation", ACTIVATIONS), ("optimizer", OPTIMIZERS)):
        if not isinstance(getattr(estimator, name), str) or getattr(estimator, name) not in options:
            raise ValueError(f"{name} must be one of {sorted(options)}, got {getattr(estimator, name)!r}")
    for names, expected, accept in REAL_SETTINGS:
        for name in names:
            _check_real(name, getattr(estimator, name), expected, accept)
    for name in ("max_iter", "n_iter_no_change"):
        _check_positive_int(name, getattr(estimator, name))
    if estimator.batch_size != "auto":
        _check_positive_int("batch_size", estimator.batch_size, ' or "auto"')
    for name in ("batch_norm", "early_stopping", "shuffle"):
        checks.flag(getattr(estimator, name), name)
    _check_verbose(estimator.verbose)
    return _hidden_sizes(estimator.hidden_layer_sizes)


def _check_verbose(value) -> None:
    """A bool, or an int >= 0 as scikit-learn's ``verbose`` settings take it (> 0 prints)."""
    if isinstance(value, (bool, np.bool_)) or (isinstance(value, (int, np.integer)) and value >= 0):
        return
    raise TypeError(f"verbose must be True, False or an int >= 0 (> 0 prints a line per epoch), got {value!r}")


def _hidden_sizes(hidden_layer_sizes) -> tuple:
    """One int, or a sequence of ints >= 1 (possibly empty), as a tuple of ints."""
    sizes = (hidden_layer_sizes,) if isinstance(hidden_layer_sizes, numbers.Integral) else hidden_layer_sizes
    try:
        if not isinstance(sizes, (tuple, list, np.ndarray)):
            raise ValueError
        return tuple(checks.positive_int(units, "hidden_layer_sizes") for units in sizes)
    except ValueError:
        raise ValueError(f"hidden_layer_sizes must be a tuple of ints >= 1 (units per hidden layer), "
                         f"got {hidden_layer_sizes!r}") from None


def _check_real(name: str, value, expected: str, accept) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {expected}, got {value!r} of type {type(value).__name__}")
    if not (math.isfinite(value) and accept(value)):
        raise ValueError(f"{name} must be {expected}, got {value!r}")


def _check_positive_int(name: str, value, alternative: str = "") -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be an int >= 1{alternative}, got {value!r}")
