"""What ``fit`` prints while it trains, by ``verbose`` (as in Keras):

* ``0``: nothing;
* ``1``: a progress bar per epoch on a terminal (standard error is a TTY and tqdm, the ``progress``
  extra, is installed), else one line per epoch;
* ``2``: one line per epoch (standard output).

The bar advances once per mini-batch from the host, without reading anything from the device, so
it adds no synchronization to a training step: on a GPU it shows the steps queued, and the loss it
shows is the previous epoch's (read once per epoch with the rest of the epoch's values).
"""
from __future__ import annotations

import sys
from typing import Any

import numpy as np


def check_verbose(verbose) -> int:
    """0, 1 or 2 (``False`` and ``True`` count as 0 and 1)."""
    if isinstance(verbose, (bool, np.bool_)):
        return int(verbose)
    if isinstance(verbose, (int, np.integer)) and verbose in (0, 1, 2):
        return int(verbose)
    raise ValueError(f"verbose must be 0 (silent), 1 (a progress bar, or a line per epoch) or 2 (a line per "
                     f"epoch), got {verbose!r}")


def bar_available(stream) -> bool:
    """A bar is drawn on a terminal, and only with tqdm installed."""
    isatty = getattr(stream, "isatty", None)
    if not (isatty is not None and isatty()):
        return False
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


class Progress:
    """Prints the progress of one ``fit`` call; ``start_epoch``, ``advance`` (per mini-batch) and
    ``end_epoch`` are called by the loop."""

    def __init__(self, verbose: int):
        self.verbose = check_verbose(verbose)
        self.use_bar = self.verbose == 1 and bar_available(sys.stderr)
        self.bar: Any = None
        self.previous: dict | None = None

    def start_epoch(self, epoch: int, iterations: int | None) -> None:
        if not self.use_bar:
            return
        from tqdm import tqdm

        last = summary(self.previous, prefix="last epoch: ") if self.previous is not None else None
        self.bar = tqdm(total=iterations, desc=f"epoch {epoch}", unit="batch", file=sys.stderr, leave=True,
                        dynamic_ncols=True, postfix=last)

    def advance(self) -> None:
        if self.bar is not None:
            self.bar.update()

    def end_epoch(self, epoch: int, record: dict, seconds: float) -> None:
        self.previous = record
        if self.bar is not None:
            self.bar.set_postfix_str(summary(record), refresh=False)
            self.bar.close()
            self.bar = None
        elif self.verbose:
            print(f"epoch {epoch:>4}  {summary(record)}  {seconds:.2f}s", flush=True)

    def close(self) -> None:
        """End a bar left open by an epoch that did not finish."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def summary(record: dict, prefix: str = "") -> str:
    """The epoch's values; a population shows the best value over its models."""
    parts = []
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        value = record.get(key)
        if value is None:
            continue
        if np.ndim(value):
            finite = np.asarray(value, dtype=np.float64)
            if not np.any(np.isfinite(finite)):
                continue
            best = np.nanmax(finite) if key.endswith("accuracy") else np.nanmin(finite)
            parts.append(f"best {key} {best:.4g}")
        else:
            parts.append(f"{key} {value:.4g}")
    return prefix + "  ".join(parts)
