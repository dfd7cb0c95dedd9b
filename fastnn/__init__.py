"""fastnn: fast, checked kernels for the techniques of "Improving Deep Neural
Networks", for people who write their networks in NumPy.

Importing compiles nothing: kernels compile on first use per dtype (and are
cached on disk).
"""
from . import data, datasets, init, io, schedules, testing, tune  # noqa: F401
from ._backend import available_backends, get_backend, set_backend, use_backend  # noqa: F401
from .activations import activation_backward, activation_forward, sigmoid  # noqa: F401
from .batchnorm import BatchNormOutput, batchnorm_backward, batchnorm_forward  # noqa: F401
from .data import Standardizer  # noqa: F401
from .dense import dense_backward, dense_forward  # noqa: F401
from .dropout import dropout_backward, dropout_blocks, dropout_forward, dropout_mask  # noqa: F401
from .gradcheck import GradcheckReport, gradcheck  # noqa: F401
from .losses import (LOSSES, LossOutput, binary_cross_entropy,  # noqa: F401
                     mean_squared_error, softmax, softmax_cross_entropy)
from .callbacks import Callback, EarlyStopping  # noqa: F401
from .checkpoint import load  # noqa: F401
from .diagnose import diagnose  # noqa: F401
from .layers import BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sigmoid, Tanh  # noqa: F401
from .model import DivergenceError, History, Sequential  # noqa: F401
from .optim import (SGD, Adam, AdamW, ExponentialAverage, Momentum, RMSprop,  # noqa: F401
                    exponential_average)
from .params import Parameters  # noqa: F401
from .regularization import l1_penalty, l2_penalty  # noqa: F401

__version__ = "0.1.0"
