"""The GPU training step as a launch plan, built once and replayed per batch.

``DeviceStep`` is the trainer of ``fit`` (built per call) and of
``train_step`` (kept per batch size) for a model on the GPU (the cuda
backend) made of Dense and BatchNorm layers, each optionally followed by an
Activation (after a linear Dense, or a BatchNorm) and a Dropout, which the
plan fuses into it; any loss, any compiled optimizer, and the model's L2
and L1 terms (``supported`` says why not otherwise; ``DeviceBook`` then
steps layer by layer). Per batch shape (the full batches, and the last
partial one) it allocates every workspace once and builds a
``kernels/cuda/_plan.Plan``:

====================  ============================================================
launch                what it does
====================  ============================================================
gather_batch          the batch's rows of X and y, by the epoch's order (1)
per Dense layer       GEMM, then bias + activation (+ dropout, its mask kept) (1)
per BatchNorm layer   statistics and normalisation (1), then activation (+ dropout) (1)
loss                  per-example losses and d(logits), written (1)
step_book             the batch's cost and right predictions; the counters move (1)
per Dense layer       dz = dout (* dropout) * f'(a), db = column sums (1); dW and
                      dx GEMMs, written: no gradient buffer is zeroed
per BatchNorm layer   dout (* dropout) * f'(a) (1), then dx, dgamma, dbeta (1)
segment_norms         each layer's ||dW||, summed over the epoch (1); with L2/L1,
                      their gradient terms and sums for the cost first, in it
update                the optimizer over the flat buffer (1)
====================  ============================================================

That is 2 launches per Dense layer plus 5, and 3 GEMMs per layer less one.
What changes between steps lives on the device (``codes.COUNTER_*``: the
batch's index and the optimizer's t; each dropout's Philox offset) and is
advanced by ``step_book`` itself, so one plan serves every step and can be
captured into a CUDA graph (with CuPy; ``FASTNN_CUDA_GRAPH=0`` turns that
off). The host keeps mirrors (``optimizer.t``, ``Dropout.offset``) in step,
so checkpoints, ``state_dict`` and a later ``fit`` see what the layer path
would have left. Hyperparameters are re-uploaded only when they change (a
schedule's lr).
"""
import numpy as np

from . import _arrays
from ._backend import kernels
from .kernels import codes
from .kernels.philox import blocks as philox_blocks
from .kernels.philox import keep_threshold
from .layers import Activation, BatchNorm, Dense, Dropout
from .losses import LOSS_KINDS

__all__ = ["DeviceStep", "supported", "for_train_step"]


class _Unit:
    """One Dense or BatchNorm layer with what the plan fuses into it: the
    activation (a Dense layer's own, or an Activation layer after a linear
    Dense or after a BatchNorm) and a Dropout after that."""

    def __init__(self, layer, act, alpha, drop):
        self.layer, self.act, self.alpha, self.drop = layer, act, alpha, drop
        self.features = layer.out_features if isinstance(layer, Dense) else layer.features


def units(layers):
    """(units, None), or (None, why) where the plan cannot fuse the layers."""
    out, i, n = [], 0, len(layers)
    while i < n:
        layer = layers[i]
        if not isinstance(layer, (Dense, BatchNorm)):
            return None, (f"layer {i} ({type(layer).__name__}) does not follow a Dense or BatchNorm layer that "
                          "it could be fused into")
        act, alpha = (layer.activation, layer.alpha) if isinstance(layer, Dense) else ("linear", 0.01)
        i += 1
        if i < n and isinstance(layers[i], Activation) and act == "linear":
            act, alpha = layers[i].name, layers[i].alpha
            i += 1
        drop = None
        if i < n and isinstance(layers[i], Dropout):
            drop = layers[i] if layers[i].keep_prob < 1.0 else None       # keep_prob 1: the identity
            i += 1
        out.append(_Unit(layer, act, alpha, drop))
    return out, None


def supported(model, optimizer):
    """Why ``DeviceStep`` cannot train this model, or None if it can."""
    if not model.device:
        return "the model is not on the GPU"
    if not type(optimizer).compiles():
        return f"optimizer {type(optimizer).__name__} has no compiled update"
    return units(model.layers)[1]


