"""Every public function of the functional API against malformed arguments.

Each example builds a valid call, breaks one argument (a dtype, a subclass,
a strided or transposed view, a shape, an empty or read-only array, NaN or
infinity, a list, None, an output aliasing another argument, a bad scalar),
and runs it on the cpu and on the reference. The oracle:

- the call succeeds or raises ``ValueError``/``TypeError``, nothing else
  (a crash fails the child process that runs this suite);
- no byte outside the arrays changed (``guard.Arena``);
- cpu and ref agree: both refuse with the same exception type, or both
  succeed with the same outputs (NaN and infinity where ref has them, the
  tolerance table elsewhere): no silent wrong answer on either backend.
"""
import copy

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastnn
from fastnn import testing

from .guard import Arena

ARRAY_MUTATIONS = ("int", "f16", "complex", "bool", "object", "other_float", "matrix", "masked", "strided",
                   "transposed", "grow", "shrink", "extra_dim", "drop_dim", "empty", "readonly", "nonfinite",
                   "list", "none", "alias")
BAD_SCALARS = {
    "alpha": [-1.0, float("nan"), float("inf"), "0.1", None, True],
    "keep_prob": [0.0, 1.5, -0.1, float("nan"), "0.5", True, None],
    "seed": [-1, 2 ** 64, 1.5, "1", True],
    "offset": [-1, 2 ** 64, 0.5, "0"],
    "training": ["no", 1, None, np.array([True, False])],
    "return_mask": ["no", 2],
    "activation": ["bogus", 3, "RELU"],
    "lambd": [-1.0, float("nan"), "1"],
    "batch_size": [0, -3, 1.5, True, "4"],
    "momentum": [-0.1, 1.5, float("nan")],
    "eps": [0.0, -1e-5, float("nan"), float("inf")],
    "bias": ["yes", 1, None],
}


def _n(rng, shape, dt):
    return rng.standard_normal(shape).astype(dt)


def _specs():
    """name -> (build(rng, dt, b, i, o) -> kwargs, names of the outputs the call writes)."""
    acts = ["linear", "relu", "leaky_relu", "sigmoid", "tanh"]
    return {
        "dense_forward": (lambda r, dt, b, i, o: dict(
            x=_n(r, (b, i), dt), w=_n(r, (i, o), dt), b=_n(r, (o,), dt), activation=acts[r.integers(5)],
            alpha=0.1, out=np.zeros((b, o), dt)), ("out",)),
        "dense_backward": (lambda r, dt, b, i, o: dict(
            dout=_n(r, (b, o), dt), x=_n(r, (b, i), dt), w=_n(r, (i, o), dt), out=_n(r, (b, o), dt),
            activation=acts[r.integers(5)], bias=True, alpha=0.1, dx=_n(r, (b, i), dt), dw=_n(r, (i, o), dt),
            db=_n(r, (o,), dt), dz=np.zeros((b, o), dt)), ("dx", "dw", "db", "dz")),
        "activation_forward": (lambda r, dt, b, i, o: dict(
            x=_n(r, (b, i), dt), activation=acts[r.integers(5)], alpha=0.1, out=np.zeros((b, i), dt)), ("out",)),
        "activation_backward": (lambda r, dt, b, i, o: dict(
            dout=_n(r, (b, i), dt), out=_n(r, (b, i), dt), activation=acts[r.integers(5)], alpha=0.1,
            dx=_n(r, (b, i), dt)), ("dx",)),
        "sigmoid": (lambda r, dt, b, i, o: dict(x=_n(r, (b, i), dt)), ()),
        "softmax": (lambda r, dt, b, i, o: dict(logits=_n(r, (b, i), dt)), ()),
        "softmax_cross_entropy": (lambda r, dt, b, i, o: dict(
            logits=_n(r, (b, i), dt), labels=r.integers(0, i, b), grad=_n(r, (b, i), dt)), ("grad",)),
        "binary_cross_entropy": (lambda r, dt, b, i, o: dict(
            logits=_n(r, (b, o), dt), y=r.integers(0, 2, (b, o)).astype(dt), grad=_n(r, (b, o), dt)), ("grad",)),
        "mean_squared_error": (lambda r, dt, b, i, o: dict(
            pred=_n(r, (b, o), dt), y=_n(r, (b, o), dt), grad=_n(r, (b, o), dt)), ("grad",)),
        "dropout_forward": (lambda r, dt, b, i, o: dict(
            x=_n(r, (b, i), dt), keep_prob=0.7, seed=int(r.integers(1 << 62)), offset=int(r.integers(100)),
            training=True, return_mask=bool(r.integers(2)), out=np.zeros((b, i), dt)), ("out",)),
        "dropout_backward": (lambda r, dt, b, i, o: dict(
            dout=_n(r, (b, i), dt), keep_prob=0.7, seed=int(r.integers(1 << 62)), offset=int(r.integers(100)),
            dx=_n(r, (b, i), dt)), ("dx",)),
        "dropout_mask": (lambda r, dt, b, i, o: dict(
            shape=(b, i), keep_prob=0.7, seed=int(r.integers(1 << 62)), offset=int(r.integers(100))), ()),
        "batchnorm_forward": (lambda r, dt, b, i, o: dict(
            x=_n(r, (b + 1, i), dt), gamma=_n(r, (i,), dt), beta=_n(r, (i,), dt),
            running_mean=_n(r, (i,), np.float64), running_var=np.abs(_n(r, (i,), np.float64)),
            training=bool(r.integers(2)), momentum=0.1, eps=1e-5, out=np.zeros((b + 1, i), dt)),
            ("out", "running_mean", "running_var")),
        "batchnorm_backward": (lambda r, dt, b, i, o: dict(
            dout=_n(r, (b, i), dt), x=_n(r, (b, i), dt), mean=_n(r, (i,), np.float64),
            rstd=np.abs(_n(r, (i,), np.float64)), gamma=_n(r, (i,), dt), dx=_n(r, (b, i), dt),
            dgamma=_n(r, (i,), dt), dbeta=_n(r, (i,), dt)), ("dx", "dgamma", "dbeta")),
        "l2_penalty": (lambda r, dt, b, i, o: dict(
            weights=_n(r, (i, o), dt), grads=_n(r, (i, o), dt), lambd=0.5, batch_size=b), ("grads",)),
        "l1_penalty": (lambda r, dt, b, i, o: dict(
            weights=_n(r, (i, o), dt), grads=_n(r, (i, o), dt), lambd=0.5, batch_size=b), ("grads",)),
    }


