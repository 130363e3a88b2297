"""Populations for search: models of different hidden widths padded to train together, and members
taken out of a population as models (or smaller populations) of their own.

Padding. Members whose configurations differ only in their hidden widths share one population whose
hidden layers have the widest member's width. A narrower member's extra units start with zero weights
in and out, and a :class:`UnitMask` after each hidden block multiplies them by 0 in the forward and the
backward pass. So they add nothing to the member's outputs, and every gradient that reaches their
weights, biases and batch-norm parameters is exactly 0: they stay at 0 under every optimizer (Adam's
moments of a zero gradient stay 0, and so does its update), L2 and weight decay of a zero weight are
0, and batch norm normalizes each unit on its own. The member trains as it would alone, up to the
order in which a matrix product adds its terms. Each member starts from the weights it would draw
alone (same seed, same shapes, same fan-in).
"""
from __future__ import annotations

import copy

import numpy as np

from xpnet.model import Sequential
from xpnet.nn import layers as L
from xpnet.nn.layers import UnitMask
from xpnet.rng import make_random_source
from xpnet.training import optim, schedules
from xpnet.training.history import History
from xpnet.tune import trials


def build_population(configs: list, input_dim: int, output_dim: int, device: str = "cpu",
                     dtype: str = "float32", backend: str | None = None) -> Sequential:
    """One model for configurations that share :func:`~xpnet.tune.trials.shape_key` (widths aside): a
    plain model for one, else a population, padded to the widest member where widths differ."""
    first, size = configs[0], len(configs)
    widths = np.array([trials.hidden_widths(config) for config in configs])
    padded = bool(np.any(widths != widths[0]))
    layers = trials.build_layers(first, output_dim, trials.per_model(configs, "dropout") if "dropout" in first
                                 else None, widths=list(widths.max(axis=0)))
    if padded:
        layers = _with_masks(layers, widths.T.tolist())
    model = Sequential(layers, input_dim=input_dim, device=device, dtype=dtype, backend=backend,
                       seed=trials.per_model(configs, "seed"), population=size if size > 1 else None,
                       init_scale=trials.per_model(configs, "init_scale"))
    if padded:
        model.set_weights(_stacked_initial_weights(configs, model, input_dim, output_dim))
    return model


def _with_masks(layers: list, widths_by_block: list) -> list:
    """``layers`` with a :class:`UnitMask` closing each hidden block (before the next Dense)."""
    result, block = [], 0
    for index, layer in enumerate(layers):
        if isinstance(layer, L.Dense) and index > 0:
            result.append(UnitMask(widths_by_block[block]))
            block += 1
        result.append(layer)
    return result


def _stacked_initial_weights(configs: list, model: Sequential, input_dim: int, output_dim: int) -> dict:
    """Every member's own initial weights (drawn as if it trained alone) inside zeros of the padded
    shapes."""
    stacked = {name: np.zeros(value.shape) for name, value in model.get_weights().items()}
    positions = [index for index, layer in enumerate(model.layers) if not isinstance(layer, UnitMask)]
    for index, config in enumerate(configs):
        alone = Sequential(trials.build_layers(config, output_dim, config.get("dropout")), input_dim=input_dim,
                           dtype="float64", seed=config["seed"], init_scale=config["init_scale"])
        for name, value in alone.get_weights().items():
            stacked[_source_name(name, positions)][(index,) + _leading(value.shape)] = value
    return stacked


def _leading(shape: tuple) -> tuple:
    """The slices that take the leading ``shape`` block of a larger array."""
    return tuple(slice(0, size) for size in shape)


# taking members out ------------------------------------------------------------------------------

def member(population: Sequential, index: int) -> Sequential:
    """Model ``index`` of a population as a model of its own: its weights and batch-norm statistics
    (without padding), loss, optimizer (its hyperparameters, moments and step count), epoch count,
    History and random streams, so that it predicts and goes on training as it would have there."""
    return select(population, index)


def select(population: Sequential, indices) -> Sequential:
    """Models ``indices`` of a population: one model for an int, a smaller population for a list (in
    that order), each carrying what :func:`member` lists. A population padded for different widths
    keeps only the padding its chosen members still need."""
    if population.population is None:
        raise ValueError("select and member take models out of a population (Sequential(..., population=P)); "
                         "this model is a single one")
    single = isinstance(indices, (int, np.integer))
    chosen = [int(indices)] if single else [int(index) for index in indices]
    if not chosen or not all(0 <= index < population.population for index in chosen):
        raise ValueError(f"indices must name models 0..{population.population - 1} of the population, got {indices!r}")
    picker = _Picker(chosen, single, population.population)
    layers, sources = _chosen_layers(population.layers, picker)
    model = Sequential(layers, population.input_dim, device=population.device, dtype=population.dtype,
                       seed=picker.pick(population.seeds), backend=population.backend.name, fast=population.fast,
                       population=None if single else len(chosen), loss=population.loss)
    model.set_weights(_chosen_arrays(population.get_weights(), model.get_weights(), sources, picker))
    model.epoch, model.metadata = population.epoch, copy.deepcopy(population.metadata)
    model.alive = np.array(picker.pick(population.alive.tolist()), dtype=bool).reshape(model.lead)
    model.history = _chosen_history(population.history, picker)
    _copy_random_streams(population, model)
    if population.optimizer is not None:
        model.optimizer = _chosen_optimizer(population, model, sources, picker)
    return model


