"""Turning a dict of hyperparameters into a model and a ``fit`` call, and recording what came out.

``build_model(params, input_dim, output_dim)`` and ``fit_options(params)`` rebuild any configuration
(a search's winner, say) outside a search::

    model = tune.build_model(results.best.config, input_dim=64, output_dim=10, loss="softmax_cross_entropy")
    model.fit(X, y, **tune.fit_options(results.best.config))

Hyperparameter names understood (any may be searched or fixed in ``base``):

* architecture, shared by models trained together: ``layers`` (hidden layers), ``units`` or
  ``units_1``, ``units_2``, ... (hidden units), ``activation`` (relu, leaky_relu, tanh, sigmoid),
  ``alpha`` (LeakyReLU slope), ``batchnorm`` (bool), ``bn_momentum``, ``init``, ``optimizer``
  (sgd, momentum, rmsprop, adam, adamw), ``nesterov`` (bool), ``schedule`` (inverse_time,
  staircase, exponential), ``decay_interval`` (epochs per staircase step), ``batch_size``,
  ``epochs``;
* per model, free to differ inside a population: ``lr``, ``beta`` (momentum, RMSprop), ``beta1``,
  ``beta2``, ``eps``, ``weight_decay``, ``l2``, ``dropout`` (rate), ``decay_rate`` (learning-rate
  decay per epoch: ``lr / (1 + decay_rate * epoch)``, or ``lr * (1 - decay_rate)^epoch`` for the
  exponential schedule), ``init_scale``, ``seed``.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from xpnet import checks
from xpnet.nn import layers as L
from xpnet.training import optim, schedules

PER_MODEL = ("lr", "beta", "beta1", "beta2", "eps", "weight_decay", "l2", "dropout", "decay_rate",
             "init_scale", "seed")
DEFAULTS = {"layers": 2, "units": 64, "activation": "relu", "alpha": 0.01, "batchnorm": False,
            "bn_momentum": 0.9, "init": "he", "optimizer": "adam", "nesterov": False,
            "schedule": "inverse_time", "decay_interval": 10, "batch_size": 64, "epochs": 10, "lr": 1e-3,
            "l2": 0.0, "init_scale": 1.0, "seed": 0}
SCHEDULES = ("inverse_time", "staircase", "exponential")
FLAGS = ("batchnorm", "nesterov")  # the hyperparameters that are True or False
SIZES = ("units", "batch_size", "epochs", "decay_interval")  # with units_1, units_2, ...: ints >= 1
ACTIVATIONS = {"relu": L.ReLU, "leaky_relu": L.LeakyReLU, "tanh": L.Tanh, "sigmoid": L.Sigmoid}
OPTIMIZERS = {"sgd": (optim.SGD, ()), "momentum": (optim.Momentum, ("beta",)),
              "rmsprop": (optim.RMSprop, ("beta", "eps")), "adam": (optim.Adam, ("beta1", "beta2", "eps")),
              "adamw": (optim.AdamW, ("beta1", "beta2", "eps", "weight_decay"))}
UNITS_PER_LAYER = {f"units_{i}" for i in range(1, 65)}
KNOWN = set(DEFAULTS) | set(PER_MODEL) | UNITS_PER_LAYER
WIDTHS = {"units"} | UNITS_PER_LAYER  # may differ inside a padded population
STATES = ("complete", "pruned", "diverged", "failed")  # the order results are ranked in


@dataclasses.dataclass
class TrialResult:
    """One configuration's outcome.

    ``val_loss``/``val_accuracy`` are those of the weights the trial kept (its last epoch; see
    :func:`summarize`), ``best_*`` the best over its epochs; ``diverged`` is True when it was stopped
    for a NaN or inf cost, ``pruned`` when a pruner stopped it early, ``error`` the message of an
    exception that failed it; ``history`` holds its curves, ``config`` the complete configuration it
    trained, and :meth:`model` returns the trained model.

    ``seconds`` is the trial's share of the wall time spent training (validation included): each
    stretch of training, up to a pruning checkpoint or the end, is timed once for the population
    that trained in it and divided equally among the models still training there. A trial trained
    alone gets its whole time; the trials of one population get equal shares, except that one
    pruned or diverged early stops adding. The shares of all trials add up to the search's
    training time (per worker in ``"processes"`` mode), so they measure what the search spent on
    each trial, not how fast a configuration trains on its own.
    """

    number: int
    params: dict
    val_loss: float
    best_val_loss: float
    val_accuracy: float | None
    best_val_accuracy: float | None
    epochs: int
    seconds: float
    diverged: bool
    pruned: bool = False
    error: str | None = None
    history: object = dataclasses.field(repr=False, default=None)
    config: dict | None = dataclasses.field(repr=False, default=None)
    trained: object = dataclasses.field(repr=False, default=None)  # a model, or (population, index)

    @property
    def state(self) -> str:
        """``"failed"``, ``"diverged"``, ``"pruned"`` or ``"complete"``."""
        if self.error is not None:
            return "failed"
        return "diverged" if self.diverged else "pruned" if self.pruned else "complete"

    def model(self):
        """The trained model (a :class:`~xpnet.Sequential`) with the weights this trial kept, taken out
        of the population it trained in."""
        if self.trained is None:
            raise ValueError(f"trial {self.number} kept no model ({self.state}"
                             f"{': ' + self.error if self.error else ''})")
        if isinstance(self.trained, tuple):
            from xpnet.tune.populations import member

            return member(*self.trained)
        return self.trained

    def row(self) -> dict:
        """A flat dict for tables and CSV: the metrics, then one column per hyperparameter."""
        fields = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)
                  if field.name not in ("params", "history", "config", "trained")}
        return {**fields, **self.params}


def complete(params: dict, base: dict | None = None) -> dict:
    """``params`` over ``base`` over the defaults; unknown names are an error."""
    merged = {**DEFAULTS, **(base or {}), **params}
    unknown = sorted(set(merged) - KNOWN)
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) {unknown}; known names: {sorted(KNOWN - UNITS_PER_LAYER)} "
                         "and units_1, units_2, ...")
    if merged["optimizer"] not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {sorted(OPTIMIZERS)}, got {merged['optimizer']!r}")
    if merged["activation"] not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {merged['activation']!r}")
    if merged["schedule"] not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES}, got {merged['schedule']!r}")
    for name in FLAGS:
        checks.flag(merged[name], name)
    checks.count(merged["layers"], "layers")
    for name in merged.keys() & (set(SIZES) | UNITS_PER_LAYER):
        checks.positive_int(merged[name], name)
    checks.non_negative(merged["l2"], "l2", per_model=False)
    return merged


def shape_key(params: dict, widths: bool = True) -> tuple:
    """What models must share to train as one population: everything except per-model numbers
    (and whether dropout or decay are used at all); ``widths=False`` leaves out the hidden widths too
    (models of different widths can share a padded population)."""
    free = PER_MODEL if widths else PER_MODEL + tuple(WIDTHS)
    shared = tuple(sorted((name, value) for name, value in params.items() if name not in free))
    return shared + (("dropout?", "dropout" in params), ("decay_rate?", "decay_rate" in params))


def hidden_widths(params: dict) -> list:
    """The number of units of each hidden layer."""
    return [int(params.get(f"units_{index}", params["units"])) for index in range(1, int(params["layers"]) + 1)]


def build_layers(params: dict, output_dim: int, dropout=None, widths: list | None = None) -> list:
    """Hidden ``Dense -> [BatchNorm] -> activation -> [Dropout]`` blocks, then ``Dense(output_dim)``;
    ``widths`` (one per hidden layer) overrides the configuration's units."""
    layers: list[L.Layer] = []
    for units in widths or hidden_widths(params):
        layers.append(L.Dense(units, init=params["init"]))
        if params["batchnorm"]:
            layers.append(L.BatchNorm(momentum=params["bn_momentum"]))
        activation = ACTIVATIONS[params["activation"]]
        layers.append(activation(params["alpha"]) if activation is L.LeakyReLU else activation())
        if dropout is not None:
            layers.append(L.Dropout(dropout))
    return layers + [L.Dense(output_dim, init=params["init"])]