SPECS = _specs()


def _mutate_array(arena, rng, kwargs, key, how, outputs):
    v = kwargs[key]
    dt = v.dtype
    if how in ("int", "f16", "complex", "bool", "object", "other_float"):
        to = {"int": np.int64, "f16": np.float16, "complex": np.complex128, "bool": np.bool_, "object": object,
              "other_float": np.float32 if dt == np.float64 else np.float64}[how]
        return arena.guarded(v.astype(to))
    if how == "matrix":
        return np.asmatrix(v) if v.ndim == 2 else np.asmatrix(v.reshape(1, -1))
    if how == "masked":
        return np.ma.masked_array(v, mask=np.zeros(v.shape, bool))
    if how == "strided":
        wide = arena.guarded(np.zeros(v.shape[:-1] + (2 * v.shape[-1],), dt)) if v.ndim else v
        if v.ndim:
            view = wide[..., ::2]
            view[...] = v
            return view
        return v
    if how == "transposed":
        if v.ndim < 2:
            return v
        t = arena.guarded(np.ascontiguousarray(v.T)).T
        return t
    if how in ("grow", "shrink", "extra_dim", "drop_dim", "empty"):
        shape = list(v.shape)
        if how == "grow" and shape:
            shape[int(rng.integers(len(shape)))] += 1
        elif how == "shrink" and shape and max(shape) > 1:
            k = int(np.argmax(shape))
            shape[k] -= 1
        elif how == "extra_dim":
            shape.append(1)
        elif how == "drop_dim" and shape:
            shape = shape[:-1]
        elif how == "empty" and shape:
            shape[int(rng.integers(len(shape)))] = 0
        return arena.guarded(rng.standard_normal(shape).astype(dt) if dt.kind == "f"
                             else rng.integers(0, 2, shape).astype(dt))
    if how == "readonly":
        v.setflags(write=False)
        return v
    if how == "nonfinite":
        if dt.kind == "f" and v.size:
            v.reshape(-1)[int(rng.integers(v.size))] = rng.choice([np.nan, np.inf, -np.inf])
        return v
    if how == "list":
        return v.tolist()
    if how == "none":
        return None
    if how == "alias":
        others = [k for k, o in kwargs.items() if k != key and isinstance(o, np.ndarray) and o.dtype == dt]
        if not others:
            return v
        other = kwargs[others[int(rng.integers(len(others)))]]
        if other.size >= v.size:
            return other.reshape(-1)[:v.size].reshape(v.shape)
        return v
    raise AssertionError(how)


