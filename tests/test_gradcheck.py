"""fastnn.gradcheck: verdicts, reports, and that it finds a planted bug."""
import numpy as np
import pytest

import fastnn
from fastnn.gradcheck import relative_difference, verdict


def _mlp(rng):
    x = rng.standard_normal((8, 3))
    labels = rng.integers(0, 4, 8)
    params = {"w1": rng.standard_normal((3, 5)) * 0.7, "b1": rng.standard_normal(5) * 0.1,
              "w2": rng.standard_normal((5, 4)) * 0.7, "b2": rng.standard_normal(4) * 0.1}
    return x, labels, params


def _mlp_fun(x, labels, p, backend="ref", bug=None):
    """A two-layer tanh MLP with softmax cross-entropy, through the public API."""
    def fun():
        h = fastnn.dense_forward(x, p["w1"], p["b1"], "tanh", backend=backend)
        z = fastnn.dense_forward(h, p["w2"], p["b2"], backend=backend)
        loss = fastnn.softmax_cross_entropy(z, labels, backend=backend)
        dh, dw2, db2 = fastnn.dense_backward(loss.grad, h, p["w2"], z, backend=backend)
        if bug == "missing_activation_derivative":
            dh_pre = dh                                    # forgets tanh' in layer 1
            _, dw1, db1 = fastnn.dense_backward(dh_pre, x, p["w1"], h, "linear", backend=backend)
        else:
            _, dw1, db1 = fastnn.dense_backward(dh, x, p["w1"], h, "tanh", backend=backend)
        if bug == "bias_scaled":
            db2 = db2 * 1.001                              # a 0.1% error in one tensor
        return loss.cost, {"w1": dw1, "b1": db1, "w2": dw2, "b2": db2}
    return fun


@pytest.mark.parametrize("backend", ["ref", "cpu"])
def test_whole_model_passes(backend, rng):
    x, labels, p = _mlp(rng)
    report = fastnn.gradcheck(_mlp_fun(x, labels, p, backend), p)
    assert report.ok(), str(report)
    assert report.verdict == "fine"
    assert [t.name for t in report.tensors] == ["w1", "b1", "w2", "b2"]
    assert all(t.checked == p[t.name].size for t in report.tensors)


def test_finds_planted_backward_bug(rng):
    x, labels, p = _mlp(rng)
    report = fastnn.gradcheck(_mlp_fun(x, labels, p, bug="missing_activation_derivative"), p)
    assert not report.ok()
    assert report.verdict == "bug"
    by_name = {t.name: t for t in report.tensors}
    # the bug lives in layer 1's gradients; layer 2's are still right
    assert by_name["w1"].verdict == "bug" and by_name["b1"].verdict == "bug"
    assert by_name["w2"].verdict == "fine" and by_name["b2"].verdict == "fine"
    assert "w1" in str(report) and "analytic" in str(report)


def test_small_bug_in_one_tensor_is_flagged(rng):
    x, labels, p = _mlp(rng)
    report = fastnn.gradcheck(_mlp_fun(x, labels, p, bug="bias_scaled"), p)
    by_name = {t.name: t for t in report.tensors}
    assert by_name["b2"].verdict in ("worrying", "look again")
    assert not report.ok()
    # the worst entry of b2 is reported with its index and both values
    idx, analytic, numeric = by_name["b2"].worst[0]
    assert analytic == pytest.approx(numeric * 1.001, rel=1e-5)


def test_parameters_are_restored_exactly(rng):
    x, labels, p = _mlp(rng)
    before = {k: v.copy() for k, v in p.items()}
    fastnn.gradcheck(_mlp_fun(x, labels, p), p)
    for k in p:
        assert np.array_equal(p[k], before[k])


def test_max_entries_samples(rng):
    w = rng.standard_normal((30, 30))
    report = fastnn.gradcheck(lambda: (float(np.sum(w ** 3)), [3 * w ** 2]), [w], max_entries=50)
    assert report.tensors[0].checked == 50 and report.ok(1e-6)


def test_needs_float64():
    w = np.ones(3, dtype=np.float32)
    with pytest.raises(TypeError, match="float64"):
        fastnn.gradcheck(lambda: (0.0, [w]), [w])


def test_verdict_thresholds():
    assert verdict(1e-8) == "fine"
    assert verdict(1e-6) == "look again"
    assert verdict(1e-4) == "worrying"
    assert verdict(1e-2) == "bug"
    assert verdict(float("nan")).startswith("bug")
    assert relative_difference(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_difference(np.array([1.0]), np.array([-1.0])) == 1.0
