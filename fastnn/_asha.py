"""Asynchronous successive halving (ASHA) over fastnn models: ``fastnn.tune.asha``.

Each trial trains in rungs of growing epoch budgets (``min_epochs *
eta**k``, up to ``max_epochs``). A rung is one task on the executor: it
continues the trial's model and optimizer from the state the previous rung
returned (``.npz`` bytes of the weights, the optimizer's state and the
layers' buffers, so any executor works, Dask across machines included, with
no shared filesystem; the worker rebuilds the model with ``build`` and
loads the state into it, every value checked), or from the previous rung's
live model where that rung ran in the same process (``_LIVE``), trains to
the rung's budget with a ``fit`` callback that records the dev metric after
every epoch, and returns the state. Whenever a worker is free the
scheduler gives it, in this order: a trial that is in the top ``1/eta`` of
the highest rung it can promote from and was not promoted yet (Li et al.,
"A System for Massively Parallel Hyperparameter Tuning", 2020); or a new
trial at the first rung. A trial
that is never promoted stops there: the bottom of every rung is stopped
early, and the compute goes to the promising ones.

With a ``log``, each finished rung is a record (``rung``, ``epochs``,
``metric``, the per-epoch ``curve``) and its state is kept in
``<log>.states/`` (atomic writes); ``resume=True`` rebuilds the rungs from
them, losing only the rungs in flight.
"""
from __future__ import annotations

import concurrent.futures as cf
import os
import threading
import time
import uuid

import numpy as np

from . import _checks, checkpoint, io
from .callbacks import Callback
from .io import write_atomic


class _Curve(Callback):
    """A fit callback recording the dev metric after every epoch."""

    def __init__(self, metric):
        self.metric, self.values = metric, []

    def on_epoch_end(self, epoch, logs):
        value = 1.0 - logs["val_accuracy"] if self.metric == "dev_error" else logs["val_cost"]
        self.values.append(float(value))
        return False


class Shared:
    """The search's data written once to ``.npy`` files that each local
    worker reads once and keeps: sending the arrays with every rung task cost more
    than training the rung (the digits search: 39 tasks of 0.8 MB each).
    Only for the search's own pool, whose workers share this machine's
    files; other executors get the arrays themselves."""

    def __init__(self, folder, train, dev):
        self.paths = []
        for name, arrays in (("train", train), ("dev", dev)):
            for i, a in enumerate(arrays):
                path = os.path.join(folder, f"{name}{i}.npy")
                np.save(path, np.asarray(a))
                self.paths.append(path)

    def arrays(self):
        got = _LOADED.get(tuple(self.paths))
        if got is None:
            # read once per worker into writeable memory (a read-only map
            # would be copied by every rung's fit)
            a = [np.load(p) for p in self.paths]
            _LOADED.clear()                   # a worker keeps the data of the latest search only
            got = _LOADED[tuple(self.paths)] = ((a[0], a[1]), (a[2], a[3]))
        return got


_LOADED = {}


def dump_state(model, optimizer):
    """A trial's state between rungs as ``.npz`` bytes: ``checkpoint.state``
    (weights, layer buffers, optimizer state) without the configuration,
    which the next rung rebuilds from the trial's parameters (a full
    checkpoint cost 4x as much to load)."""
    return io.dumps_npz(checkpoint.state(model, optimizer))


def load_state(build, trial, blob):
    """The model and optimizer ``build`` makes for ``trial``, with the state
    ``dump_state`` wrote, every value checked (``checkpoint.load_state``):
    a damaged or foreign state is a ValueError."""
    model, optimizer = build(dict(trial["params"]), trial["seed"])
    try:
        checkpoint.load_state(model, optimizer, io.unflatten(io.load_npz(blob, raw=True)))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed trial state ({type(exc).__name__}: {exc})") from exc
    return model, optimizer


# A rung's model and optimizer stay alive in the process that trained it, so
# that the trial's next rung, when it runs in the same process (always on the
# serial executor, often in a pool), continues them instead of building the
# model again and loading its state (0.6 ms of a 1.6 ms rung on the digits
# search). The state still travels, for any other worker and for the log,
# and continuing either way trains the same bits (tested). Only the latest
# search's models are kept, at most LIVE_BYTES of their parameters, gradients
# and optimizer state, the oldest dropped first.
LIVE_BYTES = 256 << 20
_LIVE = {}                     # (search, trial id, epochs done) -> (model, optimizer, bytes)
_LIVE_LOCK = threading.Lock()  # thread executors run rungs side by side in one process


def _keep_live(key, model, optimizer):
    size = model.parameters().data.nbytes * (2 + len(optimizer.state))
    with _LIVE_LOCK:
        if _LIVE and next(iter(_LIVE))[0] != key[0]:
            _LIVE.clear()                        # another search's models
        if size > LIVE_BYTES:
            return
        _LIVE[key] = (model, optimizer, size)
        total = sum(v[2] for v in _LIVE.values())
        while total > LIVE_BYTES:
            total -= _LIVE.pop(next(iter(_LIVE)))[2]


def _take_live(key):
    with _LIVE_LOCK:
        got = _LIVE.pop(key, None)
    return None if got is None else got[:2]


