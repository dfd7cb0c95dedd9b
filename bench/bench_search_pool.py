"""The search's default pool: joblib's loky against the standard library's
spawn pool, on the README's coarse-to-fine digits search, alternated.

    python -m bench.bench_search_pool     # wall time of each, 3 rounds

Each round runs in fresh processes (a cold start of the pool is part of
what a user pays). Under pytest, a smoke test of the harness.
"""
import subprocess
import sys
import time

SEARCH = """
import sys, numpy as np, fastnn
from fastnn import tune
if sys.argv[1] == "spawn":
    tune._loky = lambda: None
def build(params, seed):
    model = fastnn.Sequential([fastnn.Dense(64, 64, "relu"), fastnn.Dense(64, 10)], dtype=np.float32, seed=seed)
    return model, fastnn.Adam(model.parameters(), lr=params["lr"], betas=(params["beta1"], 0.999))
if __name__ == "__main__":
    X, y = fastnn.datasets.load_digits()
    (Xt, yt), (Xd, yd), _ = fastnn.data.train_dev_test_split(X, y, dev=0.2, test=0.1, seed=0)
    space = {"lr": tune.LogUniform(1e-4, 1e-1), "beta1": tune.OneMinusLogUniform(0.8, 0.999)}
    objective = tune.make_objective(build, (Xt, yt), (Xd, yd), epochs=int(sys.argv[2]))
    tune.coarse_to_fine(objective, space, rounds=2, n_trials=6, top_k=3, seed=0, metric="dev_error")
"""


def one(pool, epochs=5):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", SEARCH, pool, str(epochs)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return time.perf_counter() - t0


def test_search_pool_harness():
    import pytest
    pytest.importorskip("joblib")
    assert one("loky", epochs=1) > 0


def main(rounds=3):
    times = {"spawn": [], "loky": []}
    for _ in range(rounds):
        for pool in times:
            times[pool].append(one(pool))
    for pool, t in times.items():
        print(f"{pool}: " + ", ".join(f"{x:.2f}" for x in t) + " s (whole process, pool start included)")
    return times


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
