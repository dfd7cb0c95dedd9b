#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: the environment, the test suite on the
# device, and the cuda benchmarks, all written to one folder.
#
#   bash bench/gpu.sh [OUT] [STAGES]
#
# OUT defaults to bench/results/gpu; STAGES is any of env, install, gpu-tests
# (tests/gpu on the device), tests (the whole suite), bench (the cuda column:
# python -m fastnn.bench -k cuda), overhead (bench/gpu_overhead.py: host cost
# per call and a profile of the training step), plan (the replayed step's
# tests and train-step benchmarks alone: the short first run on a GPU
# lent for minutes), comma-separated and run in the order given, default
# env,install,gpu-tests,tests,bench,overhead. GPU_PYTEST_ARGS, PYTEST_ARGS and
# BENCH_ARGS pass options on (e.g. "-n 4", "--ignore=tests/gpu", "--quick").
# PYTHON picks the interpreter (default python3, which must already have
# numpy, numba, numba-cuda, pytest, pytest-benchmark, hypothesis; CuPy for the
# cuBLAS rows and torch for the torch-cuda rows are used when present). The
# install stage installs fastnn itself only (--no-deps): GPU machines often
# have no package index. WHEELS=DIR installs the wheels in DIR first, into a
# private folder put ahead on PYTHONPATH (e.g. a NumPy that numba-cuda can
# import: numba-cuda 0.30.4 fails on NumPy 2.5, which removed np.row_stack).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-bench/results/gpu}
STAGES=${2:-env,install,gpu-tests,tests,bench,overhead}
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
status=0

if [[ -n "${WHEELS:-}" ]]; then
    site=$(mktemp -d)
    $PY -m pip install -q --no-index --no-deps --no-compile --target "$site" "$WHEELS"/*.whl || exit 1
    export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi

stage() { echo "== $1 ($(date +%T)) =="; }

run_env() {
    stage env
    {
        date -u +"%Y-%m-%d %H:%M UTC"
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
        nproc
        $PY - <<'EOF'
import importlib, platform
print("python", platform.python_version())
for name in ("numpy", "numba", "numba_cuda", "llvmlite", "cupy", "torch", "pytest", "pytest_benchmark", "hypothesis"):
    try:
        m = importlib.import_module(name)
        print(name, getattr(m, "__version__", "?"))
    except Exception as e:                      # noqa: BLE001 - report, do not stop
        print(name, "missing:", type(e).__name__, e)
from numba import cuda
d = cuda.get_current_device()
print("device", d.name.decode() if isinstance(d.name, bytes) else d.name, "cc", d.compute_capability)
EOF
    } 2>&1 | tee "$OUT/env.txt"
}

run_install() {
    stage install
    $PY -m pip install -q --no-deps --no-build-isolation -e . || status=1
}

run_gpu_tests() {
    stage "tests/gpu on the device"
    timeout "${GPU_TESTS_TIMEOUT:-240}" $PY -m pytest -q -p no:randomly -rs ${GPU_PYTEST_ARGS:-} tests/gpu 2>&1 \
        | tee "$OUT/gpu-tests.log" | tail -n 25
    [[ ${PIPESTATUS[0]} == 0 ]] || status=1
}

run_tests() {
    stage "whole suite"
    timeout "${TESTS_TIMEOUT:-360}" $PY -m pytest -q -p no:randomly -rs ${PYTEST_ARGS:-} 2>&1 \
        | tee "$OUT/tests.log" | tail -n 25
    [[ ${PIPESTATUS[0]} == 0 ]] || status=1
}

run_bench() {
    stage "cuda benchmarks"
    timeout "${BENCH_TIMEOUT:-360}" $PY -m fastnn.bench -k "${BENCH_K:-cuda}" ${BENCH_ARGS:-} --out "$OUT/bench" 2>&1 \
        | tail -n 5
    [[ ${PIPESTATUS[0]} == 0 ]] || status=1
}

run_plan() {
    # the replayed step first, in a few minutes: its tests (bound launches
    # and the CUDA graph included) and its benchmarks against PyTorch
    stage "replayed step: tests and benchmarks"
    timeout "${PLAN_TIMEOUT:-240}" $PY -m pytest -q -p no:randomly -rs -s tests/gpu/test_device_step.py 2>&1 \
        | tee "$OUT/plan-tests.log" | tail -n 15
    [[ ${PIPESTATUS[0]} == 0 ]] || status=1
    timeout "${PLAN_TIMEOUT:-240}" $PY -m pytest -q -p no:randomly bench/bench_cuda.py -k train_step \
        --benchmark-json "$OUT/plan-bench.json" 2>&1 | tee "$OUT/plan-bench.log" | tail -n 25
    [[ ${PIPESTATUS[0]} == 0 ]] || status=1
}

run_overhead() {
    stage "host overhead"
    (cd bench && timeout "${OVERHEAD_TIMEOUT:-120}" $PY gpu_overhead.py) 2>&1 | tee "$OUT/overhead.txt" | head -n 60
    [[ ${PIPESTATUS[0]} == 0 ]] || status=1
}

for s in ${STAGES//,/ }; do
    fn=run_${s//-/_}
    declare -F "$fn" >/dev/null || { echo "unknown stage $s" >&2; exit 2; }
    $fn
done
stage "done, status $status"
exit $status
