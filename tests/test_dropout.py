"""Dropout: Philox known answers, bit-identical masks across backends and
thread counts, the kept fraction, identities, and gradients at a fixed mask."""
import numba
import numpy as np
import pytest

import fastnn
from fastnn.kernels import cpu, ref
from fastnn.kernels.philox import keep_threshold, philox4x32_10

# Random123's published known-answer vectors for philox4x32-10 (kat_vectors)
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


@pytest.mark.parametrize("counter,key,expected", KAT)
def test_philox_known_answers(counter, key, expected):
    u = [np.uint64(v) for v in counter + key]
    assert tuple(int(w) for w in philox4x32_10(*u)) == expected                     # NumPy scalars
    arrays = [np.array([v], np.uint64) for v in counter + key]
    assert tuple(int(w[0]) for w in philox4x32_10(*arrays)) == expected             # ref: arrays
    assert tuple(int(w) for w in cpu.dropout._philox(*u)) == expected               # cpu: njit


def _masks(mod, n, seed=2**63 + 11, offset=7, keep=0.7):
    mask = np.zeros((n + 7) // 8, np.uint8)
    mod.dropout.dropout_mask(mask, n, np.uint64(seed), np.uint64(offset), keep_threshold(keep))
    return mask


@pytest.mark.parametrize("n", [1, 7, 8, 9, 1000, 100003])
def test_mask_bitwise_equal_ref_cpu(n):
    assert np.array_equal(_masks(ref, n), _masks(cpu, n))


def test_mask_independent_of_threads_and_split():
    n = 50001
    masks = []
    for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        numba.set_num_threads(threads)
        try:
            masks.append(_masks(cpu, n))
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(masks[0], masks[1])
    # splitting the work: the second half of the elements, generated alone from
    # its own block offset, equals the second half of the whole mask
    whole = np.unpackbits(masks[0], count=n, bitorder="little")
    half = 8 * 1000                                  # a multiple of 8 elements = 2000 blocks
    tail = np.unpackbits(_masks(cpu, n - half, offset=7 + fastnn.dropout_blocks(half)),
                         count=n - half, bitorder="little")
    assert np.array_equal(whole[half:], tail)


@pytest.mark.parametrize("keep", [0.1, 0.5, 0.8, 0.95])
def test_kept_fraction(keep):
    n = 1_000_000
    kept = fastnn.dropout_mask((n,), keep, seed=123).mean()
    # binomial: standard deviation sqrt(p(1-p)/n); allow 5 of them
    assert abs(kept - keep) < 5 * np.sqrt(keep * (1 - keep) / n)


def test_streams_differ_by_seed_and_offset():
    a = fastnn.dropout_mask((4096,), 0.5, seed=1)
    assert not np.array_equal(a, fastnn.dropout_mask((4096,), 0.5, seed=2))
    assert not np.array_equal(a, fastnn.dropout_mask((4096,), 0.5, seed=1, offset=1024))
    # neighbouring keep decisions are not correlated
    assert abs(np.corrcoef(a[:-1], a[1:])[0, 1]) < 0.05


@pytest.mark.parametrize("backend", ["ref", "cpu"])
def test_forward_scales_and_backward_matches(backend, dtype):
    x = np.random.default_rng(0).standard_normal((33, 17)).astype(dtype)
    out, mask = fastnn.dropout_forward(x, 0.6, seed=99, offset=5, return_mask=True, backend=backend)
    keep = fastnn.dropout_mask(x.shape, 0.6, seed=99, offset=5)
    np.testing.assert_array_equal(out[~keep], 0)
    fastnn.testing.assert_close(out[keep], (x * dtype.type(1 / 0.6))[keep])
    assert np.array_equal(np.unpackbits(mask, count=x.size, bitorder="little").reshape(x.shape), keep)
    dout = np.ones_like(x)
    regen = fastnn.dropout_backward(dout, 0.6, seed=99, offset=5, backend=backend)
    stored = fastnn.dropout_backward(dout, 0.6, mask=mask, backend=backend)
    assert np.array_equal(regen, stored)
    fastnn.testing.assert_close(regen, np.where(keep, dtype.type(1 / 0.6), 0).astype(dtype))


def test_identities():
    x = np.random.default_rng(0).standard_normal((5, 4))
    assert np.array_equal(fastnn.dropout_forward(x, 1.0, seed=3), x)
    assert np.array_equal(fastnn.dropout_forward(x, 0.5, seed=3, training=False), x)
    assert np.array_equal(fastnn.dropout_backward(x, 1.0), x)


def test_gradcheck_network_with_dropout_at_fixed_mask():
    """A dense-relu-dropout-dense network: the mask is fixed by (seed, offset)."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((6, 4))
    labels = rng.integers(0, 3, 6)
    p = {"w1": rng.standard_normal((4, 8)) * 0.6, "b1": rng.standard_normal(8) * 0.1 + 0.3,
         "w2": rng.standard_normal((8, 3)) * 0.6, "b2": np.zeros(3)}

    def fun():
        h = fastnn.dense_forward(x, p["w1"], p["b1"], "tanh")
        d = fastnn.dropout_forward(h, 0.7, seed=42)
        z = fastnn.dense_forward(d, p["w2"], p["b2"])
        loss = fastnn.softmax_cross_entropy(z, labels)
        dd, dw2, db2 = fastnn.dense_backward(loss.grad, d, p["w2"], z)
        dh = fastnn.dropout_backward(dd, 0.7, seed=42)
        _, dw1, db1 = fastnn.dense_backward(dh, x, p["w1"], h, "tanh")
        return loss.cost, {"w1": dw1, "b1": db1, "w2": dw2, "b2": db2}

    report = fastnn.gradcheck(fun, p)
    assert report.ok(), str(report)
    # and the mask really drops something in this network
    assert not fastnn.dropout_mask((6, 8), 0.7, seed=42).all()


@pytest.mark.parametrize("keep", [0.0, -0.1, 1.5, float("nan")])
def test_bad_keep_prob(keep):
    with pytest.raises(ValueError, match="keep_prob must be|keep_prob must be finite"):
        fastnn.dropout_forward(np.ones((2, 2)), keep, seed=1)


def test_bad_stream_and_mask():
    x = np.ones((2, 2))
    with pytest.raises(TypeError, match="seed must be an int"):
        fastnn.dropout_forward(x, 0.5, seed=1.5)
    with pytest.raises(ValueError, match=r"seed must be in \[0, 2\*\*64\)"):
        fastnn.dropout_forward(x, 0.5, seed=-1)
    with pytest.raises(ValueError, match="overflows"):
        fastnn.dropout_forward(np.ones((2, 4)), 0.5, seed=1, offset=2**64 - 1)   # 2 blocks, 1 left
    with pytest.raises(ValueError, match="needs the forward's seed"):
        fastnn.dropout_backward(x, 0.5)
    with pytest.raises(ValueError, match=r"mask must be a uint8 array of shape \(1,\)"):
        fastnn.dropout_backward(x, 0.5, mask=np.zeros(2, np.uint8))
    with pytest.raises(ValueError, match="x must not be empty"):
        fastnn.dropout_forward(np.ones((0, 3)), 0.5, seed=1)


@pytest.mark.parametrize("backend", ["ref", "cpu"])
def test_backward_keep_all_is_identity_gradient(backend):
    """keep_prob == 1 keeps everything: dx += dout exactly, no mask needed."""
    rng = np.random.default_rng(4)
    dout = rng.standard_normal((5, 7)).astype(np.float32)
    dx0 = rng.standard_normal((5, 7)).astype(np.float32)
    dx = fastnn.dropout_backward(dout, 1.0, dx=dx0.copy(), backend=backend)
    np.testing.assert_array_equal(dx, dx0 + dout)
