"""Layers: ``forward(x, training)`` and ``backward(dout)`` over fastnn's ops.

A layer declares its parameters (``param_shapes``), is bound by its model
to views into the model's flat parameter and gradient buffers (``bind``), and
keeps what its backward needs from the last training forward. Backward
accumulates parameter gradients into the flat gradient buffer and returns
the gradient for the layer below.
"""
from __future__ import annotations

import numpy as np

from . import _arrays, _checks
from . import init as _init
from .activations import activation_backward, activation_code, activation_forward
from .batchnorm import batchnorm_backward, batchnorm_forward
from .dense import dense_backward, dense_forward
from .dropout import dropout_backward, dropout_blocks, dropout_forward

__all__ = ["Layer", "Dense", "Activation", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Dropout", "BatchNorm", "LAYERS"]


class Layer:
    """Base class. Subclasses set ``param_shapes`` and implement forward/backward."""

    def __init__(self) -> None:
        self.params = {}            # name -> view into the model's flat buffer
        self.grads = {}             # name -> view into the model's flat gradient buffer
        self.backend = None
        self.dtype = np.dtype(np.float64)
        self._owner = None          # the token of the Sequential whose buffer the views are in

    param_shapes = {}               # name -> shape, filled by subclasses
    decay = ()                      # names that take weight decay / L2 (weights)
    # configuration fixed at construction: the compiled step copies it into
    # its tables and is kept between calls, so a later change would not reach it
    fixed = ()
    # state a kernel trusts, checked on every assignment: name -> check(name, value)
    checked = {}

    def __setattr__(self, name, value):
        if name in self.fixed and hasattr(self, name):
            raise AttributeError(f"{type(self).__name__}.{name} is fixed at construction; build a new layer "
                                 "(and a new Sequential) to change it")
        check = self.checked.get(name)
        object.__setattr__(self, name, value if check is None else check(name, value))

    def bind(self, params, grads, dtype, backend, device=False):
        """Attach views of the model's buffers; ``device``: they live on the GPU."""
        self.params, self.grads = params, grads
        self.dtype, self.backend = np.dtype(dtype), backend

    def initial_values(self, rng, dtype):
        """Initial parameter values, by name (default: zeros)."""
        return {n: np.zeros(s, dtype) for n, s in self.param_shapes.items()}

    def buffers(self):
        """Non-trainable state saved with the model (e.g. running statistics)."""
        return {}

    def load_buffers(self, state):
        _buffer_names(self, state)

    def output_features(self, in_features):
        return in_features

    def config(self):
        """JSON-serialisable constructor arguments (for checkpoints)."""
        return {}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.config().items())
        return f"{type(self).__name__}({args})"


def _buffer_names(layer, state):
    """``state`` holds exactly the buffers ``layer.buffers()`` names."""
    if not isinstance(state, dict) or set(state) != set(layer.buffers()):
        got = sorted(state) if isinstance(state, dict) else type(state).__name__
        raise ValueError(f"{type(layer).__name__} buffers must be {sorted(layer.buffers())}, got {got}")


