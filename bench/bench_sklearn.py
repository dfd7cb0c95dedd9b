"""``fastnn.sklearn.MLPClassifier`` against scikit-learn's ``MLPClassifier``
at the same configuration: adam, the same layers, batch size, learning rate,
L2 alpha and number of epochs (``tol=0`` and a patience longer than the run,
so both train every epoch), on the same data. Fits timed in alternation
within one process with a rest before each (``SETTLE``), best of 5 rounds;
test accuracy on a held-out split.

    python -m bench.bench_sklearn          # the table (README, "scikit-learn")

Rows: the UCI digits (1,797 x 64, 10 classes, 100 epochs) and a synthetic
100,000 x 50 problem (3 classes, 10 epochs), each with the data in float64
(scikit-learn's default; fastnn then computes in float64 too) and in
float32 (both estimators keep float32). Two more columns: the fit's GEMMs
alone at NumPy's BLAS rate (``gemm_floor``), and scikit-learn's time over
it, the most any implementation multiplying with that BLAS could be ahead.
Under pytest each row is a short smoke test of equal configurations.
"""
import sys
import time
import warnings

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")

from sklearn.datasets import load_digits, make_classification  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier as SkMLP  # noqa: E402

from fastnn.sklearn import MLPClassifier  # noqa: E402


def problems():
    """name -> (X_train, y_train, X_test, y_test, epochs)."""
    X, y = load_digits(return_X_y=True)
    X = X / 16.0
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    X, y = X[order], y[order]
    Xs, ys = make_classification(n_samples=120_000, n_features=50, n_informative=30, n_classes=3,
                                 class_sep=0.8, random_state=0)
    return {"digits 1,797 x 64": (X[:1400], y[:1400], X[1400:], y[1400:], 100),
            "synthetic 100,000 x 50": (Xs[:100_000], ys[:100_000], Xs[100_000:], ys[100_000:], 10)}


def config(epochs):
    return dict(hidden_layer_sizes=(100,), solver="adam", alpha=1e-4, batch_size=200, learning_rate_init=1e-3,
                max_iter=epochs, tol=0.0, n_iter_no_change=epochs + 1, shuffle=True, random_state=0)


# seconds of rest before each timed fit: NumPy's OpenBLAS (scikit-learn's
# GEMMs) keeps its threads spinning for about 0.1 s after a call, which
# would take the cores from whatever is timed next
SETTLE = 0.3


def _fit(cls, X, y, epochs):
    time.sleep(SETTLE)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        t0 = time.perf_counter()
        est = cls(**config(epochs)).fit(X, y)
        return time.perf_counter() - t0, est


@pytest.mark.parametrize("name", ["digits 1,797 x 64"])
def test_same_configuration_trains_every_epoch(name):
    X, y, Xt, yt, _ = problems()[name]
    _, ours = _fit(MLPClassifier, X, y, 3)
    _, theirs = _fit(SkMLP, X, y, 3)
    assert ours.n_iter_ == theirs.n_iter_ == 3
    assert [c.shape for c in ours.coefs_] == [c.shape for c in theirs.coefs_]


def gemm_floor(X, y, epochs, hidden=100, batch=200):
    """Seconds a fit's GEMMs alone take at NumPy's BLAS rate (all threads,
    best of 7): per step the forward's two and the backward's three (no dx
    for the input), at batch ``batch``, times the steps of ``epochs``
    epochs. No implementation that multiplies with this BLAS trains faster,
    so scikit-learn's time over it bounds the speed-up any of them can
    show here."""
    rng = np.random.default_rng(0)
    dt, k = X.dtype, len(np.unique(y))
    x = rng.standard_normal((batch, X.shape[1])).astype(dt)
    w1 = rng.standard_normal((X.shape[1], hidden)).astype(dt)
    w2 = rng.standard_normal((hidden, k)).astype(dt)
    h, z = np.empty((batch, hidden), dt), np.empty((batch, k), dt)
    dw1, dw2, dh = np.empty_like(w1), np.empty_like(w2), np.empty_like(h)

    def step():
        np.matmul(x, w1, out=h)
        np.matmul(h, w2, out=z)
        np.matmul(h.T, z, out=dw2)
        np.matmul(z, w2.T, out=dh)
        np.matmul(x.T, dh, out=dw1)
    for _ in range(100):
        step()
    best = np.inf
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(200):
            step()
        best = min(best, (time.perf_counter() - t0) / 200)
    return best * epochs * ((X.shape[0] + batch - 1) // batch)


def test_gemm_floor_counts_every_step():
    X = np.zeros((450, 8))
    y = np.arange(450) % 3
    one, three = gemm_floor(X, y, 1), gemm_floor(X, y, 3)
    assert 0 < one and 1.5 < three / one < 6         # three batches an epoch, three times the epochs


def main(rounds=5):
    rows = []
    for name, (X, y, Xt, yt, epochs) in problems().items():
        for dtype in (np.float64, np.float32):
            Xd, Xtd = X.astype(dtype), Xt.astype(dtype)
            _fit(MLPClassifier, Xd[:2000], y[:2000], 1)              # kernels loaded, pools warm
            ours, theirs = [], []
            for _ in range(rounds):                                 # alternated
                t, a = _fit(MLPClassifier, Xd, y, epochs)
                ours.append(t)
                t, b = _fit(SkMLP, Xd, y, epochs)
                theirs.append(t)
            time.sleep(SETTLE)
            floor = gemm_floor(Xd, y, epochs)
            rows.append((name, np.dtype(dtype).name, epochs, min(theirs), min(ours), min(theirs) / min(ours),
                         b.score(Xtd, yt), a.score(Xtd, yt), floor))
    print("| data | dtype | epochs | scikit-learn s | fastnn s | speed-up | test accuracy scikit-learn | fastnn "
          "| GEMMs alone s | speed-up at most |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, dt, ep, a, b, r, acc_a, acc_b, floor in rows:
        print(f"| {name} | {dt} | {ep} | {a:.3f} | {b:.3f} | {r:.1f}x | {acc_a:.4f} | {acc_b:.4f} "
              f"| {floor:.3f} | {a / floor:.1f}x |")
    return rows


if __name__ == "__main__":
    from fastnn.bench import machine
    print(machine())
    sys.exit(0 if main() else 1)
