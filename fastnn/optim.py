"""Fused optimizers over one flat parameter buffer (course 2, week 2).

``fastnn.SGD``, ``Momentum``, ``RMSprop``, ``Adam`` and ``AdamW`` take a
``fastnn.Parameters`` (``model.parameters()``) and update *all* of it with
one kernel call per ``step()``, reading the flat gradient buffer. Update
rules, conventions (the course's momentum, where eps sits, bias correction)
and their differences from PyTorch: ``kernels/ref/optim.py``.

``weight_decay`` applies to the tensors the Parameters mark for decay (the
weights). In SGD, Momentum, RMSprop and Adam it is coupled L2 (added to the
gradient); in AdamW it is decoupled (the parameter shrinks by
``lr * weight_decay`` before the Adam update). For the course's L2 term in
the cost, see ``fastnn.l2_penalty``.
"""
from __future__ import annotations

from types import MappingProxyType

import numpy as np

from . import _arrays, _checks
from ._backend import kernels
from .kernels import codes
from .kernels.codes import (
    HYPER_BC1,
    HYPER_BC2,
    HYPER_BETA1,
    HYPER_BETA2,
    HYPER_DECOUPLED,
    HYPER_EPS,
    HYPER_LR,
    HYPER_WEIGHT_DECAY,
)
from .params import Parameters

__all__ = ["Optimizer", "SGD", "Momentum", "RMSprop", "Adam", "AdamW", "OPTIMIZERS",
           "ExponentialAverage", "exponential_average"]


def _nonneg(name, value):
    return _checks.scalar(name, value, low=0.0)


def _beta(name, value):
    v = _checks.scalar(name, value)
    if not 0.0 <= v < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {v}")
    return v


def _betas(name, value):
    if isinstance(value, (str, bytes)) or not hasattr(value, "__len__") or len(value) != 2:
        raise ValueError(f"{name} must be a pair (beta1, beta2), got {value!r}")
    return (_beta(f"{name}[0]", value[0]), _beta(f"{name}[1]", value[1]))


def _eps(name, value):
    return _checks.scalar(name, value, low=0.0, low_open=True)


def _count(name, value):
    return _checks.positive_int(name, value, minimum=0, why=" (updates taken so far)")


class _Hyper:
    """An optimizer attribute checked on every assignment, so the
    constructor, ``load_state_dict`` and a user's ``opt.eps = ...`` pass
    the same rule. The value lives in ``_<name>`` (the compiled step reads
    ``_lr`` and ``_t`` directly)."""

    def __init__(self, check):
        self.check = check

    def __set_name__(self, owner, name):
        self.name, self.slot = name, "_" + name

    def __get__(self, obj, objtype=None):
        return self if obj is None else obj.__dict__[self.slot]

    def __set__(self, obj, value):
        obj.__dict__[self.slot] = self.check(self.name, value)


