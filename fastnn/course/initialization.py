"""The initialization assignment (course 2, week 1), drop-in.

Same functions, arguments, defaults, returns and printed lines as the
notebook; the training runs on fastnn's compiled step. The three
initializations reseed NumPy's global generator with 3, as the notebook
does, so the weights are the notebook's.

Examples
--------
>>> from fastnn.course import initialization as init
>>> train_X, train_Y, test_X, test_Y = init.load_dataset()
>>> parameters = init.model(train_X, train_Y, initialization="he", print_cost=False)
>>> round(float((init.predict(train_X, train_Y, parameters, print_accuracy=False) == train_Y).mean()), 4)
0.9933
"""
from __future__ import annotations

import numpy as np

from .. import _checks
from ..activations import activation_forward, sigmoid
from ..dense import dense_forward
from . import _layout
from ._engine import notebook_cost, notebook_forward, plot_costs, train_full_batch
from .datasets import load_circles

__all__ = ["load_dataset", "initialize_parameters_zeros", "initialize_parameters_random",
           "initialize_parameters_he", "forward_propagation", "compute_loss", "backward_propagation",
           "update_parameters", "model", "predict"]


def load_dataset():
    """``train_X (2, 300), train_Y (1, 300), test_X (2, 100), test_Y (1, 100)``: the circles."""
    return load_circles()


def _initialize(layers_dims, scaled):
    """The assignments' recipe: ``np.random.seed(3)``, then per layer
    ``W = scaled(randn(n_l, n_{l-1}), n_{l-1})`` and ``b = 0``; ``scaled``
    None gives zeros (and draws nothing). Each assignment's helper writes
    its own arithmetic (``* sqrt(2 / n)``, ``/ sqrt(n)``): the same value
    computed another way would round differently from the notebook."""
    dims = _layout.layers_dims(layers_dims)
    parameters = {}
    if scaled is not None:
        np.random.seed(3)
    for l in range(1, len(dims)):
        shape = (dims[l], dims[l - 1])
        parameters[f"W{l}"] = np.zeros(shape) if scaled is None else scaled(np.random.randn(*shape), dims[l - 1])
        parameters[f"b{l}"] = np.zeros((dims[l], 1))
    return parameters


def initialize_parameters_zeros(layers_dims):
    """Every ``W`` and ``b`` zero (the symmetry the notebook shows failing)."""
    return _initialize(layers_dims, None)


def initialize_parameters_random(layers_dims):
    """``np.random.seed(3)``; ``W = randn(n_l, n_{l-1}) * 10``, ``b = 0``."""
    return _initialize(layers_dims, lambda w, n_prev: w * 10)


def initialize_parameters_he(layers_dims):
    """``np.random.seed(3)``; ``W = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1})``, ``b = 0``."""
    return _initialize(layers_dims, lambda w, n_prev: w * np.sqrt(2.0 / n_prev))


def _linear(W, A, b):
    # W @ A as fastnn's dense kernel sees it: x = W (n_l rows of n_{l-1}),
    # w = A (n_{l-1}, m), so the course layout needs no transposed copies
    return dense_forward(np.ascontiguousarray(W, dtype=np.float64), np.ascontiguousarray(A)) + b


def forward_propagation(X, parameters):
    """LINEAR -> RELU -> LINEAR -> RELU -> LINEAR -> SIGMOID; returns
    ``(a3, cache)`` with the notebook's cache ``(z1, a1, W1, b1, z2, a2, W2,
    b2, z3, a3, W3, b3)``."""
    _layout.parameters(parameters)
    X = _layout.features("X", X, parameters["W1"].shape[1])
    W1, b1, W2, b2, W3, b3 = (parameters[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
    z1 = _linear(W1, X, b1)
    a1 = activation_forward(z1, "relu")
    z2 = _linear(W2, a1, b2)
    a2 = activation_forward(z2, "relu")
    z3 = _linear(W3, a2, b3)
    a3 = sigmoid(z3)
    return a3, (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)


def compute_loss(a3, Y):
    """The notebook's cross-entropy from the sigmoid's output, ``nansum``
    over examples divided by m (``inf`` where a saturated sigmoid gives
    ``log(0)``, as the notebook prints)."""
    return notebook_cost(a3, Y)


def backward_propagation(X, Y, cache):
    """Gradients of ``compute_loss`` (the notebook's keys: ``dz3, dW3, db3,
    da2, dz2, dW2, db2, da1, dz1, dW1, db1``)."""
    m = X.shape[1]
    (z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3) = cache
    dz3 = 1.0 / m * (a3 - Y)
    dW3 = np.dot(dz3, a2.T)
    db3 = np.sum(dz3, axis=1, keepdims=True)
    da2 = np.dot(W3.T, dz3)
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    dW2 = np.dot(dz2, a1.T)
    db2 = np.sum(dz2, axis=1, keepdims=True)
    da1 = np.dot(W2.T, dz2)
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dW1 = np.dot(dz1, X.T)
    db1 = np.sum(dz1, axis=1, keepdims=True)
    return {"dz3": dz3, "dW3": dW3, "db3": db3, "da2": da2, "dz2": dz2, "dW2": dW2, "db2": db2,
            "da1": da1, "dz1": dz1, "dW1": dW1, "db1": db1}


def update_parameters(parameters, grads, learning_rate):
    """One gradient-descent step: ``W -= learning_rate * dW``, ``b -= learning_rate * db``."""
    L = _layout.parameters(parameters)
    for k in [f"{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]:
        parameters[k] = parameters[k] - learning_rate * grads["d" + k]
    return parameters


def model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True, initialization="he"):
    """The notebook's three-layer model ``[n_x, 10, 5, 1]`` (relu, relu,
    sigmoid), trained by full-batch gradient descent; returns the
    parameters. Prints ``Cost after iteration i: cost`` every 1000
    iterations with ``print_cost``, and draws the costs with matplotlib
    installed, as the notebook does."""
    inits = {"zeros": initialize_parameters_zeros, "random": initialize_parameters_random,
             "he": initialize_parameters_he}
    if initialization not in inits:
        raise ValueError(f"initialization must be one of {sorted(inits)}, got {initialization!r}")
    X = _layout.features("X", X)
    Y = _layout.labels("Y", Y, X.shape[1])
    num_iterations = _checks.positive_int("num_iterations", num_iterations, minimum=0)
    learning_rate = _checks.scalar("learning_rate", learning_rate, low=0.0)
    parameters, costs = _train(X, Y, learning_rate, num_iterations, initialization, 1000 if print_cost else 0)
    for i, cost in enumerate(costs):
        print(f"Cost after iteration {i * 1000}: {cost}")
    if print_cost:
        plot_costs(costs, learning_rate)
    return parameters


def _train(X, Y, learning_rate, num_iterations, initialization, every):
    """``model`` without the printing: (parameters, costs every ``every`` iterations)."""
    inits = {"zeros": initialize_parameters_zeros, "random": initialize_parameters_random,
             "he": initialize_parameters_he}
    parameters = inits[initialization]([X.shape[0], 10, 5, 1])
    return train_full_batch(parameters, X, Y, learning_rate, num_iterations, every,
                            lambda p: notebook_cost(notebook_forward(X, p), Y))


def predict(X, y, parameters, print_accuracy=True):
    """Predictions ``(1, m)`` of 0/1 (a3 > 0.5); prints ``Accuracy: ...`` as
    the notebook's helper does."""
    a3, _ = forward_propagation(X, parameters)
    p = (a3 > 0.5).astype(int)
    if print_accuracy:
        print("Accuracy: " + str(np.mean((p[0, :] == y[0, :]))))
    return p

