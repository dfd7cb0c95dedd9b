"""The gradient-checking assignment (course 2, week 1), N-dimensional part, drop-in.

``gradient_check_n`` compares backpropagation's gradients with centred
differences ``(J(theta + eps) - J(theta - eps)) / (2 eps)`` taken one
parameter at a time, and reports ``||grad - approx|| / (||grad|| +
||approx||)``, as the notebook does. The network is the notebook's
``[4, 5, 3, 1]`` (``vector_to_dictionary`` takes other ``layers_dims``
too); the forward passes run on fastnn's kernels.
"""
from __future__ import annotations

import numpy as np

from .. import _checks
from . import _layout
from .initialization import backward_propagation, forward_propagation

__all__ = ["forward_propagation_n", "backward_propagation_n", "dictionary_to_vector", "vector_to_dictionary",
           "gradients_to_vector", "gradient_check_n"]

_NOTEBOOK_DIMS = (4, 5, 3, 1)


def _y(Y, m):
    # the notebook's own test case passes y = np.array([1, 1, 0]): (m,) is taken as (1, m) here
    Y = np.asarray(Y)
    return _layout.labels("Y", Y.reshape(1, m) if Y.shape == (m,) else Y, m)


def forward_propagation_n(X, Y, parameters):
    """Forward pass and cost ``1/m * sum(-log(A3) Y - log(1 - A3)(1 - Y))``;
    returns ``(cost, cache)`` with the notebook's cache ``(Z1, A1, W1, b1,
    Z2, A2, W2, b2, Z3, A3, W3, b3)``."""
    A3, cache = forward_propagation(X, parameters)
    Y = _y(Y, A3.shape[1])
    m = X.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(A3), Y) + np.multiply(-np.log(1 - A3), 1 - Y)
    return 1.0 / m * np.sum(logprobs), cache


def backward_propagation_n(X, Y, cache):
    """The gradients of ``forward_propagation_n``'s cost (the notebook's keys,
    ``dZ3`` ... ``db1``), computed correctly."""
    grads = backward_propagation(X, _y(Y, X.shape[1]), cache)
    return {k[0] + k[1].upper() + k[2:] if k[1] in "za" else k: v for k, v in grads.items()}


def dictionary_to_vector(parameters):
    """All parameters as one column ``(n, 1)`` in the order W1, b1, W2, b2,
    ...; and the key of each entry."""
    L = _layout.parameters(parameters)
    keys, parts = [], []
    for key in [f"{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]:
        v = np.reshape(parameters[key], (-1, 1))
        keys += [key] * v.shape[0]
        parts.append(v)
    return np.concatenate(parts, axis=0), keys


def vector_to_dictionary(theta, layers_dims=_NOTEBOOK_DIMS):
    """The inverse of ``dictionary_to_vector`` for ``layers_dims`` (the
    notebook's ``[4, 5, 3, 1]`` by default)."""
    dims = _layout.layers_dims(layers_dims)
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    need = sum(dims[l] * dims[l - 1] + dims[l] for l in range(1, len(dims)))
    if theta.size != need:
        raise ValueError(f"theta has {theta.size} entries; layers_dims {dims} need {need}")
    parameters, at = {}, 0
    for l in range(1, len(dims)):
        n, n_prev = dims[l], dims[l - 1]
        parameters[f"W{l}"] = theta[at:at + n * n_prev].reshape((n, n_prev))
        at += n * n_prev
        parameters[f"b{l}"] = theta[at:at + n].reshape((n, 1))
        at += n
    return parameters


def gradients_to_vector(gradients):
    """The gradients ``dW1, db1, ...`` as one column, in ``dictionary_to_vector``'s order."""
    L = len([k for k in gradients if k.startswith("dW")])
    parts = []
    for key in [f"d{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]:
        if key not in gradients:
            raise ValueError(f"gradients is missing {key!r}")
        parts.append(np.reshape(gradients[key], (-1, 1)))
    return np.concatenate(parts, axis=0)


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    """``||grad - gradapprox|| / (||grad|| + ||gradapprox||)`` over every
    parameter. With ``print_msg``, the notebook's verdict (a mistake above
    2e-7)."""
    epsilon = _checks.scalar("epsilon", epsilon, low=0.0, low_open=True)
    L = _layout.parameters(parameters)
    dims = [parameters["W1"].shape[1]] + [parameters[f"W{l}"].shape[0] for l in range(1, L + 1)]
    values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    if grad.shape != values.shape:
        raise ValueError(f"gradients hold {grad.shape[0]} values, the parameters {values.shape[0]}")
    n = values.shape[0]
    gradapprox = np.zeros((n, 1))
    for i in range(n):
        plus = np.copy(values)
        plus[i] = plus[i] + epsilon
        j_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(plus, dims))
        minus = np.copy(values)
        minus[i] = minus[i] - epsilon
        j_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(minus, dims))
        gradapprox[i] = (j_plus - j_minus) / (2 * epsilon)
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if print_msg:
        if difference > 2e-7:
            print("\033[93m" + "There is a mistake in the backward propagation! difference = " + str(difference)
                  + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! difference = " + str(difference)
                  + "\033[0m")
    return difference
