"""The course's networks on fastnn's compiled training step.

A course parameters dict (``W[l]: (n_l, n_{l-1})``) is the Sequential of
Dense layers with ``W = W[l].T``: relu on the hidden layers and, for the
sigmoid output, a linear last layer under fastnn's binary cross-entropy
from logits (the same sigmoid, fused into the loss, as stable as it gets).
One compiled call runs each iteration's forward, cost, backward and update.
The notebooks' printed costs are computed as they compute them, from the
sigmoid's output (``-log(a3)``, so a saturated sigmoid prints ``inf`` as
theirs does), at the iterations they print.
"""
from __future__ import annotations

import numpy as np

from ..compiled import compiled_step
from ..layers import Dense
from ..model import Sequential
from ..optim import SGD


class CourseNet:
    """``parameters`` (course layout) as a float64 Sequential with binary
    cross-entropy, ``lambd`` as its L2 term."""

    def __init__(self, parameters, lambd=0.0):
        L = len(parameters) // 2
        dims = [parameters["W1"].shape[1]] + [parameters[f"W{l}"].shape[0] for l in range(1, L + 1)]
        layers = [Dense(dims[l - 1], dims[l], "relu" if l < L else None) for l in range(1, L + 1)]
        self.L = L
        self.model = Sequential(layers, loss="binary_cross_entropy", l2=lambd, dtype=np.float64)
        self.model.set_weights([[parameters[f"W{l}"].T, parameters[f"b{l}"].reshape(-1)] for l in range(1, L + 1)])

    def parameters(self):
        """The current parameters in the course layout (new arrays)."""
        out = {}
        for l, (W, b) in enumerate(self.model.get_weights(), start=1):
            out[f"W{l}"], out[f"b{l}"] = np.ascontiguousarray(W.T), b.reshape(-1, 1)
        return out

    def a_last(self, X):
        """The sigmoid output ``(1, m)`` for course-layout ``X``."""
        z = self.model.forward(np.ascontiguousarray(X.T)).T
        return 1 / (1 + np.exp(-z))

    def gradient_descent(self, X, Y, learning_rate, num_iterations, every, cost):
        """Full-batch gradient descent; ``cost(net)`` is recorded before the
        update of every ``every``-th iteration (None: never). Returns the
        recorded costs."""
        xb, yb = np.ascontiguousarray(X.T), np.ascontiguousarray(Y.T)
        step = compiled_step(self.model, SGD(self.model.parameters(), lr=learning_rate), xb.shape[0], quiet=True)
        costs = []
        with np.errstate(over="ignore"):
            for i in range(num_iterations):
                if every and i % every == 0:
                    costs.append(cost(self))
                step(xb, yb)
        return costs


def notebook_cost(a3, Y):
    """The notebooks' cross-entropy: ``1/m * nansum(-log(a3) Y - log(1 - a3)(1 - Y))``."""
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    return 1.0 / m * np.nansum(logprobs)
