"""Every public constructor and helper against bad values of each argument.

One argument of a valid call is replaced by a value from a pool of wrong
ones (negative, zero, NaN, infinity, strings, bools, None, containers,
huge integers, arrays). The oracle: ``ValueError``/``TypeError`` naming
something, or success; and what was built still works (a layer builds into
a model that predicts, a schedule gives finite rates, a dataset's arrays
have the shapes it promises).
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

import fastnn
from fastnn import data, datasets, init, schedules, tune

BAD = [None, -1, 0, 1, -0.5, 0.5, 1.5, float("nan"), float("inf"), -float("inf"), "x", "", True, False, [],
       {}, (1, 2), [0.9, 0.99, 0.5], 2 ** 70, -2 ** 70, np.array([1.0, 2.0]), np.float32(0.3), np.int64(3),
       complex(1, 1), object()]

CALLS = {
    "Dense": (fastnn.Dense, dict(in_features=3, out_features=2, activation="relu", init=None, bias=True,
                                 alpha=0.01)),
    "LeakyReLU": (fastnn.LeakyReLU, dict(alpha=0.01)),
    "Dropout": (fastnn.Dropout, dict(keep_prob=0.5, seed=1)),
    "BatchNorm": (fastnn.BatchNorm, dict(features=3, momentum=0.1, eps=1e-5)),
    "Sequential": (lambda **k: fastnn.Sequential([fastnn.Dense(3, 2)], **k),
                   dict(loss="softmax_cross_entropy", l2=0.0, l1=0.0, dtype=np.float64, seed=0)),
    "Parameters": (lambda **k: fastnn.Parameters(**k), dict(tensors={"w": np.ones((2, 2))}, dtype=np.float64,
                                                            decay=None)),
    "EarlyStopping": (fastnn.EarlyStopping, dict(monitor="val_cost", patience=5, min_delta=0.0, mode="auto",
                                                 restore_best_weights=True)),
    "ExponentialAverage": (fastnn.ExponentialAverage, dict(beta=0.9, bias_correction=False)),
    "InverseTimeDecay": (schedules.InverseTimeDecay, None),
    "ExponentialDecay": (schedules.ExponentialDecay, None),
    "PiecewiseConstantDecay": (schedules.PiecewiseConstantDecay, None),
    "moons": (datasets.moons, None),
    "circles": (datasets.circles, None),
    "blobs": (datasets.blobs, None),
    "one_hot": (data.one_hot, dict(y=np.array([0, 2, 1]), classes=3)),
    "train_dev_test_split": (data.train_dev_test_split, dict(X=np.ones((10, 2)), y=np.arange(10), dev=0.2,
                                                             test=0.1, seed=0)),
    "minibatches": (lambda **k: list(data.minibatches(**k)), dict(X=np.ones((10, 2)), y=np.arange(10),
                                                                   batch_size=4, seed=0)),
    "he_normal": (init.he_normal, dict(shape=(3, 2), rng=None, dtype=np.float64)),
    "LogUniform": (tune.LogUniform, dict(low=1e-4, high=1.0)),
    "IntUniform": (tune.IntUniform, dict(low=1, high=4)),
    "diagnose": (fastnn.diagnose, dict(train_error=0.1, dev_error=0.2, bayes_error=0.0, threshold=0.02)),
}


def _defaults(fn):
    import inspect
    sig = inspect.signature(fn)
    out = {}
    for name, p in sig.parameters.items():
        if p.default is not inspect.Parameter.empty:
            out[name] = p.default
        elif name in ("initial_lr", "lr", "low"):
            out[name] = 0.1
        elif name in ("decay_rate", "rate"):
            out[name] = 0.5
        elif name in ("n", "m", "samples", "decay_steps", "time_interval", "steps"):
            out[name] = 10
        elif name == "boundaries":
            out[name] = [5, 10]
        elif name == "values":
            out[name] = [0.1, 0.01, 0.001]
    return out


def still_works(name, obj):
    """What a successful call built is usable."""
    if isinstance(obj, fastnn.layers.Layer):
        features = getattr(obj, "in_features", None) or getattr(obj, "features", None) or 3
        if features * getattr(obj, "out_features", 1) > 10 ** 6:
            return                           # valid, but too large to build here
        model = fastnn.Sequential([fastnn.Dense(3, features), obj, fastnn.Dense(obj.output_features(features), 2)])
        assert model.predict(np.ones((4, 3))).shape == (4,)
    elif isinstance(obj, schedules.Schedule):
        assert all(np.isfinite(obj(t)) and obj(t) >= 0 for t in (0, 1, 7, 10 ** 6))
    elif isinstance(obj, tuple) and name in ("moons", "circles", "blobs"):
        X, y = obj
        assert X.ndim == 2 and y.shape == (X.shape[0],) and np.isfinite(X).all()


@given(name=st.sampled_from(sorted(CALLS)), arg=st.integers(0, 50), value=st.sampled_from(range(len(BAD))))
def test_bad_argument_values(name, arg, value):
    fn, kwargs = CALLS[name]
    kwargs = dict(_defaults(fn) if kwargs is None else kwargs)
    if kwargs:
        key = sorted(kwargs)[arg % len(kwargs)]
        kwargs[key] = BAD[value]
    try:
        with np.errstate(all="ignore"):
            obj = fn(**kwargs)
    except (ValueError, TypeError) as exc:
        assert str(exc)
        return
    still_works(name, obj)
