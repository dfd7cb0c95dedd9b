"""fastnn: fast, checked kernels for the techniques of "Improving Deep Neural
Networks", for people who write their networks in NumPy.

Importing compiles nothing: kernels compile on first use per dtype (and are
cached on disk).
"""
from . import data, datasets, init, io, schedules, testing, tune
from ._backend import available_backends, get_backend, set_backend, use_backend
from .activations import activation_backward, activation_forward, sigmoid
from .batchnorm import BatchNormOutput, batchnorm_backward, batchnorm_forward
from .callbacks import Callback, EarlyStopping
from .checkpoint import load
from .data import Standardizer
from .dense import dense_backward, dense_forward
from .diagnose import diagnose
from .dropout import dropout_backward, dropout_blocks, dropout_forward, dropout_mask
from .gradcheck import GradcheckReport, gradcheck
from .layers import BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh
from .losses import LOSSES, LossOutput, binary_cross_entropy, mean_squared_error, softmax, softmax_cross_entropy
from .model import DivergenceError, History, Sequential
from .optim import SGD, Adam, AdamW, ExponentialAverage, Momentum, RMSprop, exponential_average
from .params import Parameters
from .regularization import l1_penalty, l2_penalty

__version__ = "0.1.0"

__all__ = [
    # modules
    "data", "datasets", "init", "io", "schedules", "testing", "tune",
    # backends
    "available_backends", "get_backend", "set_backend", "use_backend",
    # kernels, one op family each
    "activation_forward", "activation_backward", "sigmoid",
    "batchnorm_forward", "batchnorm_backward", "BatchNormOutput",
    "dense_forward", "dense_backward",
    "dropout_forward", "dropout_backward", "dropout_mask", "dropout_blocks",
    "softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error", "softmax", "LossOutput", "LOSSES",
    "l2_penalty", "l1_penalty",
    # optimizers and averages
    "SGD", "Momentum", "RMSprop", "Adam", "AdamW", "ExponentialAverage", "exponential_average",
    # models
    "Parameters", "Sequential", "History", "DivergenceError",
    "Dense", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "BatchNorm",
    "Callback", "EarlyStopping", "load",
    # the course's tools
    "Standardizer", "gradcheck", "GradcheckReport", "diagnose",
    "__version__",
]