def build_model(params: dict, input_dim: int, output_dim: int, loss=None, device: str = "cpu",
                dtype="float32", backend: str | None = None):
    """An untrained :class:`~xpnet.Sequential` for one configuration (completed by the defaults), with
    its seed, initial scale and optimizer; train it with ``model.fit(X, y, **fit_options(params))``."""
    from xpnet.model import Sequential

    config = complete(params)
    model = Sequential(build_layers(config, output_dim, config.get("dropout")), input_dim=input_dim,
                       device=device, dtype=dtype, backend=backend, seed=config["seed"],
                       init_scale=config["init_scale"], loss=loss)
    model.optimizer = build_optimizer([config])
    return model


def fit_options(params: dict) -> dict:
    """The ``fit`` arguments of one configuration: ``batch_size``, ``epochs`` and ``l2`` (the optimizer
    comes with :func:`build_model`)."""
    config = complete(params)
    return {"batch_size": int(config["batch_size"]), "epochs": int(config["epochs"]), "l2": config["l2"]}


def build_optimizer(group: list) -> optim.Optimizer:
    """One optimizer for a group of same-shaped configurations: one value per model as lists (plain
    numbers for a group of one); ``decay_rate`` turns ``lr`` into an inverse-time decay schedule."""
    first = group[0]
    cls, names = OPTIMIZERS[first["optimizer"]]
    lr = per_model(group, "lr")
    if "decay_rate" in first:
        lr = _schedule(first, lr, per_model(group, "decay_rate"))
    options = {name: per_model(group, name) for name in names if name in first}
    if cls is optim.Momentum:
        options["nesterov"] = first["nesterov"]
    return cls(lr=lr, **options)


