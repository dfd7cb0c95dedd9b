"""How ``Sequential.fit`` steps one batch, and what it shows meanwhile.

``fit`` (``fastnn/model.py``) is the epoch loop. Each batch goes through a
trainer chosen once per ``fit`` call by ``trainer_for``:

- ``CompiledTrainer`` (cpu): one compiled call per step
  (``fastnn.compiled.CompiledStep``);
- ``DeviceStep`` (cuda, ``fastnn/device_step.py``): the whole step as one
  launch plan, built once and replayed per batch (a CUDA graph with CuPy);
- ``DeviceBook`` (cuda, ``compiled=False`` or what ``DeviceStep`` does not
  run): the step runs layer by layer on the GPU, while the
  batch costs and gradient norms accumulate in device buffers read once per
  epoch, so a step never waits for the GPU;
- ``LayerTrainer``: layer by layer on the host (``compiled=False``, the ref
  backend, or a model or optimizer the compiled step does not run).

A trainer answers ``epoch(perm)`` (the epoch's order of the examples, None
to keep theirs), ``step(start, stop)`` (a step on the epoch's examples
``start:stop``: the batch's cost, each Dense layer's ||dW|| and the number
of right predictions of the batch's training forward, or ``(None, None,
None)`` when they stay on the device) and ``read()`` (the device's costs,
norms and right predictions at the end of an epoch; ``None`` on the host).
"""
import sys

import numpy as np

from . import _arrays
from ._backend import kernels
from .layers import Dense
from .losses import LOSS_KINDS

__all__ = []


class _HostTrainer:
    """Shuffling and the end of an epoch, for the trainers on the host."""

    def __init__(self, x, y):
        self.x, self.y = x, y
        self.xs, self.ys = x, y

    def epoch(self, perm):
        self.xs, self.ys = (self.x, self.y) if perm is None else (self.x[perm], self.y[perm])

    def read(self):
        return None


class LayerTrainer(_HostTrainer):
    """``model.train_step`` per batch, and the norms of each Dense layer's dW."""

    def __init__(self, model, optimizer, x, y):
        super().__init__(x, y)
        self.model, self.optimizer = model, optimizer
        self.dense = [layer for layer in model.layers if isinstance(layer, Dense)]
        self.loss = LOSS_KINDS[model.loss]

    def step(self, start, stop):
        xb, yb = self.xs[start:stop], self.ys[start:stop]
        cost, logits = self.model._loss_and_grads(xb, yb)
        self.optimizer.step()
        norms = np.array([float(np.linalg.norm(layer.grads["W"])) for layer in self.dense])
        return cost, norms, self.loss.hits(logits, yb)


class CompiledTrainer(_HostTrainer):
    """One compiled call per batch (``fastnn.compiled.CompiledStep``). The
    step gathers its batch's rows from the whole dataset itself, so an
    epoch's shuffle moves only the targets and an index."""

    def __init__(self, model, optimizer, x, y, max_batch):
        from .compiled import compiled_step
        super().__init__(x, y)
        self.compiled = compiled_step(model, optimizer, max_batch)
        self.dense = np.array([i for i, layer in enumerate(model.layers) if isinstance(layer, Dense)], int)
        self.order = np.arange(x.shape[0], dtype=np.intp)

    def epoch(self, perm):
        self.order = np.arange(self.x.shape[0], dtype=np.intp) if perm is None else perm.astype(np.intp)
        self.ys = self.y if perm is None else self.y[self.order]

    def step(self, start, stop):
        cost = self.compiled(self.x, self.ys[start:stop], self.order[start:stop])
        return cost, self.compiled.gnorms[self.dense], self.compiled.hits[0]


