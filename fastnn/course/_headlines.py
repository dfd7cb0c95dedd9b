"""``python -m fastnn course``: the notebooks' headline results next to fastnn.course's.

The "notebook" column holds the figures the assignments print (costs as
printed, accuracies from their ``predict``); the runs are the assignments'
own ``model`` calls, on ``fastnn.course``.
"""
from __future__ import annotations

import os
import time

import numpy as np

from . import datasets, initialization, optimization, regularization

# (assignment, run, what, the notebook's figure)
PUBLISHED = [
    ("initialization", "he", "cost after iteration 0", "0.8830537463419761"),
    ("initialization", "he", "cost after iteration 1000", "0.687982591973"),
    ("initialization", "he", "train accuracy", "0.9933"),
    ("initialization", "he", "test accuracy", "0.96"),
    ("initialization", "zeros", "cost after iteration 1000", "0.69314718056"),
    ("initialization", "zeros", "train accuracy", "0.5"),
    ("initialization", "random", "cost after iteration 0", "inf"),
    ("regularization", "none", "cost after iteration 0", "0.6557412523481002"),
    ("regularization", "none", "test accuracy", "0.915"),
    ("regularization", "L2, lambd=0.7", "cost after iteration 0", "0.6974484493131264"),
    ("regularization", "L2, lambd=0.7", "cost after iteration 20000", "0.26809163371273004"),
    ("regularization", "L2, lambd=0.7", "test accuracy", "0.93"),
    ("regularization", "dropout, keep_prob=0.86", "cost after iteration 0", "0.6543912405149825"),
    ("regularization", "dropout, keep_prob=0.86", "test accuracy", "0.95"),
    ("optimization", "gd", "cost after epoch 0", "0.702405"),
    ("optimization", "momentum", "cost after epoch 0", "0.702413"),
    ("optimization", "adam", "cost after epoch 1000", "0.167845"),
    ("optimization", "adam", "train accuracy", "0.94"),
]


def _acc(X, Y, p):
    return float(np.mean(initialization.predict(X, Y, p, print_accuracy=False) == Y))


def results(football_path):
    """(assignment, run) -> {what: value} from fastnn.course's runs."""
    out = {}
    X, Y, tX, tY = datasets.load_circles()
    for init in ("he", "zeros", "random"):
        p, costs = initialization._train(X, Y, 0.01, 15000, init, 1000)
        out[("initialization", init)] = {"cost after iteration 0": str(float(costs[0])),
                                        "cost after iteration 1000": f"{costs[1]:.12g}",
                                        "train accuracy": f"{_acc(X, Y, p):.4g}",
                                        "test accuracy": f"{_acc(tX, tY, p):.4g}"}
    if football_path and os.path.exists(football_path):
        d = np.load(football_path)
        fX, fY, ftX, ftY = d["X_train"].T, d["y_train"].reshape(1, -1), d["X_test"].T, d["y_test"].reshape(1, -1)
        for run, kw in (("none", {}), ("L2, lambd=0.7", {"lambd": 0.7}),
                        ("dropout, keep_prob=0.86", {"keep_prob": 0.86})):
            p, costs = regularization._train(fX, fY.astype(float), 0.3, 30000, kw.get("lambd", 0.0),
                                             kw.get("keep_prob", 1.0), 1000)
            out[("regularization", run)] = {"cost after iteration 0": str(float(costs[0])),
                                           "cost after iteration 20000": str(float(costs[20])),
                                           "test accuracy": f"{_acc(ftX, ftY, p):.4g}"}
    mX, mY = datasets.load_moons()
    for opt in ("gd", "momentum", "adam"):
        p, costs, _ = optimization._train(mX, mY, [2, 5, 2, 1], opt, 0.0007, 64, 0.9, 0.9, 0.999, 1e-8, 5000,
                                          None, 1, 1000)
        out[("optimization", opt)] = {"cost after epoch 0": "%f" % costs[0], "cost after epoch 1000": "%f" % costs[1],
                                     "train accuracy": f"{_acc(mX, mY, p):.2g}"}
    return out


def table(out, football_path=None):
    t0 = time.perf_counter()
    got = results(football_path)
    print(f"\nThe course's notebooks and fastnn.course ({time.perf_counter() - t0:.1f} s)", file=out)
    print(f"  {'assignment':<16}{'run':<26}{'figure':<28}{'notebook':>24}{'fastnn.course':>24}", file=out)
    for assignment, run, what, published in PUBLISHED:
        ours = got.get((assignment, run), {}).get(what, "(no data)")
        print(f"  {assignment:<16}{run:<26}{what:<28}{published:>24}{ours:>24}", file=out)
