"""Figures: training curves, decision boundaries of 2-D classifiers, hyperparameter searches.

Needs matplotlib (the ``plot`` extra), imported only when a figure is drawn. Every function builds a
:class:`matplotlib.figure.Figure` with the object-oriented API (no pyplot, no backend chosen), saves
it to ``path`` when one is given (with :func:`save`: atomically, the format following the file name)
and returns it.
"""
from __future__ import annotations

import math
import os

import numpy as np

from xpnet import files, tune

#: The per-epoch panels of :func:`history`: a title and the History keys drawn in it.
EPOCH_PANELS = (("loss", ("loss", "val_loss")), ("accuracy", ("accuracy", "val_accuracy")),
                ("learning rate", ("lr",)))
DPI = 110  # the resolution of saved raster images
LEGEND_LIMIT = 10  # more labelled lines than this and an axes gets no legend


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("plotting needs matplotlib: pip install 'xpnet[plot]'") from error
    return Figure


def _panels(count: int, columns: int, width: float = 4.5, height: float = 3.4) -> tuple:
    """A new figure with ``count`` axes in rows of ``columns``: ``(figure, [axes, ...])``."""
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure = _figure_class()(figsize=(width * columns, height * rows), layout="constrained")
    return figure, [figure.add_subplot(rows, columns, index + 1) for index in range(count)]


def save(figure, path):
    """Save ``figure`` to ``path`` in one step (:func:`xpnet.files.write_atomically`: if drawing or
    writing fails, a file already there is left as it was) and return the name written.

    The format follows the name's suffix (``.png``, ``.svg``, ``.pdf``, ...); a name without one
    gets matplotlib's ``savefig.format`` (png) and that suffix, as ``Figure.savefig`` gives it. A
    file object (anything with ``write``) is written directly and returned.
    """
    if hasattr(path, "write"):
        figure.savefig(path, dpi=DPI)
        return path
    name, file_format = file_name(path)
    files.write_atomically(name, lambda file: figure.savefig(file, format=file_format, dpi=DPI))
    return name


def file_name(path) -> tuple:
    """``(name, format)`` that :func:`save` writes for ``path``: the suffix gives the format, a name
    without one gets matplotlib's ``savefig.format``; a format matplotlib cannot write is refused
    (before anything is drawn)."""
    import matplotlib
    from matplotlib.backend_bases import FigureCanvasBase

    name = os.fsdecode(path)
    file_format = os.path.splitext(name)[1][1:].lower()
    if not file_format:
        file_format = matplotlib.rcParams["savefig.format"]
        name = f"{name.rstrip('.')}.{file_format}"
    formats = FigureCanvasBase.get_supported_filetypes()
    if file_format not in formats:
        raise ValueError(f"cannot save a figure as {name!r}: matplotlib writes {', '.join(sorted(formats))}")
    return name, file_format


def _finish(figure, path):
    if path is not None:
        save(figure, path)
    return figure


def _legend(ax) -> None:
    labelled = [label for label in ax.get_legend_handles_labels()[1] if not label.startswith("_")]
    if 0 < len(labelled) <= LEGEND_LIMIT:
        ax.legend(fontsize="small")


def _whole_epochs(ax) -> None:
    """Ticks at whole epochs only."""
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _floats(values) -> np.ndarray:
    """History values as floats, ``None`` (not recorded) as NaN, which matplotlib leaves out."""
    return np.array([math.nan if value is None else value for value in values], dtype=float)


def _recorded(history, key: str) -> bool:
    """Whether any epoch has a value for ``key`` (a population stores lists of values)."""
    return any(value is not None for value in history[key])


# training curves ---------------------------------------------------------------------------------


def history(history, path=None, beta: float = 0.9):
    """A History as panels: the cost of every iteration with its exponentially weighted average
    ``history.smoothed_cost(beta)``; training and validation loss per epoch; training and validation
    accuracy per epoch (when recorded); the learning rate per epoch.

    A population's History (entries are lists, one per model) gets one line per model and key; its
    first panel shows each model's smoothed cost only.
    """
    members = history.members()
    panels = [(title, [key for key in keys if _recorded(history, key)]) for title, keys in EPOCH_PANELS]
    panels = [(title, keys) for title, keys in panels if keys]
    figure, axes = _panels(1 + len(panels), columns=2)
    _draw_iteration_cost(axes[0], members, beta)
    for ax, (title, keys) in zip(axes[1:], panels):
        _draw_epoch_values(ax, members, keys, title)
    return _finish(figure, path)


def _draw_iteration_cost(ax, members: list, beta: float) -> None:
    """One model: its cost per iteration, faint, and the smoothed cost; a population: each model's
    smoothed cost."""
    if len(members) == 1:
        cost = members[0].iteration_cost
        iterations = np.arange(1, len(cost) + 1)
        ax.plot(iterations, _floats(cost), color="C0", alpha=0.35, linewidth=0.8, label="cost")
        ax.plot(iterations, members[0].smoothed_cost(beta), color="C0", label=f"EWA, beta = {beta}")
        title = "cost per iteration"
    else:
        for index, member in enumerate(members):
            smoothed = member.smoothed_cost(beta)
            ax.plot(np.arange(1, len(smoothed) + 1), smoothed, color=f"C{index % 10}",
                    label=f"model {index}")
        title = f"cost per iteration (EWA, beta = {beta})"
    ax.set(title=title, xlabel="iteration", ylabel="cost")
    _legend(ax)


