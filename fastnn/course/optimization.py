"""The optimization assignment (course 2, week 2), drop-in.

Mini-batch gradient descent, momentum, Adam and learning-rate decay with
the notebook's functions and ``model``. ``random_mini_batches`` shuffles as
the notebook does (``np.random.seed(seed)``, then ``permutation``), and
``model`` reseeds with 11, 12, ... per epoch, so its mini-batches are the
notebook's; the whole run is one call of fastnn's course kernel.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _checks
from . import _layout
from ._engine import notebook_cost, plot_costs, train
from .datasets import load_moons
from .initialization import backward_propagation, forward_propagation, initialize_parameters_he, predict

__all__ = ["load_dataset", "initialize_parameters", "forward_propagation", "backward_propagation", "compute_cost",
           "predict", "update_parameters_with_gd", "random_mini_batches", "initialize_velocity",
           "update_parameters_with_momentum", "initialize_adam", "update_parameters_with_adam", "update_lr",
           "schedule_lr_decay", "model"]


def load_dataset():
    """``train_X (2, 300)``, ``train_Y (1, 300)``: the moons."""
    return load_moons()


def initialize_parameters(layer_dims):
    """``np.random.seed(3)``; ``W = randn(n_l, n_{l-1}) * sqrt(2 / n_{l-1})``, ``b = 0``: the
    assignment's helper is He initialization."""
    return initialize_parameters_he(layer_dims)


def compute_cost(a3, Y):
    """The notebook's cost of a mini-batch: the *sum* of the cross-entropy
    over its examples (``model`` divides the epoch's total by m)."""
    return notebook_cost(a3, Y) * Y.shape[1]


def _keys(parameters):
    L = _layout.parameters(parameters)
    return [f"{p}{l}" for l in range(1, L + 1) for p in ("W", "b")]


def update_parameters_with_gd(parameters, grads, learning_rate):
    """``W -= learning_rate * dW``, ``b -= learning_rate * db`` for every layer."""
    for k in _keys(parameters):
        parameters[k] = parameters[k] - learning_rate * grads["d" + k]
    return parameters


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    """The notebook's partition: ``np.random.seed(seed)``, shuffle the columns
    with ``np.random.permutation(m)``, then consecutive batches of
    ``mini_batch_size``, the last one smaller. Returns a list of
    ``(mini_batch_X, mini_batch_Y)``."""
    X = _layout.features("X", X)
    Y = _layout.labels("Y", Y, X.shape[1])
    mini_batch_size = _checks.positive_int("mini_batch_size", mini_batch_size)
    np.random.seed(seed)
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    shuffled_X, shuffled_Y = X[:, permutation], Y[:, permutation].reshape((1, m))
    batches = []
    for k in range(math.floor(m / mini_batch_size)):
        sl = slice(k * mini_batch_size, (k + 1) * mini_batch_size)
        batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    if m % mini_batch_size != 0:
        sl = slice(math.floor(m / mini_batch_size) * mini_batch_size, m)
        batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    return batches


def initialize_velocity(parameters):
    """Zeros like each gradient: ``v["dW1"], v["db1"], ...``."""
    return {"d" + k: np.zeros_like(parameters[k]) for k in _keys(parameters)}


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    """``v = beta v + (1 - beta) dW``, ``W -= learning_rate v``; returns ``(parameters, v)``."""
    for k in _keys(parameters):
        v["d" + k] = beta * v["d" + k] + (1 - beta) * grads["d" + k]
        parameters[k] = parameters[k] - learning_rate * v["d" + k]
    return parameters, v


def initialize_adam(parameters):
    """Zeros like each gradient for both moments: ``(v, s)``."""
    return initialize_velocity(parameters), initialize_velocity(parameters)


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999,
                                epsilon=1e-8):
    """One Adam update with bias correction (``t`` counts updates from 1);
    returns ``(parameters, v, s, v_corrected, s_corrected)``."""
    v_corrected, s_corrected = {}, {}
    for k in _keys(parameters):
        g = "d" + k
        v[g] = beta1 * v[g] + (1 - beta1) * grads[g]
        v_corrected[g] = v[g] / (1 - np.power(beta1, t))
        s[g] = beta2 * s[g] + (1 - beta2) * np.power(grads[g], 2)
        s_corrected[g] = s[g] / (1 - np.power(beta2, t))
        parameters[k] = parameters[k] - learning_rate * v_corrected[g] / (np.sqrt(s_corrected[g]) + epsilon)
    return parameters, v, s, v_corrected, s_corrected


