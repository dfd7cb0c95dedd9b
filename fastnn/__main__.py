"""``python -m fastnn``: check every available backend against the reference
and print a speed table of cpu vs ref on the implemented ops.

Run ``python -m fastnn --help`` for the options.
"""
import argparse
import platform
import sys
import time

import numpy as np

from . import available_backends, testing
from ._backend import kernels
from .cases import CASES, _copy_args, compare


def best_time(fn, min_time=0.05, repeat=5, warmup=0.2):
    """Best seconds per call over ``repeat`` rounds of at least ``min_time`` each.

    The warm-up compiles, fills caches, and outlasts the spinning of other
    thread pools (NumPy's OpenBLAS keeps its threads busy-waiting ~0.1 s
    after a call, which would steal the cores from the next measurement).
    """
    t_end = time.perf_counter() + warmup
    fn()
    while time.perf_counter() < t_end:
        fn()
    n, best = 1, float("inf")
    for _ in range(repeat):
        while True:
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            dt = time.perf_counter() - t0
            if dt >= min_time or n >= 1 << 20:
                break
            n *= 2
        best = min(best, dt / n)
    return best


def check(backends, out):
    """Every registry case on every backend vs ref; returns the number of failures."""
    failures = 0
    print(f"{'case':<34}{'backend':<8}{'dtype':<9}{'shapes':>7}  worst/tol  result", file=out)
    for name, case in CASES.items():
        for backend in backends:
            mod = kernels(backend)
            shapes = [case.tiny] if backend == "cuda" else list(case.shapes)
            for dt in (np.float32, np.float64):
                worst = 0.0
                for shape in shapes:
                    for actual, expected, kind in compare(case, mod, shape, dt).values():
                        worst = max(worst, testing.max_violation(actual, expected, kind))
                ok = worst <= 1.0 and np.isfinite(worst)
                failures += not ok
                print(f"{name:<34}{backend:<8}{np.dtype(dt).name:<9}{len(shapes):>7}  {worst:9.3f}  "
                      f"{'ok' if ok else 'FAIL'}", file=out)
    return failures


def speed(out, quick=False):
    """cpu vs ref timings on the benchmark shapes (float32)."""
    from .kernels import cpu, ref
    dt = np.float32
    itemsize = np.dtype(dt).itemsize
    print(f"\n{'op':<28}{'shape':<18}{'ref ms':>10}{'cpu ms':>10}{'speedup':>9}{'cpu GB/s':>10}"
          f"{'cpu GFLOP/s':>13}", file=out)
    for name, case in CASES.items():
        shapes = case.bench_shapes[:2] if quick else case.bench_shapes
        for shape in shapes:
            args = case.args(shape, dt)
            times = {}
            for label, mod in (("ref", ref), ("cpu", cpu)):
                a = _copy_args(args)
                times[label] = best_time(lambda: case.run(mod, a), min_time=0.02 if quick else 0.05,
                                         repeat=3 if quick else 5)
            gbs = case.bytes(shape, itemsize) / times["cpu"] / 1e9
            gflops = case.flops(shape) / times["cpu"] / 1e9
            print(f"{name:<28}{'x'.join(map(str, shape)):<18}{times['ref'] * 1e3:>10.3f}"
                  f"{times['cpu'] * 1e3:>10.3f}{times['ref'] / times['cpu']:>8.1f}x{gbs:>10.1f}"
                  f"{gflops:>13.1f}", file=out)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m fastnn",
        description="Check fastnn's backends against the NumPy reference and time cpu vs ref.")
    parser.add_argument("--backend", action="append", choices=["ref", "cpu", "cuda"],
                        help="backend to check (repeatable; default: every available one)")
    parser.add_argument("--skip-check", action="store_true", help="only print the speed table")
    parser.add_argument("--skip-speed", action="store_true", help="only check the backends")
    parser.add_argument("--quick", action="store_true", help="fewer shapes and shorter timings")
    args = parser.parse_args(argv)
    out = sys.stdout
    backends = args.backend or [b for b in available_backends() if b != "ref"]
    import numba
    print(f"fastnn on {platform.machine()} {platform.processor() or ''}, Python {platform.python_version()}, "
          f"NumPy {np.__version__}, numba {numba.__version__}, {numba.get_num_threads()} threads; "
          f"available backends: {', '.join(available_backends())}", file=out)
    failures = 0
    if not args.skip_check:
        t0 = time.perf_counter()
        failures = check(backends, out)
        print(f"checked in {time.perf_counter() - t0:.1f} s (includes compilation): "
              f"{'all within tolerance' if not failures else f'{failures} FAILED'}", file=out)
    if not args.skip_speed:
        speed(out, quick=args.quick)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