class Optimizer:
    """Base class: the flat state buffers, ``step``, ``zero_grad`` and state dicts.

    A subclass that the compiled training step (``kernels/cpu/step.py``) can
    run names its ``compiled_code`` (``kernels/codes.py``: ``OPT_*``) in its
    own class body and fills its slots of the step's hyperparameters in
    ``compiled_hyper``; one that does not is stepped layer by layer.
    """

    state_names = ()
    # state buffers that hold squares (never negative), checked when loaded
    second_moments = ()
    compiled_code = None
    lr = _Hyper(_nonneg)
    weight_decay = _Hyper(_nonneg)
    t = _Hyper(_count)

    def __init__(self, params: Parameters, lr: float, weight_decay: float = 0.0,
                 backend: str | None = None) -> None:
        if not isinstance(params, Parameters):
            raise TypeError("params must be a fastnn.Parameters (e.g. model.parameters()), "
                            f"got {type(params).__name__}")
        self._params = params
        self.lr = lr
        self.weight_decay = weight_decay
        # parameters on the device are updated there, whatever the default backend
        self.backend = "cuda" if backend is None and params.device else backend
        self.t = 0                                   # updates taken so far
        # State lives with the parameters (host or device), same flat layout.
        # The kernels trust these buffers' sizes, so the mapping is read-only:
        # its arrays are changed in place or through load_state_dict, never
        # replaced.
        self._state = MappingProxyType({name: _arrays.zeros_like(params.data) for name in self.state_names})

    @property
    def params(self) -> Parameters:
        """The Parameters this optimizer updates (fixed at construction)."""
        return self._params

    @property
    def state(self) -> MappingProxyType:
        """The state buffers by name, read-only (update them in place)."""
        return self._state

    def zero_grad(self) -> None:
        """Set every gradient to zero (backward kernels accumulate)."""
        self.params.zero_grad()

    def step(self) -> None:
        """One fused update of every parameter from ``params.grad``."""
        self._t += 1
        c = self.params.dtype.type
        self._update(kernels(self.backend, params=self.params.data).optim, c)

    def hyperparameters(self) -> dict:
        return {"lr": self.lr, "weight_decay": self.weight_decay}

    @classmethod
    def compiles(cls):
        """Whether the compiled training step runs this class: only when the
        class itself names a ``compiled_code`` (a subclass that changes the
        update must not inherit its parent's code)."""
        return vars(cls).get("compiled_code") is not None

    def compiled_hyper(self, hyper):
        """Write this step's hyperparameters into their slots of ``hyper``
        (float64, ``codes.HYPER_SLOTS``, zero where unused) after ``t`` has
        counted the step. Called once per compiled step, so each class
        writes all of its slots itself rather than through ``super()``."""
        hyper[HYPER_LR] = self._lr
        hyper[HYPER_WEIGHT_DECAY] = self._weight_decay

    def compiled_state(self, empty):
        """The state buffers the compiled step updates, ``empty`` for those
        this optimizer lacks."""
        names, state = self.state_names, self._state          # every train_step pays this: no loop
        return (state[names[0]] if names else empty, state[names[1]] if len(names) > 1 else empty)

    def state_dict(self) -> dict:
        """Type, step count, hyperparameters and copies of the state buffers."""
        return {"type": type(self).__name__, "t": self.t, "hyper": self.hyperparameters(),
                "state": {k: _arrays.host_copy(v) for k, v in self.state.items()}}

    def load_state_dict(self, state: dict) -> Optimizer:
        """Restore what ``state_dict`` gave; refuses another optimizer's
        state. Every value passes the constructor's rules (hyperparameters,
        ``t``), and the buffers must match in shape and dtype, be finite,
        and, for second moments, non-negative. Nothing changes unless all
        of it is valid."""
        if not isinstance(state, dict) or state.get("type") != type(self).__name__:
            got = state.get("type") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"state is for {got!r}, not {type(self).__name__}")
        buffers, hyper = state.get("state", {}), state.get("hyper", {})
        if not isinstance(buffers, dict) or set(buffers) != set(self.state):
            raise ValueError(f"state buffers {sorted(buffers) if isinstance(buffers, dict) else buffers!r} "
                             f"do not match {sorted(self.state)}")
        if not isinstance(hyper, dict) or not set(hyper) <= set(self.hyperparameters()):
            raise ValueError(f"hyperparameters {sorted(hyper) if isinstance(hyper, dict) else hyper!r} are not "
                             f"among {type(self).__name__}'s {sorted(self.hyperparameters())}")
        for k, v in buffers.items():
            v = _arrays.host_copy(v)
            mine = self.state[k]
            if tuple(v.shape) != tuple(mine.shape) or v.dtype != np.dtype(mine.dtype):
                raise ValueError(f"state buffer {k}: expected {tuple(mine.shape)} {mine.dtype}, "
                                 f"got {v.shape} {v.dtype}")
            _checks.finite(f"state buffer {k}", v)
            if k in self.second_moments and (v < 0).any():
                raise ValueError(f"state buffer {k} holds squared gradients and must not be negative")
        checked = {k: getattr(type(self), k).check(k, v) for k, v in hyper.items()}
        t = _count("t", state.get("t"))
        for k, v in buffers.items():
            _arrays.copy_into(self.state[k], v)
        self.t = t
        for k, v in checked.items():
            setattr(self, k, v)
        return self

    def __repr__(self):
        hp = ", ".join(f"{k}={v}" for k, v in self.hyperparameters().items())
        return f"{type(self).__name__}({hp})"


