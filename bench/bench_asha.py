"""ASHA against random search on the digits MLP.

    python -m bench.bench_asha        # the table (README, "Hyperparameter search")

Three searches per seed (10 seeds), on the default pool, one after the other: random
search over 8 trials of 9 epochs (72 epochs, about ASHA's compute); ASHA
over 27 trials in rungs of 1, 3 and 9 epochs with eta = 3 (27 + 9 x 2 +
3 x 6 = 63 epochs); and random search over the same 27 trials (the same
seed samples the same points) for all 9 epochs each (243 epochs). The best
dev error of each and its wall time. Under pytest, one small seed as a
smoke test of the harness.
"""
import sys
import time

import numpy as np

import fastnn
from fastnn import tune


def digits_model(params, seed):
    """The digits MLP of the README's search, for the trials' parameters."""
    model = fastnn.Sequential([fastnn.Dense(64, 64, "relu"), fastnn.Dense(64, 10)], dtype=np.float32, seed=seed)
    return model, fastnn.Adam(model.parameters(), lr=params["lr"], betas=(params["beta1"], 0.999))


SPACE = {"lr": tune.LogUniform(1e-4, 1e-1), "beta1": tune.OneMinusLogUniform(0.8, 0.999)}


def _data():
    X, y = fastnn.datasets.load_digits()
    (Xt, yt), (Xd, yd), _ = fastnn.data.train_dev_test_split(X, y, dev=0.2, test=0.1, seed=0)
    return (Xt, yt), (Xd, yd)


def one(seed, scale=1, executor=None):
    """(random 8: best, seconds; ASHA 27: best, seconds; random 27: best, seconds)."""
    train, dev = _data()
    out = []
    for search in ("random", "asha", "random-all"):
        t0 = time.perf_counter()
        if search == "asha":
            res = tune.asha(digits_model, train, dev, SPACE, n_trials=27 // scale, max_epochs=9, seed=seed,
                            executor=executor)
        else:
            n = 8 // scale if search == "random" else 27 // scale
            res = tune.random_search(tune.make_objective(digits_model, train, dev, epochs=9), SPACE, n, seed=seed,
                                     metric="dev_error", executor=executor)
        out += [res.best["metric"], time.perf_counter() - t0]
    return tuple(out)


def test_asha_bench_harness():
    rs, _, ah, _, everything, _ = one(0, scale=3, executor=tune.SerialExecutor())
    assert 0 <= rs < 1 and 0 <= ah < 1
    assert everything <= rs                 # the same 9 trials trained fully include random search's 2


def main(seeds=range(10)):
    rows = [one(s) for s in seeds]
    print("| seed | random, 8 trials: best dev error | s | ASHA, 27 trials: best dev error | s "
          "| random, the same 27 trials: best dev error | s |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for s, r in zip(seeds, rows):
        print(f"| {s} | " + " | ".join(f"{v:.4f}" if i % 2 == 0 else f"{v:.2f}" for i, v in enumerate(r)) + " |")
    med = np.median(np.array(rows), axis=0)
    print("| median | " + " | ".join(f"{v:.4f}" if i % 2 == 0 else f"{v:.2f}" for i, v in enumerate(med)) + " |")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
