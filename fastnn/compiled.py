"""Host side of the compiled training step (``fastnn/kernels/cpu/step.py``).

``CompiledStep(model, optimizer)`` packs a Sequential's layers into the
integer program the kernel reads, points batch-norm running statistics at
one flat float64 buffer (the layers keep views, so saving and inference see
the same numbers), allocates the workspaces for the largest batch, and calls
the kernel once per step. ``Sequential.fit`` uses it automatically on the cpu
backend when every layer and the optimizer are supported.
"""
import numpy as np

from ._backend import resolve
from .kernels.philox import keep_threshold
from .layers import Activation, BatchNorm, Dense, Dropout
from .optim import SGD, Adam, AdamW, Momentum, RMSprop

_LOSSES = {"softmax_cross_entropy": 0, "binary_cross_entropy": 1, "mean_squared_error": 2}

# Run a step on one thread when batch x widest layer is below this: the
# course's [2, 20, 7, 5, 1] at batch 64 (1,280) pays more for two threads than
# it gains; 784-128-64-10 at batch 64 (50,176) gains (714 -> 525 us per step
# on the 2-core machine, with the GEMMs split by columns).
SERIAL_BELOW = 1 << 13


def supported(model, optimizer):
    """Why the compiled step cannot run this model, or None if it can."""
    if resolve(model.backend) != "cpu":
        return "the compiled step is cpu only"
    if optimizer.backend not in (None, "cpu") or resolve(optimizer.backend) != "cpu":
        return "the optimizer is not on the cpu backend"
    if type(optimizer) not in (SGD, Momentum, RMSprop, Adam, AdamW):
        return f"optimizer {type(optimizer).__name__} is not compiled"
    for layer in model.layers:
        if not isinstance(layer, (Dense, Activation, Dropout, BatchNorm)):
            return f"layer {type(layer).__name__} is not compiled"
    return None


