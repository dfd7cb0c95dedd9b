"""A whole training step of a Sequential network as one compiled call, cpu.

forward through every layer, the loss on the logits, the L2/L1 terms, the
backward pass and the optimizer update, in one ``@njit`` function: a step
costs the kernels plus one call's dispatch, instead of a Python round trip
per op. It calls the same kernels as the layer-by-layer path (so the two
agree to rounding), reading the network from an integer program:

prog[l] = (kind, act, has_bias, in, out, w_off, b_off, beta_off, stats_off, acts_off, mask_off)
    kind      DENSE, ACT, DROPOUT or BATCHNORM
    w_off     Dense: offset of W (in, out) in the flat parameter buffer
    b_off     Dense: offset of b; BatchNorm: offset of gamma
    beta_off  BatchNorm: offset of beta
    stats_off BatchNorm: offset of its (mean, rstd) in ``stats`` and of its
              (running_mean, running_var) in ``running`` (2 * out each)
    acts_off  offset of the layer's output (batch, out) in ``acts``; its
              gradient lives at the same offset in ``dacts``. The network's
              input is copied to acts[0:batch*in0] first, so every layer
              reads a view of one buffer.
    mask_off  Dropout: offset of its packed keep bits in ``masks``. The
              forward stores them and backward reads them: generating
              Philox bits costs more than the rest of a small layer, so
              they are generated once per step, not twice.
fprog[l] = (alpha, keep_prob, momentum, eps)

Workspaces (``acts``, ``dacts``, ``dz``, ``loss``, ``probs``, ``partials``)
are allocated by the caller for the largest batch.
"""
import functools
import math

import numpy as np

from ._blas import gemm_rows
from ._jit import kernel, serial
from .activations import activation_backward, activation_forward
from .batchnorm import batchnorm_backward, batchnorm_forward_eval, batchnorm_forward_train
from .dense import dense_dz_db, dense_forward
from .dropout import dropout_backward_mask, dropout_forward
from .losses import binary_cross_entropy, mean_squared_error, softmax_cross_entropy
from .optim import adam_update, momentum_update, rmsprop_update, sgd_update
from .regularization import l1_penalty, l2_penalty

DENSE, ACT, DROPOUT, BATCHNORM = 0, 1, 2, 3
LOSS_SCE, LOSS_BCE, LOSS_MSE = 0, 1, 2
OPT_SGD, OPT_MOMENTUM, OPT_RMSPROP, OPT_ADAM = 0, 1, 2, 3


@kernel
def _view(buf, off, rows, cols):
    return buf[off:off + rows * cols].reshape((rows, cols))


@kernel(inline=True)
def _copy(dst, src):
    # dst[:, :] = src as a loop: numba's array-to-slice assignment compiles a
    # formatted shape-mismatch message, 2.7 s of a cold start
    for i in range(dst.shape[0]):
        for j in range(dst.shape[1]):
            dst[i, j] = src[i, j]