class SGD(Optimizer):
    """Plain (mini-batch) gradient descent: ``p -= lr * g``.

    Examples
    --------
    >>> import numpy as np, fastnn
    >>> p = fastnn.Parameters({"w": np.ones((1, 2))})
    >>> p.grad[:] = 1.0
    >>> fastnn.SGD(p, lr=0.5).step()
    >>> p["w"]
    array([[0.5, 0.5]])
    """

    compiled_code = codes.OPT_SGD

    def __init__(self, params: Parameters, lr: float = 0.01, weight_decay: float = 0.0,
                 backend: str | None = None) -> None:
        super().__init__(params, lr, weight_decay, backend)

    def _update(self, k, c):
        p = self.params
        k.sgd_update(p.data, p.grad, c(self.lr), c(self.weight_decay), p.n_decay)


class Momentum(Optimizer):
    """Gradient descent with momentum, the course's form:
    ``v = beta*v + (1-beta)*g; p -= lr*v``.

    PyTorch's ``SGD(momentum=mu)`` uses ``v = mu*v + g``: the same trajectory
    as this with ``lr_torch = lr * (1 - beta)``.
    """
    state_names = ("v",)
    compiled_code = codes.OPT_MOMENTUM
    beta = _Hyper(_beta)

    def __init__(self, params: Parameters, lr: float = 0.01, beta: float = 0.9, weight_decay: float = 0.0,
                 backend: str | None = None) -> None:
        super().__init__(params, lr, weight_decay, backend)
        self.beta = beta

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "beta": self.beta}

    def compiled_hyper(self, hyper):
        hyper[HYPER_LR] = self._lr
        hyper[HYPER_WEIGHT_DECAY] = self._weight_decay
        hyper[HYPER_BETA1] = self._beta

    def _update(self, k, c):
        p = self.params
        k.momentum_update(p.data, p.grad, self.state["v"], c(self.lr), c(self.beta),
                          c(self.weight_decay), p.n_decay)


class RMSprop(Optimizer):
    """RMSprop: ``s = beta*s + (1-beta)*g^2; p -= lr*g/(sqrt(s)+eps)``.

    eps sits outside the square root, as in PyTorch (``alpha`` there is
    ``beta`` here); optax and TensorFlow put it inside.
    """
    state_names = ("s",)
    second_moments = ("s",)
    compiled_code = codes.OPT_RMSPROP
    beta = _Hyper(_beta)
    eps = _Hyper(_eps)

    def __init__(self, params: Parameters, lr: float = 0.01, beta: float = 0.9, eps: float = 1e-8,
                 weight_decay: float = 0.0, backend: str | None = None) -> None:
        super().__init__(params, lr, weight_decay, backend)
        self.beta = beta
        self.eps = eps

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "beta": self.beta, "eps": self.eps}

    def compiled_hyper(self, hyper):
        hyper[HYPER_LR] = self._lr
        hyper[HYPER_WEIGHT_DECAY] = self._weight_decay
        hyper[HYPER_BETA1] = self._beta
        hyper[HYPER_EPS] = self._eps

    def _update(self, k, c):
        p = self.params
        k.rmsprop_update(p.data, p.grad, self.state["s"], c(self.lr), c(self.beta), c(self.eps),
                         c(self.weight_decay), p.n_decay)


