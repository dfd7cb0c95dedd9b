"""The course's training loop (``kernels/cpu/course.py``) against its
reference over random networks and runs.

The kernel sums four or two input rows per pass (a zero row pads an odd
block), takes hidden rows two at a time, gathers permuted batches and their
masks, and swaps its gradient buffers per layer; each of these has edges
(widths of 1 to 9, a last batch of one example, a single example). The
oracle: ``kernels/ref/course.py``, the math written once in NumPy, within
the tolerance table's reduction bar.
"""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from fastnn.course import _engine
from fastnn.testing import assert_close


@st.composite
def runs(draw):
    dims = [draw(st.integers(1, 4))] + [draw(st.integers(1, 9)) for _ in range(draw(st.integers(1, 3)))] \
        + [draw(st.integers(1, 2))]
    m = draw(st.integers(1, 40))
    batch = draw(st.integers(1, m + 3))
    permuted = draw(st.booleans())
    dropout = len(dims) > 2 and draw(st.booleans())
    return dict(dims=dims, m=m, batch=batch, permuted=permuted, dropout=dropout,
                optimizer=draw(st.sampled_from(["gd", "momentum", "adam"])),
                lambd=draw(st.sampled_from([0.0, 0.7])), epochs=draw(st.integers(1, 3)),
                seed=draw(st.integers(0, 2 ** 16)))


@given(runs())
def test_course_kernel_matches_its_reference_on_random_runs(run):
    rng = np.random.default_rng(run["seed"])
    dims, m = run["dims"], run["m"]
    params = {}
    for l in range(1, len(dims)):
        params[f"W{l}"] = rng.standard_normal((dims[l], dims[l - 1])) * np.sqrt(2.0 / dims[l - 1])
        params[f"b{l}"] = rng.standard_normal((dims[l], 1)) * 0.1
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((dims[-1], m)) < 0.5).astype(float)
    epochs = run["epochs"]
    perms = np.array([rng.permutation(m) for _ in range(epochs)]) if run["permuted"] else None
    masks = (rng.random((sum(dims[1:-1]), m)) < 0.8).astype(float) if run["dropout"] else None
    kw = dict(optimizer=run["optimizer"], lambd=run["lambd"], keep_prob=0.8 if run["dropout"] else 1.0,
              masks=masks, perms=perms, batch_size=run["batch"], every=1)
    lrs = np.full(epochs, 0.05)
    cpu, c_cpu, s_cpu = _engine.train(params, X, Y, lrs, backend="cpu", **kw)
    ref, c_ref, s_ref = _engine.train(params, X, Y, lrs, backend="ref", **kw)
    for k in ref:
        assert cpu[k].shape == ref[k].shape
        assert_close(cpu[k], ref[k], "reduction", err_msg=k)
    assert_close(np.array(c_cpu), np.array(c_ref), "reduction")
    assert s_cpu["t"] == s_ref["t"]
