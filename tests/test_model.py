"""Models and training: gradients of whole models, learning, determinism,
early stopping, divergence, and the model API's contracts."""
import numba
import numpy as np
import pytest

import fastnn
from fastnn import testing


def _every_layer_kind(dtype=np.float64, seed=0, backend=None, l2=0.0, l1=0.0):
    return fastnn.Sequential([
        fastnn.Dense(3, 8, bias=False),
        fastnn.BatchNorm(8),
        fastnn.ReLU(),
        fastnn.Dropout(0.75),
        fastnn.Dense(8, 6, "tanh"),
        fastnn.LeakyReLU(0.1),
        fastnn.Dense(6, 5, "sigmoid"),
        fastnn.Sigmoid(),
        fastnn.Tanh(),
        fastnn.Dense(5, 3),
    ], loss="softmax_cross_entropy", l2=l2, l1=l1, dtype=dtype, backend=backend, seed=seed)


@pytest.mark.parametrize("backend", ["ref", "cpu"])
def test_model_gradcheck_every_layer_kind(backend):
    """The whole model, regularization included, against finite differences.

    Dropout must use the same mask for every evaluation: its stream offset is
    rewound before each one (what "a fixed mask" means for a Philox stream).
    """
    model = _every_layer_kind(backend=backend, l2=0.3, l1=0.0)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((10, 3))
    y = rng.integers(0, 3, 10)
    p = model.parameters()
    dropout = model.layers[3]

    def fun():
        dropout.offset = 0
        cost = model.loss_and_grads(X, y)
        return cost, {n: p.grad_of(n).copy() for n in p.names()}

    report = fastnn.gradcheck(fun, {n: p[n] for n in p.names()}, eps=1e-6)
    assert report.ok(), str(report)


def test_l1_gradient_through_the_model():
    model = fastnn.Sequential([fastnn.Dense(3, 4, "tanh"), fastnn.Dense(4, 1)], loss="binary_cross_entropy",
                              l1=0.5, seed=3)
    rng = np.random.default_rng(2)
    X, y = rng.standard_normal((7, 3)), rng.integers(0, 2, 7)
    p = model.parameters()

    def fun():
        return model.loss_and_grads(X, y), {n: p.grad_of(n).copy() for n in p.names()}

    assert fastnn.gradcheck(fun, {n: p[n] for n in p.names()}, eps=1e-6).ok()


def test_fit_on_moons_reaches_stated_accuracy():
    X, y = fastnn.datasets.moons(400, noise=0.2, seed=0)
    (Xt, yt), (Xd, yd), _ = fastnn.data.train_dev_test_split(X, y, dev=0.25, test=0.0, seed=0)
    model = fastnn.Sequential([fastnn.Dense(2, 32, "relu"), fastnn.Dense(32, 16, "relu"), fastnn.Dense(16, 2)],
                              dtype=np.float32, seed=0)
    opt = fastnn.Adam(model.parameters(), lr=0.01)
    h = model.fit(Xt, yt, optimizer=opt, epochs=60, batch_size=32, validation_data=(Xd, yd), verbose=False)
    assert h["val_accuracy"][-1] >= 0.93, h
    assert h["cost"][-1] < 0.5 * h["cost"][0]


def test_he_beats_zeros_on_circles():
    """Course 2, week 1: zeros cannot break symmetry; He initialization learns."""
    X, y = fastnn.datasets.circles(300, noise=0.05, seed=1)
    acc = {}
    for init in ("zeros", "he_normal"):
        model = fastnn.Sequential([fastnn.Dense(2, 10, "relu", init=init), fastnn.Dense(10, 5, "relu", init=init),
                                   fastnn.Dense(5, 1, init=init)], loss="binary_cross_entropy", seed=0)
        opt = fastnn.SGD(model.parameters(), lr=0.5)
        model.fit(X, y, optimizer=opt, epochs=300, batch_size=300, verbose=False)
        acc[init] = model.evaluate(X, y)["accuracy"]
    assert acc["zeros"] <= 0.55                 # chance level: every unit stays identical
    assert acc["he_normal"] >= 0.9


