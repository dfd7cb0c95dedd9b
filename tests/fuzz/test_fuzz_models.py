"""Models, optimizers and layers against malformed data and settings.

The oracle: ``ValueError``/``TypeError`` or success, never another
exception or a crash; the compiled training step and the layer-by-layer
path accept and refuse the same calls, and where both succeed in float64
they reach the same parameters with SGD (the tolerance table's reduction
bar, widened by the number of steps).
"""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastnn

# "none" (valid data) often enough that many examples train
X_MUTATIONS = ("none",) * 12 + ("int", "bool", "complex", "str", "object", "nan", "inf", "huge", "list", "wide",
                                "narrow", "empty", "one_d", "matrix", "strided", "f16")
Y_MUTATIONS = ("none",) * 6 + ("out_of_range", "negative", "float_labels", "short", "nan", "two_d", "str", "bool")


@st.composite
def architectures(draw):
    n_in = draw(st.integers(1, 6))
    layers, features = [], n_in
    for _ in range(draw(st.integers(1, 3))):
        out = draw(st.integers(1, 7))
        bn = draw(st.booleans())
        act = draw(st.sampled_from([None, "relu", "leaky_relu", "sigmoid", "tanh"]))
        layers.append(("dense", features, out, act if not bn else None, not bn))
        if bn:
            layers.append(("bn", out))
            layers.append(("act", draw(st.sampled_from(["ReLU", "Tanh"]))))
        if draw(st.booleans()):
            layers.append(("dropout", draw(st.sampled_from([0.5, 0.8, 1.0]))))
        features = out
    loss = draw(st.sampled_from(["softmax_cross_entropy", "binary_cross_entropy", "mean_squared_error"]))
    classes = draw(st.integers(2, 4)) if loss == "softmax_cross_entropy" else draw(st.integers(1, 3))
    layers.append(("dense", features, classes, None, True))
    return n_in, layers, loss, classes


def make(spec, dtype, seed=0):
    n_in, layers, loss, classes = spec
    built = []
    for kind, *args in layers:
        if kind == "dense":
            built.append(fastnn.Dense(args[0], args[1], args[2], bias=args[3]))
        elif kind == "bn":
            built.append(fastnn.BatchNorm(args[0]))
        elif kind == "act":
            built.append(getattr(fastnn, args[0])())
        else:
            built.append(fastnn.Dropout(args[0]))
    return fastnn.Sequential(built, loss=loss, dtype=dtype, seed=seed)


def _put(a, rng, value):
    """A copy of ``a`` with ``value`` at one random place (at least one)."""
    a = a.copy()
    a.reshape(-1)[int(rng.integers(a.size))] = value
    return a


def data(spec, m, seed, x_how, y_how):
    n_in, _, loss, classes = spec
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n_in))
    if loss == "softmax_cross_entropy":
        y = rng.integers(0, classes, m)
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (m, classes)).astype(float)
    else:
        y = rng.standard_normal((m, classes))
    X = {"none": lambda: X, "int": lambda: (X * 3).astype(int), "bool": lambda: X > 0,
         "complex": lambda: X.astype(complex), "str": lambda: X.astype(str), "object": lambda: X.astype(object),
         "nan": lambda: _put(X, rng, np.nan), "inf": lambda: _put(X, rng, -np.inf), "huge": lambda: X * 1e300,
         "list": lambda: X.tolist(), "wide": lambda: np.hstack([X, X[:, :1]]), "narrow": lambda: X[:, :-1],
         "empty": lambda: X[:0], "one_d": lambda: X[:, 0], "matrix": lambda: np.asmatrix(X),
         "strided": lambda: np.repeat(X, 2, axis=1)[:, ::2], "f16": lambda: X.astype(np.float16)}[x_how]()
    y = {"none": lambda: y, "out_of_range": lambda: y + (classes if loss != "mean_squared_error" else 0),
         "negative": lambda: -1 - np.abs(y).astype(int) if loss == "softmax_cross_entropy" else y - 2,
         "float_labels": lambda: np.asarray(y, float) + 0.5, "short": lambda: y[:-1],
         "nan": lambda: _put(np.asarray(y, float), rng, np.nan),
         "two_d": lambda: np.asarray(y).reshape(m, -1)[:, :1].repeat(2, axis=1),
         "str": lambda: np.asarray(y).astype(str),
         "bool": lambda: np.asarray(y) > 0}[y_how]()
    return X, y


def outcome(fn):
    try:
        with np.errstate(all="ignore"):
            return fn(), None
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return None, exc
    except fastnn.DivergenceError as exc:      # a FloatingPointError: the data made the cost overflow
        return None, exc


@given(spec=architectures(), f64=st.booleans(), m=st.integers(1, 40), batch=st.integers(1, 17),
       x_how=st.sampled_from(X_MUTATIONS), y_how=st.sampled_from(Y_MUTATIONS), seed=st.integers(0, 2 ** 16))
