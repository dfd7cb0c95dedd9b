"""The course's training loop in its own layout, reference.

The assignments of "Improving Deep Neural Networks" train an L-layer
network in the course layout: ``W[l]: (n_l, n_{l-1})``, ``b[l]: (n_l,)``,
activations ``A[l]: (n_l, m)`` with one example per column; relu on the
hidden layers, a sigmoid output, the cross-entropy cost. Per mini-batch of
``mb`` examples (the columns ``perms[e]`` puts in order, or the data's own
order), with ``D[l]`` the fixed dropout masks (0/1) of the hidden layers::

    Z[l] = W[l] @ A[l-1] + b[l]
    A[l] = relu(Z[l]) * D[l] / keep_prob        (l < L)
    A[L] = 1 / (1 + exp(-Z[L]))
    dZ[L] = (A[L] - Y) / mb
    dW[l] = dZ[l] @ A[l-1].T + lambd / mb * W[l],   db[l] = sum over columns of dZ[l]
    dA[l-1] = W[l].T @ dZ[l] * D[l-1] / keep_prob,  dZ[l-1] = dA[l-1] * (A[l-1] > 0)

and each parameter ``p`` with its gradient ``g`` is updated by
gradient descent ``p -= lr g``; momentum ``v = beta v + (1 - beta) g,
p -= lr v``; or Adam (t counts updates from 1)
``v = b1 v + (1 - b1) g, s = b2 s + (1 - b2) g^2,
p -= lr (v / (1 - b1^t)) / (sqrt(s / (1 - b2^t)) + eps)``.

Every ``every``-th epoch (0: never) records the notebooks' cost, taken
during the epoch (each batch before its update):
``1/m * nansum(-log(A[L]) Y - log(1 - A[L]) (1 - Y))`` over the epoch's
examples, plus ``1/m * lambd/2 * sum ||W[l]||^2`` (weights at the epoch's
start), into ``costs[e // every]``.

Arguments (outputs first): ``W``, ``b`` the layers' parameters flattened in
order (row-major); ``state1``, ``state2`` the optimizer's moments laid out
as ``[W..., b...]``; ``costs``; ``counter[0]`` Adam's t, in and out; then
``X (n_0, m)``, ``Y (n_L, m)``, ``masks`` (the hidden layers' masks stacked,
``(sum n_l, m)``, or ``(0, m)``), ``perms (epochs, m)`` or ``(0, m)``,
``lrs (epochs,)``, ``dims`` (n_0 ... n_L), ``hyper`` (``COURSE_*`` slots),
``opt_code`` (``COURSE_GD``/``MOMENTUM``/``ADAM``), ``batch_size``, ``every``.
"""
import numpy as np

from ..codes import COURSE_ADAM, COURSE_BETA1, COURSE_BETA2, COURSE_EPS, COURSE_KEEP_PROB, COURSE_LAMBD, COURSE_MOMENTUM


def _views(W, b, dims):
    Ws, bs, w0, b0 = [None], [None], 0, 0
    for l in range(1, len(dims)):
        Ws.append(W[w0:w0 + dims[l] * dims[l - 1]].reshape(dims[l], dims[l - 1]))
        bs.append(b[b0:b0 + dims[l]].reshape(dims[l], 1))
        w0 += dims[l] * dims[l - 1]
        b0 += dims[l]
    return Ws, bs


def course_train(W, b, state1, state2, costs, counter, X, Y, masks, perms, lrs, dims, hyper, opt_code,
                 batch_size, every):
    """Train for ``lrs.size`` epochs in place; see the module docstring."""
    L, m = len(dims) - 1, X.shape[1]
    lambd, keep = hyper[COURSE_LAMBD], hyper[COURSE_KEEP_PROB]
    b1, b2, eps = hyper[COURSE_BETA1], hyper[COURSE_BETA2], hyper[COURSE_EPS]
    Ws, bs = _views(W, b, dims)
    moments = [_views(s[:W.size], s[W.size:], dims) for s in (state1, state2)]
    mask_rows = np.cumsum([0] + [dims[l] for l in range(1, L)])
    for e in range(lrs.size):
        order = perms[e] if perms.shape[0] else np.arange(m)
        record = every > 0 and e % every == 0
        total = 0.0
        penalty = (1.0 / m * lambd / 2) * sum(np.sum(np.square(Ws[l])) for l in range(1, L + 1)) if record else 0.0
        for s in range(0, m, batch_size):
            cols = order[s:s + batch_size]
            mb = cols.size
            A = [X[:, cols]]
            for l in range(1, L + 1):
                Z = Ws[l] @ A[-1] + bs[l]
                if l < L:
                    a = np.maximum(0, Z)
                    if masks.shape[0]:
                        a = a * masks[mask_rows[l - 1]:mask_rows[l], cols] / keep
                    A.append(a)
                else:
                    A.append(1 / (1 + np.exp(-Z)))
            Yb = Y[:, cols]
            if record:
                with np.errstate(divide="ignore", invalid="ignore"):
                    total += np.nansum(-np.log(A[L]) * Yb + -np.log(1 - A[L]) * (1 - Yb))
            dZ = 1.0 / mb * (A[L] - Yb)
            if opt_code == COURSE_ADAM:
                counter[0] += 1
            for l in range(L, 0, -1):
                gW = dZ @ A[l - 1].T + lambd / mb * Ws[l]
                gb = dZ.sum(axis=1, keepdims=True)
                if l > 1:
                    dA = Ws[l].T @ dZ
                    if masks.shape[0]:
                        dA = dA * masks[mask_rows[l - 2]:mask_rows[l - 1], cols] / keep
                    dZ = dA * (A[l - 1] > 0)
                for p, g, v, sq in ((Ws[l], gW, moments[0][0][l], moments[1][0][l]),
                                    (bs[l], gb, moments[0][1][l], moments[1][1][l])):
                    if opt_code == COURSE_MOMENTUM:
                        v[...] = b1 * v + (1 - b1) * g
                        p -= lrs[e] * v
                    elif opt_code == COURSE_ADAM:
                        t = counter[0]
                        v[...] = b1 * v + (1 - b1) * g
                        sq[...] = b2 * sq + (1 - b2) * g * g
                        p -= lrs[e] * (v / (1 - b1 ** t)) / (np.sqrt(sq / (1 - b2 ** t)) + eps)
                    else:
                        p -= lrs[e] * g
        if record:
            costs[e // every] = 1.0 / m * total + penalty
