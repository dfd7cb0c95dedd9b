"""Hyperparameter search (course 2, week 3): random values on the right
scale, coarse to fine, on one machine or many.

- "Try random values, don't use a grid": with a grid, the important
  hyperparameter (say the learning rate) only ever takes a few distinct
  values; random sampling tries a new value of every hyperparameter in
  every trial.
- "An appropriate scale": ``LogUniform`` samples r uniformly in
  [log10 low, log10 high] and uses 10^r (learning rates, L2 strengths);
  ``OneMinusLogUniform`` does the same for 1 - beta (averaging coefficients,
  whose sensitivity grows as beta approaches 1).
- "Coarse to fine": ``coarse_to_fine`` narrows each range around the best
  trials, in each range's own scale, and samples again.
- "Pandas vs caviar": ``random_search`` runs many models in parallel on any
  ``concurrent.futures.Executor`` (a local process pool by default, a Dask
  cluster with ``distributed.Client(...).get_executor()``); babysitting one
  model is ``resume`` + ``fit`` with a changed learning rate.

Every trial's result is appended to a JSON-lines log as soon as it ends;
``resume=True`` skips the trials already there, so an interrupted search
loses at most the trials in flight. A trial that raises or returns a
non-finite metric is recorded as failed and the search goes on.
"""
from __future__ import annotations

import atexit
import concurrent.futures as cf
import contextlib
import json
import math
import os
import signal
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Dict, List

import numpy as np

from . import _checks

__all__ = ["Dimension", "Uniform", "LogUniform", "OneMinusLogUniform", "IntUniform", "Choice", "check_space",
           "sample_trials", "warm_cache", "local_executor", "SerialExecutor", "SearchResult", "random_search",
           "coarse_to_fine", "grid_search", "make_objective", "resume", "TrialTimeout", "suggest", "lr_find",
           "LRFinderResult", "asha", "hyperband"]

# --- search spaces ---------------------------------------------------------------


class Dimension:
    """One hyperparameter's range. ``to_unit``/``from_unit`` map values to
    [0, 1] in the range's own scale; ``narrowed`` gives a sub-range."""
    scale = "linear"

    def sample(self, rng):
        return self.from_unit(rng.random())

    def narrowed(self, values, margin=0.1):
        """A range of the same kind spanning ``values`` plus ``margin`` (in unit
        coordinates of this range) on each side, clipped to this range."""
        u = [self.to_unit(v) for v in values]
        lo, hi = max(0.0, min(u) - margin), min(1.0, max(u) + margin)
        if hi - lo < 1e-9:
            hi = min(1.0, lo + 1e-6)
            lo = max(0.0, hi - 1e-6)
        return type(self)(self.from_unit(lo), self.from_unit(hi))

    def log_axis(self):
        return False


def _bounds(name, low, high):
    for v in (low, high):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ValueError(f"{name}: bounds must be finite numbers, got ({low!r}, {high!r})")
    if not low < high:
        raise ValueError(f"{name}: low must be < high, got low={low}, high={high}")
    return float(low), float(high)


class Uniform(Dimension):
    """A float uniform in [low, high]."""

    def __init__(self, low, high):
        self.low, self.high = _bounds("Uniform", low, high)

    def to_unit(self, v):
        return (v - self.low) / (self.high - self.low)

    def from_unit(self, u):
        return self.low + u * (self.high - self.low)

    def __repr__(self):
        return f"Uniform({self.low:g}, {self.high:g})"


class LogUniform(Dimension):
    """10^r with r uniform in [log10 low, log10 high]: the course's recipe for
    learning rates (as many samples in [1e-4, 1e-3] as in [1e-1, 1])."""
    scale = "log"

    def __init__(self, low, high):
        low, high = _bounds("LogUniform", low, high)
        if low <= 0:
            raise ValueError(f"LogUniform: bounds must be > 0 on a log scale, got low={low}")
        self.low, self.high = low, high

    def to_unit(self, v):
        return (math.log10(v) - math.log10(self.low)) / (math.log10(self.high) - math.log10(self.low))

    def from_unit(self, u):
        return 10 ** (math.log10(self.low) + u * (math.log10(self.high) - math.log10(self.low)))

    def log_axis(self):
        return True

    def __repr__(self):
        return f"LogUniform({self.low:g}, {self.high:g})"


class OneMinusLogUniform(Dimension):
    """beta in [low, high] with 1 - beta log-uniform: for averaging
    coefficients such as Adam's beta1 in [0.9, 0.999] (the average spans
    ~1/(1 - beta) values, so 0.999 vs 0.9995 matters as much as 0.9 vs 0.95)."""
    scale = "one_minus_log"

    def __init__(self, low, high):
        low, high = _bounds("OneMinusLogUniform", low, high)
        if not (0 < low and high < 1):
            raise ValueError(f"OneMinusLogUniform: bounds must lie in (0, 1), got ({low}, {high})")
        self.low, self.high = low, high
        self._inner = LogUniform(1 - high, 1 - low)

    def to_unit(self, v):
        return 1 - self._inner.to_unit(1 - v)

    def from_unit(self, u):
        return 1 - self._inner.from_unit(1 - u)

    def log_axis(self):
        return True

    def __repr__(self):
        return f"OneMinusLogUniform({self.low:g}, {self.high:g})"


