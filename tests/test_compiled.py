"""The compiled training step equals the layer-by-layer path."""
import numpy as np
import pytest

import fastnn
from fastnn import testing
from fastnn.compiled import CompiledStep, supported

OPTIMIZERS = [(fastnn.SGD, {}), (fastnn.Momentum, {}), (fastnn.RMSprop, {}),
              (fastnn.Adam, {"weight_decay": 0.01}), (fastnn.AdamW, {})]


def _model(loss, out, dtype):
    return fastnn.Sequential([
        fastnn.Dense(3, 9, bias=False), fastnn.BatchNorm(9), fastnn.ReLU(), fastnn.Dropout(0.7),
        fastnn.Dense(9, 6, "tanh"), fastnn.LeakyReLU(0.2), fastnn.Dropout(1.0), fastnn.Dense(6, 5, "sigmoid"),
        fastnn.Sigmoid(), fastnn.Dense(5, out)], loss=loss, l2=0.2, l1=0.05, dtype=dtype, seed=11)


@pytest.mark.parametrize("loss,out", [("softmax_cross_entropy", 4), ("binary_cross_entropy", 2),
                                      ("mean_squared_error", 3)])
@pytest.mark.parametrize("opt_cls,hp", OPTIMIZERS, ids=[o.__name__ for o, _ in OPTIMIZERS])
def test_compiled_fit_equals_layer_by_layer(opt_cls, hp, loss, out, dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((70, 3))
    y = rng.integers(0, out, 70) if loss == "softmax_cross_entropy" else \
        (rng.random((70, out)) < 0.5).astype(float) if loss == "binary_cross_entropy" else \
        rng.standard_normal((70, out))
    runs = []
    for compiled in (True, False):
        model = _model(loss, out, dtype)
        opt = opt_cls(model.parameters(), lr=0.01, **hp)
        assert supported(model, opt) is None
        h = model.fit(X, y, optimizer=opt, epochs=3, batch_size=32, seed=1, verbose=False, compiled=compiled)
        runs.append((h, model, opt))
    (h1, m1, o1), (h2, m2, o2) = runs
    # a few chained steps through the same kernels: rounding compounds like a reduction.
    # Costs, norms and running statistics are float64 numbers computed from the
    # model's dtype, so they are compared at that dtype's tolerance.
    def at(a):
        return np.asarray(a).astype(dtype)

    testing.assert_close(at(h1["cost"]), at(h2["cost"]), "reduction")
    testing.assert_close(m1.parameters().data, m2.parameters().data, "reduction")
    for k in o1.state:
        testing.assert_close(o1.state[k], o2.state[k], "reduction")
    testing.assert_close(at(m1.layers[1].running_var), at(m2.layers[1].running_var), "reduction")
    assert m1.layers[3].offset == m2.layers[3].offset > 0          # the same dropout stream positions
    for name in h1.grad_norms:
        testing.assert_close(at(h1.grad_norms[name]), at(h2.grad_norms[name]), "reduction")
    assert o1.t == o2.t == 9


@pytest.mark.parametrize("opt_cls,hp", OPTIMIZERS[2:4], ids=[o.__name__ for o, _ in OPTIMIZERS[2:4]])
def test_serial_twin_and_threaded_step_give_the_same_bits(opt_cls, hp, dtype):
    # Small steps run the serial twin, large ones the threaded kernel; every
    # split depends on the shapes only, so the two must agree bit for bit
    # (batch 200 splits the GEMMs into 4 row blocks, the elementwise kernels
    # into several chunks).
    rng = np.random.default_rng(2)
    X = rng.standard_normal((200, 20)).astype(dtype)
    y = rng.integers(0, 4, 200)
    results = []
    for below in (0, 1 << 62):
        model = fastnn.Sequential([fastnn.Dense(20, 64, bias=False), fastnn.BatchNorm(64), fastnn.ReLU(),
                                   fastnn.Dropout(0.8), fastnn.Dense(64, 4)], l2=0.1, dtype=dtype, seed=3)
        opt = opt_cls(model.parameters(), lr=0.01, **hp)
        step = CompiledStep(model, opt, 200)
        step.serial_below = below
        costs = [step(model._x(X), model._y(y, 200)) for _ in range(3)]
        results.append((costs, model.parameters().data.copy(), model.layers[1].running_var.copy()))
    (c1, p1, r1), (c2, p2, r2) = results
    assert c1 == c2
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_array_equal(r1, r2)


def test_compiled_step_rejects_what_it_cannot_run():
    model = fastnn.Sequential([fastnn.Dense(2, 2)], backend="ref")
    assert "cpu only" in supported(model, fastnn.SGD(model.parameters()))
    model = fastnn.Sequential([fastnn.Dense(2, 2)])
    step = CompiledStep(model, fastnn.SGD(model.parameters()), max_batch=4)
    with pytest.raises(ValueError, match="exceeds the compiled step's 4"):
        step(np.ones((5, 2)), np.zeros(5, np.intp))


def _trained(dtype, loss="softmax_cross_entropy", out=4):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((600, 3))
    y = rng.integers(0, out, 600) if loss == "softmax_cross_entropy" else (rng.random((600, out)) < 0.5) * 1.0
    model = _model(loss, out, dtype)
    model.fit(X, y, optimizer=fastnn.Adam(model.parameters(), lr=0.01), epochs=1, batch_size=64, seed=0,
              verbose=False)                        # batch norm's running statistics move off their start
    return model, model._x(X), model._y(y, 600)


@pytest.mark.parametrize("loss,out", [("softmax_cross_entropy", 4), ("binary_cross_entropy", 2)])
def test_compiled_inference_equals_layer_by_layer(loss, out, dtype, monkeypatch):
    # 600 rows in blocks of 256: three blocks, the last one short
    from fastnn import compiled
    from fastnn.compiled import compiled_forward
    from fastnn.losses import LOSS_KINDS
    monkeypatch.setattr(compiled, "INFER_ROWS", 256)
    model, x, y = _trained(dtype, loss, out)
    assert x.shape[0] > 2 * compiled.inference_rows(model, x.dtype.itemsize)
    logits, per_example = compiled_forward(model, x, y)
    expect = model._forward(x, training=False)          # layer by layer
    testing.assert_close(logits, expect, "reduction")
    testing.assert_close(per_example, LOSS_KINDS[loss].checked(expect, y, "cpu").per_example, "reduction")
    ev = model.evaluate(x, y)
    assert ev["cost"] == pytest.approx(float(per_example.mean(dtype=np.float64)))
    if loss == "softmax_cross_entropy":
        np.testing.assert_array_equal(model.predict(x), logits.argmax(axis=1))
        assert ev["accuracy"] == pytest.approx(float(np.mean(logits.argmax(axis=1) == y)))


def test_compiled_inference_same_bits_for_any_thread_count(dtype, monkeypatch):
    import numba

    from fastnn import compiled
    from fastnn.compiled import compiled_forward
    monkeypatch.setattr(compiled, "INFER_ROWS", 256)
    monkeypatch.setattr(compiled, "INFER_THREADED", 0)       # blocks on threads, even this small
    model, x, y = _trained(dtype)
    runs = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        try:
            runs.append(compiled_forward(model, x, y))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_compiled_inference_one_call_equals_a_call_per_block(dtype, monkeypatch):
    """Below INFER_THREADED one compiled call runs every block; above it the
    blocks go to threads, a call each: the same blocks, the same bits."""
    from fastnn import compiled
    monkeypatch.setattr(compiled, "INFER_ROWS", 256)          # 600 rows: three blocks
    model, x, y = _trained(dtype)
    one = compiled.compiled_forward(model, x, y)
    monkeypatch.setattr(compiled, "INFER_THREADED", 0)
    per_block = compiled.compiled_forward(model, x, y)
    np.testing.assert_array_equal(one[0], per_block[0])
    np.testing.assert_array_equal(one[1], per_block[1])


def test_inference_rows_keep_a_block_within_its_bytes():
    from fastnn import compiled
    tiny = fastnn.Sequential([fastnn.Dense(2, 20, "relu"), fastnn.Dense(20, 1)], loss="binary_cross_entropy")
    assert compiled.inference_rows(tiny, 4) == compiled.INFER_ROWS
    wide = fastnn.Sequential([fastnn.Dense(3000, 10)])           # 3010 values a row
    rows = compiled.inference_rows(wide, 8)
    assert rows & (rows - 1) == 0 and 64 <= rows < compiled.INFER_ROWS      # a power of two
    assert rows * 3010 * 8 <= compiled.INFER_BLOCK_BYTES < 2 * rows * 3010 * 8
    widest = fastnn.Sequential([fastnn.Dense(40000, 1)], loss="binary_cross_entropy")
    assert compiled.inference_rows(widest, 8) == 64                # never fewer than 64 rows


def _plain(loss, out, dtype=np.float64):
    return fastnn.Sequential([fastnn.Dense(4, 12, "relu"), fastnn.Dense(12, 8, "tanh"), fastnn.Dense(8, out)],
                             loss=loss, dtype=dtype, seed=5)


def _data(loss, out, m=150, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 4))
    y = rng.integers(0, out, m) if loss == "softmax_cross_entropy" else (rng.random((m, out)) < 0.5).astype(float)
    return X, y


