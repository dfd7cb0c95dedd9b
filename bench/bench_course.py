"""The course's experiments: ``fastnn.course``'s ``model()`` against the same
run in plain NumPy written the notebooks' way (``bench/_course_numpy.py``),
timed in alternation within one process, with the parameters compared.

    python -m bench.bench_course          # the table (README, "Coming from the course")

Under pytest each run is a short smoke test that the two agree.
"""
import os
import sys
import time

import numpy as np

from fastnn.course import datasets, initialization, optimization, regularization

from . import _course_numpy as plain

FOOTBALL = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "course_football_2d.npz")


def _football():
    if not os.path.exists(FOOTBALL):
        return None
    d = np.load(FOOTBALL)
    return d["X_train"].T, d["y_train"].reshape(1, -1).astype(float)


def runs(scale=1.0):
    """name -> (fastnn run, plain NumPy run), each returning parameters."""
    X, Y, _, _ = datasets.load_circles()
    n = lambda k: max(1, int(k * scale))                    # noqa: E731
    out = {
        "He init, circles, 15,000 iterations": (
            lambda: initialization.model(X, Y, num_iterations=n(15000), print_cost=False),
            lambda: plain.gd_model(X, Y, [2, 10, 5, 1], "he", 0.01, n(15000))[0]),
    }
    football = _football()
    if football is not None:
        fX, fY = football
        out["L2 (lambd=0.7), football, 30,000 iterations"] = (
            lambda: regularization.model(fX, fY, num_iterations=n(30000), lambd=0.7, print_cost=False),
            lambda: plain.gd_model(fX, fY, [2, 20, 3, 1], "reg", 0.3, n(30000), lambd=0.7)[0])
        out["dropout (keep_prob=0.86), football, 30,000 iterations"] = (
            lambda: regularization.model(fX, fY, num_iterations=n(30000), keep_prob=0.86, print_cost=False),
            lambda: plain.gd_model(fX, fY, [2, 20, 3, 1], "reg", 0.3, n(30000), keep_prob=0.86)[0])
    mX, mY = datasets.load_moons()
    out["Adam, moons, 5,000 epochs of batches of 64"] = (
        lambda: optimization.model(mX, mY, [2, 5, 2, 1], "adam", num_epochs=n(5000), print_cost=False),
        lambda: plain.adam_model(mX, mY, [2, 5, 2, 1], num_epochs=n(5000))[0])
    return out


def _max_diff(a, b):
    return max(float(np.max(np.abs(a[k] - b[k]) / (np.abs(b[k]) + 1e-12))) for k in b)


def test_course_runs_agree_with_plain_numpy():
    for name, (ours, theirs) in runs(scale=0.02).items():
        assert _max_diff(ours(), theirs()) < 1e-8, name


def main(rounds=5):
    rows = []
    for name, (ours, theirs) in runs().items():
        ours()                                             # compile / warm
        t_ours, t_theirs = [], []
        # alternated; five rounds, since a shared machine's speed can drift over
        # seconds (bench/NOTES.md) and a round of the regularization runs
        # takes about 3 s
        for _ in range(rounds):
            t0 = time.perf_counter()
            p_ours = ours()
            t_ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            p_theirs = theirs()
            t_theirs.append(time.perf_counter() - t0)
        rows.append((name, min(t_theirs), min(t_ours), min(t_theirs) / min(t_ours), _max_diff(p_ours, p_theirs)))
    print("| run | plain NumPy s | fastnn.course s | speed-up | max relative difference |")
    print("|---|---:|---:|---:|---:|")
    for name, a, b, r, d in rows:
        print(f"| {name} | {a:.2f} | {b:.3f} | {r:.1f}x | {d:.1e} |")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
