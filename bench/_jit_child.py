"""One JIT-cost measurement in a fresh process (run by ``bench_jit.py``).

``python bench/_jit_child.py MODE OUT.json`` with MODE one of

- ``import``: seconds for ``import fastnn``;
- ``main``: the compilation in ``python -m fastnn --no-plots --no-ref``: the
  sum over the run of numba's top-level ``Dispatcher.compile`` calls (a
  kernel compiled while compiling its caller counts once, in the caller),
  and the run's wall time. Compiles in the search's worker processes are
  not counted: they load what this process compiled from the disk cache;
- ``epoch``: seconds from the process's start (before ``import fastnn``)
  to the end of the first ``fit`` epoch of the search's digits MLP.

The caller sets ``NUMBA_CACHE_DIR``: empty for a cold figure, filled by an
earlier child for a warm one.
"""
import time

START = time.perf_counter()

import json  # noqa: E402
import sys  # noqa: E402


def _import():
    import fastnn  # noqa: F401
    return {"seconds": time.perf_counter() - START}


def _main():
    import contextlib
    import io

    from numba.core.dispatcher import Dispatcher
    compile_, depth, total = Dispatcher.compile, [0], [0.0]

    def timed(self, sig):
        depth[0] += 1
        t = time.perf_counter()
        try:
            return compile_(self, sig)
        finally:
            depth[0] -= 1
            if depth[0] == 0:
                total[0] += time.perf_counter() - t

    Dispatcher.compile = timed
    from fastnn.__main__ import main
    t = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["--no-plots", "--no-ref"])
    if code:
        raise SystemExit(f"python -m fastnn exited with {code}")
    return {"compile": total[0], "wall": time.perf_counter() - t}


def _epoch():
    from fastnn.experiments import _digits_data, search_build
    Xt, yt, _, _ = _digits_data()
    model, opt = search_build({"lr": 1e-3, "beta1": 0.9}, seed=0)
    model.fit(Xt, yt, optimizer=opt, epochs=1, batch_size=64, verbose=False)
    return {"seconds": time.perf_counter() - START}


if __name__ == "__main__":
    mode, out = sys.argv[1], sys.argv[2]
    result = {"import": _import, "main": _main, "epoch": _epoch}[mode]()
    with open(out, "w") as f:
        json.dump(result, f)
