"""The compiled kernels shipped with the package (``kernels/cpu/_shipped``)
and the notice of a compile (``kernels/cpu/_jit._Notice``)."""
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import fastnn
from fastnn.kernels.cpu import _jit, _shipped
from fastnn.kernels.cpu import step as k

AVX2 = dict.fromkeys(_shipped.LEVELS["x86-64-v3"], True)
AVX512 = dict(AVX2, **dict.fromkeys(_shipped.LEVELS["x86-64-v4"], True))


def test_levels_follow_the_host_features():
    assert _shipped.usable_levels(AVX512, "x86_64") == ["x86-64-v4", "x86-64-v3"]
    assert _shipped.usable_levels(AVX2, "x86_64") == ["x86-64-v3"]
    # AVX-512 code is never chosen for a processor that lacks one of its features
    assert _shipped.usable_levels(dict(AVX512, avx512vl=False), "x86_64") == ["x86-64-v3"]
    # nor AVX2 code for one without FMA, nor x86 code for another architecture
    assert _shipped.usable_levels(dict(AVX512, fma=False), "x86_64") == []
    assert _shipped.usable_levels(AVX512, "aarch64") == []


def test_the_shipped_kernels_are_current():
    """Fails after an edit under kernels/ until the maintainer rebuilds them
    (python -m fastnn.kernels.precompile): a stale build is never loaded,
    so every new user would compile again."""
    with open(_shipped.MANIFEST) as f:
        manifest = json.load(f)
    assert manifest["digest"] == _jit.source_digest(), \
        "kernels/ changed since the shipped kernels were built: run python -m fastnn.kernels.precompile"
    assert set(manifest["levels"]) == set(_shipped.LEVELS)
    for level in manifest["levels"]:
        assert list((pathlib.Path(_shipped.ROOT) / level).rglob("step.train_step_serial-*.nbi")), level
    if _shipped.current() is not None:
        pytest.skip(f"shipped for another numba or Python: {_shipped.current()}")


def _trained_step():
    """Train the first-contact MLP one epoch; return the serial step's kernel
    and the signature it ran with."""
    X, y = fastnn.datasets.load_digits()
    model = fastnn.Sequential([fastnn.Dense(64, 16, activation="relu"), fastnn.Dense(16, 10)],
                              loss="softmax_cross_entropy", dtype="float32", seed=0)
    model.fit(X[:128], y[:128], optimizer=fastnn.Adam(model.parameters()), epochs=1, batch_size=64,
              verbose=False)
    d = k.train_step_serial
    return d, d.signatures[0]


def test_shipped_entries_load_only_for_the_same_source(monkeypatch):
    if not _shipped._levels():
        pytest.skip(f"no shipped kernels here: {_shipped.why_not()}")
    d, sig = _trained_step()
    assert _shipped.load(d._cache, sig, d.targetctx) is not None
    # an edited or upgraded kernel: another digest of the source
    monkeypatch.setattr(_jit, "source_digest", lambda: "0" * 64)
    monkeypatch.setattr(_shipped, "_state", {})
    assert _shipped._levels() == []
    assert _shipped.load(d._cache, sig, d.targetctx) is None
    assert _shipped.why_not() == "the kernels' source differs from the shipped build"


def test_shipped_entries_load_only_for_the_same_options(monkeypatch):
    """A process with other compile options (FASTNN_PARALLEL=0,
    NUMBA_BOUNDSCHECK=1) has another key: no shipped entry matches it."""
    if not _shipped._levels():
        pytest.skip(f"no shipped kernels here: {_shipped.why_not()}")
    d, sig = _trained_step()
    monkeypatch.setattr(d._cache, "_options", ("serial", "boundscheck", "python"))
    assert _shipped.load(d._cache, sig, d.targetctx) is None


def _python(code, cache, **env):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache), **{"FASTNN_VERBOSE": "1", **env})
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)


