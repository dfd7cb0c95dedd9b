"""The course's networks on fastnn's course kernel.

A course parameters dict trains in its own layout on
``kernels/cpu/course.py`` (reference: ``kernels/ref/course.py``): the
whole run, every iteration or epoch of mini-batches, is one compiled call,
relu on the hidden layers and the notebooks' sigmoid and cost on the output.
Costs are recorded as the notebooks compute them (``-log(a3)``, so a
saturated sigmoid records ``inf`` as theirs does), at the epochs they print.
"""
from __future__ import annotations

import numpy as np

from .._backend import resolve
from ..kernels import codes

OPTIMIZERS = {"gd": codes.COURSE_GD, "momentum": codes.COURSE_MOMENTUM, "adam": codes.COURSE_ADAM}


def _kernel(backend, dims, whole_batch, m):
    """The reference loop, or on the cpu (the course's small networks run on
    the host) the loop unrolled for ``dims`` where there is one and the run
    fits it (one batch in order of at most ``STRIDE`` examples, no cost
    recorded in the loop), else the general loop."""
    if resolve(backend) == "ref":
        from ..kernels.ref import course
        return course.course_train
    from ..kernels.cpu import course, course_nets
    unrolled = course_nets.NETS.get(tuple(int(n) for n in dims))
    fits = whole_batch and m <= course_nets.STRIDE
    return unrolled if unrolled is not None and fits else course.course_train


def train(parameters, X, Y, learning_rates, *, optimizer="gd", beta1=0.9, beta2=0.999, epsilon=1e-8, lambd=0.0,
          keep_prob=1.0, masks=None, perms=None, batch_size=None, every=0, state=None, backend=None):
    """Train ``parameters`` (course layout, checked) for ``len(learning_rates)``
    epochs; returns ``(parameters, costs, state)`` with new arrays, ``state``
    holding the optimizer's moments and Adam's t to continue from."""
    L = len(parameters) // 2
    dims = np.array([parameters["W1"].shape[1]] + [parameters[f"W{l}"].shape[0] for l in range(1, L + 1)],
                    np.int64)
    W = np.concatenate([np.ravel(parameters[f"W{l}"]).astype(np.float64) for l in range(1, L + 1)])
    b = np.concatenate([np.ravel(parameters[f"b{l}"]).astype(np.float64) for l in range(1, L + 1)])
    if state is None:
        state = {"v": np.zeros(W.size + b.size), "s": np.zeros(W.size + b.size), "t": 0}
    m = X.shape[1]
    lrs = np.ascontiguousarray(learning_rates, dtype=np.float64)
    epochs = lrs.size
    costs = np.full(-(-epochs // every) if every else 0, np.nan)
    counter = np.array([state["t"]], np.int64)
    hyper = np.zeros(codes.COURSE_HYPER_SLOTS)
    hyper[codes.COURSE_LAMBD], hyper[codes.COURSE_KEEP_PROB] = lambd, keep_prob
    hyper[codes.COURSE_BETA1], hyper[codes.COURSE_BETA2], hyper[codes.COURSE_EPS] = beta1, beta2, epsilon
    masks = np.zeros((0, m)) if masks is None else np.ascontiguousarray(masks, dtype=np.float64)
    perms = np.zeros((0, m), np.int64) if perms is None else np.ascontiguousarray(perms, dtype=np.int64)
    v, s = state["v"].copy(), state["s"].copy()
    run = _kernel(backend, dims, perms.shape[0] == 0 and (batch_size or m) >= m and not every, m)
    with np.errstate(all="ignore"):
        run(W, b, v, s, costs, counter, np.ascontiguousarray(X, dtype=np.float64),
            np.ascontiguousarray(Y, dtype=np.float64), masks, perms, lrs, dims, hyper, OPTIMIZERS[optimizer],
            int(batch_size or m), int(every))
    out, w0, b0 = {}, 0, 0
    for l in range(1, L + 1):
        n, n_prev = int(dims[l]), int(dims[l - 1])
        out[f"W{l}"] = W[w0:w0 + n * n_prev].reshape(n, n_prev).copy()
        out[f"b{l}"] = b[b0:b0 + n].reshape(n, 1).copy()
        w0, b0 = w0 + n * n_prev, b0 + n
    return out, list(costs), {"v": v, "s": s, "t": int(counter[0])}


def train_full_batch(parameters, X, Y, learning_rate, num_iterations, every, cost, **options):
    """Full-batch gradient descent in chunks of ``every`` iterations, with
    ``cost(parameters)`` (the notebooks' own NumPy expression, so the
    numbers they print come out as they print them) before each chunk.
    Returns ``(parameters, costs)``."""
    costs = []
    if not every:
        parameters, _, _ = train(parameters, X, Y, np.full(num_iterations, float(learning_rate)), **options)
        return parameters, costs
    for start in range(0, num_iterations, every):
        costs.append(cost(parameters))
        steps = min(every, num_iterations - start)
        parameters, _, _ = train(parameters, X, Y, np.full(steps, float(learning_rate)), **options)
    return parameters, costs


def notebook_forward(X, parameters, masks=None, keep_prob=1.0):
    """The notebooks' forward in NumPy (``np.dot``, relu, the dropout masks
    ``D`` as ``A * D / keep_prob``, ``1 / (1 + exp(-z))``); returns ``a_L``."""
    L = len(parameters) // 2
    A, row = X, 0
    for l in range(1, L + 1):
        Z = np.dot(parameters[f"W{l}"], A) + parameters[f"b{l}"]
        if l == L:
            with np.errstate(over="ignore"):
                return 1 / (1 + np.exp(-Z))
        A = np.maximum(0, Z)
        if masks is not None and masks.shape[0]:
            n = A.shape[0]
            A = A * masks[row:row + n]
            A = A / keep_prob
            row += n


def notebook_cost(a3, Y):
    """The notebooks' cross-entropy: ``1/m * nansum(-log(a3) Y - log(1 - a3)(1 - Y))``."""
    m = Y.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        logprobs = np.multiply(-np.log(a3), Y) + np.multiply(-np.log(1 - a3), 1 - Y)
    return 1.0 / m * np.nansum(logprobs)


def plot_costs(costs, learning_rate, xlabel="iterations (per hundreds)"):
    """The notebooks' cost curve, where matplotlib is installed."""
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        return
    plt.plot(costs)
    plt.ylabel("cost")
    plt.xlabel(xlabel)
    plt.title("Learning rate =" + str(learning_rate))
    plt.show()
