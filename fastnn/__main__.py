"""``python -m fastnn``: the course's experiments on embedded data (the main
job); ``--check`` checks every backend's kernels against the reference and
``--speed`` prints a cpu vs ref speed table.

Run ``python -m fastnn --help`` for the options.
"""
import argparse
import platform
import sys
import time

import numpy as np

from . import available_backends, testing
from ._backend import kernels
from .testing.cases import CASES, compare, copy_args


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
                a = copy_args(args)
                times[label] = best_time(lambda: case.run(mod, a), min_time=0.02 if quick else 0.05,
                                         repeat=3 if quick else 5)
            gbs = case.bytes(shape, itemsize) / times["cpu"] / 1e9
            gflops = case.flops(shape) / times["cpu"] / 1e9
            print(f"{name:<28}{'x'.join(map(str, shape)):<18}{times['ref'] * 1e3:>10.3f}"
                  f"{times['cpu'] * 1e3:>10.3f}{times['ref'] / times['cpu']:>8.1f}x{gbs:>10.1f}"
                  f"{gflops:>13.1f}", file=out)


def _plots(out_dir, exp, data, results):
    """Cost curves, and decision boundaries for 2D problems (matplotlib optional)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return []
    import os
    os.makedirs(out_dir, exist_ok=True)
    written = []
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        ax.plot(r.history["cost"], label=r.name)
    ax.set(xlabel="epoch", ylabel="training cost", title=exp.title, yscale="log")
    ax.legend(fontsize=7)
    path = os.path.join(out_dir, f"{exp.key}_cost.png")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    written.append(path)
    Xt, yt, Xd, yd = data
    if Xt.shape[1] == 2:
        fig, axes = plt.subplots(1, len(results), figsize=(3.2 * len(results), 3.2), squeeze=False)
        lo, hi = Xt.min(0) - 0.5, Xt.max(0) + 0.5
        gx, gy = np.meshgrid(np.linspace(lo[0], hi[0], 200), np.linspace(lo[1], hi[1], 200))
        grid = np.c_[gx.ravel(), gy.ravel()]
        for ax, r in zip(axes[0], results):
            ax.contourf(gx, gy, r.model.predict(grid).reshape(gx.shape), alpha=0.3, cmap="coolwarm")
            ax.scatter(Xt[:, 0], Xt[:, 1], c=yt, s=8, cmap="coolwarm", edgecolors="k", linewidths=0.2)
            ax.set_title(f"{r.name}\ndev acc {r.dev_acc:.2f}", fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        path = os.path.join(out_dir, f"{exp.key}_boundaries.png")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        written.append(path)
    return written


def search(out_dir, out):
    from .experiments import epochs_saved, run_search
    t0 = time.perf_counter()
    n_trials, max_epochs = 27, 9
    res = run_search(n_trials=n_trials, max_epochs=max_epochs)
    trained, full = epochs_saved(res, max_epochs)
    print("\nHyperparameter search: digits MLP, lr ~ LogUniform(1e-4, 1e-1), beta1 ~ OneMinusLogUniform(0.8, "
          f"0.999);\nASHA, {n_trials} trials in rungs of 1, 3 and {max_epochs} epochs (the bottom two thirds of "
          f"each rung stopped), {time.perf_counter() - t0:.1f} s on a local process pool", file=out)
    print(f"  {'trial':>5}{'lr':>11}{'beta1':>9}{'epochs':>8}{'dev error':>11}", file=out)
    for t in res.ok[:8]:
        print(f"  {t['id']:>5}{t['params']['lr']:>11.3g}{t['params']['beta1']:>9.4g}{t['epochs']:>8}"
              f"{t['metric']:>11.4f}", file=out)
    b = res.best
    print(f"  best: lr={b['params']['lr']:.3g} beta1={b['params']['beta1']:.4g} dev error {b['metric']:.3f}; "
          f"{trained} epochs trained, {full - trained} saved ({(full - trained) / full:.0%}) against training "
          f"every trial for {max_epochs} ({full})", file=out)
    if out_dir:
        import os
        os.makedirs(out_dir, exist_ok=True)
        path = res.plot(os.path.join(out_dir, "search.png"))
        return [path] if path else []
    return []


def experiments(keys, backend, out_dir, compare_ref, out):
    from .experiments import EXPERIMENTS, run_experiment
    written = []
    for key in keys:
        if key == "search":
            written += search(out_dir, out)
            continue
        exp = EXPERIMENTS[key]
        data, results = run_experiment(exp, backend, compare_ref)
        print(f"\n{exp.title}", file=out)
        head = f"  {'run':<34}{'train acc':>10}{'dev acc':>9}{'cost':>9}{'epochs':>8}{backend + ' s':>9}"
        if compare_ref:
            head += f"{'ref s':>8}{'speedup':>9}"
        print(head, file=out)
        for r in results:
            line = (f"  {r.name:<34}{r.train_acc:>10.3f}{r.dev_acc:>9.3f}{r.cost:>9.4f}{r.epochs:>8}"
                    f"{r.seconds:>9.2f}")
            if r.ref_seconds is not None:
                line += f"{r.ref_seconds:>8.2f}{r.ref_seconds / r.seconds:>8.1f}x"
            print(line, file=out)
        if out_dir:
            written += _plots(out_dir, exp, data, results)
    if written:
        print(f"\nplots: {', '.join(written)}", file=out)
    elif out_dir:
        print("\n(no plots: install matplotlib, e.g. pip install 'fastnn-numba[plots]')", file=out)


def main(argv=None):
    from .experiments import EXPERIMENTS
    parser = argparse.ArgumentParser(
        prog="python -m fastnn",
        description="Run the course's experiments (initialization, regularization, optimization, digits, "
                    "hyperparameter search) "
                    "on embedded data and print a table for each; optionally check the kernels against "
                    "the NumPy reference and time them.")
    names = [*EXPERIMENTS, "search"]
    parser.add_argument("experiment", nargs="*", choices=[[], *names, "course"], default=[],
                        help=f"experiments to run (default: all of {', '.join(names)}); 'course': the "
                             "notebooks' headline results next to fastnn.course's")
    parser.add_argument("--football", default=None,
                        help="with 'course': the regularization assignment's data (.npz with X_train, y_train, "
                             "X_test, y_test, batch-major)")
    parser.add_argument("--backend", choices=["ref", "cpu", "cuda"], default="cpu",
                        help="backend to train with (default: cpu)")
    parser.add_argument("--no-ref", action="store_true", help="do not time each run again on the ref backend")
    parser.add_argument("--out", default="fastnn-out", help="folder for PNG plots (default: fastnn-out); "
                        "plots need matplotlib")
    parser.add_argument("--no-plots", action="store_true", help="tables only")
    parser.add_argument("--check", action="store_true",
                        help="check every kernel of every available backend against ref, then exit")
    parser.add_argument("--speed", action="store_true", help="print the cpu vs ref kernel speed table, then exit")
    parser.add_argument("--quick", action="store_true", help="with --speed: fewer shapes, shorter timings")
    args = parser.parse_args(argv)
    out = sys.stdout
    import numba
    print(f"fastnn on {platform.machine()}, Python {platform.python_version()}, NumPy {np.__version__}, "
          f"numba {numba.__version__}, {numba.get_num_threads()} threads; "
          f"available backends: {', '.join(available_backends())}", file=out)
    if args.check or args.speed:
        failures = 0
        if args.check:
            t0 = time.perf_counter()
            failures = check([b for b in available_backends() if b != "ref"], out)
            print(f"checked in {time.perf_counter() - t0:.1f} s (includes compilation): "
                  f"{'all within tolerance' if not failures else f'{failures} FAILED'}", file=out)
        if args.speed:
            speed(out, quick=args.quick)
        return 1 if failures else 0
    if "course" in args.experiment:
        from .course._headlines import table
        table(out, args.football)
        args.experiment = [e for e in args.experiment if e != "course"]
        if not args.experiment:
            return 0
    t0 = time.perf_counter()
    experiments(args.experiment or names, args.backend, None if args.no_plots else args.out,
                not args.no_ref, out)
    print(f"\ntotal {time.perf_counter() - t0:.1f} s", file=out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
