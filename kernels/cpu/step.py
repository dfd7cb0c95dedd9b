"""A whole training step of a Sequential network as one compiled call, cpu.

forward through every layer, the loss on the logits, the L2/L1 terms, the
backward pass and the optimizer update, in one ``@njit`` function: a step
costs the kernels plus one call's dispatch, instead of a Python round trip
per op. It calls the same kernels as the layer-by-layer path (so the two
agree to rounding), reading the network from tables whose columns are named
in ``kernels/codes.py``:

``prog``  one int64 row per layer: its kind, activation, sizes and the
          offsets of its parameters, statistics, activations and dropout
          mask (``PROG_*``). The network's input is copied to
          ``acts[0:batch*in0]`` first, so every layer reads a view of one
          buffer; a layer's gradient lives at its output's offset in
          ``dacts``. Dropout's keep bits are stored by the forward and read
          by the backward: generating Philox bits costs more than the rest
          of a small layer, so they are generated once per step, not twice.
``fprog`` one float64 row per layer (``FPROG_*``).
``hyper`` the optimizer's hyperparameters for this step (``HYPER_*``),
          bias corrections included: ``Optimizer.compiled_hyper`` fills it.

Workspaces (``acts``, ``dacts``, ``dz``, ``loss``, ``probs``, ``partials``)
are allocated by the caller for the largest batch.
"""
import functools
import math

import numpy as np

from ..codes import (
    BATCH_BAD,
    BATCH_CHECK,
    FPROG_ALPHA,
    FPROG_EPS,
    FPROG_KEEP_PROB,
    FPROG_MOMENTUM,
    HYPER_BC1,
    HYPER_BC2,
    HYPER_BETA1,
    HYPER_BETA2,
    HYPER_DECOUPLED,
    HYPER_EPS,
    HYPER_LR,
    HYPER_WEIGHT_DECAY,
    KIND_ACT,
    KIND_BATCHNORM,
    KIND_DENSE,
    KIND_DROPOUT,
    LOSS_BINARY_CROSS_ENTROPY,
    LOSS_NONE,
    LOSS_SOFTMAX_CROSS_ENTROPY,
    OPT_MOMENTUM,
    OPT_RMSPROP,
    OPT_SGD,
    PROG_ACT,
    PROG_ACTS_OFF,
    PROG_B_OFF,
    PROG_BETA_OFF,
    PROG_GAMMA_OFF,
    PROG_HAS_BIAS,
    PROG_IN,
    PROG_KIND,
    PROG_MASK_OFF,
    PROG_OUT,
    PROG_STATS_OFF,
    PROG_W_OFF,
)
from ._blas import gemm_rows
from ._jit import kernel, prange, serial
from .activations import activation_backward, activation_forward
from .batchnorm import batchnorm_backward, batchnorm_forward_eval, batchnorm_forward_train
from .data import _labels_outside, _nonfinite, _outside_unit
from .dense import dense_dz_db, dense_forward
from .dropout import dropout_backward_mask, dropout_forward
from .losses import binary_cross_entropy, mean_squared_error, softmax_cross_entropy
from .metrics import row_argmax
from .optim import adam_update, momentum_update, rmsprop_update, sgd_update
from .regularization import l1_penalty, l2_penalty


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
def _mask_bytes(batch, f):
    return (batch * f + 7) // 8