class _Shape:
    """The workspaces and launch plan of one batch size."""

    def __init__(self, owner, rows):
        from .kernels.cuda import _launch, _plan, _reduce
        k = owner.k
        d = owner.dtype
        like = owner.like
        self.rows = rows

        def buf(*shape, dtype=d):
            return _arrays.empty(shape, dtype, like=like)

        self.xb = buf(rows, owner.x.shape[1])
        self.yb = buf(rows, owner.y2.shape[1], dtype=owner.y2.dtype)
        self.blocks = owner.blocks[rows]
        plan = _plan.Plan(owner.streams)
        engine = owner.engine
        plan.launch(k.data.gather_batch_kernel, _launch.grid_1d(rows * (self.xb.shape[1] + self.yb.shape[1])),
                    self.xb, self.yb, owner.x, owner.y2, owner.order, owner.counters, np.int64(owner.batch_size))
        saved = []                   # per unit: (its input, its activation a, mask, dropout scale, BN statistics)
        h = self.xb
        for u in owner.units:
            layer = u.layer
            a = buf(rows, u.features)
            act, alpha = np.int64(codes.ACTIVATIONS[u.act]), d.type(u.alpha)
            mask, scale, out, fused = owner.no_mask, d.type(1), a, None
            if u.drop is not None:
                out = buf(rows, u.features)
                mask = buf((rows * u.features + 7) // 8, dtype=np.uint8)
                scale = d.type(1.0 / u.drop.keep_prob)
                fused = (out, mask, owner.offsets, np.int64(owner.dropped.index(u)), np.uint64(u.drop.seed),
                         keep_threshold(u.drop.keep_prob), scale)
            stats = None
            if isinstance(layer, Dense):
                k.dense.plan_forward(plan, engine, a, h, layer.params["W"], layer.params.get("b", owner.empty),
                                     act, alpha, fused)
            else:
                stats = (buf(u.features, dtype=np.float64), buf(u.features, dtype=np.float64))
                plan.launch(k.batchnorm.batchnorm_forward_train_kernel, _reduce.column_grid(u.features), a,
                            *stats, layer.running_mean, layer.running_var, h, layer.params["gamma"],
                            layer.params["beta"], np.float64(layer.momentum), np.float64(layer.eps))
                if fused is not None:
                    plan.launch(k.dense.bias_act_dropout_kernel, _launch.grid_1d((a.size + 7) // 8),
                                a.reshape(a.size), out.reshape(out.size), mask, owner.empty, act, alpha,
                                *fused[2:])
                elif u.act != "linear":
                    plan.launch(k.dense.bias_act_kernel, _launch.grid_1d(a.size), a, owner.empty, act, alpha)
            saved.append((h, a, mask, scale, stats))
            h = out
        logits = h
        self.per_example = buf(rows)
        dlogits = buf(*logits.shape)
        loss = owner.loss
        labels, targets = owner.no_labels, owner.no_targets
        if loss.labels:
            labels = self.yb.reshape(rows)
            self.probs = buf(*logits.shape)
            plan.launch(k.losses.softmax_cross_entropy_kernel, _reduce.row_grid(rows),
                        self.per_example, dlogits, self.probs, logits, labels, False)
        else:
            targets = self.yb
            kernel = {"binary_cross_entropy": k.losses.binary_cross_entropy_kernel,
                      "mean_squared_error": k.losses.mean_squared_error_kernel}[loss.name]
            plan.launch(kernel, _launch.grid_1d(rows), self.per_example, dlogits, logits, targets, False)
        hit_kind = (k.metrics.HITS_NONE if not loss.classifier else
                    k.metrics.HITS_ARGMAX if loss.labels else k.metrics.HITS_THRESHOLD)
        plan.launch(k.metrics.step_book_kernel, (1, _reduce.RED), owner.costs, owner.hits, owner.counters,
                    owner.offsets, self.blocks, self.per_example, logits, labels, targets, np.int64(hit_kind))
        dout = dlogits
        for i in range(len(owner.units) - 1, -1, -1):
            u = owner.units[i]
            layer = u.layer
            x_in, a, mask, scale, stats = saved[i]
            act, alpha = np.int64(codes.ACTIVATIONS[u.act]), d.type(u.alpha)
            # dz written over dout in place: each element is read, then written
            if isinstance(layer, Dense):
                dx = buf(rows, layer.in_features) if i > 0 else None
                k.dense.plan_backward(plan, engine, dx, layer.grads["W"], layer.grads.get("b", owner.empty), dout,
                                      dout, x_in, layer.params["W"], a, mask, scale, act, alpha)
            else:
                if u.drop is not None or u.act != "linear":
                    plan.launch(k.dense.dz_db_kernel, _reduce.column_grid(u.features), dout, owner.empty, dout,
                                a, mask, scale, act, alpha, False)
                dx = buf(rows, layer.features)
                plan.launch(k.batchnorm.batchnorm_backward_kernel, _reduce.column_grid(u.features), dx,
                            layer.grads["gamma"], layer.grads["beta"], dout, x_in, *stats, layer.params["gamma"],
                            False)
            dout = dx
        p = owner.params
        if owner.pen is None:
            plan.launch(k.metrics.segment_norms_kernel, (owner.starts.size, _reduce.RED), owner.norms, p.grad,
                        owner.starts, owner.stops)
        else:                        # the penalties' gradients first: the norms include them, as layer by layer
            l2, l1 = owner.model.l2, owner.model.l1
            plan.launch(k.regularization.penalty_norms_kernel, (owner.starts.size, _reduce.RED), owner.norms,
                        owner.pen, p.grad, p.data, owner.starts, owner.stops, owner.counters,
                        d.type(l2 / rows), d.type(0.5 * l1 / rows))
        s1, s2 = owner.state
        plan.launch(k.optim.update_kernel, _launch.grid_1d(p.data.size), p.data, p.grad, s1, s2, owner.hyper,
                    owner.counters, np.int64(owner.optimizer.compiled_code), np.int64(p.n_decay))
        self.plan = plan.finish()


class DeviceStep:
    """``fit``'s trainer for a supported model on the GPU (module docstring).

    Answers the trainer protocol of ``fastnn.training``: ``epoch(perm)``,
    ``step(start, stop)`` (the step's figures stay on the device: returns
    ``(None, None, None)``) and ``read()`` (the epoch's batch costs, summed
    gradient norms and right predictions, read once).
    """

    def __init__(self, model, optimizer, x, y, batch_size):
        self.k = k = kernels("cuda")
        from .kernels.cuda import _plan
        self.model, self.optimizer = model, optimizer
        self.params = p = model.parameters()
        self.dtype = np.dtype(p.dtype)
        self.like = p.data
        self.loss = LOSS_KINDS[model.loss]
        self.x = _arrays.as_device(x)
        rows = y.shape[0]
        self.y_src = _arrays.as_device(y)
        self.y2 = self.y_src.reshape(rows, y.size // rows)
        self.owned = (False, False)      # whether x and y are fastnn's own buffers (``for_fit``)
        m = x.shape[0]
        self.batch_size = min(batch_size, m)
        self.n_batches = (m + self.batch_size - 1) // self.batch_size
        layers = model.layers
        self.units, why = units(layers)
        if why:
            raise ValueError(why)
        self.dropped = [u for u in self.units if u.drop is not None]     # the units with a fused dropout
        if any(u.drop.seed is None for u in self.dropped):
            raise RuntimeError("Dropout has no seed: add it to a Sequential (which assigns one) or pass seed=")
        self.seeds = [u.drop.seed for u in self.dropped]                  # launch arguments of the plans
        self.penalties = (model.l2, model.l1)
        offsets = {name: (off, int(np.prod(shp))) for name, off, shp in p.layout}
        seg = [offsets[f"{i}.W"] for i, layer in enumerate(layers) if isinstance(layer, Dense)]
        # Two device buffers, so that an epoch costs one upload and one read.
        # ints (int64): the counters, the weight segments, the dropouts'
        # offsets and their Philox blocks per step of each batch size, and the
        # epoch's order, uploaded whole by epoch(). book (float64): what
        # read() reads (batch costs, summed norms, right predictions, and the
        # L2/L1 sums per batch and segment), then the hyperparameters.
        S, D = len(seg), len(self.dropped)
        self._last = m % self.batch_size
        ints = [("counters", codes.COUNTER_SLOTS), ("starts", S), ("stops", S), ("offsets", D),
                ("blocks_full", D), ("blocks_last", D), ("order", m)]
        self._ints = np.zeros(sum(n for _, n in ints), np.int64)
        at = 0
        self._int_slots = {}
        for name, n in ints:
            self._int_slots[name] = slice(at, at + n)
            at += n
        host = self._ints_view
        host("starts")[:] = [o for o, _ in seg]
        host("stops")[:] = [o + n for o, n in seg]
        for name, rows in (("blocks_full", self.batch_size), ("blocks_last", self._last)):
            host(name)[:] = [philox_blocks(rows * u.features) for u in self.dropped]
        host("order")[:] = np.arange(m)
        self.ints = _arrays.empty(self._ints.shape, np.int64, like=self.like)
        dev = self._int_slots
        self.counters, self.starts, self.stops = (self.ints[dev[n]] for n in ("counters", "starts", "stops"))
        self.offsets = self.ints[dev["offsets"]].view(np.uint64)
        self.blocks = {self.batch_size: self.ints[dev["blocks_full"]].view(np.uint64),
                       self._last: self.ints[dev["blocks_last"]].view(np.uint64)}
        self.order = self.ints[dev["order"]]
        pen = self.n_batches * S * 2 if model.l1 or model.l2 else 0
        self.book = _arrays.zeros(self.n_batches + S + 1 + pen + codes.HYPER_SLOTS, np.float64, like=self.like)
        n_read = self.n_batches + S + 1 + pen
        self._read = self.book[:n_read]
        self.costs = self.book[:self.n_batches]
        self.norms = self.book[self.n_batches:self.n_batches + S]
        self.hits = self.book[self.n_batches + S:self.n_batches + S + 1]
        # per batch and weight segment, the sums of w^2 and |w| of the L2 and L1 terms of the cost
        self.pen = (self.book[self.n_batches + S + 1:n_read].reshape(self.n_batches, S, 2) if pen else None)
        self.hyper = self.book[n_read:]
        self._hyper_host = self._hyper_now()
        self.streams = _plan.capture_stream() if _plan.graphs_wanted() else None
        self._upload(self.hyper, self._hyper_host)
        self.empty = _arrays.empty(0, self.dtype, like=self.like)
        self.no_mask = k.dense.no_mask()
        self.no_labels = _arrays.empty(0, np.intp, like=self.like)
        self.no_targets = _arrays.empty((0, 0), self.dtype, like=self.like)
        state = optimizer.compiled_state(self.empty)
        self.state = tuple(s if s.size else p.data for s in state)     # unused slots: any array of the dtype
        self.engine = k.dense.gemm_engine()
        self._shapes = {}
        self.b = 0
        self._started = False        # the device's counters and order hold nothing before epoch()

    def binds(self, model, optimizer, x, y, batch_size):
        """Whether this step's plans hold for a call with these arguments (the
        data's values aside): what they bound as launch arguments is the same."""
        return (optimizer is self.optimizer and min(batch_size, x.shape[0]) == self.batch_size
                and x.shape == self.x.shape and x.dtype == self.x.dtype
                and y.shape == self.y_src.shape and y.dtype == self.y_src.dtype
                and (model.l2, model.l1) == self.penalties
                and all(u.drop.seed == seed for u, seed in zip(self.dropped, self.seeds)))

    def _ints_view(self, name):
        return self._ints[self._int_slots[name]]

    def _hyper_now(self):
        h = np.zeros(codes.HYPER_SLOTS, np.float64)
        self.optimizer.compiled_hyper(h)
        h[codes.HYPER_BC1] = h[codes.HYPER_BC2] = 0.0       # computed on the device from t
        return h

    def _upload(self, dev, host):
        """dev[...] = host, ordered with the plans: on the legacy default
        stream, as the plans are; or, for a captured graph on its own
        stream, between two waits for the whole device."""
        if self.streams is None:
            _arrays.copy_into(dev, host)
            return
        from numba import cuda
        cuda.synchronize()
        _arrays.copy_into(dev, host)
        cuda.synchronize()

    def plan(self, rows):
        """The launch plan for batches of ``rows`` (built on first use)."""
        shape = self._shapes.get(rows)
        if shape is None:
            shape = self._shapes[rows] = _Shape(self, rows)
        return shape.plan

    def epoch(self, perm):
        """Start an epoch: the counters (its first batch, the optimizer's t),
        the dropouts' offsets and the epoch's order of the examples, in one
        upload."""
        for u in self.dropped:
            if u.drop.offset + self.n_batches * philox_blocks(self.batch_size * u.features) > 2 ** 64:
                raise ValueError("a Dropout's offset would overflow the 64-bit counter this epoch; start a new seed")
        host = self._ints_view
        host("counters")[:] = 0
        host("counters")[codes.COUNTER_T] = self.optimizer.t
        host("offsets")[:] = np.array([u.drop.offset for u in self.dropped], np.uint64).view(np.int64)
        host("order")[:] = np.arange(self.x.shape[0]) if perm is None else perm
        self._upload(self.ints, self._ints)
        self.b = 0
        self._started = True

    def step(self, start, stop):
        if not self._started:
            raise RuntimeError("DeviceStep.step before epoch(): the device has no order of the examples yet")
        opt = self.optimizer
        rows = stop - start
        opt._t += 1
        hyper = self._hyper_now()
        if not np.array_equal(hyper, self._hyper_host):    # a schedule changed lr: the one upload
            self._upload(self.hyper, hyper)
            self._hyper_host = hyper
        self.plan(rows).replay()
        for u in self.dropped:
            u.drop.offset += philox_blocks(rows * u.features)
        self.b += 1
        return None, None, None

    def read(self):
        """(costs, norms, right predictions) of the epoch on the host; the
        buffers and the batch counter restart at zero."""
        for shape in self._shapes.values():
            shape.plan.synchronize()
        book = self._read.copy_to_host()
        _arrays.fill(self._read, 0)
        nb, S = self.n_batches, self.starts.size
        costs, norms, hits = book[:nb], book[nb:nb + S], book[nb + S]
        n, self.b = self.b, 0
        if self.pen is not None:                  # the batches' L2 and L1 terms, times their sizes
            pen = book[nb + S + 1:].reshape(nb, S, 2)[:n]
            costs[:n] += self.model.l2 / 2 * pen[:, :, 0].sum(axis=1) + self.model.l1 / 2 * pen[:, :, 1].sum(axis=1)
        return costs[:n], norms, float(hits)

    def train_step(self, x, y):
        """``Sequential.train_step`` on the device: the batch copied into this
        step's own buffers (built for exactly its rows), one epoch of one
        batch (the counters, offsets and t re-read from the host, so ``fit``
        or the layer path may run in between), and its cost read back."""
        _arrays.copy_into(self.x, x)
        _arrays.copy_into(self.y_src, y)
        self.epoch(None)
        self.step(0, self.batch_size)
        costs, _, _ = self.read()
        return float(costs[0]) / self.batch_size


def for_train_step(model, optimizer, x, y):
    """The model's kept ``DeviceStep`` for ``train_step`` on batches of
    ``x``'s rows with ``optimizer`` (built on first use, or when either
    changes), or None where the plan cannot run the model."""
    kept = model.__dict__.get("_device_train_step")
    if kept is not None and kept.binds(model, optimizer, x, y, x.shape[0]):
        return kept
    if supported(model, optimizer) is not None:
        return None
    like = model.parameters().data
    xs = _arrays.empty(x.shape, x.dtype, like=like)
    ys = _arrays.empty(y.shape, y.dtype, like=like)
    step = DeviceStep(model, optimizer, xs, ys, x.shape[0])
    model._device_train_step = step
    return step


def for_fit(model, optimizer, x, y, batch_size, owned):
    """The ``DeviceStep`` for a ``fit`` call: the model's kept one when
    nothing it bound has changed (optimizer, batch size, data shapes,
    penalties, dropout seeds), else a new one, kept in its place. A kept step
    takes the call's data as they are when they are the arrays it bound, or
    copied into its buffers when those are fastnn's own uploads of host data
    (``owned``); a user's device arrays are bound in place and never written,
    so a step bound to them serves only calls with those same arrays. A
    tuner's or a callback's ``fit(epochs=1)`` then pays for the plan once."""
    kept = model.__dict__.get("_device_fit_step")
    if kept is not None and kept.binds(model, optimizer, x, y, batch_size):
        if kept.x is not x or kept.y_src is not y:
            if not all(kept.owned):
                kept = None
            else:
                _arrays.copy_into(kept.x, x)
                _arrays.copy_into(kept.y_src, y)
        if kept is not None:
            return kept
    step = DeviceStep(model, optimizer, x, y, batch_size)
    step.owned = owned
    model._device_fit_step = step
    return step
