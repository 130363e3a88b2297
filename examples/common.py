"""What the example scripts share: their command line, figures side by side, and printed results."""
from __future__ import annotations

import argparse
import pathlib

import numpy as np
from threadpoolctl import threadpool_limits

import xpnet as xn


def options(description: str) -> argparse.Namespace:
    """``--smoke`` (the smallest settings: seconds, to check the script runs) and ``--out DIR`` (where
    the figures go; created if missing). Also limits the linear-algebra library to one thread: the
    networks here are small, and more threads only add overhead (several times the run time on a
    busy machine)."""
    threadpool_limits(1)
    parser = argparse.ArgumentParser(description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="smallest settings, to check that it runs")
    parser.add_argument("--out", type=pathlib.Path, default=pathlib.Path("figures"),
                        help="folder for the figures (default: ./figures)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    return args


def save(figure, args, name: str) -> None:
    print(f"saved {xn.plot.save(figure, args.out / name)}")


def side_by_side(count: int, width: float = 4.0, height: float = 3.6) -> tuple:
    """A figure with ``count`` axes in one row: ``(figure, [axes, ...])``."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width * count, height), layout="constrained")
    return figure, [figure.add_subplot(1, count, index + 1) for index in range(count)]


def boundaries(models: dict, X, y):
    """Each ``name -> model`` of ``models`` as a decision boundary panel over the points ``X, y``."""
    figure, axes = side_by_side(len(models))
    for ax, (name, model) in zip(axes, models.items()):
        xn.plot.decision_boundary(model, X, y, ax=ax)
        ax.set_title(name)
    return figure


def accuracies(model, data: tuple) -> str:
    """The training and test accuracy of ``model`` on ``data = (X_train, y_train, X_test, y_test)``."""
    X_train, y_train, X_test, y_test = data
    train, test = model.evaluate(X_train, y_train), model.evaluate(X_test, y_test)
    return f"train accuracy {train['accuracy']:.3f}   test accuracy {test['accuracy']:.3f}"


def warm_up() -> None:
    """Train a tiny model for one epoch, so that later timings leave out one-time start-up costs
    (compiled kernels loaded, first calls into the linear algebra library)."""
    model = xn.Sequential([xn.Dense(2), xn.ReLU(), xn.Dense(1)], input_dim=2)
    model.fit(np.zeros((4, 2)), np.zeros(4), loss="binary_cross_entropy", epochs=1)
