"""The course's experiments, as run by ``python -m fastnn``.

Each experiment trains a few configurations on embedded data and returns
rows: train/dev accuracy, final cost, epochs, the run's time, and the same
run's time on the ref backend (the plain-NumPy twin) for the speedup.

Every model here is float32, the dtype the cpu kernels are tuned for: one
dtype means one compiled training step, which keeps a cold first run (empty
numba cache) under 30 s. ``Sequential``'s own default stays float64, the
dtype for gradient checks.
"""
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import numpy as np

from . import datasets, schedules
from .data import Standardizer, train_dev_test_split
from .layers import BatchNorm, Dense, Dropout, ReLU
from .model import Sequential
from .optim import SGD, Adam, Momentum


@dataclass
class Run:
    """One configuration: how to build the model and optimizer, and how to fit."""
    name: str
    build: Callable            # backend -> (model, optimizer)
    epochs: int
    batch_size: Optional[int] = None       # None: full batch
    schedule: Optional[Callable] = None


@dataclass
class Result:
    name: str
    train_acc: float
    dev_acc: float
    cost: float
    epochs: int
    seconds: float
    ref_seconds: Optional[float] = None
    history: Dict = field(default_factory=dict)
    model: object = None


@dataclass
class Experiment:
    key: str
    title: str
    data: Callable             # () -> (Xtrain, ytrain, Xdev, ydev)
    runs: List[Run]


def _fit(run, backend, data):
    Xt, yt, Xd, yd = data
    bs = run.batch_size or len(Xt)
    if backend != "ref":
        # one epoch of a throwaway model first: the timed run then measures
        # training, not the one-time load (or compile) of its kernels
        model, opt = run.build(backend)
        model.fit(Xt[:bs], yt[:bs], optimizer=opt, epochs=1, batch_size=bs, verbose=False)
        model.evaluate(Xd, yd)
    model, opt = run.build(backend)
    t0 = time.perf_counter()
    h = model.fit(Xt, yt, optimizer=opt, epochs=run.epochs, batch_size=bs, schedule=run.schedule, seed=0,
                  verbose=False)
    # the table's accuracies: one exact inference pass over each set, after training
    accuracy = (model.evaluate(Xt, yt)["accuracy"], model.evaluate(Xd, yd)["accuracy"])
    return model, h, time.perf_counter() - t0, accuracy


def run_experiment(exp, backend="cpu", compare_ref=True):
    data = exp.data()
    results = []
    for run in exp.runs:
        model, h, seconds, (train_acc, dev_acc) = _fit(run, backend, data)
        ref_seconds = _fit(run, "ref", data)[2] if compare_ref and backend != "ref" else None
        results.append(Result(run.name, train_acc, dev_acc, h["cost"][-1], h.epochs,
                              seconds, ref_seconds, h.history, model))
    return data, results


# --- the four experiments -------------------------------------------------------

def _split(X, y, seed=0, dev=0.3):
    (Xt, yt), (Xd, yd), _ = train_dev_test_split(X, y, dev=dev, test=0.0, seed=seed)
    return Xt, yt, Xd, yd


def _init_runs():
    def make(init, scale=None):
        def build(backend):
            from . import init as inits
            layers = [Dense(2, 10, "relu", init=init), Dense(10, 5, "relu", init=init), Dense(5, 1, init=init)]
            model = Sequential(layers, loss="binary_cross_entropy", backend=backend, seed=1, dtype=np.float32)
            if scale is not None:           # the course's "large random": randn * 10
                rng = np.random.default_rng(3)
                w = model.get_weights()
                for i, ws in enumerate(w):
                    ws[0] = inits.random_normal(ws[0].shape, rng=rng, scale=scale)
                model.set_weights(w)
            return model, SGD(model.parameters(), lr=0.05)
        return build
    return [Run("zeros", make("zeros"), 2000), Run("large random (x10)", make("glorot_uniform", 10.0), 2000),
            Run("He", make("he_normal"), 2000)]


def _reg_runs():
    def make(l2=0.0, keep=1.0):
        def build(backend):
            drop = [Dropout(keep)] if keep < 1 else []
            layers = [Dense(2, 128, "relu"), *drop, Dense(128, 64, "relu"),
                      *([Dropout(keep)] if keep < 1 else []), Dense(64, 1)]
            model = Sequential(layers, loss="binary_cross_entropy", l2=l2, backend=backend, seed=2, dtype=np.float32)
            return model, Adam(model.parameters(), lr=0.01)
        return build
    return [Run("no regularization", make(), 1500), Run("L2 (lambd=1)", make(l2=1.0), 1500),
            Run("dropout (keep=0.7)", make(keep=0.7), 1500)]


