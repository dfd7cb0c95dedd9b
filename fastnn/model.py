"""``Sequential``: layers over one flat parameter buffer, trained by
mini-batch gradient descent with any fastnn optimizer.

Cost convention: the mean loss over the batch, plus the course's
``l2/(2m) * sum ||W||^2`` (and ``l1/(2m) * sum |W|``) over the weights when
asked; the training history's ``cost`` includes those terms (it is what is
minimised), ``evaluate`` reports the data cost alone.

Device residency: with the cuda backend the flat parameter, gradient and
optimizer-state buffers, the batch-norm running statistics and, during
``fit``, the dataset live on the GPU. ``fit`` uploads the data once (or uses
device arrays in place) and keeps every step on the device: batch costs and
gradient norms accumulate in small device buffers read once per epoch.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

from numpy.typing import ArrayLike, DTypeLike

if TYPE_CHECKING:
    from .callbacks import Callback
    from .optim import Optimizer
    from .schedules import Schedule

import contextlib
import time

import numpy as np

from . import _arrays, _checks, training
from ._backend import resolve
from .batchnorm import check_training_batch
from .compiled import compiled_forward, compiled_step, forward_supported
from .layers import BatchNorm, Dense, Dropout, Layer
from .losses import LOSS_KINDS, LossOutput
from .params import Parameters
from .regularization import l1_penalty, l2_penalty

__all__ = ["Sequential", "History", "DivergenceError"]

# dtype kinds a model converts to its float dtype: bool, signed, unsigned, float
_REAL_KINDS = "biuf"
_CLAIMS = 0          # models built so far: layers change hands only then (Sequential._own)


def _writeable(a):
    """``a``, or a copy of it if it is read-only (a memmap, a joblib
    worker's shared data): the compiled kernels are typed for writeable
    arrays, and a read-only one would compile every kernel again."""
    return a if a.flags.writeable else a.copy()


class DivergenceError(FloatingPointError):
    """The cost became NaN or infinite during ``fit``."""


class History:
    """What ``fit`` records, one entry per epoch.

    ``history``: dict of lists: ``cost`` (mean training cost over the epoch's
    batches, regularization included), ``accuracy`` (training accuracy: by
    default the running fraction of right predictions in the epoch's own
    training forwards; ``fit(train_metrics="exact")`` for an inference pass
    after the epoch), ``val_cost``/``val_accuracy`` (with
    validation data), ``lr`` (the learning rate used), ``time``; and
    ``grad_norms``: dict layer name -> list of the epoch's mean ||dW||, to
    see vanishing or exploding gradients.
    """

    def __init__(self, has_validation) -> None:
        self.has_validation = has_validation
        self.history = {"cost": [], "accuracy": [], "lr": [], "time": []}
        if has_validation:
            self.history.update(val_cost=[], val_accuracy=[])
        self.grad_norms = {}
        self.epochs = 0

    def __getitem__(self, key):
        return self.history[key]

    def __repr__(self):
        last = {k: (round(v[-1], 6) if v and v[-1] is not None else None) for k, v in self.history.items()}
        return f"History(epochs={self.epochs}, last={last})"


def _check_cost(cost, epoch, batch, step, optimizer):
    if not np.isfinite(cost):
        raise DivergenceError(
            f"the cost became {cost} at epoch {epoch}, batch {batch} (step {step}, "
            f"lr={optimizer.lr:g}): lower the learning rate, check the inputs' scale "
            "(fastnn.Standardizer) or the initialization")


class Sequential:
    """A stack of layers, a loss on the last layer's logits, and regularization.

    Parameters
    ----------
    layers : list of fastnn layers (Dense, ReLU, LeakyReLU, Sigmoid, Tanh,
        Dropout, BatchNorm)
    loss : "softmax_cross_entropy" (integer labels), "binary_cross_entropy"
        (0/1 labels) or "mean_squared_error"; all take logits
    l2, l1 : the course's lambda for L2 / L1 regularization of the weights
    dtype : float32 or float64 (gradient checking needs float64)
    backend : "ref", "cpu", "cuda" or None (the global default, read here).
        With cuda the model lives on the GPU (see the module docstring);
        inputs may then be NumPy arrays (copied over) or device arrays
        (numba, CuPy, PyTorch CUDA tensors: used in place, no copy).
    seed : seeds the initial weights and the dropout streams

    Examples
    --------
    >>> import fastnn
    >>> X, y = fastnn.datasets.moons(200, seed=0)
    >>> model = fastnn.Sequential([fastnn.Dense(2, 16, "relu"), fastnn.Dense(16, 2)], seed=0)
    >>> opt = fastnn.Adam(model.parameters(), lr=0.01)
    >>> history = model.fit(X, y, optimizer=opt, epochs=5, verbose=False)
    >>> len(history["cost"])
    5
    """

    def __init__(self, layers: Sequence[Layer], loss: str = "softmax_cross_entropy", l2: float = 0.0,
                 l1: float = 0.0, dtype: DTypeLike = np.float64, backend: str | None = None,
                 seed: int = 0) -> None:
        layers = list(layers)
        if not layers or not all(isinstance(layer, Layer) for layer in layers):
            raise TypeError("layers must be a non-empty list of fastnn layers")
        for i, layer in enumerate(layers):
            if any(layer is other for other in layers[:i]):
                raise ValueError(f"layer {i} ({layer!r}) appears twice in layers: a layer's parameters are "
                                 "one place in the model's buffer; build a new layer for each position")
        if loss not in LOSS_KINDS:
            raise ValueError(f"loss must be one of {sorted(LOSS_KINDS)}, got {loss!r}")
        self.layers, self.loss = layers, loss
        self._loss = LOSS_KINDS[loss]
        self.l2 = _checks.scalar("l2", l2, low=0.0)
        self.l1 = _checks.scalar("l1", l1, low=0.0)
        self.dtype = np.dtype(dtype)
        self.device = resolve(backend) == "cuda"
        self.backend = "cuda" if self.device else backend
        self.seed = _checks.uint64("seed", seed)
        dense = [layer for layer in layers if isinstance(layer, Dense)]
        if not dense:
            raise ValueError("a Sequential needs at least one Dense layer")
        self.in_features = dense[0].in_features
        features = self.in_features
        for layer in layers:
            features = layer.output_features(features)
        self.out_features = features
        # one seed sequence: weights from the first child, dropout streams from the rest
        children = np.random.SeedSequence(self.seed).spawn(len(layers) + 1)
        rng = np.random.default_rng(children[0])
        values, decay = {}, set()
        for i, layer in enumerate(layers):
            if isinstance(layer, Dropout) and layer.seed is None:
                layer.seed = int(children[i + 1].generate_state(2, np.uint64)[0])
            for name, v in layer.initial_values(rng, self.dtype).items():
                values[f"{i}.{name}"] = v
                if name in layer.decay:
                    decay.add(f"{i}.{name}")
        self._params = Parameters(values, dtype=self.dtype, decay=decay, device=self.device)
        # A layer belongs to the last model built with it: its parameter views
        # point into that model's buffer. A model whose layers moved on
        # refuses to run (``_own``) instead of mixing two buffers.
        global _CLAIMS
        self._token = object()
        self._claims_seen = -1                    # this model's first _own walks its layers
        for i, layer in enumerate(layers):
            layer._owner = self._token
            names = [n for n in layer.param_shapes]
            layer.bind({n: self._params[f"{i}.{n}"] for n in names},
                       {n: self._params.grad_of(f"{i}.{n}") for n in names}, self.dtype, self.backend,
                       device=self.device)
        # counted once the layers are this model's: a check that ran while
        # they were changing hands sees the count move afterwards and walks again
        _CLAIMS += 1

    def _own(self):
        """Refuse to run when a layer now belongs to another model. Layers
        change hands only when a model is built (``_CLAIMS`` counts those),
        so a check with no model built since the last one is skipped."""
        if self._claims_seen == _CLAIMS:
            return
        for i, layer in enumerate(self.layers):
            if layer._owner is not self._token:
                raise ValueError(f"layer {i} ({layer!r}) was given to another Sequential after this one, and "
                                 "its parameters now live in that model: a layer belongs to one model; build "
                                 "new layers for each model")
        self._claims_seen = _CLAIMS

    # --- parameters --------------------------------------------------------
    def parameters(self) -> Parameters:
        """The model's ``fastnn.Parameters`` (flat buffer), for an optimizer."""
        return self._params

    def get_weights(self) -> list[list[np.ndarray]]:
        """A list with one list of arrays per layer, in layer order: ``[W, b]``
        for Dense (``[W]`` without bias; W is (in, out)), ``[gamma, beta]`` for
        BatchNorm, ``[]`` for layers without parameters. Host (NumPy) copies."""
        return [[_arrays.host_copy(layer.params[n]) for n in layer.param_shapes] for layer in self.layers]

    def set_weights(self, weights: list[list[np.ndarray]]) -> None:
        """Inverse of ``get_weights``; shapes must match exactly."""
        self._own()
        if len(weights) != len(self.layers):
            raise ValueError(f"weights has {len(weights)} entries for {len(self.layers)} layers")
        for i, (layer, arrays) in enumerate(zip(self.layers, weights)):
            names = list(layer.param_shapes)
            if len(arrays) != len(names):
                raise ValueError(f"layer {i} ({type(layer).__name__}) takes {len(names)} arrays, got {len(arrays)}")
            for n, a in zip(names, arrays):
                shp = tuple(layer.params[n].shape)
                if tuple(np.shape(_arrays.host_copy(a))) != shp:
                    raise ValueError(f"layer {i} {n}: expected shape {shp}, got {np.shape(_arrays.host_copy(a))}")
        for layer, arrays in zip(self.layers, weights):
            for n, a in zip(layer.param_shapes, arrays):
                _arrays.copy_into(layer.params[n], np.ascontiguousarray(_arrays.host_copy(a), dtype=self.dtype))

    def _snapshot(self):
        return _arrays.copy(self._params.data), [layer.buffers() for layer in self.layers]

    def _restore(self, snapshot):
        data, buffers = snapshot
        _arrays.copy_into(self._params.data, data)
        for layer, b in zip(self.layers, buffers):
            if not isinstance(layer, Dropout):          # the stream keeps moving forward
                layer.load_buffers(b)

    # --- data --------------------------------------------------------------
    def _device_input(self, a, name):
        """A device array argument: right side, used in place (a numba view)."""
        if not self.device:
            raise TypeError(f"{name} is a CUDA device array but the model is on the host "
                            f"(backend {self.backend!r}): build the model with backend='cuda'")
        a = _arrays.as_device(a)
        if not a.is_c_contiguous():
            raise ValueError(f"{name} must be C-contiguous")
        return a

    def _x(self, X, name="X"):
        """Validated features (m, in_features) of the model's dtype, on the model's side.

        Real numbers of any dtype (bool, int, float) are converted to the
        model's dtype, as NumPy would; complex, strings and objects are
        refused, and so are NaN and infinity (also when the conversion to
        float32 overflows). Device arrays must already be right: they are
        used in place."""
        self._own()
        if (type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2 and X.shape[1] == self.in_features
                and X.shape[0] and X.flags.c_contiguous and X.flags.writeable and not self.device):
            return _checks.finite(name, X)              # the common case, without a conversion
        on_device = _arrays.is_device(X)
        if not on_device:
            X = np.asarray(X)
            if X.dtype.kind not in _REAL_KINDS:
                raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {X.dtype}")
        shape = tuple(X.shape)
        if len(shape) != 2 or shape[1] != self.in_features:
            raise ValueError(f"{name} must have shape (m, {self.in_features}), got {shape}")
        if shape[0] == 0:
            raise ValueError(f"{name} must not be empty")
        if on_device:
            if np.dtype(X.dtype) != self.dtype:
                raise TypeError(f"{name} is a {X.dtype} device array but the model is {self.dtype}: "
                                "convert it on the device first (fastnn never copies device data silently)")
            return self._device_input(X, name)
        with np.errstate(over="ignore"):
            X = _writeable(np.ascontiguousarray(X, dtype=self.dtype))
        _checks.finite(name, X)
        return _arrays.as_device(X) if self.device else X

    def _y(self, y, m, name="y"):
        """Validated targets on the model's side: intp labels (m,) for softmax
        cross-entropy, (m, out_features) of the model's dtype otherwise
        (in [0, 1] for binary cross-entropy, finite for mean squared error).
        Checked here, once per dataset."""
        if type(y) is np.ndarray and not self.device and y.flags.c_contiguous and y.flags.writeable:
            # the common cases, without a conversion: one compiled test
            if self._loss.labels:
                if y.dtype == np.intp and y.shape == (m,):
                    return _checks.in_classes(name, y, self.out_features)
            elif y.dtype == self.dtype and y.shape == (m, self.out_features):
                return (_checks.unit_interval(name, y) if self.loss == "binary_cross_entropy"
                        else _checks.finite(name, y))
        on_device = _arrays.is_device(y)
        host = _arrays.to_host(y) if on_device else np.asarray(y)
        if host.ndim == 0 or host.shape[0] != m:
            raise ValueError(f"{name} has {host.shape[0] if host.ndim else 0} examples, X has {m}")
        if self._loss.labels:
            if host.ndim != 1 or host.dtype.kind not in "iu":
                raise ValueError(f"{name} must be 1-D integer class labels for softmax_cross_entropy")
            _checks.in_classes(name, host, self.out_features)
            if on_device:
                if host.dtype != np.intp:
                    raise TypeError(f"{name} on the device must be {np.dtype(np.intp)} labels, got {host.dtype}")
                return self._device_input(y, name)
            y = _writeable(np.ascontiguousarray(host, dtype=np.intp))
            return _arrays.as_device(y) if self.device else y
        if host.dtype.kind not in _REAL_KINDS:
            raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {host.dtype}")
        if host.size != m * self.out_features:
            raise ValueError(f"{name} must have {self.out_features} column(s), got {host.shape}")
        if on_device and host.dtype != self.dtype:
            raise TypeError(f"{name} is a {host.dtype} device array but the model is {self.dtype}")
        with np.errstate(over="ignore"):
            checked = _writeable(np.ascontiguousarray(host.reshape(m, self.out_features), dtype=self.dtype))
        _checks.finite(name, checked)
        if self.loss == "binary_cross_entropy":
            _checks.unit_interval(name, checked)
        if on_device:
            return self._device_input(y, name).reshape(m, self.out_features)
        return _arrays.as_device(checked) if self.device else checked

    def _like_input(self, result, given):
        """Results go back to the host when the caller passed host data."""
        return _arrays.to_host(result) if self.device and not _arrays.is_device(given) else result

    # --- forward / backward -------------------------------------------------
    def forward(self, x: ArrayLike, training: bool = False) -> np.ndarray:
        """Logits of the last layer for ``x`` (m, in_features): a NumPy array
        for host input, a device array for device input."""
        training = _checks.flag("training", training)
        x_ = self._x(x, "x")
        return self._like_input(self._forward(x_, training) if training else self._infer(x_)[0], x)

    def _infer(self, x, y=None):
        """Inference-mode logits of validated ``x``; with ``y`` also the
        loss output. On the cpu, blocks of rows run as one compiled call
        each (``fastnn.compiled.compiled_forward``)."""
        if forward_supported(self) is None:
            logits, per_example = compiled_forward(self, x, y)
            return logits, (None if y is None else LossOutput(None, per_example))
        logits = self._forward(x, False)
        return logits, (None if y is None else self._loss.checked(logits, y, self.backend))

    def _forward(self, x, training):
        for layer in self.layers:
            x = layer.forward(x, training)
        return x

    def backward(self, dlogits: np.ndarray) -> np.ndarray:
        """Backpropagate d(cost)/d(logits); parameter gradients accumulate."""
        self._own()
        for layer in reversed(self.layers):
            dlogits = layer.backward(dlogits)
        return dlogits

    def _penalties(self, m):
        p = self._params
        w, g = p.data[:p.n_decay], p.grad[:p.n_decay]
        cost = 0.0
        if self.l2:
            cost += l2_penalty(w, g, self.l2, m, backend=self.backend)
        if self.l1:
            cost += l1_penalty(w, g, self.l1, m, backend=self.backend)
        return cost

    def loss_and_grads(self, X: ArrayLike, y: ArrayLike) -> float:
        """Zero the gradients, then forward (training), cost with
        regularization, and backward. Returns the cost; the gradients are in
        ``parameters().grad``. (What ``train_step`` and gradient checks use.)"""
        x = self._x(X)
        return self._loss_and_grads(x, self._y(y, x.shape[0]))[0]

    def _loss_and_grads(self, x, y):
        """``loss_and_grads`` of validated data; returns (cost, logits)."""
        self._params.zero_grad()
        logits = self._forward(x, training=True)
        out = self._loss.checked(logits, y, self.backend)
        cost = out.cost + self._penalties(x.shape[0])
        self.backward(out.grad)
        return cost, logits

    def train_step(self, xb: ArrayLike, yb: ArrayLike, optimizer: Optimizer) -> float:
        """One step of mini-batch gradient descent on the batch ``(xb, yb)``;
        returns the batch's cost (regularization included).

        For your own training loop. On the cpu backend, with every layer and
        the optimizer supported, the step is one compiled call (the one
        ``fit`` runs, built once per model and optimizer and kept); on the
        cuda backend, the replayed launch plan ``fit`` runs
        (``fastnn.device_step``, kept per batch size); otherwise it goes
        layer by layer. Either way ``parameters().grad`` holds the
        step's gradients afterwards.
        """
        if optimizer.params is not self._params:
            raise ValueError("optimizer was built for other parameters; use model.parameters()")
        kept = self.__dict__.get("_compiled_step")
        if kept is not None and kept.opt is optimizer and kept.ready(xb, yb):
            # the common case: the kept step tests the batch's values itself,
            # in the call that trains on it (the general path below tests
            # them in NumPy first, 2-4 us of a 15 us step on a small net); a
            # bad value changes nothing and takes the general path, which
            # raises the error that names it
            self._own()
            kept.refresh()
            cost = kept(xb, yb, check=True)
            if cost is not None:
                return float(cost)
        x = self._x(xb, "xb")
        y = self._y(yb, x.shape[0], "yb")
        if self.device:
            from . import device_step
            if any(isinstance(layer, BatchNorm) for layer in self.layers):
                check_training_batch(x.shape[0])
            plan = device_step.for_train_step(self, optimizer, x, y)
            if plan is not None:
                return plan.train_step(x, y)
        step = compiled_step(self, optimizer, x.shape[0], quiet=True)
        if step is not None:
            return float(step(x, y))
        cost = self._loss_and_grads(x, y)[0]
        optimizer.step()
        return cost

    # --- inference ----------------------------------------------------------
    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities: softmax rows, or sigmoid outputs for BCE
        (where the input lives, like ``forward``)."""
        if not self._loss.classifier:
            raise ValueError("predict_proba needs a classification loss")
        logits, _ = self._infer(self._x(X))
        return self._like_input(self._loss.probabilities(logits, self.backend), X)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Class labels (argmax, or logit > 0, i.e. sigmoid > 0.5, for BCE) as a
        NumPy array, or the outputs for MSE (where the input lives)."""
        if not self._loss.classifier:
            return self.forward(X)
        z = _arrays.to_host(self._infer(self._x(X))[0])
        bad = ~np.isfinite(z).all(axis=1)
        if bad.any():                  # an argmax of NaN would be a label like any other
            raise ValueError(f"the model's outputs are not finite for row {int(np.argmax(bad))} of X (its inputs "
                             "are finite): its parameters hold NaN or infinity, e.g. after a diverged fit; "
                             "load a checkpoint or train again")
        return self._loss.predict(z)

    def evaluate(self, X: ArrayLike, y: ArrayLike) -> dict[str, float | None]:
        """``{"cost": data cost, "accuracy": fraction right (None for MSE)}``, inference mode."""
        x = self._x(X)
        return self._evaluate(x, self._y(y, x.shape[0]))

    def _evaluate(self, x, yy):
        logits, out = self._infer(x, yy)
        if self.device:
            return training.device_evaluate(self, x, yy, logits, out)
        return {"cost": out.cost, "accuracy": self._loss.correct(logits, yy)}

    # --- training -------------------------------------------------------------
    def fit(self, X: ArrayLike, y: ArrayLike, optimizer: Optimizer, epochs: int = 1, batch_size: int = 64,
            schedule: Schedule | None = None, validation_data: tuple[ArrayLike, ArrayLike] | None = None,
            shuffle: bool = True, seed: int = 0, callbacks: Sequence[Callback] = (),
            verbose: bool | None = None, compiled: bool | None = None,
            train_metrics: str = "running") -> History:
        """Mini-batch gradient descent with the course's partition.

        Each epoch shuffles (X, y) with a generator seeded by ``seed`` (unless
        ``shuffle=False``) and takes consecutive batches of ``batch_size``,
        keeping the last partial batch: ``batch_size = m`` is batch gradient
        descent, ``1`` is stochastic. ``schedule`` (``fastnn.schedules``) sets
        ``optimizer.lr`` per epoch or per step, as the schedule says.

        A NaN or infinite cost stops training with ``DivergenceError`` naming
        the epoch and batch. Returns a ``History``.

        On the cuda backend the data go to the device once (device arrays
        are used in place), each epoch's shuffle is a gather on the device,
        and the costs are read back once per epoch: a divergence is then
        reported at the end of the epoch it happened in (still naming the
        first bad batch).

        ``compiled``: run each step as one compiled call (forward, loss,
        backward and update; ``fastnn.compiled``). ``None`` (default) does so
        whenever the backend is cpu and every layer and the optimizer are
        supported; ``False`` steps layer by layer. Both give the same results
        to rounding.

        ``train_metrics``: how the history's training ``accuracy`` is
        measured. ``"running"`` (default, as Keras reports it): from each
        batch's own training forward as the epoch goes, so it costs nothing,
        but mixes the weights of the whole epoch and, with dropout, the
        thinned network. ``"exact"``: one inference-mode pass over the whole
        training set after each epoch (what ``evaluate`` gives), at the price
        of that pass. The ``cost`` entry is the running mean of the batches'
        costs either way; validation metrics are always exact.
        """
        if optimizer.params is not self._params:
            raise ValueError("optimizer was built for other parameters; use model.parameters()")
        epochs = _checks.positive_int("epochs", epochs)
        batch_size = _checks.positive_int("batch_size", batch_size)
        if train_metrics not in ("running", "exact"):
            raise ValueError(f"train_metrics must be 'running' or 'exact', got {train_metrics!r}")
        shuffle = _checks.flag("shuffle", shuffle)
        x_all = self._x(X)
        y_all = self._y(y, x_all.shape[0])
        m = x_all.shape[0]
        if any(isinstance(layer, BatchNorm) for layer in self.layers):
            check_training_batch(m % batch_size or batch_size)      # the smallest batch, before any step
        if validation_data is not None:
            xv = self._x(validation_data[0], "validation X")
            yv = self._y(validation_data[1], xv.shape[0], "validation y")
        history = History(validation_data is not None)
        callbacks = list(callbacks)
        for cb in callbacks:
            cb.on_train_begin(self, history)
        dense = [f"{i}.Dense" for i, layer in enumerate(self.layers) if isinstance(layer, Dense)]
        for name in dense:
            history.grad_norms[name] = []
        trainer = training.trainer_for(self, optimizer, compiled, batch_size, x_all, y_all,
                                       owned=(not _arrays.is_device(X), not _arrays.is_device(y)))
        rng = np.random.default_rng(seed)
        progress = training.Progress(epochs, verbose)
        step = 0
        quiet = contextlib.ExitStack()
        if verbose is False:                              # no compile notice either
            from .kernels.cpu._jit import quiet as no_notice
            quiet.enter_context(no_notice())
        try:
            for epoch in range(epochs):
                t0 = time.perf_counter()
                if schedule is not None and schedule.per == "epoch":
                    optimizer.lr = schedule(epoch)
                lr_used = optimizer.lr
                trainer.epoch(rng.permutation(m) if shuffle else None)
                total, norms, hits = 0.0, np.zeros(len(dense)), 0.0
                batches = 0
                for start in range(0, m, batch_size):
                    if schedule is not None and schedule.per == "step":
                        optimizer.lr = schedule(step)
                    stop = min(m, start + batch_size)
                    cost, gn, right = trainer.step(start, stop)
                    if cost is not None:                  # host: checked every step
                        _check_cost(cost, epoch, batches, step, optimizer)
                        total += cost * (stop - start)
                        norms += gn
                        hits += right
                    batches += 1
                    step += 1
                on_device = trainer.read()                # device: one read per epoch
                if on_device is not None:
                    costs, norms, hits = on_device
                    for b, c in enumerate(costs):
                        _check_cost(c, epoch, b, step - batches + b, optimizer)
                    total = float(np.sum(costs))
                if train_metrics == "exact":
                    accuracy = self._evaluate(x_all, y_all)["accuracy"]
                else:
                    accuracy = hits / self._loss.count(m, self.out_features) if self._loss.classifier else None
                logs = {"cost": total / m, "accuracy": accuracy, "lr": lr_used}
                if validation_data is not None:
                    ev = self._evaluate(xv, yv)
                    logs.update(val_cost=ev["cost"], val_accuracy=ev["accuracy"])
                logs["time"] = time.perf_counter() - t0
                for k, v in logs.items():
                    history.history[k].append(v)
                for name, v in zip(dense, norms):
                    history.grad_norms[name].append(float(v) / batches)
                history.epochs = epoch + 1
                progress.update(epoch, logs)
                if any([cb.on_epoch_end(epoch, logs) for cb in callbacks]):
                    break
        finally:
            progress.close()
            quiet.close()
        for cb in callbacks:
            cb.on_train_end()
        return history

    # --- description ----------------------------------------------------------
    def summary(self) -> str:
        """A table of layers, output shapes and parameter counts (a string)."""
        lines = [f"{'#':<4}{'layer':<44}{'output':<12}{'params':>10}"]
        features, total = self.in_features, 0
        for i, layer in enumerate(self.layers):
            features = layer.output_features(features)
            count = sum(int(np.prod(s)) for s in layer.param_shapes.values())
            total += count
            lines.append(f"{i:<4}{repr(layer)[:43]:<44}{str((None, features)):<12}{count:>10}")
        lines.append(f"total parameters: {total} ({self.dtype.name}, weights under L2/decay: "
                     f"{self._params.n_decay}); loss: {self.loss}; l2={self.l2} l1={self.l1}")
        return "\n".join(lines)

    def config(self) -> dict:
        return {"loss": self.loss, "l2": self.l2, "l1": self.l1, "dtype": self.dtype.name,
                "seed": self.seed,
                "layers": [{"type": type(layer).__name__, "config": layer.config()} for layer in self.layers]}

    def to_onnx(self, path: str | os.PathLike | None = None, fold_batchnorm: bool = True, dtype: DTypeLike = None):
        """The inference forward as an ONNX model, written to ``path`` if
        given; see ``fastnn.onnx.to_onnx`` (needs the ``onnx`` extra)."""
        from .onnx import to_onnx
        return to_onnx(self, path, fold_batchnorm=fold_batchnorm, dtype=dtype)

    def save(self, path: str | os.PathLike, optimizer: Optimizer | None = None) -> str:
        """Config, weights, buffers (and optimizer state) in one ``.npz``; see ``fastnn.load``."""
        from .checkpoint import save
        self._own()
        return save(self, path, optimizer)
