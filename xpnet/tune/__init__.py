"""Hyperparameter search: spaces, random / grid / coarse-to-fine search, populations trained in one
pass (padded across widths, pruned by successive halving), worker processes, an Optuna bridge for
studies shared across machines (``tune.optuna``, needs the ``tune`` extra) and babysitting
(``tune.babysit``); both load on first use."""
import importlib

from xpnet.tune.populations import member, select
from xpnet.tune.pruning import Pruner, SuccessiveHalving
from xpnet.tune.results import Results
from xpnet.tune.runner import Problem, run
from xpnet.tune.search import coarse_to_fine, grid_search, random_search
from xpnet.tune.spaces import Choice, IntUniform, LogUniform, OneMinusLogUniform, Uniform, grid, sample, zoom
from xpnet.tune.trials import TrialResult, build_model, fit_options

__all__ = ["Choice", "IntUniform", "LogUniform", "OneMinusLogUniform", "Problem", "Pruner", "Results",
           "SuccessiveHalving", "TrialResult", "Uniform", "babysit", "build_model", "coarse_to_fine", "fit_options",
           "grid", "grid_search", "member", "optuna", "random_search", "run", "sample", "select", "zoom"]

LAZY = ("babysit", "optuna")


def __getattr__(name: str):
    """``tune.babysit`` and ``tune.optuna`` are imported when first named (optuna stays optional)."""
    if name in LAZY:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
