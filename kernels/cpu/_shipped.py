"""Compiled kernels shipped with the package, for a first run without a compile.

A fresh install has an empty disk cache, and compiling the training step
with everything beneath it takes longer than a user waits for a first
epoch. So the package carries numba's cache entries for the kernels a
training run uses, compiled ahead of time for the x86-64 micro-architecture
levels (``LEVELS``) rather than for one processor: every x86-64 processor
of the last decade runs one of them. ``_jit._Cache`` looks here when its own
cache has no entry, and loads the best level that the host's features
cover. Everything else compiles as before, into the user's cache.

An entry is loaded only where it is exactly right:

- its key holds the same fields as the user's cache (signature, options,
  ``source_digest()`` of the kernels package) with the level in place of
  the host CPU, so an edited or upgraded kernel never loads shipped code,
  and neither does a process with other options (``FASTNN_PARALLEL=0``,
  ``NUMBA_BOUNDSCHECK=1``);
- numba writes its version into each index and the Python version into
  each file name, and an entry of another version is not read;
- a level is used only on a host whose features include all of that
  level's (``usable_levels``): AVX-512 code is never loaded on a processor
  without AVX-512.

``FASTNN_PRECOMPILED=0`` turns it off (the benchmarks compare the two).
Maintainers rebuild the entries after any change under ``kernels/`` with
``python -m fastnn.kernels.precompile`` (``docs/precompiled.md``); a test
fails while they are out of date.

The files are numba's own index (``.nbi``) and data (``.nbc``) files, which
are pickles: they are part of the package, like its ``.py`` files, and are
only ever read from the package's own folder.
"""
import json
import os
import pickle
import platform
import shutil
import subprocess
import sys
import tempfile

import numba
from llvmlite import binding as ll
from numba.core.caching import IndexDataCacheFile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_precompiled")
MANIFEST = os.path.join(ROOT, "manifest.json")

ENABLED = os.environ.get("FASTNN_PRECOMPILED", "1") not in ("0", "false", "False", "")

# The x86-64 psABI levels, best first, with the features each requires on
# top of the next (LLVM's names). v2's are in v3's list: shipped code starts
# at v3 (AVX2 and FMA), below which the kernels would be slow anyway.
LEVELS = {
    "x86-64-v4": ("avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"),
    "x86-64-v3": ("avx", "avx2", "bmi", "bmi2", "f16c", "fma", "lzcnt", "movbe", "xsave",
                  "cx16", "popcnt", "sse4.1", "sse4.2", "ssse3", "sahf"),
}

# LLVM features each level is compiled with on top of its own. LLVM tunes
# x86-64-v4 like Skylake-SP, preferring 256-bit vectors; compiled for the
# host, Zen 4 and Zen 5 use 512-bit ones, and v4 as tuned was up to 1.7x
# slower there in the loops bound by arithmetic (Adam and RMSprop at 1M;
# bench/NOTES.md). With 512-bit vectors preferred, v4 matched the native
# code on the AMD machine, and on the Xeon the same choice for the whole
# process had been measured faster, not slower (NOTES, "512-bit vectors").
TUNING = {"x86-64-v4": "-prefer-256-bit", "x86-64-v3": ""}


def usable_levels(features=None, machine=None):
    """The levels in ``LEVELS`` that a host with ``features`` (a mapping of
    LLVM feature name to bool; default: this host's) can run, best first."""
    machine = (machine or platform.machine()).lower()
    if machine not in ("x86_64", "amd64"):
        return []
    if features is None:
        features = ll.get_host_cpu_features()
    names = list(LEVELS)
    usable = []
    for i, level in enumerate(names):
        # a level needs its own features and those of every level below it
        if all(features.get(f, False) for lv in names[i:] for f in LEVELS[lv]):
            usable.append(level)
    return usable


class _Magic:
    """Stands in for a codegen in numba's cache key: the target triple, the
    level as CPU name, and its ``TUNING`` as features (the level implies
    the rest)."""

    def __init__(self, triple, level):
        self._magic = (triple, level, TUNING[level])

    def magic_tuple(self):
        return self._magic