def _rung_task(build, train, dev, batch_size, metric, trial, state, done, to, last, search=None):
    """One rung of one trial, in a worker: (metric, curve, state bytes or
    None after the last rung, seconds). ``train`` may be a ``Shared``;
    ``search`` names the search for the live models (None: none kept)."""
    t0 = time.perf_counter()
    if isinstance(train, Shared):
        train, dev = train.arrays()
    live = _take_live((search, trial["id"], done)) if search is not None and state is not None else None
    if live is not None:
        model, optimizer = live
    elif state is None:
        model, optimizer = build(dict(trial["params"]), trial["seed"])
    else:
        model, optimizer = load_state(build, trial, state)
    curve = _Curve(metric)
    model.fit(*train, optimizer=optimizer, epochs=to - done, batch_size=batch_size, seed=trial["seed"] + done,
              validation_data=dev, callbacks=[curve], verbose=False)
    blob = None
    if not last:
        blob = dump_state(model, optimizer)
        if search is not None:
            _keep_live((search, trial["id"], to), model, optimizer)
    return curve.values[-1], curve.values, blob, time.perf_counter() - t0


def budgets(min_epochs, max_epochs, eta):
    """The rungs' epoch budgets: min_epochs * eta^k below max_epochs, then max_epochs."""
    out, b = [], min_epochs
    while b < max_epochs:
        out.append(b)
        b *= eta
    out.append(max_epochs)
    return out


class Scheduler:
    """ASHA's bookkeeping: which rung results exist, which were promoted."""

    def __init__(self, n_trials, rungs, eta, mode, synchronous=False):
        self.n_trials, self.rungs, self.eta, self.sign = n_trials, rungs, eta, (1 if mode == "min" else -1)
        # synchronous successive halving: a rung promotes only once all of it has finished,
        # and then exactly its top 1/eta (the sizes n, n/eta, n/eta^2, ...)
        self.synchronous = synchronous
        self.sizes = [n_trials // eta ** k for k in range(len(rungs))]
        self.results = [dict() for _ in rungs]          # rung -> trial id -> metric
        self.started = set()                            # (trial id, rung) given out
        self.next_trial = 0

    def record(self, tid, rung, value):
        self.results[rung][tid] = value
        self.started.add((tid, rung))
        self.next_trial = max(self.next_trial, tid + 1) if rung == 0 else self.next_trial

    def job(self):
        """(trial id, rung) to run next, or None when nothing can start now."""
        for k in range(len(self.rungs) - 2, -1, -1):
            done = self.results[k]
            if self.synchronous and len(done) < self.sizes[k]:
                continue
            ranked = sorted(done, key=lambda t: (self.sign * done[t], t))
            for tid in ranked[:len(ranked) // self.eta]:
                if (tid, k + 1) not in self.started:
                    self.started.add((tid, k + 1))
                    return tid, k + 1
        while self.next_trial < self.n_trials:
            tid = self.next_trial
            self.next_trial += 1
            if (tid, 0) not in self.started:
                self.started.add((tid, 0))
                return tid, 0
        return None


def run(build, train, dev, trials, rungs, eta, batch_size, metric, mode, executor, book, states_dir, window,
        synchronous=False, start=None):
    """Run ASHA (or synchronous successive halving) over ``trials``; returns every rung record."""
    start = time.perf_counter() if start is None else start
    search = uuid.uuid4().hex if LIVE_BYTES > 0 else None
    sched = Scheduler(len(trials), rungs, eta, mode, synchronous)
    states, records = {}, []
    for rec in book.read_records():                     # resumed rungs
        if rec.get("rung") is None or not (0 <= rec["rung"] < len(rungs)) or rec["id"] >= len(trials):
            continue
        path = os.path.join(states_dir, f"{rec['id']}-{rec['rung']}.npz") if states_dir else None
        last = rec["rung"] == len(rungs) - 1
        if rec["status"] == "ok" and (last or (path and os.path.exists(path))):
            if not last:
                with open(path, "rb") as f:
                    states[(rec["id"], rec["rung"])] = f.read()
            sched.record(rec["id"], rec["rung"], rec["metric"])
            records.append(rec)
    flight = {}
    while True:
        while len(flight) < window:
            job = sched.job()
            if job is None:
                break
            tid, k = job
            state = states.get((tid, k - 1)) if k else None
            done = rungs[k - 1] if k else 0
            fut = executor.submit(_rung_task, build, train, dev, batch_size, metric, trials[tid], state, done,
                                  rungs[k], k == len(rungs) - 1, search)
            flight[fut] = (tid, k)
        if not flight:
            break
        finished, _ = cf.wait(list(flight), return_when=cf.FIRST_COMPLETED)
        for fut in finished:
            tid, k = flight.pop(fut)
            trial = trials[tid]
            rec = {**trial, "rung": k, "epochs": rungs[k], "extra": {}, "finished": time.perf_counter() - start}
            try:
                value, curve, state, seconds = fut.result()
            except Exception as exc:                    # a failed rung: recorded, the search goes on
                rec.update(metric=None, status="failed", error=f"{type(exc).__name__}: {exc}", time=0.0)
            else:
                ok = np.isfinite(value)
                rec.update(metric=float(value) if ok else None, status="ok" if ok else "failed",
                           error=None if ok else f"the metric is {value}", time=seconds,
                           extra={"curve": [round(v, 6) for v in curve]})
                if ok and state is not None:           # the last rung keeps none: nothing continues it
                    states[(tid, k)] = state
                    if states_dir:
                        write_atomic(os.path.join(states_dir, f"{tid}-{k}.npz"), state)
                if ok:
                    sched.record(tid, k, rec["metric"])
            records.append(rec)
            book.append(rec)
    return records


def check(min_epochs, max_epochs, eta):
    min_epochs = _checks.positive_int("min_epochs", min_epochs)
    max_epochs = _checks.positive_int("max_epochs", max_epochs, minimum=min_epochs)
    eta = _checks.positive_int("eta", eta, minimum=2)
    return min_epochs, max_epochs, eta
