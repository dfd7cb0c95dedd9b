"""The README's reliability claims ("Reliability"), one named test each.

The fuzz suite (``tests/fuzz``, run by ``tests/test_fuzz.py``) searches the
same claims over random malformed input; these are the claims as stated.
"""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastnn
from fastnn import io, tune

from .tune_objectives import hostile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _model(dtype=np.float64, bn=False):
    layers = ([fastnn.Dense(3, 6, bias=False), fastnn.BatchNorm(6), fastnn.ReLU()] if bn
              else [fastnn.Dense(3, 6, "relu")])
    return fastnn.Sequential(layers + [fastnn.Dense(6, 2)], dtype=dtype, seed=0)


def _data(m=40):
    X = np.random.default_rng(0).standard_normal((m, 3))
    return X, (X[:, 0] > 0).astype(int)


# --- bad input ----------------------------------------------------------------

@pytest.mark.parametrize("call,name", [
    (lambda: fastnn.dense_forward(np.ones((2, 3)), np.ones((4, 2))), "w"),
    (lambda: fastnn.dense_forward(np.ones((2, 3), np.float32), np.ones((3, 2))), "w"),
    (lambda: fastnn.activation_forward(np.ones((2, 3)), "relu", alpha=-1), "alpha"),
    (lambda: fastnn.dropout_forward(np.ones((2, 2)), 0.5, seed=1, training="no"), "training"),
    (lambda: fastnn.binary_cross_entropy(np.zeros((3, 1)), np.array([[-1.0], [2.0], [5.0]])), "y"),
    (lambda: fastnn.softmax_cross_entropy(np.zeros((2, 3)), np.array([0, 3])), "labels"),
    (lambda: fastnn.Adam(_model().parameters(), betas=(0.9, 1.5)), "betas[1]"),
    (lambda: fastnn.LeakyReLU(float("nan")), "alpha"),
    (lambda: _model().fit(*_data(), fastnn.SGD(_model().parameters())), "optimizer"),
])
def test_bad_input_is_a_value_or_type_error_naming_the_argument(call, name):
    with pytest.raises((ValueError, TypeError), match=name.replace("[", r"\[").replace("]", r"\]")):
        call()


# --- memory safety ----------------------------------------------------------------

def test_never_writes_outside_the_arrays():
    """Subclasses (np.matrix keeps two dimensions through reshape(-1)) are
    refused, and an output may not overlap an input or another output."""
    big = np.zeros(128)
    with pytest.raises(TypeError, match="subclass"):
        fastnn.l2_penalty(np.ones((8, 8)), np.asmatrix(big[:64].reshape(8, 8)), 1.0, 1)
    assert not big.any()
    buf = np.zeros((4, 3))
    with pytest.raises(ValueError, match="dz must not share memory with dx"):
        fastnn.dense_backward(np.ones((4, 3)), np.ones((4, 3)), np.eye(3), np.ones((4, 3)), dx=buf, dz=buf)
    x = np.ones((4, 3))
    with pytest.raises(ValueError, match="running_mean must not share memory with x"):
        fastnn.batchnorm_forward(x, np.ones(3), np.zeros(3), x[0], np.ones(3), training=True)


def test_kernel_buffers_cannot_be_replaced():
    model = _model()
    opt = fastnn.Adam(model.parameters())
    with pytest.raises(TypeError):
        opt.state["m"] = np.zeros(3)                    # the kernels trust its size
    with pytest.raises(AttributeError):
        model.parameters().grad = np.zeros(3)
    with pytest.raises(ValueError):
        _model(bn=True).layers[1].running_var = -np.ones(6)       # checked on assignment, never negative


# --- NaN and infinity ------------------------------------------------------------

def test_nan_propagates_the_same_on_every_backend():
    x = np.array([[np.nan, 1.0, -1.0]])
    for name in ("relu", "leaky_relu", "tanh", "sigmoid", "linear"):
        cpu = fastnn.activation_forward(x, name, backend="cpu")
        ref = fastnn.activation_forward(x, name, backend="ref")
        assert np.isnan(cpu[0, 0]) and np.isnan(ref[0, 0])
        np.testing.assert_array_equal(cpu[0, 1:], ref[0, 1:])
    g = np.zeros((1, 2))
    fastnn.l1_penalty(np.array([[np.nan, 1.0]]), g, 1.0, 1, backend="cpu")
    assert np.isnan(g[0, 0])