def test_early_stopping_restores_best_weights():
    X, y = fastnn.datasets.moons(120, noise=0.35, seed=2)
    (Xt, yt), (Xd, yd), _ = fastnn.data.train_dev_test_split(X, y, dev=0.5, test=0.0, seed=1)
    model = fastnn.Sequential([fastnn.Dense(2, 128, "relu"), fastnn.BatchNorm(128), fastnn.Dense(128, 2)], seed=0)
    opt = fastnn.Adam(model.parameters(), lr=0.05)
    stop = fastnn.EarlyStopping(monitor="val_cost", patience=3)
    h = model.fit(Xt, yt, optimizer=opt, epochs=200, batch_size=8, validation_data=(Xd, yd),
                  callbacks=[stop], verbose=False)
    assert stop.stopped_epoch is not None and h.epochs < 200      # it did stop early
    best = int(np.argmin(h["val_cost"]))
    assert stop.best_epoch == best and best < h.epochs - 1
    # the model now has the best epoch's weights: its dev cost is that epoch's
    assert model.evaluate(Xd, yd)["cost"] == pytest.approx(h["val_cost"][best], rel=1e-12)


def test_divergence_is_reported():
    X, y = fastnn.datasets.moons(64, seed=0)
    model = fastnn.Sequential([fastnn.Dense(2, 8, "relu"), fastnn.Dense(8, 1)], loss="mean_squared_error", seed=0)
    opt = fastnn.SGD(model.parameters(), lr=1e6)
    with pytest.raises(fastnn.DivergenceError, match=r"at epoch \d+, batch \d+"):
        model.fit(X * 1e3, y, optimizer=opt, epochs=50, batch_size=16, verbose=False)


def _history(backend, threads=None, dtype=np.float64):
    X, y = fastnn.datasets.moons(200, seed=3)
    model = _every_layer_kind(dtype=dtype, seed=5, backend=backend, l2=0.01)
    X3 = np.c_[X, X[:, :1] * X[:, 1:]]
    opt = fastnn.Adam(model.parameters(), lr=0.01)
    if threads:
        numba.set_num_threads(threads)
    try:
        h = model.fit(X3, y, optimizer=opt, epochs=4, batch_size=32, seed=7, verbose=False)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    return h, model.parameters().data.copy()


def test_same_seed_same_history_cpu_vs_ref():
    h_cpu, p_cpu = _history("cpu")
    h_ref, p_ref = _history("ref")
    # chained training steps compound rounding like a reduction
    testing.assert_close(np.array(h_cpu["cost"]), np.array(h_ref["cost"]), "reduction")
    testing.assert_close(p_cpu, p_ref, "reduction")


def test_same_seed_identical_for_1_and_2_threads():
    h1, p1 = _history("cpu", threads=1, dtype=np.float32)
    h2, p2 = _history("cpu", threads=min(2, numba.config.NUMBA_NUM_THREADS), dtype=np.float32)
    assert h1["cost"] == h2["cost"]
    assert np.array_equal(p1, p2)


def test_history_contents_and_schedule():
    X, y = fastnn.datasets.blobs(90, classes=3, seed=0)
    model = fastnn.Sequential([fastnn.Dense(2, 8, "relu"), fastnn.Dense(8, 3)], seed=0)
    opt = fastnn.Momentum(model.parameters(), lr=0.1)
    sched = fastnn.schedules.InverseTimeDecay(0.1, 1.0)
    h = model.fit(X, y, optimizer=opt, epochs=3, batch_size=30, schedule=sched, verbose=False)
    assert h["lr"] == [0.1, 0.05, 0.1 / 3]
    assert set(h.grad_norms) == {"0.Dense", "1.Dense"} and all(len(v) == 3 for v in h.grad_norms.values())
    assert all(v > 0 for v in h.grad_norms["0.Dense"])
    step_sched = fastnn.schedules.ExponentialDecay(0.1, 0.5, per="step")
    model.fit(X, y, optimizer=opt, epochs=1, batch_size=30, schedule=step_sched, verbose=False)
    assert opt.lr == pytest.approx(0.1 * 0.5 ** 2)            # 3 batches: steps 0, 1, 2


