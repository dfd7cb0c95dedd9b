"""ASHA against random search at the same compute, on the digits MLP.

    python -m bench.bench_asha        # the table (README, "Hyperparameter search")

Random search trains 8 trials for 9 epochs (72 epochs); ASHA 27 trials in
rungs of 1, 3 and 9 epochs with eta = 3 (27 + 9 x 2 + 3 x 6 = 63 epochs).
Both on the default pool, alternated, over several seeds; the best dev
error of each and the wall time. Under pytest, one small seed as a smoke
test of the harness.
"""
import sys
import time

import numpy as np

import fastnn
from fastnn import tune


def digits_model(params, seed):
    """The digits MLP of the README's search, for the trials' parameters."""
    model = fastnn.Sequential([fastnn.Dense(64, 32, "relu"), fastnn.Dense(32, 10)], dtype=np.float32, seed=seed)
    return model, fastnn.Adam(model.parameters(), lr=params["lr"], betas=(params["beta1"], 0.999))


SPACE = {"lr": tune.LogUniform(1e-4, 1e-1), "beta1": tune.OneMinusLogUniform(0.8, 0.999)}


def _data():
    X, y = fastnn.datasets.load_digits()
    (Xt, yt), (Xd, yd), _ = fastnn.data.train_dev_test_split(X, y, dev=0.2, test=0.1, seed=0)
    return (Xt, yt), (Xd, yd)


def one(seed, scale=1, executor=None):
    train, dev = _data()
    t0 = time.perf_counter()
    rs = tune.random_search(tune.make_objective(digits_model, train, dev, epochs=9), SPACE, 8 // scale, seed=seed,
                            metric="dev_error", executor=executor)
    t1 = time.perf_counter()
    ah = tune.asha(digits_model, train, dev, SPACE, n_trials=27 // scale, max_epochs=9, seed=seed,
                   executor=executor)
    t2 = time.perf_counter()
    return rs.best["metric"], t1 - t0, ah.best["metric"], t2 - t1


def test_asha_bench_harness():
    rs, _, ah, _ = one(0, scale=3, executor=tune.SerialExecutor())
    assert 0 <= rs < 1 and 0 <= ah < 1


def main(seeds=range(5)):
    rows = [one(s) for s in seeds]
    print("| seed | random search: best dev error | time s | ASHA: best dev error | time s |")
    print("|---:|---:|---:|---:|---:|")
    for s, (rs, trs, ah, tah) in zip(seeds, rows):
        print(f"| {s} | {rs:.4f} | {trs:.2f} | {ah:.4f} | {tah:.2f} |")
    rs, trs, ah, tah = np.array(rows).T
    print(f"| median | {np.median(rs):.4f} | {np.median(trs):.2f} | {np.median(ah):.4f} | {np.median(tah):.2f} |")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