def test_fit_compiled_and_layer_paths_agree(spec, f64, m, batch, x_how, y_how, seed):
    dt = np.float64 if f64 else np.float32
    X, y = data(spec, m, seed, x_how, y_how)
    results = []
    for compiled in (None, False):
        model = make(spec, dt)
        # SGD: Adam divides by the gradient's size, and a gradient that is
        # exactly zero in exact arithmetic (a bias before batch norm) is
        # rounding noise whose direction differs between the two paths
        opt = fastnn.SGD(model.parameters(), lr=0.05)
        hist, exc = outcome(lambda: model.fit(X, y, optimizer=opt, epochs=2, batch_size=batch, verbose=False,
                                              compiled=compiled))
        results.append((model, exc))
    (m1, e1), (m2, e2) = results
    assert type(e1) is type(e2), f"compiled: {e1!r}, layers: {e2!r}"
    if e1 is None:
        p1, p2 = m1.parameters().data, m2.parameters().data
        assert np.isfinite(p1).all() and np.isfinite(p2).all()
        for layer in m1.layers:
            if isinstance(layer, fastnn.BatchNorm):
                assert np.isfinite(layer.running_var).all() and (layer.running_var >= 0).all()
        if f64:
            steps = 2 * -(-np.shape(X)[0] // batch)
            np.testing.assert_allclose(p1, p2, rtol=1e-9 * steps, atol=1e-11 * steps)


@given(spec=architectures(), f64=st.booleans(), m=st.integers(1, 30), x_how=st.sampled_from(X_MUTATIONS),
       y_how=st.sampled_from(Y_MUTATIONS), seed=st.integers(0, 2 ** 16))
def test_inference_and_train_step(spec, f64, m, x_how, y_how, seed):
    dt = np.float64 if f64 else np.float32
    model = make(spec, dt)
    X, y = data(spec, m, seed, x_how, y_how)
    for fn in (lambda: model.predict(X), lambda: model.forward(X), lambda: model.evaluate(X, y),
               lambda: model.train_step(X, y, fastnn.SGD(model.parameters(), lr=0.01))):
        result, exc = outcome(fn)
        if exc is None and x_how == "none" and y_how == "none":
            assert result is not None
    if x_how in ("nan", "inf", "complex", "str", "object", "wide", "narrow", "empty", "one_d"):
        with pytest.raises((ValueError, TypeError)):
            model.predict(X)


@given(spec=architectures(), f64=st.booleans(), m=st.integers(2, 30), x_how=st.sampled_from(X_MUTATIONS),
       y_how=st.sampled_from(Y_MUTATIONS), seed=st.integers(0, 2 ** 16))
def test_train_step_on_a_kept_step_agrees_with_a_fresh_model(spec, f64, m, x_how, y_how, seed):
    """The second ``train_step`` with the same optimizer takes the kept
    step's fast path for a batch in its form (the step tests the values
    itself): it accepts and refuses what the general path (a model whose
    optimizer has no kept step) does, changes nothing when it refuses, and
    otherwise trains to the same bits. Batches in the model's dtype (with
    intp labels) reach the fast path; the others are converted first."""
    dt = np.float64 if f64 else np.float32
    X, y = data(spec, m, seed, x_how, y_how)
    if isinstance(X, np.ndarray) and type(X) is np.ndarray and X.dtype.kind == "f":
        X = np.ascontiguousarray(X, dtype=dt) if x_how != "strided" else X.astype(dt)
    if isinstance(y, np.ndarray) and y.dtype.kind == "f" and spec[2] != "softmax_cross_entropy":
        y = y.astype(dt)
    warm = data(spec, m, seed, "none", "none")
    kept, fresh = make(spec, dt), make(spec, dt)
    ok, of = fastnn.SGD(kept.parameters(), lr=0.05), fastnn.SGD(fresh.parameters(), lr=0.05)
    for model, opt in ((kept, ok), (fresh, of)):
        _, exc = outcome(lambda: model.train_step(*warm, opt))         # the kept step, built on a good batch
        if exc is not None:
            return                                                     # e.g. batch norm refusing the warm batch
    before = kept.parameters().data.copy(), ok.t, [getattr(layer, "offset", None) for layer in kept.layers]
    got, e1 = outcome(lambda: kept.train_step(X, y, ok))
    # another SGD (stateless: the same update) has no kept step: the general path
    want, e2 = outcome(lambda: fresh.train_step(X, y, fastnn.SGD(fresh.parameters(), lr=0.05)))
    assert type(e1) is type(e2), f"kept step: {e1!r}, fresh: {e2!r}"
    if isinstance(e1, (ValueError, TypeError)):
        assert np.array_equal(kept.parameters().data, before[0]) and ok.t == before[1]
        assert [getattr(layer, "offset", None) for layer in kept.layers] == before[2]
    elif e1 is None:
        assert got == want or (np.isnan(got) and np.isnan(want))
        assert np.array_equal(kept.parameters().data, fresh.parameters().data, equal_nan=True)


BAD_HYPER = [-1.0, float("nan"), float("inf"), "0.1", None, True, [0.9, 0.99, 0.9], (1.0, 0.5), (0.9,)]


@given(which=st.sampled_from(["SGD", "Momentum", "RMSprop", "Adam", "AdamW"]),
       arg=st.sampled_from(["lr", "beta", "betas", "eps", "weight_decay"]), value=st.sampled_from(BAD_HYPER),
       when=st.sampled_from(["construct", "assign", "load"]))
def test_optimizer_settings_are_checked_everywhere(which, arg, value, when):
    model = fastnn.Sequential([fastnn.Dense(3, 2)])
    cls = getattr(fastnn, which)
    opt = cls(model.parameters())
    if arg not in opt.hyperparameters():
        return
    good = opt.hyperparameters()[arg]
    try:
        if when == "construct":
            opt = cls(model.parameters(), **{arg: value})
        elif when == "assign":
            setattr(opt, arg, value)
        else:
            state = opt.state_dict()
            state["hyper"][arg] = value
            opt.load_state_dict(state)
    except (ValueError, TypeError):
        assert getattr(opt, arg) == good              # nothing changed
        return
    # accepted: then it is a valid value by the constructor's rules
    fresh = cls(model.parameters(), **{arg: getattr(opt, arg)})
    assert fresh.hyperparameters()[arg] == getattr(opt, arg)


@given(which=st.sampled_from(["Momentum", "RMSprop", "Adam"]), bad=st.sampled_from(
    ["short", "long", "dtype", "nan", "negative", "list", "t_negative", "t_float", "extra_hyper", "type"]))
def test_optimizer_state_loads_are_checked(which, bad):
    model = fastnn.Sequential([fastnn.Dense(3, 2)], dtype=np.float32)
    opt = getattr(fastnn, which)(model.parameters())
    state = opt.state_dict()
    name = next(iter(state["state"]))
    buf = state["state"][name]
    state["state"][name] = {"short": buf[:-1], "long": np.append(buf, 0), "dtype": buf.astype(np.float64),
                            "nan": np.full_like(buf, np.nan), "negative": np.full_like(buf, -1.0),
                            "list": buf.tolist()}.get(bad, buf)
    if bad == "t_negative":
        state["t"] = -5
    elif bad == "t_float":
        state["t"] = 2.5
    elif bad == "extra_hyper":
        state["hyper"]["step"] = 5
    elif bad == "type":
        state["type"] = "SGD"
    before = {k: v.copy() for k, v in opt.state.items()}
    try:
        opt.load_state_dict(state)
    except (ValueError, TypeError):
        assert all(np.array_equal(before[k], opt.state[k]) for k in before)
        assert callable(opt.step) and opt.t == 0
        return
    assert bad in ("list", "negative") and not (bad == "negative" and name in type(opt).second_moments)


def test_state_and_buffers_cannot_be_replaced():
    model = fastnn.Sequential([fastnn.Dense(3, 2)])
    opt = fastnn.Adam(model.parameters())
    with pytest.raises(TypeError):
        opt.state["m"] = np.zeros(3)
    for obj, attr in ((opt, "state"), (opt, "params"), (model.parameters(), "grad"), (model.parameters(), "data")):
        with pytest.raises(AttributeError):
            setattr(obj, attr, np.zeros(3))
    with pytest.raises(ValueError):
        opt.t = -1


@given(spec=architectures(), f64=st.booleans(), m=st.integers(1, 40), batch=st.integers(1, 40),
       seed=st.integers(0, 2 ** 16))
def test_data_parallel_step_agrees_with_the_layer_path(spec, f64, m, batch, seed):
    """The data-parallel step forced on every batch size (down to one row,
    where the second chunk is empty): the same parameters as the layer
    path, within the bar above. Networks with batch norm or dropout keep
    the whole-batch step, which the comparison then covers."""
    from fastnn import compiled
    dt = np.float64 if f64 else np.float32
    X, y = data(spec, m, seed, "none", "none")
    saved = compiled.CHUNK_MIN_ROWS
    compiled.CHUNK_MIN_ROWS = 1
    try:
        results = []
        for path in ("chunked", False):
            model = make(spec, dt)
            opt = fastnn.SGD(model.parameters(), lr=0.05)
            if path == "chunked":
                compiled.compiled_step(model, opt, min(batch, m)).chunked = (0, 1 << 62)
            _, exc = outcome(lambda: model.fit(X, y, optimizer=opt, epochs=2, batch_size=batch, verbose=False,
                                               compiled=None if path == "chunked" else False))
            results.append((model.parameters().data.copy(), exc))
    finally:
        compiled.CHUNK_MIN_ROWS = saved
    (p1, e1), (p2, e2) = results
    assert type(e1) is type(e2), f"chunked: {e1!r}, layers: {e2!r}"    # batch norm refuses a batch of one
    if e1 is not None:
        return
    assert np.isfinite(p1).all()
    if f64:
        steps = 2 * -(-m // batch)
        np.testing.assert_allclose(p1, p2, rtol=1e-9 * steps, atol=1e-11 * steps)