@pytest.mark.parametrize("compiled", [True, False], ids=["compiled", "layers"])
@pytest.mark.parametrize("loss,out", [("softmax_cross_entropy", 3), ("binary_cross_entropy", 2)])
def test_running_accuracy_is_the_epochs_own_forwards(loss, out, compiled):
    """With lr = 0 the weights never move and there is no dropout or batch
    norm, so every batch's training forward is the inference forward: the
    running accuracy must equal evaluate's, and "exact" must too."""
    X, y = _data(loss, out)
    model = _plain(loss, out)
    opt = fastnn.SGD(model.parameters(), lr=0.0)
    expected = model.evaluate(X, y)["accuracy"]
    assert 0.0 < expected < 1.0
    h = model.fit(X, y, optimizer=opt, epochs=2, batch_size=32, verbose=False, compiled=compiled)
    assert h["accuracy"] == [expected, expected]
    h = model.fit(X, y, optimizer=opt, epochs=1, batch_size=32, verbose=False, compiled=compiled,
                  train_metrics="exact")
    assert h["accuracy"] == [expected]


def test_running_accuracy_follows_training():
    """While the model learns, the running accuracy trails the exact one
    measured after each epoch (it averages the epoch's older weights), and
    both are None for a regression loss."""
    X, y = _data("softmax_cross_entropy", 3, m=600)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5)
    runs = {}
    for metrics in ("running", "exact"):
        model = _plain("softmax_cross_entropy", 3)
        opt = fastnn.Adam(model.parameters(), lr=0.01)
        runs[metrics] = model.fit(X, y, optimizer=opt, epochs=4, batch_size=32, verbose=False,
                                  train_metrics=metrics)["accuracy"]
    assert runs["running"][0] < runs["exact"][0]
    assert runs["exact"][-1] > 0.8
    model = _plain("mean_squared_error", 2)
    h = model.fit(X, np.ones((600, 2)), optimizer=fastnn.SGD(model.parameters()), epochs=1, verbose=False)
    assert h["accuracy"] == [None]
    with pytest.raises(ValueError, match="train_metrics"):
        model.fit(X, np.ones((600, 2)), optimizer=fastnn.SGD(model.parameters()), train_metrics="mean")


