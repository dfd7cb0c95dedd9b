"""Host side of the compiled training step (``kernels/cpu/step.py``).

``CompiledStep(model, optimizer)`` packs a Sequential's layers into the
integer program the kernel reads, points batch-norm running statistics at
one flat float64 buffer (the layers keep views, so saving and inference see
the same numbers), allocates the workspaces for the largest batch, and calls
the kernel once per step. ``Sequential.fit`` uses it automatically on the cpu
backend when every layer and the optimizer are supported.
"""
import os
import threading

import numpy as np

from . import _arrays
from ._backend import resolve
from .batchnorm import check_training_batch
from .kernels import codes as c
from .kernels.philox import keep_threshold
from .layers import Activation, BatchNorm, Dense, Dropout
from .losses import LOSS_KINDS

__all__ = ["CompiledStep", "compiled_step", "compiled_forward", "supported", "forward_supported", "SERIAL_BELOW",
           "CHUNKS", "CHUNKED", "CHUNK_MIN_ROWS",
           "INFER_ROWS", "inference_rows"]

# A step runs the serial twin of the kernel (every loop on the calling
# thread; ``kernels/cpu/_jit.serial``) when batch x multiply-adds per example
# is below this, else the kernel whose loops and GEMMs are split across
# numba's threads. Measured per step, float32, Adam, on the 2-core machine
# (serial vs parallel, us): [2, 20, 7, 5, 1] at batch 64 (14K MACs) 13 vs 26,
# at 1024 (225K) 121 vs 140; [64, 128, 64, 10] with batch norm at 128 (2.2M)
# 232 vs 250; [256, 256, 256, 10] at 32 (4.3M) 499 vs 1196, at 64 (8.6M) 849
# vs 619; [784, 128, 64, 10] at 64 (7.0M) 543 vs 459. Both give the same
# bits: every split depends on the shapes only.
SERIAL_BELOW = 5_000_000

# A data-parallel step (``kernels/cpu/step.py``: ``train_step``'s gparts)
# cuts the batch into CHUNKS chunks, one thread each, and sums their
# gradients: for networks whose GEMMs are too small to split well, when
# batch x multiply-adds per example lies in CHUNKED (and the batch has at
# least CHUNK_MIN_ROWS rows). Not with batch norm or dropout (they need the
# whole batch). The chunks depend on the shapes only: the same bits for any
# number of threads. Measurements in bench/NOTES.md.
CHUNKS = 2
CHUNKED = (1 << 17, SERIAL_BELOW)
CHUNK_MIN_ROWS = 32


def forward_supported(model):
    """Why compiled inference cannot run this model, or None if it can."""
    if resolve(model.backend) != "cpu":
        return "the compiled step is cpu only"
    for layer in model.layers:
        if not isinstance(layer, (Dense, Activation, Dropout, BatchNorm)):
            return f"layer {type(layer).__name__} is not compiled"
    return None


def supported(model, optimizer):
    """Why the compiled step cannot run this model, or None if it can."""
    why = forward_supported(model)
    if why:
        return why
    if optimizer.backend not in (None, "cpu") or resolve(optimizer.backend) != "cpu":
        return "the optimizer is not on the cpu backend"
    if not type(optimizer).compiles():
        return f"optimizer {type(optimizer).__name__} is not compiled"
    return None


