"""The course's three experiments written the notebooks' way, in plain NumPy.

A straightforward reference written from the math of "Improving Deep Neural
Networks" (course layout: ``W[l]`` is ``(n_l, n_{l-1})``, ``X`` is
``(n_x, m)``, one example per column), with the notebooks' random recipes
(legacy ``np.random.seed`` then ``randn``/``rand``/``permutation``). It is
what ``fastnn.course`` is timed against (``bench/bench_course.py``) and the
oracle its tests compare to.
"""
import math

import numpy as np


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def init_params(layers_dims, how):
    """"zeros", "random" (randn x 10), "he" (randn x sqrt(2/n_{l-1})) or
    "reg" (randn / sqrt(n_{l-1}), the regularization notebook's), seed 3."""
    np.random.seed(3)
    params = {}
    for l in range(1, len(layers_dims)):
        shape = (layers_dims[l], layers_dims[l - 1])
        if how == "zeros":
            w = np.zeros(shape)
        elif how == "random":
            w = np.random.randn(*shape) * 10
        elif how == "he":
            w = np.random.randn(*shape) * np.sqrt(2.0 / layers_dims[l - 1])
        else:
            w = np.random.randn(*shape) / np.sqrt(layers_dims[l - 1])
        params[f"W{l}"], params[f"b{l}"] = w, np.zeros((layers_dims[l], 1))
    return params


def forward(X, p, keep_prob=1.0):
    """relu, relu, sigmoid; with dropout the notebook's masks (seed 1 at
    every call) on the two hidden layers."""
    if keep_prob < 1:
        np.random.seed(1)
    z1 = p["W1"] @ X + p["b1"]
    a1 = np.maximum(0, z1)
    d1 = None
    if keep_prob < 1:
        d1 = (np.random.rand(*a1.shape) < keep_prob).astype(int)
        a1 = a1 * d1 / keep_prob
    z2 = p["W2"] @ a1 + p["b2"]
    a2 = np.maximum(0, z2)
    d2 = None
    if keep_prob < 1:
        d2 = (np.random.rand(*a2.shape) < keep_prob).astype(int)
        a2 = a2 * d2 / keep_prob
    z3 = p["W3"] @ a2 + p["b3"]
    a3 = _sigmoid(z3)
    return a3, (z1, a1, d1, z2, a2, d2, z3, a3)


def cost(a3, Y, p=None, lambd=0.0, total=False):
    """Cross-entropy as the notebooks compute it (log of the sigmoid,
    ``nansum``), plus the L2 term; ``total``: the sum, not the mean."""
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    c = np.nansum(logprobs) if total else 1.0 / m * np.nansum(logprobs)
    if lambd:
        c += lambd / (2 * m) * sum(np.sum(np.square(p[f"W{l}"])) for l in (1, 2, 3))
    return c


def backward(X, Y, p, cache, lambd=0.0, keep_prob=1.0):
    m = X.shape[1]
    z1, a1, d1, z2, a2, d2, z3, a3 = cache
    dz3 = 1.0 / m * (a3 - Y)
    dW3 = dz3 @ a2.T + lambd / m * p["W3"]
    db3 = np.sum(dz3, axis=1, keepdims=True)
    da2 = p["W3"].T @ dz3
    if d2 is not None:
        da2 = da2 * d2 / keep_prob
    dz2 = np.multiply(da2, np.int64(a2 > 0))
    dW2 = dz2 @ a1.T + lambd / m * p["W2"]
    db2 = np.sum(dz2, axis=1, keepdims=True)
    da1 = p["W2"].T @ dz2
    if d1 is not None:
        da1 = da1 * d1 / keep_prob
    dz1 = np.multiply(da1, np.int64(a1 > 0))
    dW1 = dz1 @ X.T + lambd / m * p["W1"]
    db1 = np.sum(dz1, axis=1, keepdims=True)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2, "dW3": dW3, "db3": db3}


def gd_model(X, Y, layers_dims, init, learning_rate, num_iterations, lambd=0.0, keep_prob=1.0, every=1000):
    """The initialization and regularization notebooks' model: full-batch
    gradient descent; returns (parameters, costs every ``every`` iterations)."""
    p = init_params(layers_dims, init)
    costs = []
    for i in range(num_iterations):
        a3, cache = forward(X, p, keep_prob)
        c = cost(a3, Y, p, lambd)
        grads = backward(X, Y, p, cache, lambd, keep_prob)
        for l in (1, 2, 3):
            p[f"W{l}"] = p[f"W{l}"] - learning_rate * grads[f"dW{l}"]
            p[f"b{l}"] = p[f"b{l}"] - learning_rate * grads[f"db{l}"]
        if i % every == 0:
            costs.append(c)
    return p, costs


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    shuffled_X, shuffled_Y = X[:, permutation], Y[:, permutation].reshape((1, m))
    batches = []
    for k in range(math.floor(m / mini_batch_size)):
        sl = slice(k * mini_batch_size, (k + 1) * mini_batch_size)
        batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    if m % mini_batch_size:
        sl = slice(math.floor(m / mini_batch_size) * mini_batch_size, m)
        batches.append((shuffled_X[:, sl], shuffled_Y[:, sl]))
    return batches


def adam_model(X, Y, layers_dims, learning_rate=0.0007, mini_batch_size=64, beta1=0.9, beta2=0.999,
               epsilon=1e-8, num_epochs=5000, every=1000):
    """The optimization notebook's model with Adam (its helper initializes
    as He does); (parameters, costs)."""
    p = init_params(layers_dims, "he")
    v = {k: np.zeros_like(a) for k, a in p.items()}
    s = {k: np.zeros_like(a) for k, a in p.items()}
    t, seed, m, costs = 0, 10, X.shape[1], []
    for i in range(num_epochs):
        seed += 1
        total = 0.0
        for mb_X, mb_Y in random_mini_batches(X, Y, mini_batch_size, seed):
            a3, cache = forward(mb_X, p)
            total += cost(a3, mb_Y, total=True)
            grads = backward(mb_X, mb_Y, p, cache)
            t += 1
            for k in p:
                g = grads["d" + k]
                v[k] = beta1 * v[k] + (1 - beta1) * g
                s[k] = beta2 * s[k] + (1 - beta2) * np.power(g, 2)
                vc = v[k] / (1 - np.power(beta1, t))
                sc = s[k] / (1 - np.power(beta2, t))
                p[k] = p[k] - learning_rate * vc / (np.sqrt(sc) + epsilon)
        if i % every == 0:
            costs.append(total / m)
    return p, costs


def predict(X, p):
    a3, _ = forward(X, p)
    return (a3 > 0.5).astype(int)