class _Picker:
    """Takes the chosen members' entries out of per-model values."""

    def __init__(self, chosen: list, single: bool, count: int):
        self.chosen, self.single, self.count = chosen, single, count

    def pick(self, values):
        """One value per model (a list or array of ``count``) -> the chosen ones (one value if single)."""
        picked = [values[index] for index in self.chosen]
        return picked[0] if self.single else picked

    def pick_setting(self, value):
        """A setting that may hold per-model lists anywhere (an optimizer's or schedule's config)."""
        if isinstance(value, dict):
            return {key: self.pick_setting(entry) for key, entry in value.items()}
        if isinstance(value, list) and len(value) == self.count and all(
                isinstance(entry, (int, float)) for entry in value):
            return self.pick(value)
        if isinstance(value, list):
            return [self.pick_setting(entry) for entry in value]
        return value


def _chosen_layers(layers: list, picker: _Picker) -> tuple:
    """Copies of ``layers`` for the chosen members, and the source layer index of each new layer.
    A Dense layer takes the widest chosen member's width; masks stay only where widths still differ."""
    widths = _own_widths(layers, picker.count)
    result, sources = [], []
    for index, layer in enumerate(layers):
        if isinstance(layer, UnitMask):
            units = picker.pick(layer.units)
            if picker.single or len(set(units)) == 1:
                continue
            copied: L.Layer = UnitMask(units)
        elif isinstance(layer, L.Dropout):
            copied = L.Dropout(picker.pick(layer.rate) if isinstance(layer.rate, list) else layer.rate)
        else:
            copied = copy.copy(layer)
            if isinstance(copied, L.Dense) and index in widths:
                units = picker.pick(widths[index])
                copied.units = max(units) if isinstance(units, list) else units
        result.append(copied)
        sources.append(index)
    return result, sources


def _own_widths(layers: list, count: int) -> dict:
    """Dense layer index -> each member's own number of units, for the Dense layers a mask follows."""
    widths, dense = {}, None
    for index, layer in enumerate(layers):
        if isinstance(layer, L.Dense):
            dense = index
        elif isinstance(layer, UnitMask) and dense is not None:
            widths[dense] = layer.units
    return widths


def _source_name(name: str, sources: list) -> str:
    """``"<k>.W"`` -> ``"<sources[k]>.W"``: a parameter's name in the model its layer came from."""
    index, local = name.split(".", 1)
    return f"{sources[int(index)]}.{local}"


def _chosen_arrays(values: dict, targets: dict, sources: list, picker: _Picker) -> dict:
    """For each target name, the chosen members' rows of the source array, cut to the target's shape."""
    result = {}
    for name, target in targets.items():
        rows = picker.pick(values[_source_name(name, sources)])
        if picker.single:
            result[name] = rows[_leading(target.shape)]
        else:
            result[name] = np.stack([row[_leading(target.shape[1:])] for row in rows])
    return result


def _chosen_history(history: History, picker: _Picker) -> History:
    """The chosen members' curves (entries shared by all members stay as they are)."""
    def column(values: list) -> list:
        return [picker.pick(value) if isinstance(value, list) else value for value in values]

    return History.from_dict({"history": {key: column(values) for key, values in history.history.items()},
                              "iteration_cost": column(history.iteration_cost)})


def _copy_random_streams(source: Sequential, target: Sequential) -> None:
    """The dropout and shuffle streams go on where the source's stopped."""
    target.backend.random.set_state(copy.deepcopy(source.backend.random.get_state()))
    if source.shuffle_random is not None:
        backend = target.backend
        target.shuffle_random = make_random_source(backend, None)
        target.shuffle_random.set_state(copy.deepcopy(source.shuffle_random.get_state()))


def _chosen_optimizer(source: Sequential, target: Sequential, sources: list, picker: _Picker):
    """The source's optimizer restricted to the chosen members: their hyperparameters, moments, step
    count and frozen flags. A schedule shared by all members is kept whole."""
    optimizer = source.optimizer
    assert optimizer is not None
    config = optimizer.get_config()
    if not np.ndim(schedules.evaluate(optimizer.lr, epoch=0, step=0)):
        config = {**picker.pick_setting({k: v for k, v in config.items() if k != "lr"}), "lr": config["lr"]}
    else:
        config = picker.pick_setting(config)
    chosen = optim.optimizer_from_config(type(optimizer).__name__, config)
    state = optimizer.state_dict()
    layout, lead = target.param_layout, target.lead
    restored: dict = {"t": state["t"]}
    for slot in optimizer.slots:
        if slot in state:
            values = source.param_layout.unpack(np.asarray(state[slot]))
            targets = layout.unpack(np.zeros(lead + (layout.size,)))
            restored[slot] = layout.pack(_chosen_arrays(values, targets, sources, picker), lead)
    if "frozen" in state:
        restored["frozen"] = np.array(picker.pick(np.asarray(state["frozen"]).tolist()), dtype=bool)
    chosen.load_state_dict(restored, target.param_buffer)
    return chosen