class _Index(IndexDataCacheFile):
    """A shipped index: numba's, but read without its source stamp (the
    source file's mtime and size, which no copy of the package keeps); the
    key's ``source_digest()`` is the stronger check, over every kernel's
    source."""

    def _load_index(self):
        try:
            with open(self._index_path, "rb") as f:
                version = pickle.load(f)
                data = f.read()
        except FileNotFoundError:
            return {}
        if version != self._version:
            return {}
        _stamp, overloads = pickle.loads(data)
        return overloads

    def save(self, key, data):
        raise RuntimeError("the shipped kernels are read-only")


_state = {}


def _manifest():
    """The shipped build's manifest and what of it differs from this
    install: ``(manifest or None, [(field, shipped, here), ...])``."""
    try:
        with open(MANIFEST) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return None, []
    from ._jit import source_digest
    here = {"digest": source_digest(), "numba": numba.__version__, "python": "%d.%d" % sys.version_info[:2]}
    return manifest, [(k, manifest.get(k), v) for k, v in here.items() if manifest.get(k) != v]


def _levels():
    """The levels to look in on this host (cached): none when switched off,
    out of date, or for another numba or Python."""
    if "levels" not in _state:
        _state["levels"] = []
        if ENABLED:
            manifest, differ = _manifest()
            if manifest and not differ:
                _state["levels"] = [lv for lv in usable_levels() if lv in manifest.get("levels", ())]
    return _state["levels"]


def load(cache, sig, target_context):
    """The shipped entry of ``cache``'s kernel for ``sig``, rebuilt, or None.

    ``cache`` is a ``_jit._Cache``: its ``_index_key`` makes the key, with
    the level standing in for the host CPU."""
    triple = target_context.codegen()._llvm_module.triple
    for level in _levels():
        folder = os.path.basename(os.path.dirname(cache._py_func.__code__.co_filename))
        index = _Index(os.path.join(ROOT, level, folder), cache._impl.filename_base, None)
        data = index.load(cache._index_key(sig, _Magic(triple, level)))
        if data is not None:
            return cache._impl.rebuild(target_context, data)
    return None


def why_not():
    """Why a kernel compiles instead of loading shipped code, in a few words
    (for the compile notice)."""
    if not ENABLED:
        return "FASTNN_PRECOMPILED=0"
    manifest, differ = _manifest()
    if manifest is None:
        return "this install has no shipped kernels"
    fields = {k for k, _, _ in differ}
    if "digest" in fields:
        return "the kernels' source differs from the shipped build"
    if fields:
        return f"the shipped kernels are for numba {manifest.get('numba')} and Python {manifest.get('python')}"
    if not _levels():
        return "the shipped kernels need an x86-64 processor with AVX2"
    return "no shipped kernel for these argument types"


def current():
    """Whether the shipped entries match this source, numba and Python
    (a message saying what differs, or None when they do)."""
    manifest, differ = _manifest()
    if manifest is None:
        return "no readable manifest"
    return "; ".join(f"{k}: shipped {old!r}, here {new!r}" for k, old, new in differ) or None


# ---- building (maintainers) ------------------------------------------------------------

