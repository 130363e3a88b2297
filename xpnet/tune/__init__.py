"""Hyperparameter search: spaces, random / grid / coarse-to-fine search, populations trained in one
pass, worker processes, an Optuna bridge for studies shared across machines, and babysitting."""
from xpnet.tune.results import Results
from xpnet.tune.runner import Problem, run
from xpnet.tune.search import coarse_to_fine, grid_search, random_search
from xpnet.tune.spaces import Choice, IntUniform, LogUniform, OneMinusLogUniform, Uniform, grid, sample, zoom
from xpnet.tune.trials import TrialResult

__all__ = ["Choice", "IntUniform", "LogUniform", "OneMinusLogUniform", "Problem", "Results", "TrialResult",
           "Uniform", "coarse_to_fine", "grid", "grid_search", "random_search", "run", "sample", "zoom"]
