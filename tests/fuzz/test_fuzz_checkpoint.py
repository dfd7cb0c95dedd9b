"""Checkpoints against truncation, byte flips and crafted members.

The oracle for a damaged file: ``ValueError``, or (a flip in bytes the zip
format does not read, such as a timestamp) a model equal to the saved one.
For a crafted file (a member changed and the digest recomputed, as anyone
can): ``ValueError``, or a model and optimizer that satisfy every rule the
constructors apply.
"""
import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastnn
from fastnn import checkpoint, io


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ckpt")
    model = fastnn.Sequential([fastnn.Dense(3, 5, bias=False), fastnn.BatchNorm(5), fastnn.ReLU(),
                               fastnn.Dropout(0.8), fastnn.Dense(5, 2)], seed=3, dtype=np.float32)
    opt = fastnn.Adam(model.parameters(), lr=0.01)
    X = np.random.default_rng(0).standard_normal((20, 3))
    model.fit(X, (X[:, 0] > 0).astype(int), optimizer=opt, epochs=2, batch_size=8, verbose=False)
    path = folder / "model.npz"
    model.save(path, optimizer=opt)
    return path, path.read_bytes(), model


def same_model(a, b):
    return (a.config() == b.config() and np.array_equal(a.parameters().data, b.parameters().data)
            and all(set(x.buffers()) == set(y.buffers()) and all(np.array_equal(x.buffers()[k], y.buffers()[k])
                                                                   for k in x.buffers())
                    for x, y in zip(a.layers, b.layers)))


def valid(model, opt):
    """Everything a constructor would have checked, checked on what loaded."""
    assert np.isfinite(model.parameters().data).all()
    rebuilt = fastnn.Sequential([type(layer)(**layer.config()) for layer in model.layers], loss=model.loss,
                                l2=model.l2, l1=model.l1, dtype=model.dtype, seed=model.seed)
    assert rebuilt.config() == model.config()
    for layer in model.layers:
        if isinstance(layer, fastnn.BatchNorm):
            assert np.isfinite(layer.running_mean).all() and (layer.running_var >= 0).all()
        if isinstance(layer, fastnn.Dropout):
            assert 0 <= layer.seed < 2 ** 64 and 0 <= layer.offset < 2 ** 64
    if opt is not None:
        assert callable(opt.step) and isinstance(opt.t, int) and opt.t >= 0
        rebuilt_opt = type(opt)(rebuilt.parameters(), **opt.hyperparameters())
        assert rebuilt_opt.hyperparameters() == opt.hyperparameters()
        assert all(np.isfinite(v).all() for v in opt.state.values())


@given(cut=st.integers(0, 10 ** 6))
def test_truncations_are_refused(saved, tmp_path_factory, cut):
    path, data, _ = saved
    bad = tmp_path_factory.mktemp("t") / "cut.npz"
    bad.write_bytes(data[:cut % len(data)])
    with pytest.raises(ValueError):
        fastnn.load(bad)


@given(flips=st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), min_size=1, max_size=3),
       tail=st.booleans())
def test_byte_flips_are_refused_or_harmless(saved, tmp_path_factory, flips, tail):
    path, data, model = saved
    raw = bytearray(data)
    for pos, x in flips:
        # half the examples flip in the last 1 KiB: the zip directory
        k = (len(raw) - 1 - pos % 1024) if tail else pos % len(raw)
        raw[k] ^= x
    bad = tmp_path_factory.mktemp("f") / "flip.npz"
    bad.write_bytes(bytes(raw))
    try:
        loaded, opt = fastnn.load(bad, with_optimizer=True)
    except ValueError:
        return
    assert same_model(loaded, model)


