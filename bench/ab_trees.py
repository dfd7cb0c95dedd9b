"""Two checkouts of fastnn, timed in alternated fresh processes.

For a change meant to keep every figure (a refactor), or to measure one
that is not: each round runs one process per tree, in alternating order, so
the machine's drift falls on both sides alike.

    git worktree add /tmp/before REV
    python bench/ab_trees.py /tmp/before . --mode step --rounds 8

``--mode step``: each process times 50 compiled training steps (batch 64,
float32, Adam) of three networks 40 times and keeps the fastest; the
figure is the median over the rounds. ``--mode first``: the first-contact
figure of ``bench/_jit_child.py`` (empty cache, from the process's start to
the end of the first epoch); ``--mode cold``: the same with the shipped
kernels off. A checkout is imported from its own folder (``PYTHONPATH``);
its ``fastnn/kernels`` is made a link to its ``kernels/``, as an install
maps it.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

NETS = {
    "2-20-7-5-1": "[Dense(2, 20, 'relu'), Dense(20, 7, 'relu'), Dense(7, 5, 'relu'), Dense(5, 1)]",
    "784-128-64-10-bn-dropout": "[Dense(784, 128, bias=False), BatchNorm(128), ReLU(), Dropout(0.8), "
                                "Dense(128, 64, 'relu'), Dense(64, 10)]",
    "784-256-128-10": "[Dense(784, 256, 'relu'), Dense(256, 128, 'relu'), Dense(128, 10)]",
}

STEP = """
import json, time
import numpy as np
import fastnn
from fastnn import BatchNorm, Dense, Dropout, ReLU
from fastnn.compiled import CompiledStep
rng = np.random.default_rng(0)
out = {}
for name, layers in NETS.items():
    model = fastnn.Sequential(eval(layers), dtype="float32", seed=0,
                              loss="binary_cross_entropy" if name.endswith("-1") else "softmax_cross_entropy")
    n_in, n_out = model.in_features, model.out_features
    X = rng.standard_normal((64 * 50, n_in)).astype(np.float32)
    y = rng.integers(0, 2, (64 * 50, 1)) if n_out == 1 else rng.integers(0, n_out, 64 * 50)
    step = CompiledStep(model, fastnn.Adam(model.parameters(), lr=1e-3), 64)
    xs, ys = model._x(X), model._y(y, X.shape[0])
    batches = [(xs[i:i + 64], ys[i:i + 64]) for i in range(0, X.shape[0], 64)]
    for xb, yb in batches[:10]:
        step(xb, yb)
    best = float("inf")
    for _ in range(40):
        t = time.perf_counter()
        for xb, yb in batches:
            step(xb, yb)
        best = min(best, (time.perf_counter() - t) / len(batches))
    out[name] = best * 1e6
print(json.dumps(out))
"""


def _prepare(tree):
    link = os.path.join(tree, "fastnn", "kernels")
    if not os.path.exists(link):
        os.symlink(os.path.join("..", "kernels"), link)
    return os.path.abspath(tree)


def _run(tree, mode, cache):
    env = dict(os.environ, PYTHONPATH=tree, FASTNN_VERBOSE="0", NUMBA_CACHE_DIR=cache)
    if mode == "step":
        code = f"NETS = {NETS!r}\n" + STEP
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    if mode == "cold":
        env["FASTNN_PRECOMPILED"] = "0"
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.json")
        subprocess.run([sys.executable, os.path.join(tree, "bench", "_jit_child.py"), "first", out, "fastnn"],
                       env=env, check=True, capture_output=True)
        with open(out) as f:
            r = json.load(f)
    return {"first epoch s": r["seconds"], "compiled": r.get("compiled")}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--mode", choices=("step", "first", "cold"), default="step")
    ap.add_argument("--rounds", type=int, default=6)
    args = ap.parse_args(argv)
    trees = {"before": _prepare(args.before), "after": _prepare(args.after)}
    caches = {k: tempfile.mkdtemp(prefix=f"fastnn-ab-{k}-") for k in trees}
    runs = {k: [] for k in trees}
    for i in range(args.rounds):
        for side in (("before", "after") if i % 2 == 0 else ("after", "before")):
            # step: a warm cache per side; first and cold: an empty one per process
            cache = caches[side] if args.mode == "step" else tempfile.mkdtemp(prefix="fastnn-ab-")
            runs[side].append(_run(trees[side], args.mode, cache))
    for key in runs["before"][0]:
        b = [r[key] for r in runs["before"] if r[key] is not None]
        a = [r[key] for r in runs["after"] if r[key] is not None]
        if b and a:
            print(f"{key:28s} before {statistics.median(b):10.3f} (min {min(b):.3f})  "
                  f"after {statistics.median(a):10.3f} (min {min(a):.3f})  "
                  f"after/before {statistics.median(a) / statistics.median(b):.3f}")


if __name__ == "__main__":
    main()
