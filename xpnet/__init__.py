"""xpnet: deep fully connected networks trained with hand-written array-API kernels,
on NumPy (CPU), CuPy (CUDA), torch or array-api-strict."""
from xpnet import datasets, plot, tune
from xpnet.backend import resolve_backend, to_numpy
from xpnet.data import split_validation
from xpnet.gradcheck import GradientCheckReport, gradient_check
from xpnet.io import load, save
from xpnet.model import Sequential
from xpnet.model_file import ModelFileError
from xpnet.nn.layers import BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh
from xpnet.nn.losses import BinaryCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy
from xpnet.training import DivergenceError, callbacks, schedules
from xpnet.training.ewa import EWA
from xpnet.training.history import History
from xpnet.training.optim import SGD, Adam, AdamW, Momentum, RMSprop

__version__ = "0.1.0"

__all__ = [
    "Adam", "AdamW", "BatchNorm", "BinaryCrossEntropy", "Dense", "DivergenceError", "Dropout", "EWA",
    "GradientCheckReport", "History", "LeakyReLU", "MeanSquaredError", "ModelFileError", "Momentum", "ReLU",
    "RMSprop", "SGD", "Sequential", "Sigmoid", "SoftmaxCrossEntropy", "Tanh", "callbacks", "datasets",
    "gradient_check", "load", "plot", "resolve_backend", "save", "schedules", "split_validation",
    "to_numpy", "tune",
]
