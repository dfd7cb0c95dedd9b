"""Checkpoints: round trip, resuming, and refusing bad files."""
import zipfile

import numpy as np
import pytest

import fastnn


def _trained(tmp_path):
    X, y = fastnn.datasets.moons(100, seed=0)
    model = fastnn.Sequential([fastnn.Dense(2, 16, bias=False), fastnn.BatchNorm(16), fastnn.ReLU(),
                               fastnn.Dropout(0.8), fastnn.Dense(16, 2)], dtype=np.float32, seed=4)
    opt = fastnn.AdamW(model.parameters(), lr=0.01)
    model.fit(X, y, optimizer=opt, epochs=3, batch_size=25, verbose=False)
    path = model.save(tmp_path / "model.npz", optimizer=opt)
    return X, y, model, opt, path


def test_roundtrip_equality(tmp_path):
    X, y, model, opt, path = _trained(tmp_path)
    loaded, lopt = fastnn.load(path, with_optimizer=True)
    assert loaded.config() == model.config()
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        for u, v in zip(a, b):
            assert u.dtype == v.dtype and np.array_equal(u, v)
    assert np.array_equal(loaded.layers[1].running_var, model.layers[1].running_var)
    assert np.array_equal(loaded.forward(X), model.forward(X))
    assert type(lopt) is fastnn.AdamW and lopt.t == opt.t
    assert all(np.array_equal(lopt.state[k], opt.state[k]) for k in opt.state)
    # resuming continues exactly like the original (dropout stream included)
    model.fit(X, y, optimizer=opt, epochs=2, batch_size=25, seed=9, verbose=False)
    loaded.fit(X, y, optimizer=lopt, epochs=2, batch_size=25, seed=9, verbose=False)
    assert np.array_equal(model.parameters().data, loaded.parameters().data)
    assert fastnn.load(path).parameters().size == model.parameters().size


def test_refuses_pickled_file(tmp_path):
    bad = tmp_path / "pickled.npz"
    np.savez(bad, config=np.array([{"evil": True}], dtype=object))
    with pytest.raises(ValueError, match="pickled objects, which are refused"):
        fastnn.load(bad)


def test_refuses_truncated_file(tmp_path):
    *_, path = _trained(tmp_path)
    data = open(path, "rb").read()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(ValueError, match="not a readable fastnn file"):
        fastnn.load(cut)


def test_refuses_tampered_file(tmp_path):
    *_, path = _trained(tmp_path)
    # rewrite one weight inside the archive, keeping the zip itself valid
    tampered = tmp_path / "tampered.npz"
    with zipfile.ZipFile(path) as zin, zipfile.ZipFile(tampered, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "params/4.W.npy":
                arr = np.load(__import__("io").BytesIO(data))
                arr = arr + 1
                buf = __import__("io").BytesIO()
                np.save(buf, arr)
                data = buf.getvalue()
            zout.writestr(item, data)
    with pytest.raises(ValueError, match="failed its integrity check"):
        fastnn.load(tampered)


def test_refuses_other_npz(tmp_path):
    other = fastnn.io.save_npz(tmp_path / "other.npz", {"w": np.ones(3)})
    with pytest.raises(ValueError, match="not a fastnn checkpoint"):
        fastnn.load(other)


def test_dumps_and_load_from_bytes():
    from fastnn import checkpoint
    model = fastnn.Sequential([fastnn.Dense(3, 4, bias=False), fastnn.BatchNorm(4), fastnn.ReLU(),
                               fastnn.Dense(4, 2)], seed=1)
    opt = fastnn.Adam(model.parameters(), lr=0.01)
    X = np.random.default_rng(0).standard_normal((16, 3))
    model.fit(X, (X[:, 0] > 0).astype(int), optimizer=opt, epochs=2, batch_size=8, verbose=False)
    data = checkpoint.dumps(model, opt)
    back, back_opt = fastnn.load(data, with_optimizer=True)
    assert np.array_equal(back.parameters().data, model.parameters().data) and back_opt.t == opt.t
    with pytest.raises(ValueError, match="the checkpoint|the data"):
        fastnn.load(data[:-10], with_optimizer=True)