_SGD = ("import numpy as np\nfrom fastnn.kernels.cpu import optim\n"
        "p = np.ones(8); g = np.ones(8)\noptim.sgd_update(p, g, 0.5, 0.0, 8)\nprint(p[0])\n")


def test_a_compile_is_announced_in_one_line(tmp_path):
    r = _python(_SGD, tmp_path / "cache", FASTNN_PRECOMPILED="0")
    assert r.returncode == 0 and r.stdout.strip() == "0.5", r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("fastnn: compiling sgd update (float64) for this machine, once (FASTNN_PRECOMPILED=0;")
    assert lines[0].endswith(" s") and float(lines[0].split()[-2]) > 0
    # the second process loads it from the cache: nothing to say
    r = _python(_SGD, tmp_path / "cache", FASTNN_PRECOMPILED="0")
    assert r.returncode == 0 and r.stderr == "", r.stderr


def test_the_environment_switch_silences_the_notice(tmp_path):
    r = _python(_SGD, tmp_path / "cache", FASTNN_PRECOMPILED="0", FASTNN_VERBOSE="0")
    assert r.returncode == 0 and r.stdout.strip() == "0.5" and r.stderr == "", r.stderr


def test_quiet_silences_the_notice(tmp_path):
    code = "from fastnn.kernels.cpu._jit import quiet\nwith quiet():\n" + "".join(
        "    " + line + "\n" for line in _SGD.splitlines())
    r = _python(code, tmp_path / "cache", FASTNN_PRECOMPILED="0")
    assert r.returncode == 0 and r.stdout.strip() == "0.5" and r.stderr == "", r.stderr


def test_a_shipped_kernel_needs_no_compile_and_no_notice(tmp_path):
    if not _shipped._levels():
        pytest.skip(f"no shipped kernels here: {_shipped.why_not()}")
    r = _python(_SGD, tmp_path / "cache")
    assert r.returncode == 0 and r.stdout.strip() == "0.5" and r.stderr == "", r.stderr


def test_fit_verbose_false_is_quiet_while_it_trains():
    seen = []

    class Record(fastnn.callbacks.Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(getattr(_jit._local, "quiet", 0))

    X, y = fastnn.datasets.load_digits()
    for verbose in (False, None):
        model = fastnn.Sequential([fastnn.Dense(64, 10)], loss="softmax_cross_entropy", seed=0)
        model.fit(X[:64], y[:64], optimizer=fastnn.SGD(model.parameters()), epochs=1, verbose=verbose,
                  callbacks=[Record()])
    assert seen == [1, 0]
    assert getattr(_jit._local, "quiet", 0) == 0


def test_the_streaming_threshold_is_read_at_run_time():
    """Kernels read the threshold from the process's cell, not from a
    constant compiled in (so shipped code serves every machine): compiled
    code sees set_min_bytes at once, and a relu of small arrays streamed
    after set_min_bytes(0) keeps its bits."""
    from numba import njit

    from fastnn.kernels.codes import ACTIVATIONS
    from fastnn.kernels.cpu import _stream, activations

    @njit
    def threshold():
        return _stream.min_bytes()

    assert threshold() == _stream.STREAM_MIN_BYTES
    old = _stream.set_min_bytes(12345)
    try:
        assert threshold() == 12345
    finally:
        _stream.set_min_bytes(old)
    assert threshold() == _stream.STREAM_MIN_BYTES
    x = np.random.default_rng(0).standard_normal(4099).astype(np.float32)
    plain, streamed = np.empty_like(x), np.empty_like(x)
    activations.activation_forward(plain, x, ACTIVATIONS["relu"], 0.0)
    old = _stream.set_min_bytes(0)
    try:
        assert old == _stream.STREAM_MIN_BYTES
        activations.activation_forward(streamed, x, ACTIVATIONS["relu"], 0.0)
    finally:
        _stream.set_min_bytes(old)
    assert np.array_equal(plain.view(np.uint32), streamed.view(np.uint32))
