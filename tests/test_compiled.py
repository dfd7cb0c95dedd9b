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
def test_compiled_inference_equals_layer_by_layer(loss, out, dtype):
    # 600 rows: three blocks of INFER_ROWS, the last one short
    from fastnn.compiled import INFER_ROWS, compiled_forward
    from fastnn.losses import LOSS_KINDS
    model, x, y = _trained(dtype, loss, out)
    assert x.shape[0] > 2 * INFER_ROWS
    logits, per_example = compiled_forward(model, x, y)
    expect = model._forward(x, training=False)          # layer by layer
    testing.assert_close(logits, expect, "reduction")
    testing.assert_close(per_example, LOSS_KINDS[loss].checked(expect, y, "cpu").per_example, "reduction")
    ev = model.evaluate(x, y)
    assert ev["cost"] == pytest.approx(float(per_example.mean(dtype=np.float64)))
    if loss == "softmax_cross_entropy":
        np.testing.assert_array_equal(model.predict(x), logits.argmax(axis=1))
        assert ev["accuracy"] == pytest.approx(float(np.mean(logits.argmax(axis=1) == y)))


def test_compiled_inference_same_bits_for_any_thread_count(dtype):
    import numba

    from fastnn.compiled import compiled_forward
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
