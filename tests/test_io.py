"""Atomic saving and pickle-free loading of .npz state."""
import os

import numpy as np
import pytest

from fastnn import io


def test_roundtrip_nested(tmp_path):
    tree = {"params": {"w": np.arange(6.0).reshape(2, 3), "b": np.zeros(3, np.float32)},
            "optim": {"type": "Adam", "t": 7, "hyper": {"lr": 0.01, "betas": (0.9, 0.999)}},
            "flag": True}
    path = io.save_npz(tmp_path / "s.npz", tree)
    back = io.load_npz(path)
    assert np.array_equal(back["params"]["w"], tree["params"]["w"])
    assert back["params"]["b"].dtype == np.float32
    assert back["optim"]["type"] == "Adam" and back["optim"]["t"] == 7
    assert list(back["optim"]["hyper"]["betas"]) == [0.9, 0.999]
    assert back["flag"] is True


def test_crash_during_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    io.save_npz(path, {"w": np.ones(3)})

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        io.save_npz(path, {"w": np.zeros(3)})
    monkeypatch.undo()
    assert np.array_equal(io.load_npz(path)["w"], np.ones(3))
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt.npz"]          # no temporary left


def test_refuses_pickles_truncation_and_garbage(tmp_path):
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, obj=np.array([{"a": 1}], dtype=object))
    with pytest.raises(ValueError, match="not a readable fastnn file"):
        io.load_npz(pickled)
    good = io.save_npz(tmp_path / "good.npz", {"w": np.arange(1000.0)})
    data = open(good, "rb").read()
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable fastnn file"):
        io.load_npz(truncated)
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(os.urandom(256))
    with pytest.raises(ValueError, match="not a readable fastnn file"):
        io.load_npz(garbage)


def test_refuses_unsavable_values(tmp_path):
    with pytest.raises(TypeError, match="cannot save a set"):
        io.save_npz(tmp_path / "x.npz", {"s": {1, 2}})
    with pytest.raises(ValueError, match="keys must be non-empty strings"):
        io.save_npz(tmp_path / "x.npz", {"a/b": 1})