class CompiledStep:
    """One compiled call per training step for ``model`` and ``optimizer``."""

    def __init__(self, model, optimizer, max_batch):
        from .kernels.cpu import step as k
        why = supported(model, optimizer)
        if why:
            raise ValueError(why)
        self.k, self.model, self.opt = k, model, optimizer
        p = model.parameters()
        offsets = {name: off for name, off, _ in p.layout}
        layers = model.layers
        n = len(layers)
        self.prog = np.zeros((n, 11), np.int64)
        self.fprog = np.zeros((n, 4), np.float64)
        self.seeds = np.zeros(n, np.uint64)
        self.offsets = np.zeros(n, np.uint64)
        self.used = np.zeros(n, np.uint64)
        self.thresholds = np.zeros(n, np.uint64)
        acts_off = max_batch * model.in_features      # slot 0: the input batch
        stats_off = 0
        masks_off = 0
        bn_layers = []
        features = model.in_features
        widest = features
        for i, layer in enumerate(layers):
            out = layer.output_features(features)
            row = self.prog[i]
            row[3], row[4], row[9] = features, out, acts_off
            acts_off += max_batch * out
            widest = max(widest, out)
            if isinstance(layer, Dense):
                row[0], row[1], row[2] = k.DENSE, _act_code(layer.activation), layer.bias
                row[5] = offsets[f"{i}.W"]
                row[6] = offsets[f"{i}.b"] if layer.bias else 0
                self.fprog[i, 0] = layer.alpha
            elif isinstance(layer, Activation):
                row[0], row[1] = k.ACT, _act_code(layer.name)
                self.fprog[i, 0] = layer.alpha
            elif isinstance(layer, Dropout):
                row[0], row[10] = k.DROPOUT, masks_off
                masks_off += (max_batch * out + 7) // 8
                self.fprog[i, 1] = layer.keep_prob
                self.seeds[i] = layer.seed
                self.offsets[i] = layer.offset
                self.thresholds[i] = keep_threshold(layer.keep_prob)
            else:
                row[0] = k.BATCHNORM
                row[6], row[7], row[8] = offsets[f"{i}.gamma"], offsets[f"{i}.beta"], stats_off
                self.fprog[i, 2], self.fprog[i, 3] = layer.momentum, layer.eps
                bn_layers.append((layer, stats_off))
                stats_off += 2 * out
            features = out
        dt = p.dtype
        self.acts = np.zeros(acts_off, dt)
        self.dacts = np.zeros(acts_off, dt)
        self.dz = np.zeros(max_batch * widest, dt)
        self.loss = np.zeros(max_batch, dt)
        self.probs = np.zeros(max_batch * model.out_features, dt)
        from .kernels.ref.regularization import CHUNK
        self.partials = np.zeros(max(1, (p.n_decay + CHUNK - 1) // CHUNK))
        self.gnorms = np.zeros(n)
        self.stats = np.zeros(max(1, stats_off))
        self.masks = np.zeros(max(1, masks_off), np.uint8)
        self.running = np.zeros(max(1, stats_off))
        for layer, s0 in bn_layers:                   # the layers keep views into the flat buffer
            f = layer.features
            self.running[s0:s0 + f] = layer.running_mean
            self.running[s0 + f:s0 + 2 * f] = layer.running_var
            layer.running_mean = self.running[s0:s0 + f]
            layer.running_var = self.running[s0 + f:s0 + 2 * f]
        self.max_batch = max_batch
        self.loss_code = _LOSSES[model.loss]
        self.opt_code = {SGD: k.OPT_SGD, Momentum: k.OPT_MOMENTUM, RMSprop: k.OPT_RMSPROP}.get(
            type(optimizer), k.OPT_ADAM)
        self.hyper = np.zeros(6)
        s = optimizer.state
        empty = np.zeros(0, dt)
        self.state1 = s.get("m", s.get("v", s.get("s", empty)))
        self.state2 = s["v"] if "m" in s else empty
        self.no_labels = np.zeros(0, np.intp)
        self.no_targets = np.zeros((0, model.out_features), dt)
        self.dropouts = [(i, layer) for i, layer in enumerate(layers) if isinstance(layer, Dropout)]
        # Each kernel's parallel region wakes the thread pool; for small layers
        # that costs more than it saves (course nets: 99 us per step on 2
        # threads, 31 us on 1). The choice depends on the sizes only, and every
        # kernel gives identical results for any thread count.
        self.widest = widest
        self.serial_below = SERIAL_BELOW

    def __call__(self, xb, yb):
        """One step on a validated batch (``xb`` in the model's dtype, ``yb``
        as ``Sequential._y`` makes it); returns the cost."""
        opt, model, p = self.opt, self.model, self.model.parameters()
        if xb.shape[0] > self.max_batch:
            raise ValueError(f"batch of {xb.shape[0]} exceeds the compiled step's {self.max_batch}")
        for i, layer in self.dropouts:                # another path may have moved the stream on
            self.offsets[i] = layer.offset
        opt.t += 1
        h = self.hyper
        h[0] = opt.lr
        h[4] = opt.weight_decay
        if isinstance(opt, Adam):
            h[1], h[2] = opt.betas
            h[3] = opt.eps
            h[5] = 1.0 if opt.decoupled else 0.0
        elif isinstance(opt, (Momentum, RMSprop)):
            h[1] = opt.beta
            h[3] = getattr(opt, "eps", 0.0)
        sce = self.loss_code == 0
        serial = xb.shape[0] * self.widest < self.serial_below
        if serial:
            import numba
            threads = numba.get_num_threads()
            numba.set_num_threads(1)
        try:
            cost = self._run(xb, yb, p, opt, model, h, sce)
        finally:
            if serial:
                numba.set_num_threads(threads)
        for i, layer in self.dropouts:
            layer.offset = int(self.offsets[i])
        return cost

    def _run(self, xb, yb, p, opt, model, h, sce):
        return self.k.train_step(
            p.data, p.grad, self.state1, self.state2, h, opt.t, self.opt_code,
            self.acts, self.dacts, self.dz, self.loss, self.probs, self.partials, self.gnorms,
            self.stats, self.running, self.seeds, self.offsets, self.used, self.thresholds, self.masks,
            self.prog, self.fprog, xb, yb if sce else self.no_labels, self.no_targets if sce else yb,
            self.loss_code, model.l2, model.l1, p.n_decay)


def _act_code(name):
    from .kernels.codes import ACTIVATIONS
    return ACTIVATIONS[name]