def _opt_runs():
    def make(kind):
        def build(backend):
            layers = [Dense(2, 5, "relu"), Dense(5, 2, "relu"), Dense(2, 1)]
            model = Sequential(layers, loss="binary_cross_entropy", backend=backend, seed=3, dtype=np.float32)
            p = model.parameters()
            opt = {"gd": lambda: SGD(p, lr=0.1), "momentum": lambda: Momentum(p, lr=0.1, beta=0.9),
                   "adam": lambda: Adam(p, lr=0.01)}[kind]()
            return model, opt
        return build
    decay = {"gd": 0.1, "momentum": 0.1, "adam": 0.01}
    runs = []
    for kind in ("gd", "momentum", "adam"):
        label = {"gd": "mini-batch GD", "momentum": "momentum", "adam": "Adam"}[kind]
        runs.append(Run(label, make(kind), 300, batch_size=64))
        runs.append(Run(f"{label} + lr decay", make(kind), 300, batch_size=64,
                        schedule=schedules.InverseTimeDecay(decay[kind] * 2, 1.0, decay_steps=100,
                                                            staircase=True)))
    return runs


def _digits_data():
    X, y = datasets.load_digits()
    Xt, yt, Xd, yd = _split(X, y, seed=0, dev=0.2)
    s = Standardizer().fit(Xt)
    return s.transform(Xt).astype(np.float32), yt, s.transform(Xd).astype(np.float32), yd


def _digits_runs():
    def build(backend):
        layers = [Dense(64, 128, bias=False), BatchNorm(128), ReLU(), Dropout(0.8),
                  Dense(128, 64, bias=False), BatchNorm(64), ReLU(), Dense(64, 10)]
        model = Sequential(layers, dtype=np.float32, backend=backend, seed=4)
        return model, Adam(model.parameters(), lr=1e-3)
    return [Run("He + batch norm + dropout + Adam", build, 30, batch_size=64)]


EXPERIMENTS = {
    "init": Experiment("init", "Initialization: circles, [2, 10, 5, 1], full-batch GD",
                       lambda: _split(*datasets.circles(300, noise=0.08, seed=0)), _init_runs()),
    "regularization": Experiment("regularization", "Regularization: 60 noisy moons (overfits), [2, 128, 64, 1], "
                                 "full-batch Adam", lambda: _split(*datasets.moons(120, noise=0.3, seed=1),
                                                                    dev=0.5), _reg_runs()),
    "optimization": Experiment("optimization", "Optimization: moons, [2, 5, 2, 1], batches of 64",
                               lambda: _split(*datasets.moons(300, noise=0.2, seed=2)), _opt_runs()),
    "digits": Experiment("digits", "Digits (UCI optdigits 8x8): [64, 128, 64, 10], batch norm, dropout, Adam",
                         _digits_data, _digits_runs()),
}


# --- the fifth: hyperparameter search -------------------------------------------------

def search_build(params, seed):
    """The digits MLP for the search (module level: process pools pickle it)."""
    layers = [Dense(64, 64, bias=False), BatchNorm(64), ReLU(), Dense(64, 10)]
    model = Sequential(layers, dtype=np.float32, seed=seed)
    return model, Adam(model.parameters(), lr=params["lr"], betas=(params["beta1"], 0.999))


def run_search(executor=None, n_trials=27, max_epochs=9, seed=0, log=None):
    """ASHA over lr (log scale) and beta1 (1 - beta1 on a log scale) on the
    digits dev set: ``n_trials`` trials in rungs of 1, 3, 9, ... epochs up to
    ``max_epochs``, the bottom two thirds of each rung stopped early.
    Returns the ``SearchResult`` (each trial's highest rung)."""
    from . import tune
    Xt, yt, Xd, yd = _digits_data()
    space = {"lr": tune.LogUniform(1e-4, 1e-1), "beta1": tune.OneMinusLogUniform(0.8, 0.999)}
    return tune.asha(search_build, (Xt, yt), (Xd, yd), space, n_trials=n_trials, max_epochs=max_epochs,
                     batch_size=64, seed=seed, executor=executor, metric="dev_error", log=log)


def epochs_saved(result, max_epochs):
    """(epochs trained, epochs that training every trial to ``max_epochs``
    would take) for an ASHA result: a trial trained to its highest rung."""
    trained = sum(t["epochs"] for t in result.trials if t.get("epochs") is not None)
    return trained, len(result.trials) * max_epochs