def _workload():
    """Compile what a training run of any supported model uses: the
    experiments of ``python -m fastnn``, the compiled step (serial and parallel) and
    inference for every loss and both dtypes, every public kernel
    (``--check``), and ``fastnn.course``'s training loop."""
    import contextlib
    import io

    import numpy as np

    import fastnn
    from fastnn import compiled
    from fastnn.__main__ import main
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["--no-plots", "--no-ref"]) == 0
        assert main(["--check"]) == 0
    rng = np.random.default_rng(0)
    x = rng.standard_normal((96, 6))
    for dtype in ("float32", "float64"):
        for loss, y in (("softmax_cross_entropy", rng.integers(0, 3, 96)),
                        ("binary_cross_entropy", rng.integers(0, 2, (96, 1))),
                        ("mean_squared_error", rng.standard_normal((96, 1)))):
            out = 3 if loss == "softmax_cross_entropy" else 1
            for serial_below in (compiled.SERIAL_BELOW, 0):        # the serial step, then the parallel one
                model = fastnn.Sequential([fastnn.Dense(6, 8, activation="tanh"), fastnn.BatchNorm(8),
                                           fastnn.ReLU(), fastnn.Dropout(0.9), fastnn.Dense(8, out)],
                                          loss=loss, dtype=dtype, l2=0.1, l1=0.1, seed=0)
                opt = fastnn.Adam(model.parameters(), lr=1e-3)
                old, compiled.SERIAL_BELOW = compiled.SERIAL_BELOW, serial_below
                try:
                    model.fit(x, y, optimizer=opt, epochs=1, batch_size=32, verbose=False)
                finally:
                    compiled.SERIAL_BELOW = old
                ready = y.astype(np.intp) if loss == "softmax_cross_entropy" else y.astype(dtype)
                model.train_step(x[:32].astype(dtype), ready[:32], opt)      # the batch checked in one call
                model.evaluate(x, y)
                model.predict(x)
                old, compiled.INFER_THREADED = compiled.INFER_THREADED, 0     # blocks on threads, a call each
                try:
                    model.evaluate(np.vstack([x] * 6), np.concatenate([y] * 6))
                finally:
                    compiled.INFER_THREADED = old
    # fastnn.course: its training loop (one signature serves every model) and the functions' kernels
    from fastnn.course import gradient_checking, initialization, regularization
    X, Y, _, _ = initialization.load_dataset()
    initialization.model(X, Y, num_iterations=2, print_cost=False)
    regularization.model(X, Y, num_iterations=2, keep_prob=0.8, print_cost=False)
    parameters = initialization.initialize_parameters_he([2, 3, 1, 1])
    cost, cache = gradient_checking.forward_propagation_n(X, Y, parameters)


def _build_level(level, cache_dir):
    env = dict(os.environ, NUMBA_CPU_NAME=level, NUMBA_CPU_FEATURES=TUNING[level], NUMBA_CACHE_DIR=cache_dir,
               FASTNN_PRECOMPILED="0")
    for k in ("FASTNN_PARALLEL", "NUMBA_BOUNDSCHECK", "FASTNN_NUMBA_CACHE"):
        env.pop(k, None)
    return subprocess.Popen([sys.executable, "-c", "from fastnn.kernels.cpu import _shipped; _shipped._workload()"],
                            env=env)


def build(levels=tuple(LEVELS)):
    """Compile ``_workload`` once per level in fresh processes (side by
    side) and replace the shipped entries with fastnn's entries from their
    caches."""
    from ._jit import source_digest
    tmp = tempfile.mkdtemp(prefix="fastnn-shipped-")
    try:
        procs = {lv: _build_level(lv, os.path.join(tmp, lv)) for lv in levels}
        for lv, p in procs.items():
            if p.wait():
                raise SystemExit(f"building {lv} failed with exit code {p.returncode}")
        if os.path.isdir(ROOT):
            shutil.rmtree(ROOT)
        for lv in levels:
            for dirpath, _, files in os.walk(os.path.join(tmp, lv)):
                # numba names a source folder's cache folder NAME_<hash of its path>; the
                # shipped one is NAME (``load``)
                dst = os.path.join(ROOT, lv, os.path.basename(dirpath).rsplit("_", 1)[0])
                for name in files:
                    if name.endswith((".nbi", ".nbc")):
                        os.makedirs(dst, exist_ok=True)
                        shutil.copy(os.path.join(dirpath, name), os.path.join(dst, name))
        manifest = {"digest": source_digest(), "numba": numba.__version__,
                    "python": "%d.%d" % sys.version_info[:2], "levels": list(levels),
                    "built_on": ll.get_host_cpu_name()}
        with open(MANIFEST, "w") as f:
            json.dump(manifest, f, indent=1)
            f.write("\n")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return manifest

