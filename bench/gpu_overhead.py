"""Where a small GPU op's time goes on the host: ``python bench/gpu_overhead.py``.

On a GPU machine, prints per-call host costs (median of repeats, each the
mean over a loop of calls):

- ``synchronize``: ``cuda.synchronize()`` with nothing queued;
- ``launch``: a bare numba kernel launch (a copy of 256 floats) with no
  synchronize, i.e. what the launch itself costs the host;
- ``launcher``: fastnn's cuda launchers (device arrays in: no copies) for
  adam_update and dense_backward, which add ``on_device``, views and, for
  dense, three launches;
- ``cupy gemm``: ``cupy.cublas.gemm`` on tiny numba arrays (CuPy views);

then a cProfile of device-resident training steps of [784, 512, 256, 10]
at batch 1024, the benchmark's step, sorted by own time. Nothing here is a
target; it says what to cut next. ``--small`` runs it on tiny shapes (a
smoke test of the script itself, e.g. under NUMBA_ENABLE_CUDASIM=1).
"""
import cProfile
import io
import pstats
import statistics
import sys
import time

import numpy as np

SMALL = "--small" in sys.argv
CALLS, REPEATS = (3, 1) if SMALL else (500, 7)


def per_call(fn, calls=CALLS, repeats=REPEATS):
    from numba import cuda
    fn()
    cuda.synchronize()
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        out.append((time.perf_counter() - t) / calls)
        cuda.synchronize()
    return statistics.median(out)


def main():
    from _cuda_reference import copy
    from numba import cuda

    import fastnn
    from fastnn.kernels import cuda as kc
    from fastnn.kernels.cuda._launch import grid_1d
    from fastnn.testing.cases import CASES
    from fastnn.training import DeviceBook

    a = cuda.to_device(np.ones(256, np.float32))
    b = cuda.device_array(256, np.float32)
    rows = [("synchronize", per_call(cuda.synchronize))]
    rows.append(("launch, 2 arrays (copy kernel)", per_call(lambda: copy[grid_1d(256)](b, a))))
    case = CASES["adam_update"]
    args = {k: (cuda.to_device(v) if isinstance(v, np.ndarray) else v)
            for k, v in case.args((256,), np.dtype(np.float32)).items()}
    rows.append(("launcher, adam_update (5 arrays)", per_call(lambda: case.run(kc, args))))
    case = CASES["dense_backward[relu]"]
    dargs = {k: (cuda.to_device(v) if isinstance(v, np.ndarray) else v)
             for k, v in case.args((8, 8, 8), np.dtype(np.float32)).items()}
    rows.append(("launcher, dense_backward 8x8x8 (3 launches)", per_call(lambda: case.run(kc, dargs))))
    try:
        import cupy
        x = cuda.to_device(np.ones((8, 8), np.float32))
        c = cuda.device_array((8, 8), np.float32)
        rows.append(("cupy gemm on numba arrays (asarray x3 + gemm)",
                     per_call(lambda: cupy.cublas.gemm("N", "N", cupy.asarray(x), cupy.asarray(x),
                                                       out=cupy.asarray(c)))))
    except ImportError:
        pass
    for name, t in rows:
        print(f"{name:50s} {t * 1e6:8.1f} us")

    n = [4, 6, 5, 3] if SMALL else [784, 512, 256, 10]
    batch = 8 if SMALL else 1024
    model = fastnn.Sequential([fastnn.Dense(n[0], n[1], "relu"), fastnn.Dense(n[1], n[2], "relu"),
                               fastnn.Dense(n[2], n[3])], dtype=np.float32, backend="cuda", seed=0)
    opt = fastnn.Adam(model.parameters(), lr=1e-3)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, n[0])).astype(np.float32)
    y = rng.integers(0, n[-1], batch)
    xb, yb = model._x(X), model._y(y, batch)
    book = DeviceBook(model, opt, 1 << 12, xb, yb)

    def train(xb, yb):                     # the book's data is this one batch
        return book.step(0, xb.shape[0])
    for _ in range(1 if SMALL else 3):
        train(xb, yb)
    cuda.synchronize()
    steps = 2 if SMALL else 50
    prof = cProfile.Profile()
    t = time.perf_counter()
    prof.enable()
    for _ in range(steps):
        train(xb, yb)
    cuda.synchronize()
    prof.disable()
    print(f"\ntrain step, host loop with one synchronize at the end: {(time.perf_counter() - t) / steps * 1e6:.0f} us"
          " (under cProfile)")
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(30)
    print(s.getvalue())


if __name__ == "__main__":
    main()
