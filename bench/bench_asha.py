"""ASHA against random search on the digits MLP.

    python -m bench.bench_asha        # the table (README, "Hyperparameter search")

Three searches per seed (10 seeds), on the default pool, one after the other: random
search over 8 trials of 9 epochs (72 epochs, about ASHA's compute); ASHA
over 27 trials in rungs of 1, 3 and 9 epochs with eta = 3 (27 + 9 x 2 +
3 x 6 = 63 epochs); and random search over the same 27 trials (the same
seed samples the same points) for all 9 epochs each (243 epochs). The best
dev error of each and its wall time. Under pytest, one small seed as a
smoke test of the harness.

Then the floor, serially in one process: what successive halving's
schedule cannot skip at any scheduler speed (``asha_floor``: 27 model
builds, and its 39 rung tasks as ``fit`` calls of 1, 2 and 6 epochs on one
warm model, each epoch followed by the dev pass the trials report) against
random search's whole run on the serial executor, alternated per seed. A
floor at or above random search's wall time means no implementation of the
scheduler can be faster than random search at about equal epochs on this
problem.
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


def _best_of(fn, rounds=5):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def asha_floor(train, dev, n_trials=27, rungs=(1, 3, 9), eta=3):
    """(seconds, epochs) of the work synchronous successive halving over
    ``n_trials`` must do on this problem whatever its scheduler: a model
    built per trial, and a ``fit`` call per rung task (``n_trials / eta**k``
    trials reach rung ``k``) with the dev pass after every epoch that the
    promotions read, all on one warm model in this process, with no
    scheduling and no state kept between rungs; best of 5."""
    params = {"lr": 1e-3, "beta1": 0.9}
    model, optimizer = digits_model(params, 0)
    tasks = [r - (rungs[k - 1] if k else 0) for k, r in enumerate(rungs) for _ in range(n_trials // eta ** k)]

    def schedule():
        for epochs in tasks:
            model.fit(*train, optimizer=optimizer, epochs=epochs, batch_size=64, validation_data=dev, verbose=False)

    build = _best_of(lambda: digits_model(params, 0))
    return n_trials * build + _best_of(schedule), sum(tasks)


def serial(seeds):
    """(random search s, ASHA s, ASHA floor s, floor epochs) per seed, alternated, serially."""
    train, dev = _data()
    ex = tune.SerialExecutor()
    out = []
    for seed in seeds:
        t0 = time.perf_counter()
        tune.random_search(tune.make_objective(digits_model, train, dev, epochs=9), SPACE, 8, seed=seed,
                           metric="dev_error", executor=ex)
        t1 = time.perf_counter()
        tune.asha(digits_model, train, dev, SPACE, n_trials=27, max_epochs=9, seed=seed, executor=ex)
        t2 = time.perf_counter()
        out.append((t1 - t0, t2 - t1) + asha_floor(train, dev))
    return out


def test_asha_floor_counts_the_schedule():
    train, dev = _data()
    seconds, epochs = asha_floor(train, dev)
    assert epochs == 27 + 9 * 2 + 3 * 6 and seconds > 0


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
    floors = serial(seeds)
    print()
    print("Serially (one process): random search's 8 trials, ASHA's 27, and ASHA's floor (27 builds, and "
          f"{floors[0][3]} epochs in 39 fit calls with a dev pass per epoch, no scheduling, no state)")
    print()
    print("| seed | random search s | ASHA s | ASHA floor s | floor / random |")
    print("|---:|---:|---:|---:|---:|")
    for s, (r, a, f, _) in zip(seeds, floors):
        print(f"| {s} | {r:.4f} | {a:.4f} | {f:.4f} | {f / r:.2f} |")
    r, a, f = np.median(np.array(floors)[:, :3], axis=0)
    print(f"| median | {r:.4f} | {a:.4f} | {f:.4f} | {f / r:.2f} |")
    return rows


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