@kernel
def train_step(params, grads, state1, state2, hyper, t, opt_code,
               acts, dacts, dz, loss, probs, partials, gnorms,
               stats, running, seeds, offsets, used, thresholds, masks,
               prog, fprog, X, labels, targets, loss_code, l2, l1, n_decay):
    """One step; returns the batch's cost (data + regularization).

    Zeroes ``grads``, leaves d(cost)/d(params) in it, updates ``params`` and
    the optimizer state, advances the dropout ``offsets`` (recording the ones
    used in ``used``) and writes each Dense layer's ||dW|| into ``gnorms``.
    """
    batch, n_in = X.shape
    nl = prog.shape[0]
    tc = type(X[0, 0])              # every scalar handed to a kernel is cast to the data's type
    grads[:] = 0
    x = _view(acts, 0, batch, n_in)
    _copy(x, X)
    # ---- forward ---------------------------------------------------------------
    for l in range(nl):
        kind, code, fin, f = prog[l, 0], prog[l, 1], prog[l, 3], prog[l, 4]
        out = _view(acts, prog[l, 9], batch, f)
        if kind == DENSE:
            w = _view(params, prog[l, 5], fin, f)
            b = params[prog[l, 6]:prog[l, 6] + f] if prog[l, 2] else params[0:0]
            dense_forward(out, x, w, b, code, tc(fprog[l, 0]))
        elif kind == ACT:
            activation_forward(out, x, code, tc(fprog[l, 0]))
        elif kind == DROPOUT:
            used[l] = offsets[l]
            if fprog[l, 1] >= 1.0:
                _copy(out, x)
            else:
                m0 = prog[l, 10]
                dropout_forward(out, masks[m0:m0 + (batch * f + 7) // 8], x, seeds[l], offsets[l],
                                thresholds[l], tc(1.0 / fprog[l, 1]))
                offsets[l] += np.uint64((batch * f + 3) // 4)
        else:
            s0 = prog[l, 8]
            batchnorm_forward_train(out, stats[s0:s0 + f], stats[s0 + f:s0 + 2 * f],
                                    running[s0:s0 + f], running[s0 + f:s0 + 2 * f], x,
                                    params[prog[l, 6]:prog[l, 6] + f], params[prog[l, 7]:prog[l, 7] + f],
                                    fprog[l, 2], fprog[l, 3])
        x = out
    # ---- loss and regularization ------------------------------------------------------
    f_last = prog[nl - 1, 4]
    g = _view(dacts, prog[nl - 1, 9], batch, f_last)
    g[:, :] = 0
    lb = loss[:batch]
    if loss_code == LOSS_SCE:
        softmax_cross_entropy(lb, g, _view(probs, 0, batch, f_last), x, labels)
    elif loss_code == LOSS_BCE:
        binary_cross_entropy(lb, g, x, targets)
    else:
        mean_squared_error(lb, g, x, targets)
    cost = 0.0
    for i in range(batch):
        cost += lb[i]
    cost /= batch
    if l2 > 0:
        l2_penalty(partials, grads[:n_decay], params[:n_decay], tc(l2 / batch))
        cost += l2 / (2 * batch) * partials.sum()
    if l1 > 0:
        l1_penalty(partials, grads[:n_decay], params[:n_decay], tc(0.5 * l1 / batch))
        cost += l1 / (2 * batch) * partials.sum()
    # ---- backward --------------------------------------------------------------------
    for l in range(nl - 1, -1, -1):
        kind, code, fin, f = prog[l, 0], prog[l, 1], prog[l, 3], prog[l, 4]
        g = _view(dacts, prog[l, 9], batch, f)
        out = _view(acts, prog[l, 9], batch, f)
        in_off = prog[l - 1, 9] if l > 0 else 0
        x_in = _view(acts, in_off, batch, fin)
        # the first layer's input gradient is not needed: a scratch view takes it
        dx = _view(dacts, in_off, batch, fin) if l > 0 else _view(dz, 0, batch, fin)
        if l > 0 or kind == BATCHNORM:
            dx[:, :] = 0
        if kind == DENSE:
            w = _view(params, prog[l, 5], fin, f)
            dzv = _view(dz, 0, batch, f)
            db = grads[prog[l, 6]:prog[l, 6] + f] if prog[l, 2] else grads[0:0]
            dw = _view(grads, prog[l, 5], fin, f)
            dense_dz_db(dzv, db, g, out, code, tc(fprog[l, 0]))
            gemm_rows(dw, x_in, dzv, True, False, 1.0, 1.0)
            if l > 0:
                gemm_rows(dx, dzv, w, False, True, 1.0, 1.0)
        elif l == 0 and kind != BATCHNORM:
            pass
        elif kind == ACT:
            activation_backward(dx, g, out, code, tc(fprog[l, 0]))
        elif kind == DROPOUT:
            if fprog[l, 1] >= 1.0:
                dx += g
            else:
                m0 = prog[l, 10]
                dropout_backward_mask(dx, g, masks[m0:m0 + (batch * f + 7) // 8], tc(1.0 / fprog[l, 1]))
        else:
            s0 = prog[l, 8]
            batchnorm_backward(dx, grads[prog[l, 6]:prog[l, 6] + f], grads[prog[l, 7]:prog[l, 7] + f], g, x_in,
                               stats[s0:s0 + f], stats[s0 + f:s0 + 2 * f], params[prog[l, 6]:prog[l, 6] + f])
    for l in range(nl):
        gnorms[l] = 0.0
        if prog[l, 0] == DENSE:
            s = 0.0
            for v in grads[prog[l, 5]:prog[l, 5] + prog[l, 3] * prog[l, 4]]:
                s += v * v
            gnorms[l] = math.sqrt(s)
    # ---- update -----------------------------------------------------------------------
    lr, wd = tc(hyper[0]), tc(hyper[4])
    if opt_code == OPT_SGD:
        sgd_update(params, grads, lr, wd, n_decay)
    elif opt_code == OPT_MOMENTUM:
        momentum_update(params, grads, state1, lr, tc(hyper[1]), wd, n_decay)
    elif opt_code == OPT_RMSPROP:
        rmsprop_update(params, grads, state1, lr, tc(hyper[1]), tc(hyper[3]), wd, n_decay)
    else:
        adam_update(params, grads, state1, state2, lr, tc(hyper[1]), tc(hyper[2]), tc(hyper[3]), wd,
                    hyper[5] > 0, n_decay, 1.0 - hyper[1] ** t, 1.0 - hyper[2] ** t)
    return cost


@functools.partial(serial, python=True)
@kernel
def forward_eval(logits, loss, gbuf, pbuf, acts, params, running, prog, fprog, X, labels, targets, loss_code):
    """Inference-mode forward of the rows ``X`` into ``logits`` (batch, out):
    batch norm normalizes with its running statistics, dropout is the
    identity. With ``loss_code`` >= 0 also each row's data loss into ``loss``
    (``gbuf``/``pbuf``: flat workspaces of batch * out for the loss kernel's
    gradient and probabilities). ``prog``, ``fprog``, ``acts`` and ``running``
    as in ``train_step``.

    Compiled as the serial twin only: it calls the kernels the serial
    training step calls, with the same argument types, so once a small
    network has trained nothing here compiles again.
    """
    batch = X.shape[0]
    nl = prog.shape[0]
    tc = type(X[0, 0])
    x = X
    for l in range(nl):
        kind, code, fin, f = prog[l, 0], prog[l, 1], prog[l, 3], prog[l, 4]
        out = _view(acts, prog[l, 9], batch, f)
        if kind == DENSE:
            w = _view(params, prog[l, 5], fin, f)
            b = params[prog[l, 6]:prog[l, 6] + f] if prog[l, 2] else params[0:0]
            dense_forward(out, x, w, b, code, tc(fprog[l, 0]))
        elif kind == ACT:
            activation_forward(out, x, code, tc(fprog[l, 0]))
        elif kind == DROPOUT:
            continue
        else:
            s0 = prog[l, 8]
            batchnorm_forward_eval(out, x, running[s0:s0 + f], running[s0 + f:s0 + 2 * f],
                                   params[prog[l, 6]:prog[l, 6] + f], params[prog[l, 7]:prog[l, 7] + f],
                                   fprog[l, 3])
        x = out
    _copy(logits, x)
    if loss_code < 0:
        return
    f_last = prog[nl - 1, 4]
    g = _view(gbuf, 0, batch, f_last)
    g[:, :] = 0
    lb = loss[:batch]
    if loss_code == LOSS_SCE:
        softmax_cross_entropy(lb, g, _view(pbuf, 0, batch, f_last), x, labels)
    elif loss_code == LOSS_BCE:
        binary_cross_entropy(lb, g, x, targets)
    else:
        mean_squared_error(lb, g, x, targets)


# The same step on the calling thread only (every kernel's serial twin), for
# networks too small to pay for waking the thread pool once per layer.
train_step_serial = serial(train_step, python=True)