def test_fit_one_epoch_at_a_time_equals_one_call():
    """The step is kept between fit calls: three calls of one epoch end where
    one call of three does, bit for bit (parameters, optimizer state,
    batch-norm statistics, dropout streams), and build the step once."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((130, 3))
    y = rng.integers(0, 4, 130)
    ends = []
    for calls in ((3,), (1, 1, 1)):
        model = _model("softmax_cross_entropy", 4, np.float32)
        opt = fastnn.Adam(model.parameters(), lr=0.01)
        steps = set()
        for epochs in calls:
            model.fit(X, y, optimizer=opt, epochs=epochs, batch_size=32, shuffle=False, verbose=False)
            steps.add(id(model._compiled_step))
        assert len(steps) == 1
        ends.append((model.parameters().data.copy(), opt.state["m"].copy(), model.layers[1].running_var.copy(),
                     model.layers[3].offset))
    (p1, m1, v1, o1), (p2, m2, v2, o2) = ends
    assert np.array_equal(p1, p2) and np.array_equal(m1, m2) and np.array_equal(v1, v2) and o1 == o2


def test_a_kept_step_rereads_what_changed_outside():
    """Between fit calls a user may change an optimizer's state (in place:
    the buffers cannot be replaced) or assign a layer's running statistics:
    the kept step must use the new values."""
    X, y = _data("softmax_cross_entropy", 3)
    model = fastnn.Sequential([fastnn.Dense(4, 6, bias=False), fastnn.BatchNorm(6), fastnn.ReLU(),
                               fastnn.Dense(6, 3)], seed=0)
    opt = fastnn.Adam(model.parameters(), lr=0.01)
    model.fit(X, y, optimizer=opt, epochs=1, verbose=False)
    step = model._compiled_step
    with pytest.raises(TypeError):
        opt.state["m"] = np.full_like(opt.state["m"], 0.5)
    opt.state["m"][:] = 0.5
    model.layers[1].running_mean = np.full(6, 7.0)
    model.fit(X, y, optimizer=opt, epochs=1, verbose=False)
    assert model._compiled_step is step
    assert step.state1 is opt.state["m"] and not np.all(opt.state["m"] == 0.5)     # updated in place
    assert model.layers[1].running_mean.base is step.running
    assert np.all(np.abs(model.layers[1].running_mean) < 7.0)          # moved from 7 toward the batch means


def test_train_step_runs_the_compiled_step():
    """train_step on the cpu is the compiled step (kept on the model), and
    equals the layer path's step to rounding."""
    X, y = _data("softmax_cross_entropy", 3, m=32)
    compiled, layers = _plain("softmax_cross_entropy", 3), _plain("softmax_cross_entropy", 3)
    o1, o2 = fastnn.Adam(compiled.parameters(), lr=0.01), fastnn.Adam(layers.parameters(), lr=0.01)
    for _ in range(3):
        c1 = compiled.train_step(X, y, o1)
        c2 = layers.loss_and_grads(X, y)
        o2.step()
        assert c1 == pytest.approx(c2, rel=1e-10)
    assert isinstance(compiled._compiled_step, CompiledStep) and compiled._compiled_step.opt is o1
    testing.assert_close(compiled.parameters().data, layers.parameters().data, "reduction")
    testing.assert_close(compiled.parameters().grad, layers.parameters().grad, "reduction")


