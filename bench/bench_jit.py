"""JIT cost (the performance issue's last target): ``import fastnn``, the
cold compilation of everything ``python -m fastnn`` uses, and the end of
the first training epoch with an empty and with a warm disk cache.

Each figure comes from a fresh process (``bench/_jit_child.py``) with its
own ``NUMBA_CACHE_DIR``. The child measures the figure itself (the time
pytest-benchmark records also counts the interpreter's start), and it is
stored as ``extra_info["jit"]``, which ``fastnn.bench`` reports in its own
table. Timed only with ``--benchmark-enable``: a cold compile takes half a
minute, too long for the test run's smoke pass.
"""
import json
import os
import subprocess
import sys

import pytest

CHILD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_jit_child.py")
ROOT = os.path.dirname(os.path.dirname(CHILD))


def _child(mode, cache_dir, tmp_path):
    out = tmp_path / f"{mode}.json"
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    subprocess.run([sys.executable, CHILD, mode, str(out)], env=env, cwd=ROOT, check=True)
    with open(out) as f:
        return json.load(f)


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


def test_first_epoch_cold_then_warm(benchmark, tmp_path):
    if benchmark.disabled:
        pytest.skip("JIT cost is measured only with --benchmark-enable")
    cache = tmp_path / "cache"
    cold = _child("epoch", cache, tmp_path)["seconds"]             # fills the cache
    warm = _record(benchmark, "first epoch of the digits MLP, from the start (warm cache)", "epoch", cache,
                   tmp_path, "seconds")
    benchmark.extra_info["jit"]["cold"] = cold
    assert warm["seconds"] < cold                                    # the cache was used