class DeviceBook:
    """``fit``'s per-epoch bookkeeping for a model on the GPU.

    ``costs[b]``: batch b's cost times its size (regularization included);
    ``norms[l]``: the sum over the epoch's batches of dense layer l's ||dW||.
    Both are float64 device buffers filled by the metrics kernels and read
    once per epoch, so a step never waits for the GPU.
    """

    def __init__(self, model, optimizer, n_batches, x, y):
        self.model, self.optimizer, self.x, self.y = model, optimizer, x, y
        self.k = kernels("cuda")
        self.loss = LOSS_KINDS[model.loss]
        like = model.parameters().data
        # each Dense layer's W, in layer order: a segment of the flat gradient
        offsets = {name: (off, int(np.prod(shp))) for name, off, shp in model.parameters().layout}
        seg = [offsets[f"{i}.W"] for i, layer in enumerate(model.layers) if isinstance(layer, Dense)]
        self.starts = _arrays.as_device(np.array([o for o, _ in seg], np.int64))
        self.stops = _arrays.as_device(np.array([o + n for o, n in seg], np.int64))
        self.costs = _arrays.zeros(n_batches, np.float64, like=like)
        self.norms = _arrays.zeros(len(seg), np.float64, like=like)
        self.hits = _arrays.zeros(1, np.float64, like=like)     # right predictions of the epoch's forwards
        self.b = 0                                  # the next batch's slot in costs
        self.xs = self.ys = None
        self.order = (x, y)                         # the epoch's data, in its order
        self.params = model.parameters()
        self.penalties = [(op, lam, scale) for op, lam, scale in
                          (("l2_penalty", model.l2, 1.0), ("l1_penalty", model.l1, 0.5)) if lam]

    def epoch(self, perm):
        """The epoch's shuffled copies of the dataset, gathered on the device."""
        x, y = self.x, self.y
        if perm is None:
            self.order = (x, y)
            return
        if self.xs is None:
            self.xs, self.ys = _arrays.empty_like(x), _arrays.empty_like(y)
        idx = _arrays.as_device(perm.astype(np.intp))           # m indices: the epoch's one upload
        self.k.data.gather_rows(self.xs, x, idx)
        rows = y.shape[0]
        self.k.data.gather_rows(self.ys.reshape(rows, y.size // rows), y.reshape(rows, y.size // rows), idx)
        self.order = (self.xs, self.ys)

    def step(self, start, stop):
        from .regularization import _penalty_partials
        model, mk, p = self.model, self.k.metrics, self.params
        xs, ys = self.order
        xb, yb = xs[start:stop], ys[start:stop]
        b, bs = self.b, xb.shape[0]
        p.zero_grad()
        logits = model._forward(xb, True)
        out = self.loss.checked(logits, yb, "cuda")
        mk.sum_into(self.costs, b, out.per_example, 1.0)
        for op, lam, scale in self.penalties:
            # the batch's penalty lam/(2 bs) * sum, times bs
            for part in _penalty_partials(op, p.data[:p.n_decay], p.grad[:p.n_decay], lam, bs, scale, "cuda"):
                mk.sum_into(self.costs, b, part, lam / 2)
        if self.loss.classifier:
            (mk.argmax_hits if self.loss.labels else mk.threshold_hits)(self.hits, 0, logits, yb)
        model.backward(out.grad)
        mk.segment_norms(self.norms, p.grad, self.starts, self.stops)
        self.optimizer.step()
        self.b = b + 1
        return None, None, None

    def read(self):
        """(costs, norms, right predictions) of the epoch on the host; the
        buffers restart at zero."""
        costs, norms, hits = self.costs.copy_to_host(), self.norms.copy_to_host(), self.hits.copy_to_host()
        n, self.b = self.b, 0
        for buf in (self.costs, self.norms, self.hits):
            _arrays.fill(buf, 0)
        return costs[:n], norms, float(hits[0])


def device_evaluate(model, x, y, logits, out):
    """``{"cost", "accuracy"}`` of inference-mode ``logits`` and their loss
    ``out`` on the GPU: two float64 sums on the device, one read."""
    mk = kernels("cuda").metrics
    kind = LOSS_KINDS[model.loss]
    sums = _arrays.zeros(2, np.float64, like=logits)
    mk.sum_into(sums, 0, out.per_example, 1.0)
    if kind.classifier:
        (mk.argmax_hits if kind.labels else mk.threshold_hits)(sums, 1, logits, y)
    cost, hits = sums.copy_to_host()
    m = x.shape[0]
    acc = float(hits) / (m if kind.labels else logits.size) if kind.classifier else None
    return {"cost": float(cost) / m, "accuracy": acc}


def trainer_for(model, optimizer, compiled, batch_size, x, y, owned=(False, False)):
    """The trainer ``fit`` steps its batches with (see the module docstring).
    ``owned``: x and y are fastnn's own copies (of host data), which a kept
    GPU step may overwrite with a later call's data."""
    m = x.shape[0]
    if model.device:
        from . import device_step
        if compiled is not False and device_step.supported(model, optimizer) is None:
            return device_step.for_fit(model, optimizer, x, y, batch_size, owned)
        return DeviceBook(model, optimizer, (m + batch_size - 1) // batch_size, x, y)
    from .compiled import supported
    if compiled is None:
        compiled = supported(model, optimizer) is None
    if compiled:
        return CompiledTrainer(model, optimizer, x, y, min(batch_size, m))
    return LayerTrainer(model, optimizer, x, y)


class Progress:
    """Progress per epoch on a terminal: tqdm when installed (the ``progress``
    extra), else a one-line bar; nothing when not a TTY or when quiet."""

    def __init__(self, epochs, verbose):
        if verbose is None:
            verbose = sys.stderr.isatty()
        self.on, self.epochs, self.bar = bool(verbose), epochs, None

    def update(self, epoch, logs):
        if not self.on:
            return
        if epoch == 0:
            # the bar starts at the end of the first epoch, when what compiles
            # has compiled: a compile notice then has its line to itself
            try:
                from tqdm.auto import tqdm
                self.bar = tqdm(total=self.epochs, unit="epoch", leave=True)
            except ImportError:
                pass
        text = " ".join(f"{k}={v:.4g}" for k, v in logs.items() if k not in ("time",) and v is not None)
        if self.bar is not None:
            self.bar.set_postfix_str(text)
            self.bar.update(1)
        else:
            done = int(30 * (epoch + 1) / self.epochs)
            sys.stderr.write(f"\r[{'#' * done}{'.' * (30 - done)}] epoch {epoch + 1}/{self.epochs} {text}")
            sys.stderr.flush()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        elif self.on:
            sys.stderr.write("\n")