def test_minibatch_partition_and_batch_gd():
    X = np.arange(10.0).reshape(5, 2)
    y = np.arange(5)
    batches = list(fastnn.data.minibatches(X, y, 2, rng=0))
    assert [len(b[1]) for b in batches] == [2, 2, 1]                # last partial batch kept
    assert sorted(np.concatenate([b[1] for b in batches]).tolist()) == [0, 1, 2, 3, 4]
    for xb, yb in batches:
        assert np.array_equal(xb[:, 0], 2 * yb)                      # X and y shuffled together
    assert [len(b[1]) for b in fastnn.data.minibatches(X, y, 5, rng=0)] == [5]


def test_predict_evaluate_weights_summary():
    X, y = fastnn.datasets.blobs(60, classes=3, seed=1)
    model = fastnn.Sequential([fastnn.Dense(2, 4, "relu"), fastnn.Dropout(0.5), fastnn.Dense(4, 3)], seed=0)
    proba = model.predict_proba(X)
    testing.assert_close(proba.sum(axis=1), np.ones(60), "reduction")
    assert np.array_equal(model.predict(X), proba.argmax(axis=1))
    ev = model.evaluate(X, y)
    assert ev["accuracy"] == pytest.approx(np.mean(model.predict(X) == y))
    w = model.get_weights()
    assert [len(ws) for ws in w] == [2, 0, 2] and w[0][0].shape == (2, 4)
    w[2][1] = w[2][1] + 1.0
    model.set_weights(w)
    assert np.array_equal(model.get_weights()[2][1], w[2][1])
    with pytest.raises(ValueError, match=r"layer 0 W: expected shape \(2, 4\)"):
        model.set_weights([[np.ones((4, 2)), np.ones(4)], [], w[2]])
    s = model.summary()
    assert "total parameters: 27" in s and "Dropout" in s


def test_model_errors():
    with pytest.raises(ValueError, match="Dense\\(4, 3\\) follows a layer with 5 outputs"):
        fastnn.Sequential([fastnn.Dense(2, 5), fastnn.Dense(4, 3)])
    with pytest.raises(ValueError, match="loss must be one of"):
        fastnn.Sequential([fastnn.Dense(2, 2)], loss="hinge")
    model = fastnn.Sequential([fastnn.Dense(2, 2)])
    with pytest.raises(ValueError, match=r"X must have shape \(m, 2\)"):
        model.evaluate(np.ones((3, 3)), np.zeros(3, int))
    with pytest.raises(ValueError, match="1-D integer class labels"):
        model.evaluate(np.ones((3, 2)), np.zeros(3))
    other = fastnn.Sequential([fastnn.Dense(2, 2)])
    with pytest.raises(ValueError, match="optimizer was built for other parameters"):
        model.fit(np.ones((3, 2)), np.zeros(3, int), optimizer=fastnn.SGD(other.parameters()), verbose=False)
    with pytest.raises(ValueError, match="no validation_data"):
        model.fit(np.ones((3, 2)), np.zeros(3, int), optimizer=fastnn.SGD(model.parameters()),
                  callbacks=[fastnn.EarlyStopping()], verbose=False)


def test_diagnose_course_examples():
    assert fastnn.diagnose(0.01, 0.11).kind == "high variance"
    assert fastnn.diagnose(0.15, 0.16).kind == "high bias"
    assert fastnn.diagnose(0.15, 0.30).kind == "high bias and high variance"
    assert fastnn.diagnose(0.005, 0.01).kind == "fine"
    # with a Bayes error of 14%, 15% training error is no longer high bias
    d = fastnn.diagnose(0.15, 0.16, bayes_error=0.14)
    assert d.kind == "fine" and d.avoidable_bias == pytest.approx(0.01)
    assert "more data" in fastnn.diagnose(0.01, 0.11).advice
    with pytest.raises(ValueError, match="dev_error must be <= 1"):
        fastnn.diagnose(0.1, 1.5)