def _ready_batch(loss, out, dtype, m=32):
    """A batch already in the kept step's form: the model's dtype, intp labels."""
    X, y = _data(loss, out, m=m)
    y = y.astype(np.intp) if loss == "softmax_cross_entropy" else y.astype(dtype)
    return X.astype(dtype), y


def _mse_data(out, m):
    X = np.random.default_rng(1).standard_normal((m, 4))
    return X, np.random.default_rng(2).standard_normal((m, out))


@pytest.mark.parametrize("loss,out", [("softmax_cross_entropy", 3), ("binary_cross_entropy", 2),
                                      ("mean_squared_error", 2)])
def test_train_step_checks_a_ready_batch_in_the_step_itself(loss, out, dtype):
    """A batch already in the model's dtype (``CompiledStep.ready``) skips
    the NumPy checks and conversions, the compiled step testing its values,
    and trains exactly as the same batch given as float64 and int64 does
    through them; a bad value anywhere in it, the last one included, is
    refused with the general path's error, and the model, the optimizer,
    its step count and the dropout stream are left as they were."""
    if loss == "mean_squared_error":
        X, y = _mse_data(out, 32)
        ready = X.astype(dtype), y.astype(dtype)
    else:
        X, y = _data(loss, out, m=32)
        ready = _ready_batch(loss, out, dtype)
    fast, general = _plain(loss, out, dtype), _plain(loss, out, dtype)
    of, og = fastnn.Adam(fast.parameters(), lr=0.01), fastnn.Adam(general.parameters(), lr=0.01)
    for _ in range(3):
        assert fast.train_step(*ready, of) == general.train_step(X, y, og)
    assert fast._compiled_step.ready(*ready)
    assert np.array_equal(fast.parameters().data, general.parameters().data)       # the same kernel, the same bits

    def spoiled(which, index, value):
        xb, yb = (a.copy() for a in ready)
        (xb if which == "xb" else yb)[index] = value
        return xb, yb

    bad = [("xb", (31, 3), np.nan), ("xb", (0, 0), np.inf), ("xb", (17, 2), -np.inf)]
    if loss == "softmax_cross_entropy":
        bad += [("yb", 31, out), ("yb", 0, -1)]
    elif loss == "binary_cross_entropy":
        bad += [("yb", (31, 1), 1.5), ("yb", (5, 0), -1e-30), ("yb", (9, 1), np.nan)]
    else:
        bad += [("yb", (31, 1), np.inf), ("yb", (3, 0), np.nan)]
    before = fast.parameters().data.copy(), {k: v.copy() for k, v in of.state.items()}, of.t
    for which, index, value in bad:
        xb, yb = spoiled(which, index, value)
        assert fast._compiled_step.ready(xb, yb)
        assert fast._compiled_step(xb, yb, check=True) is None
        with pytest.raises(ValueError, match=which):
            fast.train_step(xb, yb, of)
    assert np.array_equal(fast.parameters().data, before[0]) and of.t == before[2]
    assert all(np.array_equal(of.state[k], v) for k, v in before[1].items())
    dropped = fastnn.Sequential([fastnn.Dense(4, 12, "relu"), fastnn.Dropout(0.7), fastnn.Dense(12, out)],
                                loss=loss, dtype=dtype, seed=5)
    od = fastnn.Adam(dropped.parameters(), lr=0.01)
    dropped.train_step(*ready, od)
    offset, weights = dropped.layers[1].offset, dropped.parameters().data.copy()
    with pytest.raises(ValueError, match="xb"):
        dropped.train_step(*spoiled("xb", (31, 0), np.nan), od)
    assert dropped.layers[1].offset == offset and od.t == 1 and np.array_equal(dropped.parameters().data, weights)
    dropped.train_step(*ready, od)
    assert dropped.layers[1].offset > offset and od.t == 2