def _schedule(params: dict, lr, decay_rate):
    if params["schedule"] == "exponential":
        return schedules.ExponentialDecay(lr, (1.0 - np.asarray(decay_rate)).tolist())
    interval = params["decay_interval"] if params["schedule"] == "staircase" else None
    return schedules.InverseTimeDecay(lr, decay_rate, interval=interval)


def per_model(group: list, name: str):
    """The values of ``name`` across a group: a list, or the plain value for a group of one."""
    values = [params[name] for params in group]
    return values if len(group) > 1 else values[0]


def summarize(number, params, history, seconds, state: str = "complete", trained=None) -> TrialResult:
    """A trial's result from its History. Its score is the validation loss of the weights it kept:
    those of its last finite epoch, where fit left them (a diverged model is rolled back to them).
    When fit restores an earlier epoch's weights (early stopping with ``restore_best_weights``), the
    index of the restored epoch replaces ``kept`` below."""
    val_loss, val_accuracy = history["val_loss"], history["val_accuracy"]
    finite = [epoch for epoch, value in enumerate(val_loss) if value is not None and math.isfinite(value)]
    kept = finite[-1] if finite else None
    accuracies = [value for value in val_accuracy if value is not None and math.isfinite(value)]
    return TrialResult(
        number=number, params=params,
        val_loss=val_loss[kept] if kept is not None else math.nan,
        best_val_loss=min(val_loss[epoch] for epoch in finite) if finite else math.nan,
        val_accuracy=val_accuracy[kept] if kept is not None else None,
        best_val_accuracy=max(accuracies) if accuracies else None,
        epochs=len(finite), seconds=seconds, diverged=state == "diverged", pruned=state == "pruned",
        history=history, config=params, trained=trained)


def failed(number, params, error: BaseException) -> TrialResult:
    """The result of a trial whose training raised ``error``."""
    return TrialResult(number=number, params=params, val_loss=math.nan, best_val_loss=math.nan,
                       val_accuracy=None, best_val_accuracy=None, epochs=0, seconds=0.0, diverged=False,
                       error=f"{type(error).__name__}: {error}", config=params)
