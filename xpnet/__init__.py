"""xpnet: deep fully connected networks trained with hand-written array-API kernels,
on NumPy (CPU), CuPy (CUDA), torch or array-api-strict."""
from xpnet import datasets, plot, schedules, tune
from xpnet.backend import resolve_backend, to_numpy
from xpnet.ewa import EWA, ewa_update
from xpnet.gradcheck import GradientCheckReport, gradient_check
from xpnet.history import History
from xpnet.io import load, save
from xpnet.layers import BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh
from xpnet.losses import BinaryCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy
from xpnet.model import Sequential
from xpnet.optim import SGD, Adam, AdamW, Momentum, RMSprop
from xpnet.training import DivergenceError

__version__ = "0.1.0"

__all__ = [
    "Adam", "AdamW", "BatchNorm", "BinaryCrossEntropy", "Dense", "DivergenceError", "Dropout", "EWA",
    "GradientCheckReport", "History", "LeakyReLU", "MeanSquaredError", "Momentum", "ReLU", "RMSprop",
    "SGD", "Sequential", "Sigmoid", "SoftmaxCrossEntropy", "Tanh", "datasets", "ewa_update",
    "gradient_check", "load", "plot", "resolve_backend", "save", "schedules", "to_numpy", "tune",
]
