"""Learning-rate decay (course 2, week 2): pure functions of the epoch or step.

Every schedule is a callable ``schedule(t) -> lr`` with ``t`` counting from 0,
and says whether ``t`` counts epochs or optimizer steps (``per="epoch"`` or
``"step"``); ``fit`` applies it accordingly. Names and arguments follow
Keras where Keras has the schedule.

=========================  =================================================
course                     fastnn
=========================  =================================================
lr0 / (1 + decay*epoch)    ``InverseTimeDecay(lr0, decay_rate)``
0.95^epoch * lr0           ``ExponentialDecay(lr0, decay_rate=0.95)``
k / sqrt(epoch) * lr0      ``InverseSqrtDecay(lr0, k)`` (epoch counted from 1)
schedule_lr_decay          ``InverseTimeDecay(lr0, decay_rate, decay_steps=
 (fixed interval)           interval, staircase=True)`` = ``schedule_lr_decay``
discrete staircase         ``PiecewiseConstantDecay(boundaries, values)``
=========================  =================================================
"""
from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

from . import _checks

__all__ = ["Schedule", "Constant", "InverseTimeDecay", "ExponentialDecay", "InverseSqrtDecay",
           "PiecewiseConstantDecay", "schedule_lr_decay"]

PER = ("epoch", "step")


def _t(t):
    if isinstance(t, bool) or not isinstance(t, int) and not hasattr(t, "__index__"):
        raise TypeError(f"t must be an int (epoch or step, from 0), got {type(t).__name__}")
    t = int(t)
    if t < 0:
        raise ValueError(f"t must be >= 0, got {t}")
    return t


class Schedule:
    """Base class: ``schedule(t)`` gives the learning rate at epoch/step t."""

    def __init__(self, per: str = "epoch") -> None:
        if per not in PER:
            raise ValueError(f"per must be one of {PER}, got {per!r}")
        self.per = per

    def __call__(self, t):
        return float(self._lr(_t(t)))

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """lr0 at every t."""

    def __init__(self, lr0: float, per: str = "epoch") -> None:
        super().__init__(per)
        self.lr0 = _checks.scalar("lr0", lr0, low=0.0)

    def _lr(self, t):
        return self.lr0


class InverseTimeDecay(Schedule):
    """``lr0 / (1 + decay_rate * t / decay_steps)``; with ``staircase`` the
    quotient is floored (Keras's ``InverseTimeDecay``)."""

    def __init__(self, lr0: float, decay_rate: float, decay_steps: int = 1, staircase: bool = False,
                 per: str = "epoch") -> None:
        super().__init__(per)
        self.lr0 = _checks.scalar("lr0", lr0, low=0.0)
        self.decay_rate = _checks.scalar("decay_rate", decay_rate, low=0.0)
        self.decay_steps = _checks.scalar("decay_steps", decay_steps, low=0.0, low_open=True)
        self.staircase = bool(staircase)

    def _lr(self, t):
        q = t / self.decay_steps
        return self.lr0 / (1 + self.decay_rate * (math.floor(q) if self.staircase else q))


class ExponentialDecay(Schedule):
    """``lr0 * decay_rate ** (t / decay_steps)`` (floored with ``staircase``),
    Keras's ``ExponentialDecay``."""

    def __init__(self, lr0: float, decay_rate: float, decay_steps: int = 1, staircase: bool = False,
                 per: str = "epoch") -> None:
        super().__init__(per)
        self.lr0 = _checks.scalar("lr0", lr0, low=0.0)
        self.decay_rate = _checks.scalar("decay_rate", decay_rate, low=0.0, low_open=True)
        self.decay_steps = _checks.scalar("decay_steps", decay_steps, low=0.0, low_open=True)
        self.staircase = bool(staircase)

    def _lr(self, t):
        q = t / self.decay_steps
        return self.lr0 * self.decay_rate ** (math.floor(q) if self.staircase else q)


class InverseSqrtDecay(Schedule):
    """``lr0 * k / sqrt(t + 1)``: the course's ``k / sqrt(epoch_num) * lr0``
    with its epochs numbered from 1 (fastnn's t from 0)."""

    def __init__(self, lr0: float, k: float = 1.0, per: str = "epoch") -> None:
        super().__init__(per)
        self.lr0 = _checks.scalar("lr0", lr0, low=0.0)
        self.k = _checks.scalar("k", k, low=0.0, low_open=True)

    def _lr(self, t):
        return self.lr0 * self.k / math.sqrt(t + 1)


class PiecewiseConstantDecay(Schedule):
    """``values[i]`` for ``boundaries[i-1] < t <= boundaries[i]`` (Keras's
    convention): len(values) == len(boundaries) + 1, boundaries increasing."""

    def __init__(self, boundaries: Sequence[int], values: Sequence[float], per: str = "epoch") -> None:
        super().__init__(per)
        self.boundaries = [int(b) for b in boundaries]
        self.values = [_checks.scalar("values", v, low=0.0) for v in values]
        if len(self.values) != len(self.boundaries) + 1:
            raise ValueError(f"values must have len(boundaries) + 1 = {len(self.boundaries) + 1} "
                             f"entries, got {len(self.values)}")
        if any(b2 <= b1 for b1, b2 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"boundaries must be strictly increasing, got {self.boundaries}")

    def _lr(self, t):
        return self.values[bisect.bisect_left(self.boundaries, t)]


def schedule_lr_decay(lr0: float, epoch: int, decay_rate: float, time_interval: int = 1000) -> float:
    """The course's fixed-interval decay:
    ``lr0 / (1 + decay_rate * floor(epoch / time_interval))``."""
    return InverseTimeDecay(lr0, decay_rate, decay_steps=time_interval, staircase=True)(epoch)
