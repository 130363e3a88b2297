"""What a training run recorded: per-epoch metrics and the cost of every iteration."""
from __future__ import annotations

import numpy as np

from xpnet.training.ewa import EWA

EPOCH_KEYS = ("loss", "l2_penalty", "accuracy", "val_loss", "val_accuracy", "lr")


def _json_value(value):
    if value is None or isinstance(value, (float, int)):
        return value
    value = np.asarray(value)
    return float(value) if value.ndim == 0 else value.tolist()


def _per_member(values: list, count: int) -> list:
    """Per-epoch entries (lists of ``count`` values, or shared scalars) as ``count`` per-model lists."""
    rows = [value if isinstance(value, list) else [value] * count for value in values]
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(count)]


def _population_axes(data) -> tuple:
    """``(P,)`` when some entry of a to_dict record is a list of P values (a population), else ``()``."""
    if not isinstance(data, dict):
        return ()
    epochs = data.get("history")
    columns = [*(epochs.values() if isinstance(epochs, dict) else []), data.get("iteration_cost")]
    for column in columns:
        for value in column if isinstance(column, list) else []:
            if isinstance(value, list):
                return (len(value),)
    return ()


class History:
    """Per-epoch lists in ``history[key]`` and per-iteration costs in ``iteration_cost``.

    Keys: ``loss`` (data cost averaged over the epoch's examples), ``l2_penalty`` (the L2 term,
    averaged the same way), ``accuracy`` (running training accuracy, with dropout active),
    ``val_loss``/``val_accuracy`` (evaluation mode, when validation data is given) and ``lr``
    (the learning rate at the epoch's first update). Missing values are ``None``.
    Calling ``fit`` again appends to the same History.
    """

    def __init__(self):
        self.history: dict[str, list] = {key: [] for key in EPOCH_KEYS}
        self.iteration_cost: list = []

    def append_epoch(self, record: dict, iteration_cost: list) -> None:
        """Values are floats, or (a population) NumPy arrays stored as lists, one entry per model."""
        for key in EPOCH_KEYS:
            self.history[key].append(_json_value(record.get(key)))
        self.iteration_cost.extend(_json_value(cost) for cost in iteration_cost)

    def member(self, index: int) -> History:
        """The history of one model of a population (``index`` from 0)."""
        members = self.members()
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)) or not 0 <= index < len(members):
            raise IndexError(f"member index must be an int in [0, {len(members)}) (this History has "
                             f"{len(members)} model{'s' if len(members) > 1 else ''}), got {index!r}")
        return members[index]

    def members(self) -> list:
        """One History per model of a population, split in one pass."""
        count = next((len(value) for values in [*self.history.values(), self.iteration_cost] for value in values
                      if isinstance(value, list)), 1)
        columns = {key: _per_member(values, count) for key, values in self.history.items()}
        costs = _per_member(self.iteration_cost, count)
        histories = []
        for index in range(count):
            single = History()
            single.history = {key: column[index] for key, column in columns.items()}
            single.iteration_cost = costs[index]
            histories.append(single)
        return histories

    def __getitem__(self, key):
        if key not in self.history:
            raise KeyError(f"History has no {key!r}; its per-epoch keys are {list(EPOCH_KEYS)} "
                           "(per-iteration costs: .iteration_cost)")
        return self.history[key]

    @property
    def epochs(self) -> int:
        return len(self.history["loss"])

    def smoothed_cost(self, beta: float = 0.9, bias_correction: bool = True) -> list:
        """The per-iteration cost smoothed by an exponentially weighted average; for a population, one
        list per iteration with each model's smoothed cost (as ``iteration_cost`` has each model's cost)."""
        if any(isinstance(cost, list) for cost in self.iteration_cost):
            per_model = [member.smoothed_cost(beta, bias_correction) for member in self.members()]
            return [list(values) for values in zip(*per_model)]
        return EWA(beta, bias_correction).average(self.iteration_cost)

    def plot(self, path=None, beta: float = 0.9):
        """Training curves as a matplotlib Figure (saved to ``path`` if given): :func:`xpnet.plot.history`."""
        from xpnet import plot

        return plot.history(self, path, beta)

    def to_dict(self) -> dict:
        return {"history": self.history, "iteration_cost": self.iteration_cost}

    @classmethod
    def from_dict(cls, data: dict) -> History:
        """The History that :meth:`to_dict` gave ``data``; anything else is a ValueError."""
        check_record(data, _population_axes(data))
        history = cls()
        history.history.update({key: list(values) for key, values in data["history"].items()})
        history.iteration_cost = list(data["iteration_cost"])
        return history


def check_record(history, lead: tuple) -> None:
    """Raise ValueError unless ``history`` is a dict as :meth:`History.to_dict` writes it: every
    per-epoch list (all of one length) and the per-iteration costs hold numbers or nulls, or for a
    population (``lead == (P,)``) lists of P of them."""
    if not isinstance(history, dict) or set(history) != {"history", "iteration_cost"}:
        raise ValueError("history must be {'history': {...}, 'iteration_cost': [...]}")
    epochs = history["history"]
    if not isinstance(epochs, dict) or set(epochs) != set(EPOCH_KEYS):
        raise ValueError(f"history must have the per-epoch lists {list(EPOCH_KEYS)}")
    lengths = {len(values) if isinstance(values, list) else -1 for values in epochs.values()}
    if len(lengths) != 1 or -1 in lengths:
        raise ValueError("history's per-epoch entries must be lists of one length")
    for key, values in [*epochs.items(), ("iteration_cost", history["iteration_cost"])]:
        if not isinstance(values, list) or not _is_record(values, lead):
            raise ValueError(f"history[{key!r}] must be a list of numbers or nulls"
                             + (f" (or lists of {lead[0]}, one per model)" if lead else ""))


def _is_record(values: list, lead: tuple) -> bool:
    """Numbers or nulls (a population: also lists of one per model), checked by NumPy when they are
    all numbers of one shape (the common case, fast), else one by one."""
    try:
        array = np.array(values)
    except ValueError:  # ragged: numbers mixed with lists
        array = None
    if array is not None and array.dtype.kind in "fi" and array.shape in ((len(values),), (len(values),) + lead):
        return True
    return all(_is_recorded_value(value, lead) for value in values)


def _is_recorded_value(value, lead: tuple) -> bool:
    """A number or null, or (a population) a list of one such per model."""
    if isinstance(value, list):
        return bool(lead) and len(value) == lead[0] and all(_is_number_or_null(item) for item in value)
    return _is_number_or_null(value)


def _is_number_or_null(value) -> bool:
    return value is None or isinstance(value, (int, float))