def test_models_refuse_nonfinite_and_nonreal_data_and_convert_real_dtypes():
    model = _model(np.float32)
    X, y = _data()
    for bad in (np.where(np.arange(X.size).reshape(X.shape) == 7, np.nan, X), X * 1e300,
                X.astype(complex), X.astype(str)):
        for call in (lambda: model.predict(bad), lambda: model.fit(bad, y, fastnn.SGD(model.parameters()),
                                                                      verbose=False)):
            with pytest.raises((ValueError, TypeError), match="X"):
                call()
    ints = (X * 10).astype(np.int64)
    np.testing.assert_array_equal(model.predict(ints), model.predict(ints.astype(np.float32)))
    np.testing.assert_array_equal(model.predict(X > 0), model.predict((X > 0).astype(np.float32)))


def test_predict_refuses_nonfinite_outputs():
    model = _model()
    model.parameters().data[0] = np.nan                 # as a diverged fit would leave it
    with pytest.raises(ValueError, match="not finite"):
        model.predict(_data()[0])


def test_nan_in_training_stops_with_divergence_error():
    model = _model()
    X, y = _data()
    with pytest.raises(fastnn.DivergenceError):
        model.fit(X * 1e200, y, fastnn.SGD(model.parameters(), lr=1e10), epochs=3, verbose=False)


# --- the compiled path and the layer path -------------------------------------

@pytest.mark.parametrize("compiled", [None, False])
def test_compiled_and_layer_paths_refuse_alike(compiled):
    model = _model(bn=True)
    X, y = _data(41)                                    # batches of 8: the last has one example
    with pytest.raises(ValueError, match="at least 2 examples per batch"):
        model.fit(X, y, fastnn.Adam(model.parameters()), batch_size=8, verbose=False, compiled=compiled)
    assert np.all(model.layers[1].running_var == 1.0)  # refused before any step


def test_a_layer_belongs_to_one_model():
    dense = fastnn.Dense(3, 2)
    with pytest.raises(ValueError, match="twice"):
        fastnn.Sequential([dense, dense])
    first = fastnn.Sequential([dense])
    second = fastnn.Sequential([dense])
    X = _data()[0]
    assert second.predict(X).shape == (40,)
    with pytest.raises(ValueError, match="another Sequential"):
        first.predict(X)


def test_a_model_whose_layer_moved_on_refuses_every_path_after_checks_that_passed():
    """``_own`` skips its walk while no model has been built since it last
    passed: building one with this model's layer must still stop every path,
    the kept step's fast ``train_step`` included."""
    dense = fastnn.Dense(3, 2)
    first = fastnn.Sequential([fastnn.Dense(3, 3, "relu"), dense])
    opt = fastnn.Adam(first.parameters())
    X, y = _data()[0], np.arange(40) % 2
    for _ in range(2):
        first.train_step(X, y, opt)            # a kept step; later calls check ownership on the fast path
        first.predict(X)
    fastnn.Sequential([dense])
    for call in (lambda: first.train_step(X, y, opt), lambda: first.predict(X),
                 lambda: first.fit(X, y, opt, verbose=False)):
        with pytest.raises(ValueError, match="another Sequential"):
            call()


# --- checkpoints ------------------------------------------------------------------

def test_checkpoint_temporaries_of_killed_saves_are_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / f".fastnn-{dead}-abc.npz.tmp"
    live = tmp_path / f".fastnn-{os.getppid()}-abc.npz.tmp"
    stale.write_bytes(b"x" * 100)
    live.write_bytes(b"x")
    _model().save(tmp_path / "m.npz")
    assert not stale.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([live.name, "m.npz"])


def test_loaded_values_are_checked_like_constructed_ones(tmp_path):
    from fastnn import checkpoint
    model = _model()
    opt = fastnn.Adam(model.parameters())
    model.save(tmp_path / "m.npz", optimizer=opt)
    flat = io.load_npz(tmp_path / "m.npz", raw=True)
    flat.pop("digest")
    flat["optimizer/hyper/eps"] = np.asarray(-1.0)      # and the digest recomputed, as anyone can
    flat["digest"] = np.asarray(checkpoint._digest(flat))
    io.save_npz(tmp_path / "crafted.npz", io.unflatten(flat))
    with pytest.raises(ValueError, match="eps"):
        fastnn.load(tmp_path / "crafted.npz", with_optimizer=True)