@kernel
def _forward(acts, x, params, running, stats, seeds, offsets, used, thresholds, masks, prog, fprog, training, r0):
    """Every layer's forward from ``x`` (batch, in0); returns the logits, a
    view of ``acts``: rows ``r0:r0 + batch`` of each layer's slot (a chunk
    of the batch, see ``train_step``; 0 for a whole batch). Training: batch norm normalizes with the batch's
    statistics (into ``stats``, updating ``running``) and dropout draws its
    keep bits (into ``masks``, advancing ``offsets`` and recording the
    offsets it used in ``used``). Inference: batch norm uses ``running``,
    dropout is the identity, and the dropout and statistics buffers are not
    touched (they may be empty)."""
    batch = x.shape[0]
    tc = type(x[0, 0])              # every scalar handed to a kernel is cast to the data's type
    for l in range(prog.shape[0]):
        kind, code, fin, f = prog[l, PROG_KIND], prog[l, PROG_ACT], prog[l, PROG_IN], prog[l, PROG_OUT]
        out = _view(acts, prog[l, PROG_ACTS_OFF] + r0 * f, batch, f)
        if kind == KIND_DENSE:
            w = _view(params, prog[l, PROG_W_OFF], fin, f)
            b0 = prog[l, PROG_B_OFF]
            b = params[b0:b0 + f] if prog[l, PROG_HAS_BIAS] else params[0:0]
            dense_forward(out, x, w, b, code, tc(fprog[l, FPROG_ALPHA]))
        elif kind == KIND_ACT:
            activation_forward(out, x, code, tc(fprog[l, FPROG_ALPHA]))
        elif kind == KIND_DROPOUT:
            if not training:
                continue
            used[l] = offsets[l]
            if fprog[l, FPROG_KEEP_PROB] >= 1.0:
                _copy(out, x)
            else:
                m0 = prog[l, PROG_MASK_OFF]
                dropout_forward(out, masks[m0:m0 + _mask_bytes(batch, f)], x, seeds[l], offsets[l],
                                thresholds[l], tc(1.0 / fprog[l, FPROG_KEEP_PROB]))
                offsets[l] += np.uint64((batch * f + 3) // 4)
        else:
            s0, g0, be0 = prog[l, PROG_STATS_OFF], prog[l, PROG_GAMMA_OFF], prog[l, PROG_BETA_OFF]
            if training:
                batchnorm_forward_train(out, stats[s0:s0 + f], stats[s0 + f:s0 + 2 * f],
                                        running[s0:s0 + f], running[s0 + f:s0 + 2 * f], x,
                                        params[g0:g0 + f], params[be0:be0 + f],
                                        fprog[l, FPROG_MOMENTUM], fprog[l, FPROG_EPS])
            else:
                batchnorm_forward_eval(out, x, running[s0:s0 + f], running[s0 + f:s0 + 2 * f],
                                       params[g0:g0 + f], params[be0:be0 + f], fprog[l, FPROG_EPS])
        x = out
    return x


@kernel
def _data_loss(loss, g, probs, z, labels, targets, loss_code):
    """Each row's loss of the logits ``z`` into ``loss`` and d(mean
    loss)/d(z) into ``g`` (zeroed first); ``probs``: softmax cross-entropy's
    flat workspace."""
    batch, f = z.shape
    g[:, :] = 0
    if loss_code == LOSS_SOFTMAX_CROSS_ENTROPY:
        softmax_cross_entropy(loss, g, _view(probs, 0, batch, f), z, labels)
    elif loss_code == LOSS_BINARY_CROSS_ENTROPY:
        binary_cross_entropy(loss, g, z, targets)
    else:
        mean_squared_error(loss, g, z, targets)


@kernel
def _hits(z, labels, targets, loss_code):
    """How many predictions of the logits ``z`` are right: per row, the
    argmax (the first of equal maxima, as NumPy's) against the label; per
    output, ``z > 0`` against ``y > 0.5``; none for a regression loss."""
    hits = 0.0
    if loss_code == LOSS_SOFTMAX_CROSS_ENTROPY:
        for i in range(z.shape[0]):
            if row_argmax(z, i) == labels[i]:
                hits += 1.0
    elif loss_code == LOSS_BINARY_CROSS_ENTROPY:
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                if (z[i, j] > 0) == (targets[i, j] > 0.5):
                    hits += 1.0
    return hits


@kernel(reassoc=True)
def _sumsq(x):
    """sum(x^2) in float64. ``reassoc`` lets LLVM spread the sum over vector
    lanes: one chain of dependent adds costs 4 cycles an element, 0.5 ms a
    step at 535K weights. The order is fixed by the compiled code, never by
    the threads."""
    s = 0.0
    for i in range(x.shape[0]):
        v = np.float64(x[i])
        s += v * v
    return s


@kernel
def _update(params, grads, state1, state2, hyper, opt_code, n_decay, tc):
    """The optimizer's update of the whole flat buffer (``tc``: the data's
    scalar type)."""
    lr, wd = tc(hyper[HYPER_LR]), tc(hyper[HYPER_WEIGHT_DECAY])
    if opt_code == OPT_SGD:
        sgd_update(params, grads, lr, wd, n_decay)
    elif opt_code == OPT_MOMENTUM:
        momentum_update(params, grads, state1, lr, tc(hyper[HYPER_BETA1]), wd, n_decay)
    elif opt_code == OPT_RMSPROP:
        rmsprop_update(params, grads, state1, lr, tc(hyper[HYPER_BETA1]), tc(hyper[HYPER_EPS]), wd, n_decay)
    else:
        adam_update(params, grads, state1, state2, lr, tc(hyper[HYPER_BETA1]), tc(hyper[HYPER_BETA2]),
                    tc(hyper[HYPER_EPS]), wd, hyper[HYPER_DECOUPLED] > 0, n_decay,
                    hyper[HYPER_BC1], hyper[HYPER_BC2])


@kernel
def _front(acts, dacts, loss, probs, params, running, stats, seeds, offsets, used, thresholds, masks, prog, fprog,
           X, rows, labels, targets, loss_code, r0, r1):
    """Rows ``r0:r1`` of the batch ``X[rows]``: gathered into ``acts``' first
    slot, forward (training), each row's data loss into ``loss[r0:r1]`` and
    d(mean loss over these rows)/d(logits) into ``dacts``. Returns how many
    of their predictions are right (``_hits``)."""
    batch, n_in = r1 - r0, X.shape[1]
    nl = prog.shape[0]
    x = _view(acts, r0 * n_in, batch, n_in)
    for i in range(batch):
        r = rows[r0 + i]
        for j in range(n_in):
            x[i, j] = X[r, j]
    z = _forward(acts, x, params, running, stats, seeds, offsets, used, thresholds, masks, prog, fprog, True, r0)
    out = z.shape[1]
    _data_loss(loss[r0:r1], _view(dacts, prog[nl - 1, PROG_ACTS_OFF] + r0 * out, batch, out),
               _view(probs, r0 * out, batch, out), z, labels[r0:r1], targets[r0:r1], loss_code)
    return _hits(z, labels[r0:r1], targets[r0:r1], loss_code)


@kernel
def _zero_sums(grads, prog):
    """Zero the gradients ``_back`` accumulates into: the biases and batch
    norm's gamma and beta. The Dense weights' gradients, nearly all of the
    buffer, are written by their GEMMs, so the step does not zero them (a
    pass over the whole buffer, 3% of a [784, 256, 128, 10] step)."""
    for l in range(prog.shape[0]):
        f = prog[l, PROG_OUT]
        if prog[l, PROG_KIND] == KIND_DENSE and prog[l, PROG_HAS_BIAS]:
            b0 = prog[l, PROG_B_OFF]
            grads[b0:b0 + f] = 0
        elif prog[l, PROG_KIND] == KIND_BATCHNORM:
            g0, be0 = prog[l, PROG_GAMMA_OFF], prog[l, PROG_BETA_OFF]
            grads[g0:g0 + f] = 0
            grads[be0:be0 + f] = 0


@kernel
def _back(grads, acts, dacts, dz, params, stats, masks, prog, fprog, r0, r1, widest):
    """Backward of rows ``r0:r1`` from the logits' gradient ``_front`` left
    in ``dacts``: the Dense weights' gradients are written into ``grads``,
    the others (biases, batch norm's gamma and beta) accumulate into it, so
    those must be zeroed first (``_zero_sums``). ``dz`` holds
    ``widest`` values per row of scratch. Batch norm and dropout need the
    whole batch (its statistics, its mask bits from offset 0): r0 = 0 there."""
    batch = r1 - r0
    nl = prog.shape[0]
    tc = type(acts[0])
    for l in range(nl - 1, -1, -1):
        kind, code, fin, f = prog[l, PROG_KIND], prog[l, PROG_ACT], prog[l, PROG_IN], prog[l, PROG_OUT]
        g = _view(dacts, prog[l, PROG_ACTS_OFF] + r0 * f, batch, f)
        out = _view(acts, prog[l, PROG_ACTS_OFF] + r0 * f, batch, f)
        in_off = (prog[l - 1, PROG_ACTS_OFF] if l > 0 else 0) + r0 * fin
        x_in = _view(acts, in_off, batch, fin)
        # the first layer's input gradient is not needed: a scratch view takes it
        dx = _view(dacts, in_off, batch, fin) if l > 0 else _view(dz, r0 * widest, batch, fin)
        if l > 0 or kind == KIND_BATCHNORM:
            dx[:, :] = 0
        if kind == KIND_DENSE:
            w = _view(params, prog[l, PROG_W_OFF], fin, f)
            dzv = _view(dz, r0 * widest, batch, f)
            b0 = prog[l, PROG_B_OFF]
            db = grads[b0:b0 + f] if prog[l, PROG_HAS_BIAS] else grads[0:0]
            dw = _view(grads, prog[l, PROG_W_OFF], fin, f)
            dense_dz_db(dzv, db, g, out, code, tc(fprog[l, FPROG_ALPHA]))
            gemm_rows(dw, x_in, dzv, True, False, 1.0, 0.0)        # written: only the sums are zeroed first
            if l > 0:
                gemm_rows(dx, dzv, w, False, True, 1.0, 1.0)
        elif l == 0 and kind != KIND_BATCHNORM:
            pass
        elif kind == KIND_ACT:
            activation_backward(dx, g, out, code, tc(fprog[l, FPROG_ALPHA]))
        elif kind == KIND_DROPOUT:
            if fprog[l, FPROG_KEEP_PROB] >= 1.0:
                dx += g
            else:
                m0 = prog[l, PROG_MASK_OFF]
                dropout_backward_mask(dx, g, masks[m0:m0 + _mask_bytes(batch, f)],
                                      tc(1.0 / fprog[l, FPROG_KEEP_PROB]))
        else:
            s0, g0, be0 = prog[l, PROG_STATS_OFF], prog[l, PROG_GAMMA_OFF], prog[l, PROG_BETA_OFF]
            batchnorm_backward(dx, grads[g0:g0 + f], grads[be0:be0 + f], g, x_in,
                               stats[s0:s0 + f], stats[s0 + f:s0 + 2 * f], params[g0:g0 + f])


# A chunk's forward and backward run on one thread each: their twins
_front_serial = serial(_front)
_back_serial = serial(_back)


@kernel
def chunk_rows(batch, chunks):
    """Rows per chunk of a data-parallel step: the batch cut into ``chunks``,
    rounded up to a multiple of 8 (a chunk's rows then start a whole byte
    of dropout mask bits and a whole Philox block)."""
    return ((batch + chunks - 1) // chunks + 7) // 8 * 8


@kernel(parallel=True)
def _chunked(gparts, hparts, acts, dacts, dz, loss, probs, params, running, stats, seeds, offsets, used,
             thresholds, masks, prog, fprog, X, rows, labels, targets, loss_code, chunks, widest):
    """The data-parallel pass: chunk c of the batch (``chunk_rows``) runs
    forward, loss and backward on one thread into its own gradient
    ``gparts[c]``, scaled to the whole batch's mean. The chunks depend on
    the shapes only, so the sum ``train_step`` takes is the same for any
    number of threads."""
    batch, n = rows.shape[0], gparts.shape[1]
    rb = chunk_rows(batch, chunks)
    for c in prange(chunks):
        r0 = min(batch, c * rb)
        r1 = min(batch, r0 + rb)
        gc = gparts[c]
        hparts[c] = 0.0
        if r1 == r0:                      # weighted by 0 in the sum: it must hold zeros, not NaN
            for i in range(n):
                gc[i] = 0
        else:
            _zero_sums(gc, prog)
            hparts[c] = _front_serial(acts, dacts, loss, probs, params, running, stats, seeds, offsets, used,
                                      thresholds, masks, prog, fprog, X, rows, labels, targets, loss_code, r0, r1)
            _back_serial(gc, acts, dacts, dz, params, stats, masks, prog, fprog, r0, r1, widest)


@kernel
def train_step(params, grads, state1, state2, hyper, opt_code,
               acts, dacts, dz, loss, probs, partials, gnorms, hits,
               stats, running, seeds, offsets, used, thresholds, masks,
               prog, fprog, X, rows, labels, targets, loss_code, l2, l1, n_decay, gparts, batch_check):
    """One step on the rows ``X[rows]`` (their ``labels`` or ``targets`` in
    the same order); returns the batch's cost (data + regularization).

    With ``batch_check[0] == BATCH_CHECK`` it first tests the batch (all of
    ``X``, which is then the batch, and its targets or labels; see
    ``codes.BATCH_CHECK``) and on a bad value sets ``BATCH_BAD`` and
    returns NaN before writing anything else: ``train_step`` checks a batch
    in the call that trains on it.

    Leaves d(cost)/d(params) in ``grads`` (every entry written: the Dense
    weights' by their GEMMs, the sums zeroed first), updates ``params`` and
    the optimizer state, advances the dropout ``offsets`` (recording the ones
    used in ``used``), writes each Dense layer's ||dW|| into ``gnorms`` and
    the number of right predictions of this forward (``_hits``) into
    ``hits[0]``: ``fit``'s running training accuracy, at no extra pass.

    The batch's rows are gathered into ``acts``' first slot, which every
    step copies its input into anyway: ``fit`` shuffles by passing a
    permutation's slice, instead of copying the whole dataset every epoch.
    The caller guarantees ``0 <= rows < len(X)``.

    ``gparts`` (chunks, n_params), when it has more than one row, asks for
    the data-parallel step: the batch is cut into that many chunks, each
    runs on one thread (``_chunked``) and the gradients are summed in chunk
    order. For networks whose GEMMs are too small to split well; the caller
    guarantees no batch norm and no dropout below keep_prob 1 (both need
    the whole batch). Otherwise the whole batch runs through kernels that
    split each GEMM and loop across the threads.
    """
    if batch_check[0] == BATCH_CHECK:
        if (_nonfinite(X) or _labels_outside(labels, targets.shape[1])
                or (_outside_unit(targets) if loss_code == LOSS_BINARY_CROSS_ENTROPY else _nonfinite(targets))):
            batch_check[0] = BATCH_BAD
            return np.nan
    batch = rows.shape[0]
    nl = prog.shape[0]
    tc = type(X[0, 0])              # every scalar handed to a kernel is cast to the data's type
    widest = dz.shape[0] // loss.shape[0]
    chunks = gparts.shape[0]
    if chunks > 1:
        hparts = np.zeros(chunks)
        _chunked(gparts, hparts, acts, dacts, dz, loss, probs, params, running, stats, seeds, offsets, used,
                 thresholds, masks, prog, fprog, X, rows, labels, targets, loss_code, chunks, widest)
        # each chunk's gradient is of its own rows' mean: weight it by its share of the batch
        rb = chunk_rows(batch, chunks)
        for i in range(grads.shape[0]):
            grads[i] = 0
        h = 0.0
        for c in range(chunks):
            r0 = min(batch, c * rb)
            share = tc((min(batch, r0 + rb) - r0) / batch)
            gc = gparts[c]
            for i in range(grads.shape[0]):
                grads[i] += share * gc[i]
            h += hparts[c]
        hits[0] = h
    else:
        _zero_sums(grads, prog)
        hits[0] = _front(acts, dacts, loss, probs, params, running, stats, seeds, offsets, used, thresholds, masks,
                         prog, fprog, X, rows, labels, targets, loss_code, 0, batch)
        _back(grads, acts, dacts, dz, params, stats, masks, prog, fprog, 0, batch, widest)
    # ---- loss and regularization ------------------------------------------------------
    lb = loss[:batch]
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
    for l in range(nl):
        gnorms[l] = 0.0
        if prog[l, PROG_KIND] == KIND_DENSE:
            w0 = prog[l, PROG_W_OFF]
            gnorms[l] = math.sqrt(_sumsq(grads[w0:w0 + prog[l, PROG_IN] * prog[l, PROG_OUT]]))
    # ---- update -----------------------------------------------------------------------
    _update(params, grads, state1, state2, hyper, opt_code, n_decay, tc)
    return cost


@functools.partial(serial, python=True)
@kernel
def forward_eval(logits, loss, gbuf, pbuf, acts, params, running, prog, fprog, X, labels, targets, loss_code,
                 block):
    """Inference-mode forward of the rows ``X`` into ``logits`` (batch, out),
    ``block`` rows at a time: batch norm normalizes with its running
    statistics, dropout is the identity. With ``loss_code`` other than
    ``LOSS_NONE`` also each row's data loss into ``loss`` (``gbuf``/``pbuf``:
    flat workspaces of block * out for the loss kernel's gradient and
    probabilities; ``labels`` or ``targets`` for every row of ``X``).
    ``prog``, ``fprog``, ``running`` as in ``train_step``, ``acts`` sized
    for ``block`` rows.

    A row's result depends on its block only, and a block is the same
    whether one call runs them all or each thread runs some in calls of its
    own (``fastnn.compiled.compiled_forward``): the same bits either way.

    Compiled as the serial twin only: it calls the kernels the serial
    training step calls, with the same argument types, so once a small
    network has trained nothing here compiles again.
    """
    m = X.shape[0]
    # training's buffers, empty: of the types train_step passes, so that both
    # run one compiled _forward
    stats, masks, offsets = np.empty(0, np.float64), np.empty(0, np.uint8), np.empty(0, np.uint64)
    for r0 in range(0, m, block):
        r1 = min(m, r0 + block)
        z = _forward(acts, X[r0:r1], params, running, stats, offsets, offsets, offsets, offsets, masks, prog, fprog,
                     False, 0)
        _copy(logits[r0:r1], z)
        if loss_code != LOSS_NONE:
            _data_loss(loss[r0:r1], _view(gbuf, 0, r1 - r0, z.shape[1]), pbuf, z,
                       labels[r0:r1] if labels.shape[0] else labels,
                       targets[r0:r1] if targets.shape[0] else targets, loss_code)


# The same step on the calling thread only (every kernel's serial twin), for
# networks too small to pay for waking the thread pool once per layer.
train_step_serial = serial(train_step, python=True)