class Dense(Layer):
    """Fully connected layer ``f(x @ W + b)``, the activation fused in.

    ``W: (in, out)``, ``b: (out,)``. ``init`` names an initializer of
    ``fastnn.init``; by default ``he_normal`` for relu/leaky_relu, ``xavier``
    for tanh and ``glorot_uniform`` otherwise. ``bias=False`` before a
    BatchNorm, whose beta does the bias's job.
    """
    fixed = ("in_features", "out_features", "activation", "bias", "alpha")

    def __init__(self, in_features: int, out_features: int, activation: str | None = None,
                 init: str | None = None, bias: bool = True, alpha: float = 0.01) -> None:
        super().__init__()
        _checks.positive_int("in_features", in_features, maximum=_checks.MAX_FEATURES)
        _checks.positive_int("out_features", out_features, maximum=_checks.MAX_FEATURES)
        act = "linear" if activation is None else activation
        activation_code(act, alpha)                   # the functional API's rules (name; alpha >= 0, finite)
        if init is None:
            init = {"relu": "he_normal", "leaky_relu": "he_normal", "tanh": "xavier"}.get(act, "glorot_uniform")
        _init.get(init)                               # validates the name
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.activation, self.init, self.alpha = act, init, float(alpha)
        self.bias = _checks.flag("bias", bias)
        self.param_shapes = {"W": (self.in_features, self.out_features)}
        if self.bias:
            self.param_shapes["b"] = (self.out_features,)
        self.decay = ("W",)
        self._x = self._out = None

    def initial_values(self, rng, dtype):
        values = {"W": _init.get(self.init)((self.in_features, self.out_features), rng=rng, dtype=dtype)}
        if self.bias:
            values["b"] = np.zeros(self.out_features, dtype)
        return values

    def forward(self, x, training=False):
        out = dense_forward(x, self.params["W"], self.params.get("b"), self.activation,
                            alpha=self.alpha, backend=self.backend)
        if training:
            self._x, self._out = x, out
        return out

    def backward(self, dout):
        if self._x is None:
            raise RuntimeError("backward needs a forward(x, training=True) first")
        dx, _, _ = dense_backward(dout, self._x, self.params["W"], self._out, self.activation,
                                  bias=self.bias, alpha=self.alpha, dw=self.grads["W"],
                                  db=self.grads.get("b"), backend=self.backend)
        return dx

    def output_features(self, in_features):
        if in_features != self.in_features:
            raise ValueError(f"Dense({self.in_features}, {self.out_features}) follows a layer with "
                             f"{in_features} outputs")
        return self.out_features

    def config(self):
        return {"in_features": self.in_features, "out_features": self.out_features,
                "activation": self.activation, "init": self.init, "bias": self.bias, "alpha": self.alpha}


class Activation(Layer):
    """An elementwise activation as a layer of its own."""
    name = "linear"
    fixed = ("name", "alpha")

    def __init__(self, alpha: float = 0.01) -> None:
        super().__init__()
        activation_code(self.name, alpha)                     # the functional API's rule
        self.alpha = float(alpha)
        self._out = None

    def forward(self, x, training=False):
        out = activation_forward(x, self.name, alpha=self.alpha, backend=self.backend)
        if training:
            self._out = out
        return out

    def backward(self, dout):
        if self._out is None:
            raise RuntimeError("backward needs a forward(x, training=True) first")
        return activation_backward(dout, self._out, self.name, alpha=self.alpha, backend=self.backend)

    def config(self):
        return {"alpha": self.alpha} if self.name == "leaky_relu" else {}


class ReLU(Activation):
    name = "relu"

    def __init__(self) -> None:
        super().__init__()


class LeakyReLU(Activation):
    name = "leaky_relu"


class Sigmoid(Activation):
    name = "sigmoid"

    def __init__(self) -> None:
        super().__init__()


class Tanh(Activation):
    name = "tanh"

    def __init__(self) -> None:
        super().__init__()


class Dropout(Layer):
    """Inverted dropout, active only in training forwards.

    Each training forward draws a fresh mask from the layer's Philox stream
    (``seed``, then the next unused counter offset); backward regenerates the
    same mask from (seed, offset) instead of storing it. ``seed=None`` takes
    a seed from the model's seed, so a model is reproducible as a whole.
    """
    fixed = ("keep_prob",)
    checked = {"seed": lambda name, v: None if v is None else _checks.uint64(name, v), "offset": _checks.uint64}

    def __init__(self, keep_prob: float, seed: int | None = None) -> None:
        super().__init__()
        self.keep_prob = _checks.probability("keep_prob", keep_prob)
        self.seed = seed
        self.offset = 0                   # next unused Philox block of this stream
        self._used = None                 # (offset, shape) of the last training forward

    def forward(self, x, training=False):
        if not training or self.keep_prob == 1.0:
            if training:
                self._used = (None, x.shape)
            return x
        if self.seed is None:
            raise RuntimeError("Dropout has no seed: add it to a Sequential (which assigns one) or pass seed=")
        out = dropout_forward(x, self.keep_prob, seed=self.seed, offset=self.offset, backend=self.backend)
        self._used = (self.offset, x.shape)
        self.offset += dropout_blocks(x.size)
        return out

    def backward(self, dout):
        if self._used is None:
            raise RuntimeError("backward needs a forward(x, training=True) first")
        offset, _ = self._used
        if offset is None:
            return dout
        return dropout_backward(dout, self.keep_prob, seed=self.seed, offset=offset, backend=self.backend)

    def buffers(self):
        return {"seed": np.uint64(self.seed if self.seed is not None else 0), "offset": np.uint64(self.offset)}

    def load_buffers(self, state):
        _buffer_names(self, state)
        self.seed, self.offset = _checks.uint64("seed", state["seed"]), _checks.uint64("offset", state["offset"])

    def config(self):
        return {"keep_prob": self.keep_prob, "seed": self.seed}


