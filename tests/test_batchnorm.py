"""Batch norm: finite differences, conventions, robustness, determinism, errors."""
import numba
import numpy as np
import pytest

import fastnn
from fastnn import testing


def _params(f, rng, dtype=np.float64):
    return ((1 + 0.2 * rng.standard_normal(f)).astype(dtype), (0.1 * rng.standard_normal(f)).astype(dtype),
            np.zeros(f), np.ones(f))


@pytest.mark.parametrize("backend", ["ref", "cpu"])
def test_gradients_match_finite_differences(backend):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((7, 4)) * 2 + 1
    gamma, beta, rm, rv = _params(4, rng)
    r = rng.standard_normal((7, 4))

    def fun():
        o = fastnn.batchnorm_forward(x, gamma, beta, rm.copy(), rv.copy(), training=True, backend=backend)
        dx, dg, db = fastnn.batchnorm_backward(r, x, o.mean, o.rstd, gamma, backend=backend)
        return float(np.sum(r * o.out)), [dx, dg, db]

    report = fastnn.gradcheck(fun, [x, gamma, beta], eps=1e-6)
    assert report.ok(), str(report)


def test_conventions_match_pytorch_definition():
    """Biased variance to normalize, unbiased into running_var, momentum weights the batch."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 3)) * 3 + 2
    gamma, beta, rm, rv = _params(3, rng)
    rm0, rv0 = rm.copy(), rv.copy()
    o = fastnn.batchnorm_forward(x, gamma, beta, rm, rv, training=True, momentum=0.25, eps=1e-3)
    expected = gamma * (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-3) + beta
    testing.assert_close(o.out, expected, "reduction")
    testing.assert_close(rm, 0.75 * rm0 + 0.25 * x.mean(0), "reduction")
    testing.assert_close(rv, 0.75 * rv0 + 0.25 * x.var(0, ddof=1), "reduction")
    ev = fastnn.batchnorm_forward(x, gamma, beta, rm, rv, training=False, eps=1e-3)
    testing.assert_close(ev.out, gamma * (x - rm) / np.sqrt(rv + 1e-3) + beta, "reduction")
    assert ev.mean is None


def test_torch_agrees_when_installed():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 5)) + 4
    gamma, beta, rm, rv = _params(5, rng)
    bn = torch.nn.BatchNorm1d(5, momentum=0.1, eps=1e-5, dtype=torch.float64)
    with torch.no_grad():
        bn.weight.copy_(torch.from_numpy(gamma))
        bn.bias.copy_(torch.from_numpy(beta))
    xt = torch.from_numpy(x).requires_grad_()
    out_t = bn(xt)
    dout = rng.standard_normal(x.shape)
    out_t.backward(torch.from_numpy(dout))
    o = fastnn.batchnorm_forward(x, gamma, beta, rm, rv, training=True)
    dx, dg, db = fastnn.batchnorm_backward(dout, x, o.mean, o.rstd, gamma)
    testing.assert_close(o.out, out_t.detach().numpy(), "reduction")
    testing.assert_close(rv, bn.running_var.numpy(), "reduction")
    testing.assert_close(dx, xt.grad.numpy(), "reduction")
    testing.assert_close(dg, bn.weight.grad.numpy(), "reduction")


@pytest.mark.parametrize("backend", ["ref", "cpu"])
def test_float32_large_mean_matches_float64(backend):
    """1e4 + N(0, 1) in float32: no cancellation (float64 statistics,
    centred: two passes in ref, x - shift on the cpu)."""
    rng = np.random.default_rng(2)
    x32 = (1e4 + rng.standard_normal((512, 8))).astype(np.float32)
    g32, b32 = np.ones(8, np.float32), np.zeros(8, np.float32)
    o32 = fastnn.batchnorm_forward(x32, g32, b32, np.zeros(8), np.ones(8), training=True, backend=backend)
    o64 = fastnn.batchnorm_forward(x32.astype(np.float64), np.ones(8), np.zeros(8), np.zeros(8), np.ones(8),
                                   training=True, backend="ref")
    assert np.all(np.isfinite(o32.out))
    testing.assert_close(o32.out, o64.out.astype(np.float32), "reduction")
    dout = rng.standard_normal(x32.shape).astype(np.float32) / 512
    dx32 = fastnn.batchnorm_backward(dout, x32, o32.mean, o32.rstd, g32, backend=backend)[0]
    dx64 = fastnn.batchnorm_backward(dout.astype(np.float64), x32.astype(np.float64), o64.mean, o64.rstd,
                                     np.ones(8), backend="ref")[0]
    testing.assert_close(dx32, dx64.astype(np.float32), "reduction")


def test_one_pass_statistics_far_from_zero():
    """The cpu forward takes mean and variance from one pass over x - shift.
    x = 2^20 + d in float64, exactly, with d ~ 1e-3 N(0, 1) on a 2^-30 grid:
    the truth is computable from d alone, well conditioned, while the
    unshifted E[x^2] - E[x]^2 would keep no correct digit (x^2 ~ 1e12,
    var ~ 1e-6). Several chunks and a ragged tail (n = 1000). The
    two-pass reference gets the variance right too, but its float64 mean of
    values near 1e6 is off by ~1e-9, so d's statistics are the yardstick."""
    rng = np.random.default_rng(11)
    n, f = 1000, 6
    d = np.round(1e-3 * rng.standard_normal((n, f)) * 2.0 ** 30) / 2.0 ** 30
    x = 2.0 ** 20 + d
    assert np.array_equal(x - 2.0 ** 20, d)                   # x is exact
    gamma, beta, _, _ = _params(f, rng)
    o = fastnn.batchnorm_forward(x, gamma, beta, np.zeros(f), np.ones(f), training=True, eps=1e-12,
                                 backend="cpu")
    mu, var = d.mean(0), d.var(0)
    testing.assert_close(o.mean, 2.0 ** 20 + mu, "reduction")     # to its own ulp (1.2e-10)
    testing.assert_close(o.rstd, 1 / np.sqrt(var + 1e-12), "reduction")
    # (out is not compared at float64 tolerance: x - mean with the mean
    # rounded to 1.2e-10 is itself only good to ~1e-7 of the spread here,
    # in any implementation)


