"""The regularization assignment (course 2, week 1), drop-in.

The notebook's L2 and dropout functions and its ``model``, in the course
layout. The football data ships with the assignment, not with fastnn: pass
the learner's ``train_X (2, 211)``, ``train_Y (1, 211)``. The dropout masks
are the notebook's: ``np.random.seed(1)`` at every forward, then
``np.random.rand(...) < keep_prob`` per hidden layer (so they are the same
masks at every iteration, as in the notebook); the training runs on
fastnn's course kernel with those masks.
"""
from __future__ import annotations

import numpy as np

from .. import _checks
from . import _layout
from ._engine import notebook_cost, notebook_forward, plot_costs, train_full_batch
from .initialization import _initialize, backward_propagation, forward_propagation, predict, update_parameters

__all__ = ["initialize_parameters", "forward_propagation", "backward_propagation", "compute_cost",
           "update_parameters", "predict", "compute_cost_with_regularization",
           "backward_propagation_with_regularization", "forward_propagation_with_dropout",
           "backward_propagation_with_dropout", "model"]


def initialize_parameters(layer_dims):
    """``np.random.seed(3)``; ``W = randn(n_l, n_{l-1}) / sqrt(n_{l-1})``, ``b = 0`` (the assignment's helper)."""
    return _initialize(layer_dims, lambda w, n_prev: w / np.sqrt(n_prev))


def compute_cost(a3, Y):
    """The cross-entropy as the notebook computes it (``nansum / m``)."""
    return notebook_cost(a3, Y)


def _l2(parameters, lambd, m):
    L = len(parameters) // 2
    return 1.0 / m * lambd / 2 * sum(np.sum(np.square(parameters[f"W{l}"])) for l in range(1, L + 1))


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    """Cross-entropy plus ``1/m * lambd/2 * sum ||W[l]||_F^2``."""
    return compute_cost(A3, Y) + _l2(parameters, lambd, Y.shape[1])


def backward_propagation_with_regularization(X, Y, cache, lambd):
    """The gradients of ``compute_cost_with_regularization``: each ``dW``
    gains ``lambd / m * W``."""
    grads = backward_propagation(X, Y, cache)
    m = X.shape[1]
    (_, _, W1, _, _, _, W2, _, _, _, W3, _) = cache
    for k, W in (("dW1", W1), ("dW2", W2), ("dW3", W3)):
        grads[k] = grads[k] + lambd / m * W
    return grads


def _masks(dims, m, keep_prob):
    """The notebook's masks: seed 1, then ``rand(n_l, m) < keep_prob`` for each hidden layer, as ints."""
    np.random.seed(1)
    return [(np.random.rand(n, m) < keep_prob).astype(int) for n in dims[1:-1]]


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    """LINEAR -> RELU + DROPOUT -> LINEAR -> RELU + DROPOUT -> LINEAR ->
    SIGMOID; returns ``(A3, cache)`` with the notebook's cache ``(Z1, D1,
    A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)``."""
    keep_prob = _checks.probability("keep_prob", keep_prob)
    _layout.parameters(parameters)
    X = _layout.features("X", X, parameters["W1"].shape[1])
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    D1, D2 = _masks([X.shape[0], W1.shape[0], W2.shape[0], 1], X.shape[1], keep_prob)
    Z1 = np.dot(W1, X) + b1
    A1 = np.maximum(0, Z1) * D1 / keep_prob
    Z2 = np.dot(W2, A1) + b2
    A2 = np.maximum(0, Z2) * D2 / keep_prob
    Z3 = np.dot(W3, A2) + b3
    A3 = 1 / (1 + np.exp(-Z3))
    return A3, (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    """The gradients through the same masks: ``dA = dA * D / keep_prob``."""
    m = X.shape[1]
    (Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3) = cache
    dZ3 = A3 - Y
    dW3 = 1.0 / m * np.dot(dZ3, A2.T)
    db3 = 1.0 / m * np.sum(dZ3, axis=1, keepdims=True)
    dA2 = np.dot(W3.T, dZ3) * D2 / keep_prob
    dZ2 = np.multiply(dA2, np.int64(A2 > 0))
    dW2 = 1.0 / m * np.dot(dZ2, A1.T)
    db2 = 1.0 / m * np.sum(dZ2, axis=1, keepdims=True)
    dA1 = np.dot(W2.T, dZ2) * D1 / keep_prob
    dZ1 = np.multiply(dA1, np.int64(A1 > 0))
    dW1 = 1.0 / m * np.dot(dZ1, X.T)
    db1 = 1.0 / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dZ3": dZ3, "dW3": dW3, "db3": db3, "dA2": dA2, "dZ2": dZ2, "dW2": dW2, "db2": db2,
            "dA1": dA1, "dZ1": dZ1, "dW1": dW1, "db1": db1}


def model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0, keep_prob=1):
    """The notebook's ``[n_x, 20, 3, 1]`` model with L2 (``lambd``) or dropout
    (``keep_prob``), one at a time as in the notebook; full-batch gradient
    descent. Prints ``Cost after iteration i: cost`` every 10,000 iterations
    and draws the cost every 1,000 with ``print_cost``; returns the parameters."""
    X = _layout.features("X", X)
    Y = _layout.labels("Y", Y, X.shape[1])
    lambd = _checks.scalar("lambd", lambd, low=0.0)
    keep_prob = _checks.probability("keep_prob", keep_prob)
    if lambd != 0 and keep_prob != 1:
        raise ValueError("use L2 (lambd) or dropout (keep_prob) one at a time, as the assignment does")
    learning_rate = _checks.scalar("learning_rate", learning_rate, low=0.0)
    num_iterations = _checks.positive_int("num_iterations", num_iterations, minimum=0)
    parameters, costs = _train(X, Y, learning_rate, num_iterations, lambd, keep_prob, 1000 if print_cost else 0)
    for i, c in enumerate(costs):
        if i % 10 == 0:
            print(f"Cost after iteration {i * 1000}: {c}")
    if print_cost:
        plot_costs(costs, learning_rate, "iterations (x1,000)")
    return parameters


def _train(X, Y, learning_rate, num_iterations, lambd, keep_prob, every):
    """``model`` without the printing: (parameters, costs every ``every`` iterations)."""
    dims = [X.shape[0], 20, 3, 1]
    parameters = initialize_parameters(dims)
    masks = np.vstack(_masks(dims, X.shape[1], keep_prob)) if keep_prob < 1 else None

    def cost(p):
        a3 = notebook_forward(X, p, masks, keep_prob)
        return compute_cost(a3, Y) if lambd == 0 else compute_cost(a3, Y) + _l2(p, lambd, X.shape[1])

    return train_full_batch(parameters, X, Y, learning_rate, num_iterations, every, cost, lambd=lambd,
                            keep_prob=keep_prob, masks=masks)