def update_lr(learning_rate0, epoch_num, decay_rate):
    """``learning_rate0 / (1 + decay_rate * epoch_num)``."""
    return learning_rate0 / (1 + decay_rate * epoch_num)


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    """``learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval))``."""
    return learning_rate0 / (1 + decay_rate * np.floor(epoch_num / time_interval))


def model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64, beta=0.9, beta1=0.9,
          beta2=0.999, epsilon=1e-8, num_epochs=5000, print_cost=True, decay=None, decay_rate=1):
    """The notebook's L-layer model trained with ``optimizer`` ("gd",
    "momentum" or "adam") on mini-batches; ``decay(learning_rate0, epoch,
    decay_rate)`` sets the learning rate after each epoch. Prints ``Cost after
    epoch i: ...`` every 1000 epochs (and the learning rate with ``decay``)
    and draws the cost every 100 with ``print_cost``; returns the parameters."""
    if optimizer not in ("gd", "momentum", "adam"):
        raise ValueError(f"optimizer must be 'gd', 'momentum' or 'adam', got {optimizer!r}")
    X = _layout.features("X", X)
    Y = _layout.labels("Y", Y, X.shape[1])
    dims = _layout.layers_dims(layers_dims)
    if dims[0] != X.shape[0]:
        raise ValueError(f"layers_dims[0] must be X.shape[0] = {X.shape[0]}, got {dims[0]}")
    mini_batch_size = _checks.positive_int("mini_batch_size", mini_batch_size)
    num_epochs = _checks.positive_int("num_epochs", num_epochs, minimum=0)
    learning_rate0 = _checks.scalar("learning_rate", learning_rate, low=0.0)
    if decay is not None and not callable(decay):
        raise TypeError(f"decay must be a function like update_lr or schedule_lr_decay, got {decay!r}")
    parameters, costs, lrs = _train(X, Y, dims, optimizer, learning_rate0, mini_batch_size, beta, beta1, beta2,
                                    epsilon, num_epochs, decay, decay_rate, 100 if print_cost else 0)
    for j, cost in enumerate(costs):
        i = j * 100
        if i % 1000 == 0:
            print("Cost after epoch %i: %f" % (i, cost))
            if decay is not None:       # the rate after this epoch's decay, as the notebook prints it
                print("learning rate after epoch %i: %f" % (i, lrs[i + 1]))
    if print_cost:
        plot_costs(costs, lrs[-1], "epochs (per 100)")
    return parameters


def _train(X, Y, dims, optimizer, learning_rate0, mini_batch_size, beta, beta1, beta2, epsilon, num_epochs, decay,
           decay_rate, every):
    """``model`` without the printing: (parameters, epoch costs every
    ``every`` epochs, the learning rate of each epoch and the one after)."""
    parameters = initialize_parameters(dims)
    m = X.shape[1]
    perms = np.empty((num_epochs, m), np.int64)
    for i in range(num_epochs):                   # the notebook's seeds: 11, 12, ...
        np.random.seed(10 + i + 1)
        perms[i] = np.random.permutation(m)
    lrs = np.empty(num_epochs + 1)
    lrs[0] = learning_rate0
    for i in range(num_epochs):                   # the decay is applied after each epoch
        lrs[i + 1] = float(decay(learning_rate0, i, decay_rate)) if decay is not None else learning_rate0
    parameters, costs, _ = train(parameters, X, Y, lrs[:num_epochs], optimizer=optimizer,
                                 beta1=beta if optimizer == "momentum" else beta1, beta2=beta2, epsilon=epsilon,
                                 perms=perms, batch_size=mini_batch_size, every=every)
    return parameters, costs, lrs