# --- search -----------------------------------------------------------------------

def test_a_killed_search_loses_only_the_trial_in_flight(tmp_path):
    """SIGKILL of the whole search at the sixth trial: the five before it
    are in the log, and resuming runs the other five only."""
    log, flag = tmp_path / "search.jsonl", tmp_path / "kill"
    flag.touch()
    script = textwrap.dedent(f"""
        from fastnn import tune
        from tests.tune_objectives import killed_at
        tune.grid_search(killed_at, {{"x": list(range(10))}}, executor=tune.SerialExecutor(), log={str(log)!r},
                         resume=True)
    """)
    env = {**os.environ, "FASTNN_TEST_KILL": str(flag)}
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert proc.returncode == -9
    assert sorted(json.loads(line)["id"] for line in log.read_text().splitlines()) == [0, 1, 2, 3, 4]
    flag.unlink()
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    assert sorted(json.loads(line)["id"] for line in log.read_text().splitlines()) == list(range(10))


def test_a_dying_trial_is_recorded_as_failed_and_the_search_goes_on(tmp_path):
    """On the search's own process pool: a trial that calls os._exit (as a
    segfault would), one that raises SystemExit and one that hangs past the
    timeout are failed records; the good trials beside them finish."""
    log = tmp_path / "search.jsonl"
    grid = {"kind": ["ok", "exit", "ok", "system_exit", "sleep", "ok"], "x": [1.0]}
    res = tune.grid_search(hostile, grid, log=log, timeout=3.0)
    by_kind = {t["params"]["kind"]: t for t in res.trials}
    assert [t["status"] for t in res.trials if t["params"]["kind"] == "ok"] == ["ok"] * 3
    assert by_kind["exit"]["status"] == "failed" and "worker process died" in by_kind["exit"]["error"]
    assert by_kind["system_exit"]["status"] == "failed" and "SystemExit" in by_kind["system_exit"]["error"]
    assert by_kind["sleep"]["status"] == "failed" and "Timeout" in by_kind["sleep"]["error"]
    assert len(log.read_text().splitlines()) == 6


def test_per_trial_timeout_on_the_serial_executor():
    res = tune.grid_search(hostile, {"kind": ["sleep", "ok"], "x": [2.0]}, executor=tune.SerialExecutor(),
                           timeout=0.5)
    first, second = sorted(res.trials, key=lambda t: t["id"])
    assert first["status"] == "failed" and "TrialTimeout" in first["error"] and first["time"] < 5
    assert second["status"] == "ok"


# --- threads ------------------------------------------------------------------

def test_concurrent_fit_is_safe_on_the_workqueue_layer():
    """numba's workqueue layer aborts when two threads enter parallel code;
    fastnn's threaded kernels take turns there. Two models trained at once
    on threads finish, with the results they have alone."""
    script = textwrap.dedent("""
        import threading, numpy as np, numba, fastnn
        X = np.random.default_rng(0).normal(size=(2048, 256)).astype(np.float32)
        y = (X[:, 0] > 0).astype(int)
        def train(seed):
            m = fastnn.Sequential([fastnn.Dense(256, 512, "relu"), fastnn.Dense(512, 2)], dtype=np.float32,
                                  seed=seed)
            m.fit(X, y, fastnn.Adam(m.parameters()), epochs=2, batch_size=512, verbose=False)
            return m.parameters().data.copy()
        alone = [train(s) for s in (0, 1)]
        together = [None, None]
        threads = [threading.Thread(target=lambda s=s: together.__setitem__(s, train(s))) for s in (0, 1)]
        [t.start() for t in threads]; [t.join() for t in threads]
        assert all(np.array_equal(a, b) for a, b in zip(alone, together))
        print(numba.threading_layer())
    """)
    env = {**os.environ, "NUMBA_THREADING_LAYER": "workqueue"}
    proc = subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == "workqueue"