def test_one_pass_statistics_with_outlying_first_chunk():
    """The shift is the first chunk's mean; a first chunk far from the rest
    (1e3 away, std 1) must still match the two-pass reference."""
    rng = np.random.default_rng(12)
    n, f = 1000, 6
    x = rng.standard_normal((n, f))
    x[:128] += 1e3
    gamma, beta, _, _ = _params(f, rng)
    outs = {}
    for backend in ("ref", "cpu"):
        rm, rv = np.zeros(f), np.ones(f)
        o = fastnn.batchnorm_forward(x, gamma, beta, rm, rv, training=True, backend=backend)
        outs[backend] = (o.out, o.mean, o.rstd, rm, rv)
    for a, b in zip(outs["cpu"], outs["ref"]):
        testing.assert_close(a, b, "reduction")


def test_identical_for_any_thread_count():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((300, 200)).astype(np.float32)
    gamma, beta, _, _ = _params(200, rng, np.float32)
    results = []
    for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        numba.set_num_threads(threads)
        try:
            o = fastnn.batchnorm_forward(x, gamma, beta, np.zeros(200), np.ones(200), training=True)
            g = fastnn.batchnorm_backward(x, x, o.mean, o.rstd, gamma)
        finally:
            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        results.append((o.out, o.mean, o.rstd, *g))
    for a, b in zip(*results):
        assert np.array_equal(a, b)


def test_bad_input():
    x = np.ones((4, 3))
    g, b, rm, rv = np.ones(3), np.zeros(3), np.zeros(3), np.ones(3)
    with pytest.raises(ValueError, match="x must not be empty"):
        fastnn.batchnorm_forward(np.ones((0, 3)), g, b, rm, rv, training=True)
    with pytest.raises(ValueError, match="at least 2 examples"):
        fastnn.batchnorm_forward(np.ones((1, 3)), g, b, rm, rv, training=True)
    with pytest.raises(ValueError, match=r"gamma must have shape \(3,\)"):
        fastnn.batchnorm_forward(x, np.ones(4), b, rm, rv, training=True)
    with pytest.raises(TypeError, match="running_var must be float64"):
        fastnn.batchnorm_forward(x, g, b, rm, np.ones(3, np.float32), training=True)
    with pytest.raises(TypeError, match="gamma has dtype float32"):
        fastnn.batchnorm_forward(x, g.astype(np.float32), b, rm, rv, training=True)
    with pytest.raises(ValueError, match="momentum must be <= 1"):
        fastnn.batchnorm_forward(x, g, b, rm, rv, training=True, momentum=1.5)
    with pytest.raises(ValueError, match="eps must be > 0"):
        fastnn.batchnorm_forward(x, g, b, rm, rv, training=True, eps=0)


def test_dense_without_bias_before_batchnorm():
    """bias=False dense + batch norm: beta takes the bias's role; gradients check."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((6, 3))
    p = {"w": rng.standard_normal((3, 4)), "gamma": 1 + 0.1 * rng.standard_normal(4),
         "beta": 0.1 * rng.standard_normal(4)}
    y = rng.standard_normal((6, 4))

    def fun():
        z = fastnn.dense_forward(x, p["w"])
        o = fastnn.batchnorm_forward(z, p["gamma"], p["beta"], np.zeros(4), np.ones(4), training=True)
        loss = fastnn.mean_squared_error(o.out, y)
        dz, dg, db = fastnn.batchnorm_backward(loss.grad, z, o.mean, o.rstd, p["gamma"])
        _, dw, none = fastnn.dense_backward(dz, x, p["w"], z, bias=False)
        assert none is None
        return loss.cost, {"w": dw, "gamma": dg, "beta": db}

    assert fastnn.gradcheck(fun, p, eps=1e-6).ok()
