"""Training: the fit loop, one step, L2 regularization, optimizers, schedules, averages, History."""
from xpnet.training.loop import DivergenceError, fit

__all__ = ["DivergenceError", "fit"]