def test_train_step_takes_the_general_path_for_other_batches(dtype):
    """Batches not in the kept step's form (another dtype, a read-only or a
    non-contiguous array, a list, more rows than the kept step was built
    for) go through the conversions and train as the ready batch does."""
    from fastnn.compiled import compiled_step
    loss, out = "binary_cross_entropy", 2
    xb, yb = _ready_batch(loss, out, dtype, m=16)
    ref = _plain(loss, out, dtype)
    ref_cost = ref.train_step(xb, yb, fastnn.Adam(ref.parameters(), lr=0.01))
    readonly = xb.copy()
    readonly.flags.writeable = False
    wide = np.zeros((16, 8), dtype)
    wide[:, ::2] = xb
    exact_other = xb.astype(np.float64 if dtype == np.float32 else np.longdouble)   # converts back exactly
    for x, kept_rows in ((exact_other, 16), (readonly, 16), (wide[:, ::2], 16), (xb.tolist(), 16), (xb, 8)):
        model = _plain(loss, out, dtype)
        opt = fastnn.Adam(model.parameters(), lr=0.01)
        assert not compiled_step(model, opt, kept_rows).ready(x, yb)
        assert model.train_step(x, yb, opt) == ref_cost
        assert np.array_equal(model.parameters().data, ref.parameters().data)


def test_layer_configuration_is_fixed():
    """A kept compiled step copied the layers' configuration into its tables:
    changing it afterwards is refused, not silently ignored."""
    for layer, name, value in ((fastnn.Dropout(0.5), "keep_prob", 0.9), (fastnn.BatchNorm(3), "momentum", 0.5),
                               (fastnn.Dense(2, 3, "relu"), "activation", "tanh"), (fastnn.ReLU(), "name", "tanh"),
                               (fastnn.LeakyReLU(0.1), "alpha", 0.3)):
        with pytest.raises(AttributeError, match=f"{name} is fixed"):
            setattr(layer, name, value)


def test_inference_after_fork_does_not_wait_on_the_parent_s_threads():
    """Compiled inference keeps a thread pool; a child forked after using it
    must not wait on threads it does not have."""
    import multiprocessing as mp
    if "fork" not in mp.get_all_start_methods():
        pytest.skip("no fork on this platform")
    X = np.random.default_rng(0).normal(size=(2000, 8))
    y = (X[:, 0] > 0).astype(int)
    model = fastnn.Sequential([fastnn.Dense(8, 16, "relu"), fastnn.Dense(16, 2)])
    expected = model.evaluate(X, y)["accuracy"]
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=lambda: q.put(model.evaluate(X, y)["accuracy"]))
    p.start()
    p.join(60)
    alive = p.is_alive()
    if alive:
        p.kill()
    assert not alive and p.exitcode == 0 and q.get(timeout=5) == expected


