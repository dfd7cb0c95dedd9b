"""``python -m fastnn.bench``: run the benchmark suite and write a report.

Runs ``pytest bench --benchmark-enable`` (from a source checkout: ``bench/``
is not installed with the package), then writes, into ``--out``:

- ``bench.md``: the machine, then one row per benchmark: median time, GB/s
  (bytes the op must move / median), % of the best bandwidth reference of
  the same size measured in the same run (copy, triad, in-place axpy),
  speedup over ref in the same group, and for dense layers the ratio to
  their GEMMs alone; then the head-to-head ratios timed in alternation
  (dense vs its GEMMs, fused Adam vs torch's) and every memory-bound
  kernel's bandwidth timed against the in-place axpy reference, which are
  the ones the targets are judged by; then the JIT costs
  (``bench/bench_jit.py``) and ``fit``'s overhead per step
  (``bench/bench_step.py::test_fit_overhead``);
- ``bench.png``: cpu speedup over ref and % of bandwidth (the alternated
  figure where there is one), per group (with matplotlib);
- ``peers.png``: fastnn ``fit``'s speedup over each peer on the ladder of
  ``bench/bench_peers.py`` (the "Peers" tables of ``bench.md``);
- ``bench.json``: pytest-benchmark's raw results.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys


def summarize(benchmarks):
    """Rows from benchmark records (dicts with group, median, extra_info).

    Each row: group, backend, median (s), GB/s, % bandwidth, speedup vs ref,
    ratio to the GEMMs alone (dense groups), GFLOP/s.

    Host rows are compared with the best host reference of the same size;
    GPU rows (groups ending ``|cuda``) with the best device copy of the run,
    since a GPU's bandwidth does not depend on size once it is saturated.
    """
    bandwidth, ref, gemm = {}, {}, {}
    gpu_bw = None
    benchmarks = [b for b in benchmarks if "interleaved" not in b["extra_info"]   # see head_to_head
                  and "jit" not in b["extra_info"]                               # see jit_costs
                  and "fit_overhead" not in b["extra_info"]                      # see fit_overheads
                  and "peers" not in b["extra_info"]]                            # see peers
    for b in benchmarks:
        info = b["extra_info"]
        if "bytes" in info and info.get("reference") in ("copy", "triad", "axpy"):
            gbs = info["bytes"] / b["median"] / 1e9
            if b["group"].endswith("|cuda"):
                gpu_bw = max(gpu_bw or 0.0, gbs)
                continue
            n = info["elements"]
            bandwidth[n] = max(bandwidth.get(n, 0.0), gbs)
        if info.get("backend") == "ref":
            ref[b["group"]] = b["median"]
        if info.get("reference") == "gemm":
            gemm[b["group"]] = b["median"]
    rows = []
    for b in benchmarks:
        info, median = b["extra_info"], b["median"]
        gbs = info["bytes"] / median / 1e9 if "bytes" in info else None
        n = info.get("elements")
        if b["group"].endswith("|cuda"):
            pct = 100 * gbs / gpu_bw if gbs is not None and gpu_bw else None
        else:
            pct = 100 * gbs / bandwidth[n] if gbs is not None and n in bandwidth else None
        speed = ref[b["group"]] / median if b["group"] in ref else None
        vs_gemm = median / gemm[b["group"]] if b["group"] in gemm else None
        gflops = info["flops"] / median / 1e9 if info.get("flops") else None
        rows.append((b["group"], info.get("backend", "?"), median, gbs, pct, speed, vs_gemm, gflops))
    return sorted(rows, key=lambda r: (r[0], r[2]))


def head_to_head(benchmarks):
    """Rows (group, backend, against, ratio, rounds, pct) of the interleaved
    comparisons (``bench/conftest.interleaved``): ratio is the median over
    rounds of this backend's time over the other's, both timed in each round.
    pct is set where the pair records the bytes of both sides (the roofline
    pairs of ``bench/bench_roofline.py``, against the bandwidth reference):
    the kernel's bandwidth as a percentage of the reference's, that is
    100 * (bytes / against_bytes) / ratio; None otherwise."""
    rows = []
    for b in benchmarks:
        pair = b["extra_info"].get("interleaved")
        if pair:
            backend = b["extra_info"].get("backend", "?").split(" vs ")[0]
            pct = None
            if pair.get("bytes") and pair.get("against_bytes"):
                pct = 100 * pair["bytes"] / pair["against_bytes"] / pair["ratio"]
            rows.append((b["group"], backend, pair["against"], pair["ratio"], pair["rounds"], pct))
    return sorted(rows)


def jit_costs(benchmarks):
    """Rows (name, seconds, details) of ``bench/bench_jit.py``: figures each
    fresh process measured itself; details holds the others it reported
    (the run's wall time, the cold first epoch)."""
    rows = []
    for b in benchmarks:
        jit = b["extra_info"].get("jit")
        for row in (jit if isinstance(jit, list) else [jit] if jit else []):
            details = {k: v for k, v in row.items()
                       if k not in ("name", "seconds") and isinstance(v, (int, float))}
            rows.append((row["name"], row["seconds"], details))
    return rows


def fit_overheads(benchmarks):
    """Rows (network, figures) of ``bench/bench_step.py::test_fit_overhead``:
    what ``fit`` adds per step around the compiled step, in microseconds,
    with the medians of the epoch it was taken from."""
    return [(b["group"].split("|")[1], b["extra_info"]["fit_overhead"]) for b in benchmarks
            if "fit_overhead" in b["extra_info"]]


PEER_COLUMNS = ("fastnn fit", "fastnn train_step", "fastnn bare step", "PyTorch eager", "JAX jit + optax",
                "scikit-learn MLPClassifier")


def peers(benchmarks):
    """The ladder records of ``bench/bench_peers.py``, float32 first."""
    found = [b["extra_info"]["peers"] for b in benchmarks if "peers" in b["extra_info"]]
    return sorted(found, key=lambda r: r["dtype"] != "float32")          # stable: the ladder's order within


def _us(seconds):
    return "" if seconds is None else f"{seconds * 1e6:,.0f}" if seconds >= 1e-4 else f"{seconds * 1e6:.1f}"


def peer_lines(ladder):
    """The "Peers" tables: time per step, and inference throughput."""
    lines = ["", "Peers, timed in alternation (microseconds per Adam step over an epoch of shuffled batches; "
             "train_step and the bare compiled step on one batch; median over rounds; fastnn fit's speedup "
             "over the fastest peer; the bare step over its GEMMs at the best rate measured in the run, "
             "NumPy's or fastnn's):", "",
             "| net | batch | dtype | " + " | ".join(PEER_COLUMNS) + " | fit vs best peer | step / GEMMs | rounds |",
             "|---|---:|---|" + "---:|" * (len(PEER_COLUMNS) + 3)]
    for r in ladder:
        ps = r["per_step"]
        others = [v for k, v in ps.items() if not k.startswith("fastnn")]
        speed = f"{min(others) / ps['fastnn fit']:.2f}x" if others else ""
        ceiling = f"{r['step_over_gemm']:.2f}x" if "step_over_gemm" in r else ""
        lines.append(f"| {r['rung']} | {r['batch']} | {r['dtype']} | "
                     + " | ".join(_us(ps.get(c)) for c in PEER_COLUMNS) + f" | {speed} | {ceiling} | {r['rounds']} |")
    lines += ["", "Inference (thousands of rows per second, predict on 4096 rows; higher is faster):", "",
              "| net | dtype | fastnn | PyTorch | JAX | scikit-learn |", "|---|---|---:|---:|---:|---:|"]
    for r in ladder:
        ips = r["predict_rows_per_s"]
        lines.append(f"| {r['rung']} | {r['dtype']} | "
                     + " | ".join(f"{ips[k] / 1e3:,.0f}" if k in ips else ""
                                  for k in ("fastnn", "PyTorch", "JAX", "scikit-learn")) + " |")
    return lines


def chart_peers(ladder, path):
    """fastnn fit's speedup over each peer per rung (float32), as a PNG (None
    without matplotlib or peers)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    rows = [r for r in ladder if r["dtype"] == "float32"]
    names = [c for c in PEER_COLUMNS[3:] if any(c in r["per_step"] for r in rows)]
    if not rows or not names:
        return None
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        xs = [j + i * width for j, r in enumerate(rows) if name in r["per_step"]]
        ys = [r["per_step"][name] / r["per_step"]["fastnn fit"] for r in rows if name in r["per_step"]]
        ax.bar(xs, ys, width, label=name)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(rows))], [f"{r['rung']}\nb{r['batch']}" for r in rows],
                  fontsize=7)
    ax.set_yscale("log")
    ax.axhline(1, color="k", lw=0.5)
    ax.set_ylabel("peer's time per step / fastnn fit's")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def machine():
    """A one-paragraph description of this machine and software."""
    import numba
    import numpy
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:
        pass
    from .kernels.cpu._jit import last_level_cache_bytes
    llc = last_level_cache_bytes()
    cache = f", last-level cache {llc / 2 ** 20:g} MiB" if llc else ""
    return (f"{cpu}, {os.cpu_count()} logical cores{cache}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, NumPy {numpy.__version__}, numba {numba.__version__} "
            f"({numba.config.NUMBA_NUM_THREADS} threads){gpu()}; {datetime.date.today().isoformat()}")


def gpu():
    """``; GPU <name> (compute capability, driver, numba-cuda)`` or '' without one."""
    from ._backend import available_backends
    if "cuda" not in available_backends() or os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return ""
    from numba import cuda
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    try:
        major, minor = cuda.cudadrv.driver.driver.get_version()
        driver = f"CUDA driver API {major}.{minor}"
    except Exception:                       # the version query is informational only
        driver = "driver version unknown"
    return f"; GPU {name} (sm_{dev.compute_capability[0]}{dev.compute_capability[1]}, {driver})"


def ratio_text(ratio):
    """A time ratio as text: three decimals below 0.1 (a 20x target is a
    ratio of 0.05, where two decimals cannot tell 0.046 from 0.054)."""
    return f"{ratio:.3f}x" if ratio < 0.1 else f"{ratio:.2f}x"


def _fmt(v, spec, suffix=""):
    return "" if v is None else f"{v:{spec}}{suffix}"


def _pair_table(title, figures, cells):
    """Lines of one table of alternated pairs: group, backend, against, then
    the three right-aligned ``figures`` columns; ``cells`` are row strings."""
    head = ("group", "backend", "against") + tuple(figures)
    return (["", title, "", "| " + " | ".join(head) + " |", "|---|---|---|---:|---:|---:|"]
            + ["| " + " | ".join(c) + " |" for c in cells])


def markdown(rows, description, pairs=(), jit=(), fit=(), ladder=()):
    lines = [f"Machine: {description}", "",
             "| group | backend | median | GB/s | % bw | vs ref | vs GEMMs | GFLOP/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for group, backend, median, gbs, pct, speed, vs_gemm, gflops in rows:
        t = f"{median * 1e3:.3f} ms" if median >= 1e-3 else f"{median * 1e6:.1f} us"
        lines.append(f"| {group} | {backend} | {t} | {_fmt(gbs, '.1f')} | {_fmt(pct, '.0f', '%')} | "
                     f"{_fmt(speed, '.1f', 'x')} | {_fmt(vs_gemm, '.2f', 'x')} | {_fmt(gflops, '.1f')} |")
    roofline = [p for p in pairs if p[5] is not None]
    others = [p for p in pairs if p[5] is None]
    if others:
        lines += _pair_table("Head to head, timed in alternation (median over rounds of this time / the other's; "
                             "below 1 is faster; speedup = 1 / time ratio):",
                             ("time ratio", "speedup", "rounds"),
                             [(g, b, a, ratio_text(r), f"{1 / r:.1f}x", str(n)) for g, b, a, r, n, _ in others])
    if roofline:
        lines += _pair_table("Bandwidth, timed in alternation with the reference (% bw = bytes ratio / median time "
                             "ratio; the target is 70%):",
                             ("% bw", "time ratio", "rounds"),
                             [(g, b, a, f"{pct:.0f}%", ratio_text(r), str(n)) for g, b, a, r, n, pct in roofline])
    if jit:
        names = {"wall": "whole run", "cold": "with an empty cache"}
        lines += ["", "JIT cost, each figure from a fresh process (targets: import under 0.3 s; the first epoch "
                  "from the process's start with an empty cache no slower than PyTorch eager and JAX jit, and "
                  "so for a second model; python -m fastnn under 20 s; warm, the first epoch within 0.5 s of "
                  "fit's start):", "",
                  "| measurement | seconds | also |", "|---|---:|---|"]
        lines += [f"| {name} | {sec:.2f} | " + ", ".join(f"{names.get(k, k)} {v:.2f} s" for k, v in more.items())
                  + " |" for name, sec, more in jit]
    if fit:
        lines += ["", "fit's overhead per step beyond its compiled step's calls, median over rounds that time an "
                  "epoch of fit and then the same steps' bare calls (target: under 20 us):", "",
                  "| network | us per step | fit epoch | bare calls | steps | rounds |",
                  "|---|---:|---:|---:|---:|---:|"]
        lines += [f"| {net} | {f['us_per_step']:.1f} | {f['fit_ms']:.2f} ms | {f['bare_ms']:.2f} ms | "
                  f"{f['steps']} | {f['rounds']} |" for net, f in fit]
    if ladder:
        lines += peer_lines(ladder)
    return "\n".join(lines) + "\n"


def chart_bandwidth(rows, pairs):
    """% of bandwidth per row for the chart: the roofline pair's figure for
    the row's group where there is one (``roofline|<group>``, cpu only),
    else the row's own % bw (None where it has none)."""
    alternated = {p[0].split("|", 1)[1]: p[5] for p in pairs
                  if p[5] is not None and p[0].startswith("roofline|")}
    return [alternated.get(r[0], r[4]) if r[1] == "cpu" else r[4] for r in rows]


def chart(rows, path, pairs=()):
    """cpu speedup over ref and % of bandwidth per group, as a PNG (None
    without matplotlib). Where a group was also timed in alternation with
    the bandwidth reference (``pairs`` from ``head_to_head``), that % is the
    one drawn, as in the targets; otherwise the run's separate medians."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return None
    cpu = [r for r in rows if r[1] in ("cpu", "compiled") and r[5] is not None]
    if not cpu:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(12, max(3, 0.22 * len(cpu))), sharey=True)
    labels = [r[0] for r in cpu]
    axes[0].barh(labels, [r[5] for r in cpu])
    axes[0].set_xscale("log")
    axes[0].axvline(1, color="k", lw=0.5)
    axes[0].set_xlabel("speedup over ref (NumPy)")
    axes[1].barh(labels, [pct or 0 for pct in chart_bandwidth(cpu, pairs)])
    axes[1].axvline(70, color="r", lw=0.5)
    axes[1].set_xlabel("% of measured bandwidth (timed in alternation where measured)")
    axes[0].tick_params(axis="y", labelsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m fastnn.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="bench/results", help="report folder (default: bench/results)")
    parser.add_argument("--quick", action="store_true", help="shorter timings (--benchmark-max-time=0.2)")
    parser.add_argument("-k", default=None, help="pytest -k expression to select benchmarks")
    args = parser.parse_args(argv)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    bench_dir = os.path.join(root, "bench")
    if not os.path.isdir(bench_dir):
        parser.error(f"no bench/ folder beside the fastnn package ({root}): run from a source checkout")
    os.makedirs(args.out, exist_ok=True)
    raw = os.path.join(args.out, "bench.json")
    cmd = [sys.executable, "-m", "pytest", bench_dir, "-q", "--benchmark-enable", f"--benchmark-json={raw}",
           "--benchmark-max-time=" + ("0.2" if args.quick else "1.0"), "-p", "no:randomly"]
    if args.k:
        cmd += ["-k", args.k]
    print(" ".join(cmd), flush=True)
    code = subprocess.call(cmd, cwd=root)                   # pytest prints its own progress
    if code != 0 or not os.path.exists(raw):
        return code or 1
    with open(raw) as f:
        data = json.load(f)
    records = [{"group": b["group"], "median": b["stats"]["median"], "extra_info": b["extra_info"]}
               for b in data["benchmarks"]]
    rows = summarize(records)
    md = os.path.join(args.out, "bench.md")
    pairs = head_to_head(records)
    with open(md, "w") as f:
        f.write(markdown(rows, machine(), pairs, jit_costs(records), fit_overheads(records), peers(records)))
    png = chart(rows, os.path.join(args.out, "bench.png"), pairs)
    peers_png = chart_peers(peers(records), os.path.join(args.out, "peers.png"))
    print(f"wrote {md}" + "".join(f", {p}" for p in (png, peers_png) if p) + f", {raw}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