class IntUniform(Dimension):
    """An int uniform in [low, high], both included (e.g. hidden units)."""
    scale = "int"

    def __init__(self, low, high):
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (low, high)):
            raise ValueError(f"IntUniform: bounds must be ints, got ({low!r}, {high!r})")
        if not low < high:
            raise ValueError(f"IntUniform: low must be < high, got low={low}, high={high}")
        self.low, self.high = int(low), int(high)

    def sample(self, rng):
        return int(rng.integers(self.low, self.high + 1))

    def to_unit(self, v):
        return (v - self.low) / (self.high - self.low)

    def from_unit(self, u):
        return int(round(self.low + u * (self.high - self.low)))

    def narrowed(self, values, margin=0.1):
        span = max(1, int(round(margin * (self.high - self.low))))
        lo, hi = max(self.low, min(values) - span), min(self.high, max(values) + span)
        return IntUniform(lo, hi) if lo < hi else IntUniform(max(self.low, hi - 1), max(self.low + 1, hi))

    def __repr__(self):
        return f"IntUniform({self.low}, {self.high})"


class Choice(Dimension):
    """One of a list of options (any JSON-serialisable values)."""
    scale = "choice"

    def __init__(self, options):
        options = list(options)
        if not options:
            raise ValueError("Choice needs at least one option")
        for o in options:                  # the log is JSON: an option must survive it
            try:
                json.dumps(_plain(o))
            except (TypeError, ValueError):
                raise TypeError(f"Choice options must be JSON values (numbers, strings, bools, None, "
                                f"lists/tuples or dicts of them), got {o!r}") from None
        self.options = options

    def sample(self, rng):
        return self.options[int(rng.integers(len(self.options)))]

    def narrowed(self, values, margin=0.1):
        kept = [o for o in self.options if o in values]
        return Choice(kept or self.options)

    def __repr__(self):
        return f"Choice({self.options!r})"


def check_space(space: dict[str, Dimension]) -> None:
    """Validate a space (dict name -> Dimension) before any trial runs."""
    if not isinstance(space, dict) or not space:
        raise ValueError("space must be a non-empty dict of name -> Dimension")
    for name, dim in space.items():
        if not isinstance(name, str):
            raise ValueError(f"space keys must be strings, got {name!r}")
        if not isinstance(dim, Dimension):
            raise TypeError(f"space[{name!r}] must be a fastnn.tune Dimension (Uniform, LogUniform, ...), "
                            f"got {type(dim).__name__}")
    return space


def sample_trials(space: dict[str, Dimension], n_trials: int, seed: int, first_id: int = 0) -> list[dict]:
    """Reproducible trials: ``SeedSequence(seed).spawn`` gives one child per
    trial, which draws the trial's hyperparameters and its own seed."""
    check_space(space)
    children = np.random.SeedSequence(seed).spawn(first_id + n_trials)[first_id:]
    trials = []
    for i, child in enumerate(children):
        rng = np.random.default_rng(child)
        params = {name: _plain(dim.sample(rng)) for name, dim in space.items()}
        trials.append({"id": first_id + i, "params": params, "seed": int(child.generate_state(1)[0])})
    return trials


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def suggest(trial, space: dict[str, Dimension]) -> dict:
    """A fastnn search space drawn through an Optuna trial's ``suggest_*``,
    each dimension on its own scale: ``LogUniform`` as a log-scale float,
    ``OneMinusLogUniform`` as ``1 - x`` with x log-scale in ``[1 - high,
    1 - low]`` (Optuna's parameter is then named ``"1-<name>"``),
    ``IntUniform`` as an int, ``Choice`` as a categorical (of the options'
    indices where they are not plain values). Returns the parameters by
    name, as ``sample_trials`` would give them."""
    check_space(space)
    params = {}
    for name, dim in space.items():
        if isinstance(dim, LogUniform):
            params[name] = trial.suggest_float(name, dim.low, dim.high, log=True)
        elif isinstance(dim, OneMinusLogUniform):
            params[name] = 1.0 - trial.suggest_float(f"1-{name}", 1.0 - dim.high, 1.0 - dim.low, log=True)
        elif isinstance(dim, IntUniform):
            params[name] = trial.suggest_int(name, dim.low, dim.high)
        elif isinstance(dim, Uniform):
            params[name] = trial.suggest_float(name, dim.low, dim.high)
        elif isinstance(dim, Choice):
            plain = all(o is None or isinstance(o, (bool, int, float, str)) for o in dim.options)
            if plain:
                params[name] = trial.suggest_categorical(name, dim.options)
            else:
                params[name] = dim.options[trial.suggest_categorical(f"{name}:index", list(range(len(dim.options))))]
        else:
            raise TypeError(f"space[{name!r}]: no Optuna counterpart for {type(dim).__name__}")
    return params


# --- running trials --------------------------------------------------------------

def _run_trial(objective, trial, metric, timeout=None):
    """Run one trial; never raises (errors, ``SystemExit`` and a timeout
    become a failed record)."""
    t0 = time.perf_counter()
    record = {**trial, "metric": None, "extra": {}, "status": "ok", "error": None}
    try:
        with _alarm(timeout):
            result = objective(dict(trial["params"]), trial["seed"])
        if isinstance(result, dict):
            if metric not in result:
                raise KeyError(f"objective returned {sorted(result)}, no {metric!r}")
            value = float(result[metric])
            record["extra"] = {k: _plain(v) for k, v in result.items() if k != metric}
        else:
            value = float(result)
        if not math.isfinite(value):
            raise FloatingPointError(f"the metric is {value}")
        record["metric"] = value
    except (Exception, SystemExit) as exc:                     # recorded, the search goes on
        record["status"] = "failed"
        record["error"] = f"{type(exc).__name__}: {exc}"
        record["traceback"] = traceback.format_exc(limit=5)
    record["time"] = time.perf_counter() - t0
    return record