class Adam(Optimizer):
    """Adam with bias correction of both moments.

    ``m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
    p -= lr * (m/(1-b1^t)) / (sqrt(v/(1-b2^t)) + eps)``, t counting updates
    from 1, eps outside the root (as PyTorch). ``weight_decay`` here is
    coupled L2; for decoupled decay use ``AdamW``.
    """
    state_names = ("m", "v")
    second_moments = ("v",)
    compiled_code = codes.OPT_ADAM
    decoupled = False
    betas = _Hyper(_betas)
    eps = _Hyper(_eps)

    def __init__(self, params: Parameters, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, backend: str | None = None) -> None:
        super().__init__(params, lr, weight_decay, backend)
        self.betas = betas
        self.eps = eps

    def hyperparameters(self) -> dict:
        return {**super().hyperparameters(), "betas": self.betas, "eps": self.eps}

    def bias_corrections(self):
        """``(1 - beta1^t, 1 - beta2^t)`` for the current step, in float64 on
        the host (both the layer path and the compiled step use these)."""
        b1, b2 = self.betas
        return 1.0 - b1 ** self.t, 1.0 - b2 ** self.t

    def compiled_hyper(self, hyper):
        b1, b2 = self._betas
        hyper[HYPER_LR] = self._lr
        hyper[HYPER_WEIGHT_DECAY] = self._weight_decay
        hyper[HYPER_BETA1] = b1
        hyper[HYPER_BETA2] = b2
        hyper[HYPER_EPS] = self._eps
        hyper[HYPER_DECOUPLED] = self.decoupled
        hyper[HYPER_BC1] = 1.0 - b1 ** self._t         # bias_corrections(), without a second call per step
        hyper[HYPER_BC2] = 1.0 - b2 ** self._t

    def _update(self, k, c):
        p = self.params
        b1, b2 = self.betas
        bc1, bc2 = self.bias_corrections()
        k.adam_update(p.data, p.grad, self.state["m"], self.state["v"], c(self.lr), c(b1), c(b2),
                      c(self.eps), c(self.weight_decay), self.decoupled, p.n_decay, bc1, bc2)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): each decayed
    parameter shrinks by ``lr * weight_decay`` before the Adam update,
    instead of the decay entering the gradient and being rescaled by Adam's
    moments. Default ``weight_decay=0.01`` as in PyTorch."""
    compiled_code = codes.OPT_ADAM
    decoupled = True

    def __init__(self, params: Parameters, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01, backend: str | None = None) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, backend)


OPTIMIZERS = {c.__name__: c for c in (SGD, Momentum, RMSprop, Adam, AdamW)}


class ExponentialAverage:
    """Exponentially weighted average ``V_t = beta*V_{t-1} + (1-beta)*theta_t``
    (course 2, week 2), optionally bias-corrected: ``V_t / (1 - beta^t)``.

    It averages over roughly the last ``1/(1-beta)`` values. Starting from
    V_0 = 0 makes the first estimates too small; bias correction removes that.
    Momentum, RMSprop and Adam keep one of these per parameter; batch norm's
    running statistics are one too (with ``momentum = 1 - beta``).

    Examples
    --------
    >>> ema = ExponentialAverage(0.9, bias_correction=True)
    >>> ema.update(10.0)
    10.0
    """

    def __init__(self, beta: float, bias_correction=False) -> None:
        self.beta = _beta("beta", beta)
        self.bias_correction = bool(bias_correction)
        self.t = 0
        self.raw = 0.0

    def update(self, theta):
        """Fold in one value (a scalar or an array); return the current estimate."""
        self.t += 1
        self.raw = self.beta * self.raw + (1 - self.beta) * np.asarray(theta, dtype=np.float64)
        return self.value

    @property
    def value(self):
        if self.t == 0:
            raise ValueError("no values averaged yet")
        v = self.raw / (1 - self.beta ** self.t) if self.bias_correction else self.raw
        return float(v) if np.ndim(v) == 0 else v


def exponential_average(values, beta, bias_correction=False):
    """The series of exponentially weighted averages of ``values`` (1-D)."""
    ema = ExponentialAverage(beta, bias_correction)
    return np.array([ema.update(v) for v in np.asarray(values, dtype=np.float64)])