CRAFTS = [
    ("optimizer/hyper/eps", -1.0), ("optimizer/hyper/eps", 0.0), ("optimizer/hyper/lr", float("nan")),
    ("optimizer/hyper/betas", np.array([1.5, 0.9])), ("optimizer/hyper/betas", np.array([0.9])),
    ("optimizer/t", -5), ("optimizer/t", 2 ** 70 // 2 ** 10), ("optimizer/hyper/step", 3),
    ("optimizer/type", "SGD"), ("optimizer/state/v", "negate"), ("optimizer/state/m", "nan"),
    ("buffers/-1/seed", 5), ("buffers/1/running_var", "negate"), ("buffers/1/running_mean", "nan"),
    ("buffers/1/extra", np.zeros(5)), ("buffers/3/seed", -1), ("buffers/3/offset", 1.5),
    ("params/0.W", "nan"), ("params/0.W", "short"), ("params/4.b", "int"), ("params/9.W", np.zeros(3)),
    ("config", "activation"), ("config", "keep_prob"), ("config", "eps"), ("config", "loss"),
    ("config", "layer_type"), ("config", "in_features"), ("config", "not_json"), ("config", "list"),
    ("config", "dtype"), ("config", "l2"), ("config", "seed"), ("extra", np.zeros(2)),
]


def craft(flat, key, value):
    flat = dict(flat)
    if key == "config":
        cfg = json.loads(str(flat["config"]))
        layers = cfg["model"]["layers"]
        if value == "activation":
            layers[0]["config"]["activation"] = "tanh"             # valid: loads a different model
        elif value == "keep_prob":
            layers[3]["config"]["keep_prob"] = 1.5
        elif value == "eps":
            layers[1]["config"]["eps"] = -1
        elif value == "loss":
            cfg["model"]["loss"] = "hinge"
        elif value == "layer_type":
            layers[2]["type"] = "Sequential"
        elif value == "in_features":
            layers[0]["config"]["in_features"] = "3"
        elif value == "dtype":
            cfg["model"]["dtype"] = "complex128"
        elif value == "l2":
            cfg["model"]["l2"] = -0.5
        elif value == "seed":
            cfg["model"]["seed"] = -1
        elif value == "list":
            cfg["model"] = [1, 2]
        flat["config"] = np.asarray("{not json" if value == "not_json" else json.dumps(cfg))
    elif isinstance(value, str) and key in flat:
        a = flat[key]
        flat[key] = {"negate": lambda: -np.abs(a) - 1, "nan": lambda: np.full_like(a, np.nan),
                     "short": lambda: a.reshape(-1)[:-1], "int": lambda: a.astype(np.int32)}.get(
                         value, lambda: np.asarray(value))()
    else:
        flat[key] = np.asarray(value)
    return flat


@pytest.mark.parametrize("key,value", CRAFTS, ids=[f"{k}={v if isinstance(v, (str, int, float)) else 'array'}"
                                                  for k, v in CRAFTS])
def test_crafted_members_with_recomputed_digest(saved, tmp_path, key, value):
    path, _, _ = saved
    flat = io.load_npz(path, raw=True)
    flat.pop("digest")
    flat = craft(flat, key, value)
    flat["digest"] = np.asarray(checkpoint._digest(flat))
    bad = tmp_path / "crafted.npz"
    io.save_npz(bad, io.unflatten(flat))
    try:
        model, opt = fastnn.load(bad, with_optimizer=True)
    except ValueError as exc:
        assert str(exc)
        return
    valid(model, opt)
    assert (key, value) in (("config", "activation"),), f"{key}={value!r} loaded"


def test_load_of_non_checkpoints(tmp_path):
    npy = tmp_path / "a.npy"
    np.save(npy, np.zeros(3))
    with pytest.raises(ValueError):
        fastnn.load(npy)
    huge = tmp_path / "huge.npz"
    with open(huge, "wb") as f:            # a member that declares (1e6, 1e6) float64 and stores 8 bytes
        import zipfile
        with zipfile.ZipFile(f, "w") as zf:
            header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000), }"
            header = header + " " * (118 - len(header)) + "\n"
            zf.writestr("config.npy", b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode()
                        + b"\0" * 8)
    with pytest.raises(ValueError, match="declares shape"):
        fastnn.load(huge)
    with pytest.raises(FileNotFoundError):
        fastnn.load(tmp_path / "missing.npz")
    assert math.isfinite(1.0)