@contextlib.contextmanager
def _alarm(timeout):
    """Raise ``TrialTimeout`` in this thread after ``timeout`` seconds, where
    a process's main thread can take a signal (Unix); elsewhere nothing
    (the search's own deadline then applies)."""
    usable = (timeout is not None and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def expire(signum, frame):
        raise TrialTimeout(f"the trial ran past timeout={timeout} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _worker_init(threads):
    # spawned workers import numba after this, so the cap applies to its pool
    for k, v in _worker_env(threads).items():
        os.environ[k] = v if k == "NUMBA_NUM_THREADS" else os.environ.get(k, v)


def warm_cache(dtypes=(np.float32, np.float64)):
    """Compile what a small model's ``fit``, ``evaluate`` and ``predict`` use
    on the cpu, for the given dtypes, into numba's on-disk cache, so worker
    processes load those kernels instead of each compiling them again.

    Objectives that know their model do better: ``make_objective.warm_cache``
    runs one short trial, which compiles exactly what the trials use.
    """
    from .layers import BatchNorm, Dense, Dropout, ReLU
    from .model import Sequential
    from .optim import Adam
    X, y = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    for dt in dtypes:
        model = Sequential([Dense(2, 4, bias=False), BatchNorm(4), ReLU(), Dropout(0.5), Dense(4, 2)], dtype=dt)
        model.fit(X, y, optimizer=Adam(model.parameters()), epochs=1, batch_size=4, verbose=False)
        model.evaluate(X, y)
        model.predict(X)


def local_executor(workers: int | None = None, threads_per_worker: int | None = None) -> cf.Executor:
    """A process pool on this machine's cores, numba threads capped per worker
    (workers x threads <= cores).

    With joblib installed (the ``tune`` extra), joblib's loky pool: it sends
    objectives with cloudpickle, so a lambda, a closure, a function defined
    in a notebook, in ``python -c`` or in a script without an ``if __name__
    == "__main__":`` guard all work, and its workers stay up between
    searches (the kernels they loaded too) until idle for ``LOKY_IDLE_S``.
    One such pool is kept per process: asking for another number of workers
    or threads shuts the kept one down and starts another. It is fastnn's
    own, apart from the pool joblib (scikit-learn's ``n_jobs``) uses.
    Without joblib, the standard library's pool with ``spawn`` (forking a
    process whose OpenMP pool is running can deadlock): objectives must then
    be importable functions, and scripts need the guard (``random_search``
    says so before any trial runs)."""
    cores = os.cpu_count() or 1
    workers = _checks.positive_int("workers", workers or cores)
    threads = _checks.positive_int("threads_per_worker", threads_per_worker or max(1, cores // workers))
    loky = _loky()
    if loky is not None:
        return _kept_pool(loky, workers, threads)
    import multiprocessing
    return cf.ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                  initializer=_worker_init, initargs=(threads,))


# seconds an idle loky worker waits for the next search before it exits
LOKY_IDLE_S = 300

# fastnn's own loky pool, kept between searches, with the (workers, threads)
# it was started for. Not loky's global reusable executor: joblib
# (scikit-learn's n_jobs) takes that one over with its own subclass and
# cannot use a plain one.
_kept = None


def _close_kept():
    # at exit, while the modules loky's callbacks use are still there
    global _kept
    if _kept is not None:
        _kept[1].shutdown(wait=False)
        _kept = None


atexit.register(_close_kept)


def _kept_pool(loky, workers, threads):
    global _kept
    if _kept is not None:
        key, pool = _kept
        if key == (workers, threads) and not pool._flags.broken and not pool._flags.shutdown:
            return pool
        _close_kept()                                  # one kept pool at a time
    pool = loky.ProcessPoolExecutor(max_workers=workers, timeout=LOKY_IDLE_S, env=_worker_env(threads))
    _kept = ((workers, threads), pool)
    return pool


def _loky():
    try:
        from joblib.externals import loky
    except ImportError:
        return None
    return loky


def _worker_env(threads):
    return {"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads),
            "OPENBLAS_NUM_THREADS": str(threads)}


def _check_sendable(objective):
    """Without loky, an objective goes to spawned workers by pickle: say
    before any trial runs when that cannot work, and how to fix it."""
    import pickle
    try:
        pickle.dumps(objective)
    except Exception as exc:
        raise TypeError(f"the objective cannot be sent to worker processes ({type(exc).__name__}: {exc}): "
                        "install joblib (pip install 'fastnn-numba[tune]'), whose pool sends lambdas, "
                        "closures and notebook functions; or define the objective at module level; or pass "
                        "executor=tune.SerialExecutor()") from None


class SerialExecutor(cf.Executor):
    """Runs each submitted call at once, in this process (for debugging and tests)."""

    def submit(self, fn, *args, **kwargs):
        future = cf.Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


# --- results ---------------------------------------------------------------------

@dataclass
class SearchResult:
    """Every trial record (dicts: id, round, params, seed, metric, extra, time,
    finished, status, error), sorted best first; ``mode`` says whether lower
    or higher metrics are better. ``time`` is the seconds a trial ran;
    ``finished`` the seconds from the search's start to its record (for a
    resumed record, from the start of the search that ran it)."""
    trials: List[Dict[str, Any]]
    space: Dict[str, Dimension]
    metric: str = "metric"
    mode: str = "min"
    rounds: List[Dict[str, Dimension]] = field(default_factory=list)

    @property
    def ok(self):
        return [t for t in self.trials if t["status"] == "ok"]

    @property
    def failed(self):
        return [t for t in self.trials if t["status"] != "ok"]

    @property
    def best(self):
        """The best successful trial's record (None if every trial failed)."""
        ok = self.ok
        return ok[0] if ok else None

    def table(self, limit=None):
        """The trials as a text table, best first, failed ones last."""
        names = list(self.space)
        head = f"{'trial':>5} {'round':>5}  " + "".join(f"{n:>14}" for n in names) + \
            f"{self.metric:>12}{'time s':>9}  status"
        lines = [head]
        for t in self.trials[:limit]:
            vals = "".join(f"{_fmt(t['params'][n]):>14}" for n in names)
            m = "" if t["metric"] is None else f"{t['metric']:.4f}"
            status = t["status"] if t["status"] == "ok" else f"failed: {t['error']}"[:60]
            lines.append(f"{t['id']:>5} {t.get('round', 0):>5}  {vals}{m:>12}{t['time']:>9.2f}  {status}")
        return "\n".join(lines)

    def plot(self, path):
        """Metric against each hyperparameter (log axes on log scales), as PNG.
        Returns the path, or None without matplotlib."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return None
        ok = self.ok
        names = [n for n, d in self.space.items() if not isinstance(d, Choice)]
        fig, axes = plt.subplots(1, max(1, len(names)), figsize=(4 * max(1, len(names)), 3.2), squeeze=False)
        for ax, name in zip(axes[0], names):
            dim = self.space[name]
            x = np.array([t["params"][name] for t in ok], dtype=float)
            y = np.array([t["metric"] for t in ok])
            if isinstance(dim, OneMinusLogUniform):
                ax.scatter(1 - x, y, c=[t.get("round", 0) for t in ok], cmap="viridis")
                ax.set_xscale("log")
                ax.set_xlabel(f"1 - {name}")
            else:
                ax.scatter(x, y, c=[t.get("round", 0) for t in ok], cmap="viridis")
                if dim.log_axis():
                    ax.set_xscale("log")
                ax.set_xlabel(name)
            ax.set_ylabel(self.metric)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def _fmt(v):
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def _sort(records, mode):
    sign = 1 if mode == "min" else -1
    return sorted(records, key=lambda t: (t["status"] != "ok", sign * (t["metric"] or 0.0), t["id"]))


class TrialTimeout(Exception):
    """A trial ran past the search's ``timeout``."""


def _canonical(params):
    """Parameters as the log stores them (JSON: tuples become lists), for
    comparing a trial with its logged record."""
    return json.loads(json.dumps(params))


def _valid_record(rec):
    """Whether a parsed log line is a trial record this module wrote."""
    return (isinstance(rec, dict) and isinstance(rec.get("id"), int) and not isinstance(rec.get("id"), bool)
            and isinstance(rec.get("params"), dict) and rec.get("status") in ("ok", "failed")
            and (rec.get("metric") is None or isinstance(rec.get("metric"), (int, float)))
            and (rec["status"] != "ok" or isinstance(rec.get("metric"), (int, float)))
            and isinstance(rec.get("time", 0.0), (int, float))
            and isinstance(rec.get("finished", 0.0), (int, float)))


class _Log:
    """A search's JSON-lines log, held for the search's duration.

    - An exclusive lock (a ``.lock`` file beside it, ``fcntl.flock``; the
      system releases it when the process dies) refuses a second search on
      the same log while the first runs, instead of both writing the same ids.
    - Reading skips lines that are not records (a line cut by a crash, or
      anything else), with a warning; a cut last line gets its newline
      before the next record, which would otherwise be glued onto it.
    - Each record is appended, flushed and synced as its trial ends.
    """

    def __init__(self, path, resume):
        self.path, self.resume, self.lock = (None if path is None else os.fspath(path)), resume, None

    def __enter__(self):
        if self.path is None:
            return self
        if os.path.exists(self.path) and not self.resume:
            raise FileExistsError(f"{self.path} exists: pass resume=True to continue that search, or another path")
        try:
            import fcntl
        except ImportError:                     # no flock (Windows): one search per log is up to the user
            return self
        self.lock = open(self.path + ".lock", "a")
        try:
            fcntl.flock(self.lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self.lock.close()
            self.lock = None
            raise RuntimeError(f"another search is writing to {self.path} (it holds {self.path}.lock); "
                               "give this search its own log") from None
        return self

    def __exit__(self, *exc):
        if self.lock is not None:
            self.lock.close()                    # releases the flock

    def read(self):
        """id -> record of the logged trials (the last record of an id wins)."""
        return {rec["id"]: rec for rec in self.read_records()}

    def read_records(self):
        """Every valid record, in the log's order."""
        done, skipped = [], 0
        if self.path is None or not os.path.exists(self.path):
            return done
        with open(self.path, "rb") as f:
            data = f.read()
        for line in data.splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except (json.JSONDecodeError, UnicodeDecodeError):
                rec = None
            if _valid_record(rec):
                done.append(rec)
            else:
                skipped += 1
        if skipped:
            warnings.warn(f"{self.path}: skipped {skipped} line(s) that are not trial records (a line cut by "
                          "a crash is one); those trials run again", stacklevel=4)
        if data and not data.endswith(b"\n"):
            with open(self.path, "ab") as f:
                f.write(b"\n")
        return done

    def append(self, rec):
        if self.path is None:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps({k: v for k, v in rec.items() if k != "traceback"}) + "\n")
            f.flush()
            os.fsync(f.fileno())


def _split(trials, done):
    """(records already logged, trials still to run); a logged id with other
    parameters belongs to another search."""
    records, pending = [], []
    for trial in trials:
        previous = done.get(trial["id"])
        if previous is None:
            pending.append(trial)
        elif _canonical(previous["params"]) == _canonical(trial["params"]):
            records.append(previous)
        else:
            raise ValueError(f"the log holds trial {trial['id']} with parameters {previous['params']}, not "
                             f"{trial['params']}: it is another search's log (another seed or space)")
    return records, pending


def _failed(trial, error, elapsed=0.0):
    return {**trial, "metric": None, "extra": {}, "status": "failed", "error": error, "time": elapsed}


class _Runner:
    """Runs trials on an executor, recording each as it ends, so that a
    search loses at most the trials in flight.

    A trial that kills its worker process (``os._exit``, a segfault) breaks
    a process pool for every trial in it. With the search's own pool, the
    pool is rebuilt and each trial that was in flight runs again alone: the
    one that breaks a pool on its own is recorded as failed, the others
    finish. A user's executor cannot be rebuilt: its broken trials are
    recorded as failed and the search stops with an error saying so.

    ``timeout`` (seconds): a trial running past it is stopped by an alarm
    inside the trial where it runs on a process's main thread (the serial
    executor, process pools) and recorded as failed. Elsewhere (threads,
    Dask), and as a backstop for code that does not return to Python, the
    search stops waiting after ``timeout`` plus a grace: it records the trial
    as failed, cancels it, and, with its own pool, replaces the pool (the
    other trials in flight run again).
    """

    def __init__(self, objective, metric, executor, timeout, n_pending):
        self.objective, self.metric, self.timeout = objective, metric, timeout
        self.own = executor is None
        self.workers = min(os.cpu_count() or 1, max(1, n_pending))
        self.executor = executor if not self.own else self._new_pool()
        self.window = 1 if isinstance(self.executor, SerialExecutor) else (
            getattr(self.executor, "_max_workers", None) or 1 << 30)
        self.grace = None if timeout is None else 1.5 * timeout + 10.0

    def _new_pool(self):
        return local_executor(self.workers) if self.workers > 1 else SerialExecutor()

    def _replace_pool(self):
        _kill(self.executor)
        self.executor = self._new_pool()

    def close(self):
        # the search's own spawn pool goes; loky's reusable pool stays for the next search
        if self.own and not _is_loky(self.executor):
            self.executor.shutdown(wait=True, cancel_futures=True)

    def _submit(self, trial):
        return self.executor.submit(_run_trial, self.objective, trial, self.metric, self.timeout)

    def run(self, pending, record):
        queue = list(pending)
        queue.reverse()                                    # pop() takes trials in order
        flight = {}                                        # future -> (trial, submitted at)
        while queue or flight:
            while queue and len(flight) < self.window:
                try:
                    fut = self._submit(queue[-1])
                except cf.BrokenExecutor:            # a worker died since the last wait
                    if flight:
                        break                        # the trials in flight say which (below)
                    if not self.own:
                        raise RuntimeError("the executor's process pool is broken; the finished trials are in "
                                           "the log: resume=True with a working executor continues") from None
                    self._replace_pool()
                    continue
                trial = queue.pop()
                flight[fut] = (trial, time.perf_counter())
            wait = None if self.grace is None else max(
                0.0, min(t0 + self.grace for _, t0 in flight.values()) - time.perf_counter())
            done, _ = cf.wait(list(flight), timeout=wait, return_when=cf.FIRST_COMPLETED)
            broken = []
            for fut in done:
                trial, t0 = flight.pop(fut)
                try:
                    record(fut.result())
                except cf.BrokenExecutor:
                    broken.append(trial)
                except cf.CancelledError:
                    record(_failed(trial, "cancelled", time.perf_counter() - t0))
            now = time.perf_counter()
            late = [f for f, (_, t0) in flight.items() if self.grace is not None and now - t0 >= self.grace]
            for fut in late:
                trial, t0 = flight.pop(fut)
                fut.cancel()
                record(_failed(trial, f"TrialTimeout: still running after {now - t0:.1f} s "
                                      f"(timeout={self.timeout} s)", now - t0))
            if late and self.own:                          # its worker may never come back
                queue.extend(reversed([trial for trial, _ in flight.values()]))
                flight.clear()
                self._replace_pool()
            if broken:
                if not self.own:
                    for trial in broken + [t for t, _ in flight.values()]:
                        record(_failed(trial, "the worker process died (the executor's pool is broken)"))
                    raise RuntimeError("a trial killed its worker and broke the executor's process pool; "
                                       "the finished trials are in the log: resume=True with a working "
                                       "executor (or none, for the search's own pool) continues")
                queue.extend(reversed([trial for trial, _ in flight.values()]))
                flight.clear()
                self._replace_pool()
                for trial in broken:                       # alone, to find the one that kills its worker
                    t0 = time.perf_counter()
                    try:
                        record(self._submit(trial).result(timeout=self.grace))
                    except cf.BrokenExecutor:
                        record(_failed(trial, "the worker process died while running this trial "
                                              "(os._exit, a crash, or killed)", time.perf_counter() - t0))
                        self._replace_pool()
                    except cf.TimeoutError:
                        record(_failed(trial, f"TrialTimeout: still running after {self.grace:.1f} s",
                                       time.perf_counter() - t0))
                        self._replace_pool()


def _is_loky(executor):
    return type(executor).__module__.startswith("joblib.externals.loky")


def _kill(executor):
    """Stop a process pool now, its workers included (a stuck trial never
    returns, so ``shutdown`` alone would wait for it forever)."""
    if _is_loky(executor):
        executor.shutdown(wait=False, kill_workers=True)
        return
    for proc in list(getattr(executor, "_processes", {}).values()):
        with contextlib.suppress(Exception):
            proc.kill()
    executor.shutdown(wait=False, cancel_futures=True)


def _run_all(objective, trials, metric, executor, log, resume, timeout=None):
    """Run every trial not already in the log; append each record as it ends."""
    start = time.perf_counter()
    if timeout is not None:
        timeout = _checks.scalar("timeout", timeout, low=0.0, low_open=True)
    with _Log(log, resume) as book:
        records, pending = _split(trials, book.read() if resume else {})
        if not pending:
            return records
        if executor is None and len(pending) > 1 and (os.cpu_count() or 1) > 1:
            warm = getattr(objective, "warm_cache", None)       # workers then load kernels from the disk cache
            if callable(warm):
                warm(pending[0]["params"])
            else:
                warm_cache()
        if executor is None and _loky() is None and len(pending) > 1 and (os.cpu_count() or 1) > 1:
            _check_sendable(objective)
        runner = _Runner(objective, metric, executor, timeout, len(pending))

        def record(rec):
            rec["round"] = rec.get("round", 0)
            rec["finished"] = time.perf_counter() - start
            records.append(rec)
            book.append(rec)

        try:
            runner.run(pending, record)
        finally:
            runner.close()
    return records


def random_search(objective: Callable[[dict, int], float | dict], space: dict[str, Dimension], n_trials: int,
                  seed: int = 0, executor: cf.Executor | None = None, metric: str = "metric",
                  mode: str = "min", log: str | os.PathLike | None = None,
                  resume: bool = False, timeout: float | None = None) -> SearchResult:
    """Random search: ``n_trials`` points sampled from ``space`` (on each
    dimension's scale), evaluated by ``objective(params, seed)``.

    Parameters
    ----------
    objective : callable ``(params: dict, seed: int) -> float | dict``; with a
        dict, ``metric`` names the entry to optimise. Must be picklable for
        process pools (a module-level function, or ``make_objective``).
    space : dict name -> Dimension (Uniform, LogUniform, OneMinusLogUniform,
        IntUniform, Choice); checked before any trial runs
    n_trials : int
    seed : int; the same seed samples the same trials with the same seeds
    executor : any ``concurrent.futures.Executor`` (only ``submit`` and
        ``result`` are used); default: a process pool on the local cores
    mode : "min" (a cost or error) or "max" (an accuracy)
    log : path of a JSON-lines log, one record per finished trial, written
        as each trial ends (a killed search loses only the trials in flight)
    resume : with ``log``, skip the trials already recorded there
    timeout : seconds a trial may run; a longer one is stopped and recorded
        as failed (see ``_Runner`` for how, on each kind of executor)

    Returns
    -------
    SearchResult: ``.best``, ``.table()``, ``.plot(path)``, ``.trials``
    """
    check_space(space)
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    n_trials = _checks.positive_int("n_trials", n_trials)
    trials = sample_trials(space, n_trials, seed)
    records = _run_all(objective, trials, metric, executor, log, resume, timeout)
    return SearchResult(_sort(records, mode), space, metric, mode, [space])


def coarse_to_fine(objective: Callable[[dict, int], float | dict], space: dict[str, Dimension],
                   rounds: int = 2, n_trials: int = 10, top_k: int = 3, seed: int = 0,
                   executor: cf.Executor | None = None, metric: str = "metric", mode: str = "min",
                   log: str | os.PathLike | None = None, resume: bool = False,
                   margin: float = 0.1, timeout: float | None = None) -> SearchResult:
    """Random search in rounds: after each round, every dimension is narrowed
    to the range spanned by the ``top_k`` best trials so far (plus ``margin``
    of the current range on each side, in the dimension's own scale), and
    ``n_trials`` new points are sampled there. Trial ids run on across rounds.
    """
    check_space(space)
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min' or 'max', got {mode!r}")
    rounds = _checks.positive_int("rounds", rounds)
    top_k = _checks.positive_int("top_k", top_k)
    records, spaces, current = [], [], dict(space)
    for r in range(rounds):
        spaces.append(current)
        trials = sample_trials(current, n_trials, seed, first_id=r * n_trials)
        for t in trials:
            t["round"] = r
        records += _run_all(objective, trials, metric, executor, log, resume or r > 0, timeout)
        best = [t for t in _sort(records, mode) if t["status"] == "ok"][:top_k]
        if not best:
            break
        current = {name: dim.narrowed([t["params"][name] for t in best], margin) for name, dim in current.items()}
    return SearchResult(_sort(records, mode), space, metric, mode, spaces)


def grid_search(objective: Callable[[dict, int], float | dict], grid: dict[str, Sequence],
                executor: cf.Executor | None = None, metric: str = "metric", mode: str = "min",
                log: str | os.PathLike | None = None, resume: bool = False, seed: int = 0,
                timeout: float | None = None) -> SearchResult:
    """Every combination of ``grid`` (dict name -> list of values), for comparison.

    Prefer ``random_search``: with n values per hyperparameter a grid spends
    n^d trials but tries only n distinct values of the hyperparameter that
    matters most; random search tries a fresh value of every hyperparameter in
    every trial, and you rarely know in advance which ones matter.
    """
    import itertools
    if not isinstance(grid, dict) or not grid or not all(len(list(v)) for v in grid.values()):
        raise ValueError("grid must be a non-empty dict of name -> non-empty list of values")
    names = list(grid)
    combos = list(itertools.product(*[list(grid[n]) for n in names]))
    seeds = np.random.SeedSequence(seed).spawn(len(combos))
    trials = [{"id": i, "params": {n: _plain(v) for n, v in zip(names, combo)},
               "seed": int(s.generate_state(1)[0])} for i, (combo, s) in enumerate(zip(combos, seeds))]
    records = _run_all(objective, trials, metric, executor, log, resume, timeout)
    space = {n: Choice(grid[n]) for n in names}
    return SearchResult(_sort(records, mode), space, metric, mode, [space])


def asha(build: Callable, train: tuple, dev: tuple, space: dict[str, Dimension], n_trials: int, max_epochs: int,
         min_epochs: int = 1, eta: int = 3, batch_size: int = 64, seed: int = 0,
         executor: cf.Executor | None = None, metric: str = "dev_error", log: str | os.PathLike | None = None,
         resume: bool = False, synchronous: bool = False) -> SearchResult:
    """Asynchronous successive halving: ``n_trials`` random points of
    ``space`` trained in rungs of ``min_epochs * eta**k`` epochs up to
    ``max_epochs``, the bottom of each rung stopped early (``fastnn/_asha.py``).

    Parameters
    ----------
    build : ``(params, seed) -> (model, optimizer)``, as for ``make_objective``
    train, dev : ``(X, y)`` pairs; the metric is measured on ``dev`` after
        every epoch by a ``fit`` callback
    metric : ``"dev_error"`` (1 - accuracy) or ``"dev_cost"``; lower is better
    executor, log, resume : as ``random_search``; a trial's state between
        rungs travels with its tasks, so any executor works, and with a log
        it is also kept in ``<log>.states/`` for ``resume``
    synchronous : successive halving as first published: a rung promotes
        only when all of it has finished, exactly its top ``1/eta`` (workers
        may wait at the end of a rung; ASHA's decisions never wait)

    Returns
    -------
    SearchResult with one record per trial (its highest rung: ``rung``,
    ``epochs``, ``metric``, and the per-epoch ``extra["curve"]``), the
    trials of the top rung first.
    """
    from . import _asha
    start = time.perf_counter()
    check_space(space)
    n_trials = _checks.positive_int("n_trials", n_trials)
    min_epochs, max_epochs, eta = _asha.check(min_epochs, max_epochs, eta)
    batch_size = _checks.positive_int("batch_size", batch_size)
    if metric not in ("dev_error", "dev_cost"):
        raise ValueError(f"metric must be 'dev_error' or 'dev_cost', got {metric!r}")
    trials = sample_trials(space, n_trials, seed)
    rungs = _asha.budgets(min_epochs, max_epochs, eta)
    with _Log(log, resume) as book:
        if resume:
            for rec in book.read_records():
                if rec["id"] < n_trials and _canonical(rec["params"]) != _canonical(trials[rec["id"]]["params"]):
                    raise ValueError(f"the log holds trial {rec['id']} with parameters {rec['params']}: it is "
                                     "another search's log (another seed or space)")
        states_dir = None
        if book.path is not None:
            states_dir = book.path + ".states"
            os.makedirs(states_dir, exist_ok=True)
        own = executor is None
        if own:
            executor = local_executor() if n_trials > 1 and (os.cpu_count() or 1) > 1 else SerialExecutor()
            if not isinstance(executor, SerialExecutor):         # compile once, workers load from the cache
                model, optimizer = build(dict(trials[0]["params"]), 0)
                model.fit(*train, optimizer=optimizer, epochs=1, batch_size=batch_size, verbose=False,
                          validation_data=dev)
        # two rungs queued per worker: a worker starts its next rung while the
        # result of its last one travels back (0.3 ms a round trip on loky)
        window = 1 if isinstance(executor, SerialExecutor) else 2 * (getattr(executor, "_max_workers", None) or 1 << 29)
        import tempfile
        with tempfile.TemporaryDirectory(prefix="fastnn-asha-") as folder:
            shipped = ((_asha.Shared(folder, train, dev), None) if own and not isinstance(executor, SerialExecutor)
                       else (train, dev))
            try:
                records = _asha.run(build, *shipped, trials, rungs, eta, batch_size, metric, "min", executor, book,
                                    states_dir, window, _checks.flag("synchronous", synchronous), start)
            finally:
                if own and not isinstance(executor, SerialExecutor) and not _is_loky(executor):
                    executor.shutdown(wait=True)
    last = {}
    for rec in records:                         # each trial's highest rung
        mine = last.get(rec["id"])
        if mine is None or (rec["status"] == "ok", rec["rung"]) > (mine["status"] == "ok", mine["rung"]):
            last[rec["id"]] = rec
    ordered = sorted(last.values(), key=lambda t: (t["status"] != "ok", -t["rung"], t["metric"] or 0.0, t["id"]))
    return SearchResult(ordered, space, metric, "min", [space])


def hyperband(build: Callable, train: tuple, dev: tuple, space: dict[str, Dimension], n_trials: int,
              max_epochs: int, min_epochs: int = 1, eta: int = 3, seed: int = 0, **options) -> SearchResult:
    """Hyperband as brackets of ASHA: bracket s starts its trials at
    ``min_epochs * eta**s`` epochs, so the brackets hedge between stopping
    early (s = 0) and training every trial longer. ``n_trials`` are shared
    out over the brackets, fewer to the later ones (as Hyperband does: they
    cost more per trial); the brackets run one after the other, each an
    ``asha`` search with its own seed (``seed + s``) and log
    (``<log>.bracket<s>``). Returns every bracket's trials, best first,
    each with its ``bracket`` in ``extra``."""
    from . import _asha
    min_epochs, max_epochs, eta = _asha.check(min_epochs, max_epochs, eta)
    n_trials = _checks.positive_int("n_trials", n_trials)
    brackets = len(_asha.budgets(min_epochs, max_epochs, eta))
    weights = [eta ** (brackets - 1 - s) / (brackets - s) for s in range(brackets)]
    shares = [max(1, int(round(n_trials * w / sum(weights)))) for w in weights]
    log = options.pop("log", None)
    records, first_id = [], 0
    for s, share in enumerate(shares):
        start = min(max_epochs, min_epochs * eta ** s)
        res = asha(build, train, dev, space, share, max_epochs, min_epochs=start, eta=eta, seed=seed + s,
                   log=None if log is None else f"{os.fspath(log)}.bracket{s}", **options)
        for t in res.trials:                   # ids run on across the brackets
            t["extra"]["bracket"] = s
            t["id"] += first_id
        first_id += share
        records += res.trials
    ordered = sorted(records, key=lambda t: (t["status"] != "ok", -t["epochs"], t["metric"] or 0.0))
    return SearchResult(ordered, space, "dev_error" if "metric" not in options else options["metric"], "min",
                        [space])


# --- objectives from models -----------------------------------------------------------

class make_objective:
    """An objective from a model factory and data: build, fit, score on dev.

    ``build(params, seed) -> (model, optimizer)`` must be a module-level
    function (picklable). The objective fits on ``train`` for ``epochs`` and
    returns ``{"dev_error": ..., "dev_cost": ..., "train_error": ...}``;
    search with ``metric="dev_error"`` (the default of this helper's users).
    """

    def __init__(self, build, train, dev, epochs=10, batch_size=64):
        self.build, self.train, self.dev = build, train, dev
        self.epochs, self.batch_size = epochs, batch_size

    def __call__(self, params, seed):
        model, optimizer = self.build(params, seed)
        model.fit(*self.train, optimizer=optimizer, epochs=self.epochs, batch_size=self.batch_size,
                  seed=seed, verbose=False)
        dev = model.evaluate(*self.dev)
        train = model.evaluate(*self.train)
        return {"dev_error": 1 - dev["accuracy"], "dev_cost": dev["cost"], "train_error": 1 - train["accuracy"]}

    def warm_cache(self, params):
        """One epoch of one trial in this process: compiles (into numba's
        disk cache) exactly the kernels the trials run, for their dtype and
        batch size, before worker processes start."""
        model, optimizer = self.build(params, 0)
        model.fit(*self.train, optimizer=optimizer, epochs=1, batch_size=self.batch_size, seed=0, verbose=False)
        model.evaluate(*self.dev)
        model.evaluate(*self.train)


def resume(path: str | os.PathLike, lr: float | None = None, backend: str | None = None) -> tuple:
    """Babysitting ("pandas"): load a checkpoint with its optimizer, optionally
    with a new learning rate, to continue ``fit`` from where it stopped."""
    from .checkpoint import load
    model, optimizer = load(path, with_optimizer=True, backend=backend)
    if optimizer is None:
        raise ValueError(f"{path} has no optimizer state; save it with model.save(path, optimizer=opt)")
    if lr is not None:
        optimizer.lr = lr
    return model, optimizer


# --- learning-rate range test ------------------------------------------------------------

@dataclass
class LRFinderResult:
    """What ``lr_find`` measured: the learning rates tried, the smoothed
    training cost after each step, and the suggested rate (where the
    smoothed cost fell fastest against log(lr))."""
    lrs: List[float]
    costs: List[float]
    suggestion: float

    def plot(self, path):
        """The cost against the learning rate (log axis), the suggestion
        marked, as PNG. Returns the path, or None without matplotlib."""
        try:
            import matplotlib
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            return None
        fig, ax = plt.subplots(figsize=(5, 3.2))
        ax.plot(self.lrs, self.costs)
        ax.axvline(self.suggestion, color="tab:red", linestyle="--", label=f"suggested {self.suggestion:.2g}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("smoothed training cost")
        ax.legend()
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        return path


def lr_find(model, optimizer, X, y, start_lr: float = 1e-7, end_lr: float = 10.0, steps: int = 200,
            batch_size: int = 64, stop_factor: float = 4.0, smoothing: float = 0.98, seed: int = 0) -> LRFinderResult:
    """Learning-rate range test: train for up to ``steps`` mini-batches with
    the learning rate growing exponentially from ``start_lr`` to ``end_lr``,
    stopping once the smoothed cost exceeds ``stop_factor`` times its best
    (or stops being finite). The cost is an exponential average
    (``smoothing``), bias-corrected. The suggestion is the rate where the
    smoothed cost fell fastest against log(lr), a common choice for the
    largest rate that still learns well.

    The model (parameters, gradients, batch-norm statistics, dropout
    streams) and the optimizer (state, step count, learning rate) come back
    exactly as they were; the test trains on copies of nothing, so it costs
    what ``steps`` training steps cost.
    """
    start_lr = _checks.scalar("start_lr", start_lr, low=0.0, low_open=True)
    end_lr = _checks.scalar("end_lr", end_lr, low=start_lr, low_open=True)
    steps = _checks.positive_int("steps", steps, minimum=2)
    batch_size = _checks.positive_int("batch_size", batch_size)
    stop_factor = _checks.scalar("stop_factor", stop_factor, low=1.0, low_open=True)
    smoothing = _checks.scalar("smoothing", smoothing, low=0.0, high=0.999)
    if optimizer.params is not model.parameters():
        raise ValueError("optimizer was built for other parameters; use model.parameters()")
    from . import _arrays
    from .layers import Dropout
    x_all = model._x(X)
    y_all = model._y(y, x_all.shape[0])
    m = x_all.shape[0]
    params = model.parameters()
    saved = (model._snapshot(), _arrays.copy(params.grad), optimizer.state_dict(), optimizer.lr,
             [layer.offset for layer in model.layers if isinstance(layer, Dropout)])
    rng = np.random.default_rng(seed)
    factor = (end_lr / start_lr) ** (1.0 / (steps - 1))
    lrs, costs = [], []
    average, best = 0.0, math.inf
    order = rng.permutation(m)
    at = 0
    try:
        for i in range(steps):
            if at + batch_size > m:
                order, at = rng.permutation(m), 0
            rows = order[at:at + batch_size]
            at += batch_size
            lr = start_lr * factor ** i
            optimizer.lr = lr
            with np.errstate(all="ignore"):
                cost = model.train_step(x_all[rows], y_all[rows], optimizer)
            if not math.isfinite(cost):
                break
            average = smoothing * average + (1 - smoothing) * cost
            smoothed = average / (1 - smoothing ** (i + 1))
            lrs.append(lr)
            costs.append(smoothed)
            best = min(best, smoothed)
            if smoothed > stop_factor * best:
                break
    finally:
        snapshot, grad, opt_state, lr0, offsets = saved
        model._restore(snapshot)
        _arrays.copy_into(params.grad, grad)
        optimizer.load_state_dict(opt_state)
        optimizer.lr = lr0
        for layer, offset in zip([la for la in model.layers if isinstance(la, Dropout)], offsets):
            layer.offset = offset
    if len(costs) < 3:
        raise ValueError(f"the range test stopped after {len(costs)} steps: lower start_lr (the cost diverged "
                         f"at {start_lr * factor ** len(costs):.3g})")
    slopes = np.gradient(np.asarray(costs), np.log(np.asarray(lrs)))
    return LRFinderResult(lrs, costs, float(lrs[int(np.argmin(slopes))]))