class _Program:
    """A Sequential's layers as the tables the compiled step reads
    (``prog``/``fprog``, their columns named in ``kernels/codes.py``), with
    activation slots for ``max_batch`` rows."""

    def __init__(self, model, max_batch):
        offsets = {name: off for name, off, _ in model.parameters().layout}
        n = len(model.layers)
        self.prog = np.zeros((n, c.PROG_COLUMNS), np.int64)
        self.fprog = np.zeros((n, c.FPROG_COLUMNS), np.float64)
        acts_off = max_batch * model.in_features      # slot 0: the input batch
        stats_off = masks_off = 0
        self.bn_layers = []                            # (layer, its offset in stats and running)
        self.dropouts = []                             # (index, layer)
        features = widest = model.in_features
        for i, layer in enumerate(model.layers):
            out = layer.output_features(features)
            row, frow = self.prog[i], self.fprog[i]
            row[c.PROG_IN], row[c.PROG_OUT], row[c.PROG_ACTS_OFF] = features, out, acts_off
            acts_off += max_batch * out
            widest = max(widest, out)
            if isinstance(layer, Dense):
                row[c.PROG_KIND], row[c.PROG_ACT] = c.KIND_DENSE, c.ACTIVATIONS[layer.activation]
                row[c.PROG_HAS_BIAS] = layer.bias
                row[c.PROG_W_OFF] = offsets[f"{i}.W"]
                row[c.PROG_B_OFF] = offsets[f"{i}.b"] if layer.bias else 0
                frow[c.FPROG_ALPHA] = layer.alpha
            elif isinstance(layer, Activation):
                row[c.PROG_KIND], row[c.PROG_ACT] = c.KIND_ACT, c.ACTIVATIONS[layer.name]
                frow[c.FPROG_ALPHA] = layer.alpha
            elif isinstance(layer, Dropout):
                row[c.PROG_KIND], row[c.PROG_MASK_OFF] = c.KIND_DROPOUT, masks_off
                masks_off += (max_batch * out + 7) // 8
                frow[c.FPROG_KEEP_PROB] = layer.keep_prob
                self.dropouts.append((i, layer))
            else:
                row[c.PROG_KIND] = c.KIND_BATCHNORM
                row[c.PROG_GAMMA_OFF], row[c.PROG_BETA_OFF] = offsets[f"{i}.gamma"], offsets[f"{i}.beta"]
                row[c.PROG_STATS_OFF] = stats_off
                frow[c.FPROG_MOMENTUM], frow[c.FPROG_EPS] = layer.momentum, layer.eps
                self.bn_layers.append((layer, stats_off))
                stats_off += 2 * out
            features = out
        self.acts_size, self.widest = acts_off, widest
        self.stats_size, self.masks_size = max(1, stats_off), max(1, masks_off)
        # multiply-adds per example, for the serial/parallel choice (SERIAL_BELOW)
        dense = self.prog[:, c.PROG_KIND] == c.KIND_DENSE
        self.macs = int(np.sum(self.prog[dense, c.PROG_IN] * self.prog[dense, c.PROG_OUT]))

    def running(self):
        """The batch-norm layers' running statistics in one float64 buffer."""
        buf = np.zeros(self.stats_size)
        for layer, s0 in self.bn_layers:
            f = layer.features
            buf[s0:s0 + f] = layer.running_mean
            buf[s0 + f:s0 + 2 * f] = layer.running_var
        return buf