def build(name, dtype, dims, target, how, seed):
    """The call's kwargs in a fresh arena, the same for the same draw
    (aliasing included), and the arena."""
    make, outputs = SPECS[name]
    rng = np.random.default_rng(seed)
    arena = Arena()
    kwargs = make(rng, dtype, *dims)
    kwargs = {k: (arena.guarded(v) if isinstance(v, np.ndarray) else v) for k, v in kwargs.items()}
    if target is not None:
        keys = list(kwargs)
        key = keys[target % len(keys)]
        v = kwargs[key]
        if isinstance(v, np.ndarray):
            kwargs[key] = _mutate_array(arena, rng, kwargs, key, ARRAY_MUTATIONS[how % len(ARRAY_MUTATIONS)],
                                        outputs)
        elif key in BAD_SCALARS:
            bad = BAD_SCALARS[key]
            kwargs[key] = copy.copy(bad[how % len(bad)])
    return kwargs, outputs, arena


def _arrays_of(result, dtype):
    """Every array a call returned, in order (LossOutput, BatchNormOutput,
    tuples); a float (a cost) in the call's dtype, whose tolerance it has."""
    if result is None:
        return []
    if isinstance(result, np.ndarray):
        return [result]
    if isinstance(result, float):
        return [np.array(result, dtype)]
    if isinstance(result, (tuple, list)) or hasattr(result, "__iter__"):
        return [a for r in result for a in _arrays_of(r, dtype)]
    return [np.asarray(result)]


def call(name, kwargs, backend):
    try:
        return getattr(fastnn, name)(**kwargs, backend=backend), None
    except (ValueError, TypeError) as exc:
        return None, exc


def run_both(name, dtype, dims, target, how, seed):
    results = {}
    for backend in ("cpu", "ref"):
        kwargs, outputs, arena = build(name, dtype, dims, target, how, seed)
        with np.errstate(all="ignore"):
            result, exc = call(name, kwargs, backend)
        assert arena.broken() is None, f"{name} on {backend} wrote outside its arrays"
        if exc is not None:
            assert str(exc), f"{name} raised {type(exc).__name__} without a message"
        results[backend] = (result, exc, [kwargs[k] for k in outputs if isinstance(kwargs.get(k), np.ndarray)])
    (r_cpu, e_cpu, o_cpu), (r_ref, e_ref, o_ref) = results["cpu"], results["ref"]
    assert type(e_cpu) is type(e_ref), f"{name}: cpu gave {e_cpu!r}, ref gave {e_ref!r}"
    if e_cpu is None:
        got, want = _arrays_of(r_cpu, dtype) + o_cpu, _arrays_of(r_ref, dtype) + o_ref
        assert len(got) == len(want)
        for a, e in zip(got, want):
            a, e = np.asarray(a), np.asarray(e)
            if a.dtype.kind in "fc":
                testing.assert_same_nonfinite(a, e, "reduction", f"{name} output")
            else:
                np.testing.assert_array_equal(a, e)
    return e_cpu


@pytest.mark.parametrize("name", sorted(SPECS))
@given(f32=st.booleans(), b=st.integers(1, 9), i=st.integers(1, 7), o=st.integers(1, 7),
       target=st.one_of(st.none(), st.integers(0, 40)), how=st.integers(0, 200), seed=st.integers(0, 2 ** 32 - 1))
def test_malformed_arguments(name, f32, b, i, o, target, how, seed):
    run_both(name, np.float32 if f32 else np.float64, (b, i, o), target, how, seed)


def test_the_issue_reproducer_is_refused():
    """#30's reproducer: an np.matrix gradient inside a larger buffer."""
    big = np.zeros(128)
    g = np.asmatrix(big[:64].reshape(8, 8))
    with pytest.raises(TypeError, match="subclass matrix"):
        fastnn.l2_penalty(np.ones((8, 8)), g, 1.0, 1)
    assert not big.any()