def _draw_epoch_values(ax, members: list, keys: list, title: str) -> None:
    """One line per model and key; validation keys dashed, in their model's colour."""
    for index, member in enumerate(members):
        for key in keys:
            values = _floats(member[key])
            label = key if len(members) == 1 else f"{key}, model {index}"
            ax.plot(np.arange(1, len(values) + 1), values, color=f"C{index % 10}",
                    linestyle="--" if key.startswith("val_") else "-", label=label)
    ax.set(title=f"{title} per epoch", xlabel="epoch", ylabel=title)
    _whole_epochs(ax)
    _legend(ax)


def compare(histories: dict, path=None, key: str = "loss", yscale: str = "linear", ax=None):
    """Several named runs on one axes: ``history[key]`` per epoch for each ``name -> History`` of
    ``histories`` (one line per model of a population). Draws into ``ax`` when given."""
    if not isinstance(histories, dict) or not histories:
        raise ValueError(f"histories must be a non-empty dict name -> History, got {histories!r}")
    figure, ax = _figure_and_axes(ax)
    for name, run in histories.items():
        members = run.members()
        for index, member in enumerate(members):
            values = _floats(member[key])
            ax.plot(np.arange(1, len(values) + 1), values,
                    label=name if len(members) == 1 else f"{name}, model {index}")
    ax.set(xlabel="epoch", ylabel=key, yscale=yscale)
    _whole_epochs(ax)
    _legend(ax)
    return _finish(figure, path)


def _figure_and_axes(ax) -> tuple:
    if ax is not None:
        return ax.figure, ax
    figure, axes = _panels(1, columns=1, width=6.0, height=4.0)
    return figure, axes[0]


# decision boundaries -----------------------------------------------------------------------------


def decision_boundary(model, X, y, path=None, ax=None, resolution: int = 200):
    """A 2-D classifier's predicted class over a ``resolution x resolution`` grid spanning the data
    (10% margin on each side), filled by class, with the points ``X (m, 2)`` coloured by their labels
    ``y`` (``(m,)`` integers, ``(m, 1)``, or one-hot ``(m, classes)``). Works for one sigmoid output
    and for softmax outputs; draws into ``ax`` when given."""
    X = _two_features(X)
    labels = _labels(y, X.shape[0])
    if getattr(model, "population", None) is not None:
        raise ValueError(f"decision_boundary draws one model, got a population of {model.population}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2 (grid points per axis), got {resolution!r}")
    first, second = _grid_axes(X, int(resolution))
    grid_first, grid_second = np.meshgrid(first, second)
    points = np.column_stack([grid_first.ravel(), grid_second.ravel()])
    predicted = np.asarray(model.predict_classes(points)).reshape(grid_first.shape)
    classes = int(max(predicted.max(), labels.max())) + 1
    colours = [f"C{label % 10}" for label in range(classes)]
    figure, ax = _figure_and_axes(ax)
    ax.contourf(grid_first, grid_second, predicted, levels=np.arange(classes + 1) - 0.5, colors=colours,
                alpha=0.3)
    for label in np.unique(labels):
        chosen = labels == label
        ax.scatter(X[chosen, 0], X[chosen, 1], s=14, color=colours[label], edgecolors="black",
                   linewidths=0.4, label=f"class {label}")
    ax.set(xlabel="$x_1$", ylabel="$x_2$")
    return _finish(figure, path)


def _two_features(X) -> np.ndarray:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary needs X of shape (m, 2), two features per sample; got shape "
                         f"{X.shape}")
    if X.shape[0] == 0:
        raise ValueError("decision_boundary needs at least one sample in X, got shape (0, 2)")
    return X


def _labels(y, count: int) -> np.ndarray:
    """Integer labels ``(m,)`` from ``(m,)``, ``(m, 1)`` or one-hot ``(m, classes)`` targets."""
    y = np.asarray(y)
    if y.ndim == 2:
        y = y[:, 0] if y.shape[1] == 1 else y.argmax(axis=1)
    if y.shape != (count,):
        raise ValueError(f"y must hold one label per row of X ({count}), got shape {np.shape(y)}")
    labels = y.astype(np.int64)
    if not np.array_equal(labels, y) or labels.min() < 0:
        raise ValueError(f"y must hold class labels 0, 1, ..., got values such as {y[:5].tolist()}")
    return labels


def _grid_axes(X: np.ndarray, resolution: int) -> tuple:
    """Evenly spaced values over each feature's range, widened by 10% on each side."""
    low, high = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * np.where(high > low, high - low, 1.0)
    return tuple(np.linspace(low[i] - margin[i], high[i] + margin[i], resolution) for i in range(2))