class BatchNorm(Layer):
    """Batch normalization over the batch per feature (course 2, week 3).

    Learnable ``gamma`` (ones) and ``beta`` (zeros), not decayed; running
    statistics (float64) updated in training with PyTorch's ``momentum``
    and used at inference.
    """
    fixed = ("features", "momentum", "eps")

    def __init__(self, features: int, momentum: float = 0.1, eps: float = 1e-5) -> None:
        super().__init__()
        self.features = _checks.positive_int("features", features, maximum=_checks.MAX_FEATURES)
        self.momentum = _checks.scalar("momentum", momentum, low=0.0, high=1.0)
        self.eps = _checks.scalar("eps", eps, low=0.0, low_open=True)
        self.param_shapes = {"gamma": (self.features,), "beta": (self.features,)}
        self._hold(np.zeros(self.features), np.ones(self.features))
        self._saved = None

    def _hold(self, mean, var):
        """Keep the running statistics in these float64 buffers (the
        compiled step's flat buffer, or the device)."""
        self._running_mean, self._running_var = mean, var

    # The running statistics are assigned by value: the buffers stay (the
    # compiled step and the device hold them), the values are checked.
    @property
    def running_mean(self):
        """Running mean per feature (float64), used at inference."""
        return self._running_mean

    @running_mean.setter
    def running_mean(self, value):
        _arrays.copy_into(self._running_mean, self._statistic("running_mean", value))

    @property
    def running_var(self):
        """Running unbiased variance per feature (float64, >= 0), used at inference."""
        return self._running_var

    @running_var.setter
    def running_var(self, value):
        _arrays.copy_into(self._running_var, self._statistic("running_var", value))

    def _statistic(self, name, value):
        v = np.asarray(_arrays.host_copy(value))
        if v.dtype.kind not in "biuf" or v.shape != (self.features,):
            raise ValueError(f"BatchNorm {name} must be {self.features} real numbers, got {v.dtype} {v.shape}")
        v = _checks.finite(name, v.astype(np.float64))
        if name == "running_var" and (v < 0).any():
            raise ValueError(f"BatchNorm running_var must not be negative, got {v.min()}")
        return v

    def initial_values(self, rng, dtype):
        return {"gamma": np.ones(self.features, dtype), "beta": np.zeros(self.features, dtype)}

    def bind(self, params, grads, dtype, backend, device=False):
        super().bind(params, grads, dtype, backend, device)
        if device:                  # running statistics live with the parameters
            from numba import cuda
            self._hold(cuda.to_device(_arrays.host_copy(self.running_mean)),
                       cuda.to_device(_arrays.host_copy(self.running_var)))

    def forward(self, x, training=False):
        r = batchnorm_forward(x, self.params["gamma"], self.params["beta"], self.running_mean,
                              self.running_var, training=training, momentum=self.momentum, eps=self.eps,
                              backend=self.backend)
        if training:
            self._saved = (x, r.mean, r.rstd)
        return r.out

    def backward(self, dout):
        if self._saved is None:
            raise RuntimeError("backward needs a forward(x, training=True) first")
        x, mean, rstd = self._saved
        dx, _, _ = batchnorm_backward(dout, x, mean, rstd, self.params["gamma"], dgamma=self.grads["gamma"],
                                      dbeta=self.grads["beta"], backend=self.backend)
        return dx

    def buffers(self):
        return {"running_mean": _arrays.host_copy(self.running_mean),
                "running_var": _arrays.host_copy(self.running_var)}

    def load_buffers(self, state):
        _buffer_names(self, state)
        mean = self._statistic("running_mean", state["running_mean"])
        var = self._statistic("running_var", state["running_var"])
        self.running_mean, self.running_var = mean, var

    def output_features(self, in_features):
        if in_features != self.features:
            raise ValueError(f"BatchNorm({self.features}) follows a layer with {in_features} outputs")
        return in_features

    def config(self):
        return {"features": self.features, "momentum": self.momentum, "eps": self.eps}


LAYERS = {c.__name__: c for c in (Dense, ReLU, LeakyReLU, Sigmoid, Tanh, Dropout, BatchNorm)}
