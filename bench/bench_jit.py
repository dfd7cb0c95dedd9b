"""JIT cost: ``import fastnn``, the cold compilation of everything
``python -m fastnn`` uses, the end of the first training epoch with an
empty and with a warm disk cache, and first contact against the peers: a
new user's first epoch of the digits MLP from the process's start, for
fastnn, PyTorch and JAX, in fresh processes taken in turn.

Each figure comes from a fresh process (``bench/_jit_child.py``) with its
own ``NUMBA_CACHE_DIR``. The child measures the figure itself (the time
pytest-benchmark records also counts the interpreter's start), and it is
stored as ``extra_info["jit"]``, which ``fastnn.bench`` reports in its own
table. Timed only with ``--benchmark-enable``: a cold compile takes half a
minute, too long for the test run's smoke pass.
"""
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time

import pytest

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_jit_child.py")
ROOT = os.path.dirname(os.path.dirname(CHILD))


def _child(mode, cache_dir, tmp_path, *args, **env):
    out = tmp_path / f"{mode}.json"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir), **env)
    r = subprocess.run([sys.executable, CHILD, mode, str(out), *args], env=env, cwd=ROOT, capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    with open(out) as f:
        result = json.load(f)
    result["stderr"] = r.stderr
    return result


PEERS = [p for p in ("torch", "jax") if importlib.util.find_spec(p)
         and (p != "jax" or importlib.util.find_spec("optax"))]
ROUNDS = 3     # rounds of fresh processes, one per framework, the order rotating


def _median(xs):
    return statistics.median(xs)


def _record(benchmark, name, mode, cache_dir, tmp_path, figure):
    if benchmark.disabled:
        pytest.skip("JIT cost is measured only with --benchmark-enable (a cold compile takes ~30 s)")
    results = []
    benchmark.group = "jit"
    benchmark.pedantic(lambda: results.append(_child(mode, cache_dir, tmp_path)), rounds=1, iterations=1)
    benchmark.extra_info.update(backend="cpu", jit={"name": name, "seconds": results[0][figure],
                                                    **{k: v for k, v in results[0].items() if k != figure}})
    return results[0]


def test_import(benchmark, tmp_path):
    r = _record(benchmark, "import fastnn", "import", tmp_path / "cache", tmp_path, "seconds")
    assert 0 < r["seconds"]


def test_cold_compile_of_the_main_job(benchmark, tmp_path):
    r = _record(benchmark, "python -m fastnn --no-plots --no-ref: compilation (cold cache)", "main",
                tmp_path / "cache", tmp_path, "compile")
    assert 0 < r["compile"] < r["wall"]


def test_first_contact_against_the_peers(benchmark, tmp_path):
    """The first epoch of a new user's digits MLP, from the process's start,
    each process with an empty numba cache (fastnn then loads the kernels
    it ships) and, once per round, PyTorch eager and JAX jit where they are
    installed, the order rotating. Smoke run: one fastnn process, which
    must compile nothing where the shipped kernels apply."""
    from fastnn.kernels.cpu import _shipped
    shipped = bool(_shipped._levels())
    if benchmark.disabled:
        results = []
        benchmark.pedantic(lambda: results.append(_child("first", tmp_path / "smoke", tmp_path, "fastnn")),
                           rounds=1, iterations=1)
        r = results[0]
        assert r["seconds"] > r["fit"] > 0
        if shipped:
            assert r["compiled"] == 0 and "compiling" not in r["stderr"], r["stderr"]
        return
    frameworks = ["fastnn", *PEERS]
    times = {f: [] for f in frameworks}
    fits, compiled = [], []
    for i in range(ROUNDS):
        for f in frameworks[i % len(frameworks):] + frameworks[:i % len(frameworks)]:
            r = _child("first", tmp_path / f"cache-{i}-{f}", tmp_path, f)
            times[f].append(r["seconds"])
            if f == "fastnn":
                fits.append(r["fit"])
                compiled.append(r["compiled"])
    # the same without the shipped kernels: what a user gets where they do not apply
    own = _child("first", tmp_path / "own", tmp_path, "fastnn", FASTNN_PRECOMPILED="0")
    warm = _child("first", tmp_path / "own", tmp_path, "fastnn")
    names = {"fastnn": "fastnn", "torch": "PyTorch eager", "jax": "JAX jit + optax"}
    rows = [{"name": f"first epoch from the process's start, empty cache: {names[f]} "
                     f"(median of {len(ts)})", "seconds": _median(ts), "min": min(ts), "max": max(ts)}
            for f, ts in times.items()]
    rows[0]["fit"] = _median(fits)
    rows.append({"name": "first epoch from the process's start, empty cache: fastnn compiling "
                         "(FASTNN_PRECOMPILED=0)", "seconds": own["seconds"], "fit": own["fit"]})
    rows.append({"name": "first epoch from fit's start, warm cache: fastnn", "seconds": warm["fit"],
                 "from the process's start": warm["seconds"]})
    benchmark.group = "jit"
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update(backend="cpu", jit=rows, shipped=shipped, compiled=compiled)
    assert warm["seconds"] < own["seconds"]                          # the cache was used
    if shipped:
        assert max(compiled) == 0


def test_second_model_cold(benchmark, tmp_path):
    """A float64 tanh RMSprop L1 model after the float32 ReLU Adam one, in
    one fresh process with an empty cache: the second model's construction
    to the end of its first epoch."""
    if benchmark.disabled:
        pytest.skip("JIT cost is measured only with --benchmark-enable")
    _record(benchmark, "second model (float64, tanh, RMSprop, L1) after the first, empty cache: construction to "
            "the end of its first epoch", "second", tmp_path / "cache", tmp_path, "seconds")


def test_main_job_whole_run_cold(benchmark, tmp_path):
    """``python -m fastnn --no-plots`` as a new user runs it, with an empty
    cache: the whole run's wall time, interpreter start included."""
    if benchmark.disabled:
        pytest.skip("JIT cost is measured only with --benchmark-enable")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "fastnn", "--no-plots"], env=env, cwd=ROOT, check=True,
                   capture_output=True)
    seconds = time.perf_counter() - t
    benchmark.group = "jit"
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    benchmark.extra_info.update(backend="cpu", jit={"name": "python -m fastnn --no-plots, whole run, empty cache",
                                                    "seconds": seconds})