# hyperparameter searches -------------------------------------------------------------------------


def search(results, path=None, space: dict | None = None):
    """A search's Results: one panel per hyperparameter that varies across the trials, its value
    against each trial's best validation loss (``best_val_loss``, log scale when all positive).

    Each hyperparameter is drawn on its distribution's own scale: a log axis for ``LogUniform`` (and
    ``IntUniform(log=True)``), ``1 - value`` on a log axis for ``OneMinusLogUniform``, one position per
    option for ``Choice``, a linear axis otherwise. The distributions come from ``space``, else from
    ``results.spaces`` (coarse to fine); without either, values that are not numbers are categories
    and positive numbers spanning two decades or more get a log axis. Coarse-to-fine rounds (the
    ``"round"`` entry of each trial's params) get their own colour; trials without a finite loss
    (diverged) are marked with a red x at the top of each panel.
    """
    trials = list(results.trials)
    names = _varied(trials)
    if not names:
        raise ValueError(f"search plots hyperparameters that vary across trials; none varies across "
                         f"these {len(trials)} trial(s)")
    if space is None:
        space = results.spaces[0] if results.spaces else {}
    rounds = sorted({trial.params.get("round", 0) for trial in trials})
    figure, axes = _panels(len(names), columns=3)
    for ax, name in zip(axes, names):
        axis = _axis_for(name, space.get(name), [trial.params[name] for trial in trials])
        _draw_trials(ax, axis, trials, name, rounds)
    return _finish(figure, path)


def _varied(trials: list) -> list:
    """Names of the hyperparameters (other than ``round``) that take more than one value."""
    names = dict.fromkeys(name for trial in trials for name in trial.params if name != "round")
    return [name for name in names
            if len({repr(trial.params.get(name)) for trial in trials}) > 1
            and all(name in trial.params for trial in trials)]


class _Axis:
    """How one hyperparameter is drawn: ``position(value)``, the axis scale, label and tick names."""

    def __init__(self, label: str, scale: str = "linear", position=float, categories: list | None = None):
        self.label, self.scale, self.position, self.categories = label, scale, position, categories

    def apply(self, ax) -> None:
        ax.set(xlabel=self.label, xscale=self.scale)
        if self.categories is not None:
            ax.set_xticks(range(len(self.categories)), [str(option) for option in self.categories])
            ax.set_xlim(-0.5, len(self.categories) - 0.5)


def _axis_for(name: str, distribution, values: list) -> _Axis:
    if isinstance(distribution, tune.OneMinusLogUniform):
        return _Axis(f"1 - {name}", "log", lambda value: 1.0 - value)
    if isinstance(distribution, tune.LogUniform) or (
            isinstance(distribution, tune.IntUniform) and distribution.log):
        return _Axis(name, "log")
    if isinstance(distribution, tune.Choice):
        return _categories(name, distribution.options)
    if distribution is not None:
        return _Axis(name)
    return _inferred_axis(name, values)


def _categories(name: str, options: list) -> _Axis:
    return _Axis(name, position=lambda value: float(options.index(value)), categories=list(options))


def _inferred_axis(name: str, values: list) -> _Axis:
    """An axis for values whose distribution is unknown."""
    if not all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        return _categories(name, list(dict.fromkeys(values)))
    numbers = np.asarray(values, dtype=float)
    if numbers.min() > 0 and numbers.max() >= 100 * numbers.min():
        return _Axis(name, "log")
    return _Axis(name)


def _draw_trials(ax, axis: _Axis, trials: list, name: str, rounds: list) -> None:
    """Finite losses as points, one colour per round; categories spread the rounds side by side."""
    losses = np.array([trial.best_val_loss for trial in trials], dtype=float)
    positions = np.array([axis.position(trial.params[name]) for trial in trials])
    if axis.categories is not None:
        positions = positions + _round_offsets(trials, rounds)
    trial_rounds = np.array([trial.params.get("round", 0) for trial in trials])
    finite = np.isfinite(losses)
    for colour, round_index in enumerate(rounds):
        chosen = finite & (trial_rounds == round_index)
        ax.scatter(positions[chosen], losses[chosen], s=16, color=f"C{colour % 10}", alpha=0.8,
                   label=f"round {round_index + 1}" if len(rounds) > 1 else "trials")
    if not finite.all():
        ax.scatter(positions[~finite], np.ones(int((~finite).sum())), transform=ax.get_xaxis_transform(),
                   marker="x", color="red", clip_on=False, label="diverged")
    axis.apply(ax)
    ax.set_ylabel("best validation loss")
    if finite.any() and losses[finite].min() > 0:
        ax.set_yscale("log")
    if len(rounds) > 1 or not finite.all():
        _legend(ax)


def _round_offsets(trials: list, rounds: list, width: float = 0.5) -> np.ndarray:
    """Sideways offsets (in category widths) that put each round in its own column."""
    step = width / len(rounds)
    centre = (len(rounds) - 1) / 2
    return np.array([(rounds.index(trial.params.get("round", 0)) - centre) * step for trial in trials])
