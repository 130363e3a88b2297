"""A set of finished trials: sort, print as a table, export to CSV or JSON."""
from __future__ import annotations

import csv
import io
import json
import math

from xpnet import checks, files
from xpnet.tune.trials import STATES


class Results:
    """Trial results (:class:`~xpnet.tune.trials.TrialResult`), best first: completed trials by the
    validation loss of the weights they kept (``val_loss``), then pruned, diverged and failed ones.

    ``refitted`` is the best configuration trained again on training and validation data, when the
    search was asked to (``refit=True``)."""

    def __init__(self, trials: list, spaces: list | None = None, refitted=None):
        self.trials = sorted(trials, key=_sort_key)
        self.spaces = spaces or []
        self.refitted = refitted

    def __len__(self):
        return len(self.trials)

    def __iter__(self):
        return iter(self.trials)

    def __getitem__(self, index):
        return self.trials[index]

    @property
    def best(self):
        return self.trials[0]

    def best_model(self):
        """The winner as a trained :class:`~xpnet.Sequential`: the refitted model if the search refit
        it, else the best trial's model as its training left it."""
        if self.refitted is not None:
            return self.refitted
        if not self.trials:
            raise ValueError("best_model: these results hold no trials")
        return self.best.model()

    def rows(self) -> list:
        return [trial.row() for trial in self.trials]

    def table(self, limit: int | None = 10) -> str:
        """A fixed-width text table of the best ``limit`` trials."""
        rows = self.rows()[:limit]
        if not rows:
            return "(no trials)"
        columns = list(dict.fromkeys(key for row in rows for key in row))
        cells = [[_format(row.get(column)) for column in columns] for row in rows]
        widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
        lines = ["  ".join(column.ljust(width) for column, width in zip(columns, widths))]
        lines += ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)) for line in cells]
        return "\n".join(lines)

    def plot(self, path=None, space: dict | None = None):
        """Each varied hyperparameter against validation loss, a matplotlib Figure (saved to ``path``
        if given): :func:`xpnet.plot.search`."""
        from xpnet import plot

        return plot.search(self, path, space)

    def to_csv(self, path) -> None:
        rows = self.rows()
        columns = list(dict.fromkeys(key for row in rows for key in row))
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        _write_text(path, buffer.getvalue())

    def to_json(self, path, curves: bool = True) -> None:
        """Every trial's row, plus its History curves unless ``curves=False``."""
        curves = checks.flag(curves, "curves")
        records = []
        for trial in self.trials:
            record = trial.row()
            record["params"] = trial.params
            if curves and trial.history is not None:
                record["history"] = trial.history.to_dict()
            records.append(record)
        _write_text(path, json.dumps(records, indent=1, default=float, allow_nan=True))


def _sort_key(trial):
    loss = trial.val_loss
    return (STATES.index(trial.state), math.isnan(loss), loss, trial.number)


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _write_text(path, text: str) -> None:
    """Write ``text`` (UTF-8) atomically: never a half-written file."""
    files.write_atomically(path, lambda file: file.write(text), text=True)
