"""Bias and variance diagnosis (course 2, week 1: the basic recipe)."""
from __future__ import annotations

from typing import NamedTuple

from . import _checks

__all__ = ["Diagnosis", "diagnose"]

ADVICE = {
    "high bias": "High bias (underfitting the training set): try a bigger network (more units or "
                 "layers), train longer or with a better optimizer, or another architecture. More data "
                 "will not help much.",
    "high variance": "High variance (overfitting: dev error well above training error): get more "
                     "data, add regularization (L2, dropout, data augmentation), or another "
                     "architecture.",
    "high bias and high variance": "Both: fix the bias first (bigger network, train longer), then the "
                                   "variance (more data, regularization).",
    "fine": "Low bias and low variance: done, or raise the bar (a harder dev set, a lower Bayes "
            "error estimate).",
}


class Diagnosis(NamedTuple):
    """kind: one of ADVICE's keys; avoidable_bias = train - bayes error;
    variance = dev - train error; advice: the basic recipe's next step."""
    kind: str
    avoidable_bias: float
    variance: float
    advice: str


def diagnose(train_error: float, dev_error: float, bayes_error: float = 0.0,
             threshold: float = 0.02) -> Diagnosis:
    """Read train and dev errors the course's way.

    Avoidable bias is ``train_error - bayes_error`` (Bayes error: the best
    achievable, e.g. human-level, error); variance is
    ``dev_error - train_error``. Each is "high" when above ``threshold``
    (errors as fractions: 0.02 is two percentage points).

    Examples
    --------
    >>> diagnose(0.01, 0.11).kind          # the course's first example
    'high variance'
    >>> diagnose(0.15, 0.16).kind
    'high bias'
    >>> diagnose(0.15, 0.30).kind
    'high bias and high variance'
    >>> diagnose(0.005, 0.01).kind
    'fine'
    """
    train = _checks.scalar("train_error", train_error, low=0.0, high=1.0)
    dev = _checks.scalar("dev_error", dev_error, low=0.0, high=1.0)
    bayes = _checks.scalar("bayes_error", bayes_error, low=0.0, high=1.0)
    threshold = _checks.scalar("threshold", threshold, low=0.0)
    bias, variance = train - bayes, dev - train
    high_bias, high_var = bias > threshold, variance > threshold
    kind = ("high bias and high variance" if high_bias and high_var else
            "high bias" if high_bias else "high variance" if high_var else "fine")
    return Diagnosis(kind, bias, variance, ADVICE[kind])