class CompiledStep:
    """One compiled call per training step for ``model`` and ``optimizer``."""

    def __init__(self, model, optimizer, max_batch):
        from .kernels.cpu import step as k
        why = supported(model, optimizer)
        if why:
            raise ValueError(why)
        self.k, self.model, self.opt = k, model, optimizer
        p = model.parameters()
        prog = _Program(model, max_batch)
        self.prog, self.fprog, self.macs, self.dropouts = prog.prog, prog.fprog, prog.macs, prog.dropouts
        n = len(model.layers)
        self.seeds = np.zeros(n, np.uint64)
        self.offsets = np.zeros(n, np.uint64)
        self.used = np.zeros(n, np.uint64)
        self.thresholds = np.zeros(n, np.uint64)
        for i, layer in self.dropouts:
            self.seeds[i] = layer.seed
            self.offsets[i] = layer.offset
            self.thresholds[i] = keep_threshold(layer.keep_prob)
        dt = p.dtype
        self.acts = _arrays.zeros(prog.acts_size, dt)
        self.dacts = _arrays.zeros(prog.acts_size, dt)
        self.dz = _arrays.zeros(max_batch * prog.widest, dt)
        self.loss = np.zeros(max_batch, dt)
        self.probs = _arrays.zeros(max_batch * model.out_features, dt)
        from .kernels.ref.regularization import CHUNK
        self.partials = np.zeros(max(1, (p.n_decay + CHUNK - 1) // CHUNK))
        self.gnorms = np.zeros(n)
        self.hits = np.zeros(1)                        # right predictions of the last step's forward
        self.stats = np.zeros(prog.stats_size)
        self.masks = np.zeros(prog.masks_size, np.uint8)
        self.running = prog.running()
        for layer, s0 in prog.bn_layers:              # the layers keep views into the flat buffer
            f = layer.features
            layer._hold(self.running[s0:s0 + f], self.running[s0 + f:s0 + 2 * f])
        self.bn_layers = prog.bn_layers
        self.max_batch = max_batch
        self.loss_kind = LOSS_KINDS[model.loss]
        self.hyper = np.zeros(c.HYPER_SLOTS)
        self.empty = np.zeros(0, dt)
        self.state1, self.state2 = optimizer.compiled_state(self.empty)
        no_labels, no_targets = np.zeros(0, np.intp), np.zeros((0, model.out_features), dt)
        self.targets = (None, no_targets) if self.loss_kind.labels else (no_labels, None)
        self.serial_below = SERIAL_BELOW
        self.chunked = CHUNKED
        # the data-parallel step's per-chunk gradients, allocated on its first
        # use (a network too large for it never pays for them)
        self.chunkable = not prog.bn_layers and all(layer.keep_prob >= 1.0 for _, layer in prog.dropouts)
        self.gparts = None
        self.whole = np.zeros((1, 0), dt)
        self.arange = np.arange(max_batch, dtype=np.intp)      # the rows of a batch given as such
        # ready: the dtypes by identity (a dtype that is equal but not the
        # same object takes the general path)
        self.dtype, self.labels_dtype = dt, np.dtype(np.intp)
        self.in_features, self.classes = model.in_features, model.out_features
        self.batch_check = np.zeros(1, np.int64)      # codes.BATCH_*

    def refresh(self):
        """Re-read what may have changed since the last call from another
        path (before a cached step serves another ``fit`` or ``train_step``
        call): the optimizer's state buffers, the dropout seeds, and the
        batch-norm statistics of a layer that no longer holds this step's
        views."""
        self.state1, self.state2 = self.opt.compiled_state(self.empty)
        for i, layer in self.dropouts:
            self.seeds[i] = layer.seed
        for layer, s0 in self.bn_layers:
            if layer.running_mean.base is not self.running:      # another step took the layer's statistics
                f = layer.features
                mean, var = self.running[s0:s0 + f], self.running[s0 + f:s0 + 2 * f]
                mean[:], var[:] = layer.running_mean, layer.running_var
                layer._hold(mean, var)

    def ready(self, xb, yb):
        """Whether ``(xb, yb)`` is a training batch in the form the step
        reads as it is: plain, writeable, C-contiguous arrays of the model's
        dtype with 1 to ``max_batch`` rows, ``yb`` intp labels ``(rows,)`` or
        targets ``(rows, out)``. Their values are not looked at: the step
        tests them itself when called with ``check=True``. Otherwise the
        caller's general path (``Sequential._x`` and ``_y``) converts them,
        or raises the error that names what is wrong."""
        if type(xb) is not np.ndarray or type(yb) is not np.ndarray:
            return False
        shape, fx, fy = xb.shape, xb.flags, yb.flags
        if not (xb.dtype is self.dtype and len(shape) == 2 and shape[1] == self.in_features
                and 0 < shape[0] <= self.max_batch and fx.c_contiguous and fx.writeable
                and fy.c_contiguous and fy.writeable):
            return False
        if self.targets[0] is None:                  # labels
            return yb.dtype is self.labels_dtype and yb.shape == (shape[0],)
        return yb.dtype is self.dtype and yb.shape == (shape[0], self.classes)

    def __call__(self, xb, yb, rows=None, check=False):
        """One step on a validated batch (``xb`` in the model's dtype, ``yb``
        as ``Sequential._y`` makes it); returns the cost. With ``rows`` (intp
        indices, each in ``[0, len(xb))``) the batch is ``xb[rows]`` and
        ``yb`` holds its targets already gathered. With ``check``, a batch
        that is only ``ready`` (its values unchecked) is tested by the step
        itself: a bad value returns None with nothing changed."""
        step, args = self.call_args(xb, yb, rows, check)
        cost = step(*args)
        if self.batch_check[0] == c.BATCH_BAD:
            self.opt._t -= 1                          # the step did not happen
            return None
        for i, layer in self.dropouts:
            layer.offset = int(self.offsets[i])
        return cost

    def call_args(self, xb, yb, rows=None, check=False):
        """The compiled kernel of this step and its arguments, after the
        bookkeeping of a step (the optimizer's step count, the
        hyperparameters); ``__call__`` is ``kernel(*args)`` then the dropout
        layers' stream offsets. ``check``: the kernel tests the batch first
        (``codes.BATCH_CHECK``). ``bench/bench_step.py`` times the bare call
        with them to measure what ``fit`` adds around it."""
        opt, model, p = self.opt, self.model, self.model.parameters()
        batch = xb.shape[0] if rows is None else rows.shape[0]
        if batch > self.max_batch:
            raise ValueError(f"batch of {batch} exceeds the compiled step's {self.max_batch}")
        if batch != yb.shape[0]:
            raise ValueError(f"batch of {batch} rows with {yb.shape[0]} targets")
        if self.bn_layers:
            check_training_batch(batch)
        if rows is None:
            rows = self.arange[:batch]
        for i, layer in self.dropouts:                # another path may have moved the stream on
            self.offsets[i] = layer.offset
        self.batch_check[0] = c.BATCH_CHECK if check else c.BATCH_UNCHECKED
        opt._t += 1                                   # counted without the public check, per step
        opt.compiled_hyper(self.hyper)
        labels, targets = self.targets
        work = batch * self.macs
        if self.chunkable and batch >= CHUNK_MIN_ROWS and self.chunked[0] <= work < self.chunked[1]:
            if self.gparts is None:
                self.gparts = np.zeros((CHUNKS, p.data.shape[0]), p.dtype)
            step, parts = self.k.train_step, self.gparts
        else:
            step = self.k.train_step_serial if work < self.serial_below else self.k.train_step
            parts = self.whole
        return step, (
            p.data, p.grad, self.state1, self.state2, self.hyper, opt.compiled_code,
            self.acts, self.dacts, self.dz, self.loss, self.probs, self.partials, self.gnorms, self.hits,
            self.stats, self.running, self.seeds, self.offsets, self.used, self.thresholds, self.masks,
            self.prog, self.fprog, xb, rows, yb if labels is None else labels, yb if targets is None else targets,
            self.loss_kind.code, model.l2, model.l1, p.n_decay, parts, self.batch_check)


def compiled_step(model, optimizer, max_batch, quiet=False):
    """The model's kept ``CompiledStep`` for ``optimizer``, refreshed, if it
    was built for at least ``max_batch`` rows; else a new one, kept in its
    place. ``fit`` called one epoch at a time and ``train_step`` then pay for
    the set-up once. (The layers' configuration cannot change under a kept
    step: ``Layer.fixed``.) With ``quiet``, None where the compiled step
    cannot run them, instead of the ``ValueError`` that says why."""
    kept = model.__dict__.get("_compiled_step")
    if kept is not None and kept.opt is optimizer and kept.max_batch >= max_batch:
        kept.refresh()
        return kept
    if quiet and supported(model, optimizer) is not None:
        return None
    step = CompiledStep(model, optimizer, max_batch)
    model._compiled_step = step
    return step


# Rows per block of compiled inference: the largest power of two (at least
# 64, at most INFER_ROWS) that keeps a block's activations within
# INFER_BLOCK_BYTES, so that a power-of-two batch splits into blocks evenly
# over the threads; the blocks run in one call, or on a thread each once rows
# x multiply-adds per example reach INFER_THREADED (below it, handing blocks
# to the pool's threads costs more than running them here; bench/NOTES.md).
INFER_ROWS = 1024
INFER_BLOCK_BYTES = 8 << 20
INFER_THREADED = 1 << 24


def inference_rows(model, itemsize):
    """Rows per inference block for ``model`` in a dtype of ``itemsize``
    bytes: a function of the model's shape only, so every row's result is
    the same for any number of rows around it and any thread count."""
    features = per_row = model.in_features
    for layer in model.layers:
        features = layer.output_features(features)
        per_row += features
    rows = 64
    while rows * 2 <= INFER_ROWS and rows * 2 * per_row * itemsize <= INFER_BLOCK_BYTES:
        rows *= 2
    return rows


def compiled_forward(model, x, y=None):
    """Inference-mode logits of ``x`` (validated, the model's dtype), and with
    ``y`` (as ``Sequential._y`` makes it) each example's data loss.

    Blocks of ``inference_rows`` rows (``kernels/cpu/step.forward_eval``: every
    layer's serial kernel, the same code the training step of a small
    network runs, so nothing compiles twice). Below ``INFER_THREADED`` one
    compiled call runs them all; above it they are spread over
    ``numba.get_num_threads()`` Python threads (the kernels release the
    GIL), a call per block. Each row's result depends on the rows of its
    block only, and the blocks depend on the shapes only: the same bits for
    any thread count.
    """
    import numba

    from .kernels.cpu import step as k
    m = x.shape[0]
    rows = min(m, inference_rows(model, x.dtype.itemsize))
    prog = _inference_program(model, rows)
    running = prog.running()
    params = model.parameters().data
    logits = _arrays.empty((m, model.out_features), x.dtype)
    loss = np.empty(m if y is not None else 0, x.dtype)
    kind = LOSS_KINDS[model.loss]
    code = c.LOSS_NONE if y is None else kind.code
    labels = y if y is not None and kind.labels else np.zeros(0, np.intp)
    targets = y if y is not None and not kind.labels else np.zeros((0, model.out_features), x.dtype)
    with_loss = code != c.LOSS_NONE

    def run(r0, r1):
        acts = _arrays.empty(prog.acts_size, x.dtype)
        work = _arrays.empty(2 * rows * model.out_features, x.dtype)        # the loss's gradient and probabilities
        k.forward_eval(logits[r0:r1], loss[r0:r1] if with_loss else loss, work[:work.size // 2],
                       work[work.size // 2:], acts, params, running, prog.prog, prog.fprog, x[r0:r1],
                       labels[r0:r1] if with_loss and kind.labels else labels,
                       targets[r0:r1] if with_loss and not kind.labels else targets, code, rows)

    starts = range(0, m, rows)
    threads = min(len(starts), numba.get_num_threads()) if m * prog.macs >= INFER_THREADED else 1
    if threads <= 1:
        run(0, m)                          # every block in one call: a call per block cost more than a small block
    else:
        list(_pool(threads).map(lambda r0: run(r0, min(m, r0 + rows)), starts))
    return logits, (loss if y is not None else None)


def _inference_program(model, rows):
    """The model's ``_Program`` for inference blocks of ``rows`` rows, kept
    on the model (the last one asked for): the tables depend on the layers'
    configuration, which is fixed (``Layer.fixed``), and on ``rows``."""
    kept = model.__dict__.get("_inference_program")
    if kept is None or kept[0] != rows:
        kept = model._inference_program = (rows, _Program(model, rows))
    return kept[1]


_POOLS = {}
_POOLS_LOCK = threading.Lock()


def _pool(threads):
    """A thread pool kept for compiled inference: starting one per call cost
    more than a small evaluation itself (``fit``'s validation pass every
    epoch). Its threads only run blocks of one call at a time each; calls
    from several threads share it."""
    key = (threads, os.getpid())       # a forked child has the pool but not its threads: it makes its own
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            import concurrent.futures as cf
            pool = _POOLS[key] = cf.ThreadPoolExecutor(threads, thread_name_prefix="fastnn-infer")
        return pool