def _plain_model(loss, out, dtype):
    # no batch norm, dropout at keep_prob 1 only: the data-parallel step can run it
    return fastnn.Sequential([fastnn.Dense(40, 96, "relu"), fastnn.Dropout(1.0), fastnn.Dense(96, 64, "tanh"),
                              fastnn.LeakyReLU(0.1), fastnn.Dense(64, out)],
                             loss=loss, l2=0.2, l1=0.05, dtype=dtype, seed=5)


def _targets(loss, out, rows, rng):
    if loss == "softmax_cross_entropy":
        return rng.integers(0, out, rows)
    if loss == "binary_cross_entropy":
        return (rng.random((rows, out)) < 0.5).astype(float)
    return rng.standard_normal((rows, out))


@pytest.mark.parametrize("loss,out", [("softmax_cross_entropy", 4), ("binary_cross_entropy", 2),
                                      ("mean_squared_error", 3)])
@pytest.mark.parametrize("batch", [203, 64])
def test_data_parallel_step_equals_the_whole_batch_step(loss, out, batch, dtype):
    """Chunks of the batch on a thread each, their gradients summed: the
    same step to rounding (a 203-row batch leaves a short last chunk)."""
    from fastnn.compiled import CHUNK_MIN_ROWS
    from fastnn.kernels.cpu.step import chunk_rows
    rng = np.random.default_rng(4)
    X = rng.standard_normal((batch, 40))
    y = _targets(loss, out, batch, rng)
    runs = []
    for chunked in (True, False):
        model = _plain_model(loss, out, dtype)
        opt = fastnn.Adam(model.parameters(), lr=0.01)
        step = CompiledStep(model, opt, batch)
        assert step.chunkable
        step.chunked = (0, 1 << 62) if chunked else (0, 0)
        assert batch >= CHUNK_MIN_ROWS and chunk_rows(batch, 2) % 8 == 0
        costs = [step(model._x(X), model._y(y, batch)) for _ in range(3)]
        runs.append((costs, model.parameters().data.copy(), step.gnorms.copy(), step.hits[0]))
    (c1, p1, g1, h1), (c2, p2, g2, h2) = runs
    # costs and norms are float64 sums of the data's dtype: compared at its precision
    testing.assert_close(np.array(c1, dtype), np.array(c2, dtype), "reduction")
    testing.assert_close(p1, p2, "reduction")
    testing.assert_close(g1.astype(dtype), g2.astype(dtype), "reduction")
    assert h1 == h2


def test_data_parallel_step_gives_the_same_bits_on_any_number_of_threads(dtype):
    import numba
    rng = np.random.default_rng(6)
    X = rng.standard_normal((200, 40))
    y = rng.integers(0, 4, 200)
    results = []
    before = numba.get_num_threads()
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        try:
            model = _plain_model("softmax_cross_entropy", 4, dtype)
            opt = fastnn.Adam(model.parameters(), lr=0.01)
            h = model.fit(X, y, optimizer=opt, epochs=2, batch_size=200, verbose=False)
        finally:
            numba.set_num_threads(before)
        assert model._compiled_step.chunkable
        results.append((h["cost"], model.parameters().data.copy()))
    assert results[0][0] == results[1][0]
    np.testing.assert_array_equal(results[0][1], results[1][1])


def test_fit_takes_the_data_parallel_step_only_where_it_can():
    from fastnn.compiled import CHUNKED, compiled_step
    X = np.zeros((200, 40))
    plain = _plain_model("softmax_cross_entropy", 4, np.float64)
    step = compiled_step(plain, fastnn.SGD(plain.parameters()), 200)
    assert CHUNKED[0] <= 200 * step.macs < CHUNKED[1]
    kernel, args = step.call_args(X, np.zeros(200, np.intp))
    assert step.gparts is not None and any(a is step.gparts for a in args)   # the chunks' gradients
    assert step.gparts.shape == (2, plain.parameters().data.shape[0])
    bn = fastnn.Sequential([fastnn.Dense(40, 96, bias=False), fastnn.BatchNorm(96), fastnn.ReLU(),
                            fastnn.Dense(96, 4)])
    assert not compiled_step(bn, fastnn.SGD(bn.parameters()), 200).chunkable
    dropout = fastnn.Sequential([fastnn.Dense(40, 96, "relu"), fastnn.Dropout(0.5), fastnn.Dense(96, 4)])
    assert not compiled_step(dropout, fastnn.SGD(dropout.parameters()), 200).chunkable
