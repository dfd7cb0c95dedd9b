"""Fused optimizers: backends equal ref over many steps (parameters and every
state buffer), convergence on a parabola and Rosenbrock, PyTorch agreement
(when installed), state dicts, and bad hyperparameters."""
import numpy as np
import pytest

import fastnn
from fastnn import testing

CONFIGS = {
    "SGD": dict(lr=0.1, weight_decay=0.01),
    "Momentum": dict(lr=0.1, beta=0.9, weight_decay=0.01),
    "RMSprop": dict(lr=0.01, beta=0.9, eps=1e-8, weight_decay=0.01),
    "Adam": dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01),
    "AdamW": dict(lr=1e-2, betas=(0.8, 0.99), eps=1e-7, weight_decay=0.1),
}


def _params(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return fastnn.Parameters({"w1": rng.standard_normal((13, 7)).astype(dtype),
                              "b1": rng.standard_normal(7).astype(dtype),
                              "w2": rng.standard_normal((7, 3)).astype(dtype),
                              "gamma": rng.standard_normal(3).astype(dtype)}, dtype=dtype)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_cpu_equals_ref_over_steps(name, dtype):
    """12 steps from the same gradients: parameters and every state buffer agree."""
    runs = {}
    for backend in ("ref", "cpu"):
        p = _params(dtype)
        opt = fastnn.optim.OPTIMIZERS[name](p, backend=backend, **CONFIGS[name])
        grads = np.random.default_rng(1)
        for _ in range(12):
            opt.zero_grad()
            p.grad[:] = grads.standard_normal(p.size).astype(dtype)
            opt.step()
        runs[backend] = (p.data.copy(), {k: v.copy() for k, v in opt.state.items()}, opt.t)
    (p_ref, s_ref, t_ref), (p_cpu, s_cpu, t_cpu) = runs["ref"], runs["cpu"]
    assert t_ref == t_cpu == 12
    assert set(s_ref) == set(s_cpu) == set(fastnn.optim.OPTIMIZERS[name].state_names)
    # 12 chained updates: errors compound like a reduction's
    testing.assert_close(p_cpu, p_ref, "reduction", err_msg="parameters")
    for k in s_ref:
        testing.assert_close(s_cpu[k], s_ref[k], "reduction", err_msg=k)


def test_decay_only_on_marked_tensors():
    p = fastnn.Parameters({"w": np.ones((2, 2)), "b": np.ones(2)})
    opt = fastnn.AdamW(p, lr=0.1, weight_decay=0.5)
    opt.step()                                       # zero gradients: only decay moves anything
    np.testing.assert_allclose(p["w"], 1 - 0.1 * 0.5)
    np.testing.assert_array_equal(p["b"], 1.0)
    assert p.names() == ["w", "b"] and p.n_decay == 4


def _quadratic(x):
    a = np.array([1.0, 10.0])
    return 0.5 * float(np.sum(a * x * x)), a * x


def _rosenbrock(x):
    u, v = x
    f = (1 - u) ** 2 + 100 * (v - u * u) ** 2
    return float(f), np.array([-2 * (1 - u) - 400 * u * (v - u * u), 200 * (v - u * u)])


MINIMISE = [
    # (optimizer, hyperparameters, steps) per problem; every run starts at the same point
    ("SGD", dict(lr=0.09), 300, dict(lr=1e-3), 20000),
    ("Momentum", dict(lr=0.1, beta=0.9), 300, dict(lr=2e-3, beta=0.9), 20000),
    ("RMSprop", dict(lr=0.01), 1000, dict(lr=1e-3), 20000),
    ("Adam", dict(lr=0.05), 1000, dict(lr=2e-2), 20000),
    ("AdamW", dict(lr=0.05, weight_decay=0.0), 1000, dict(lr=2e-2, weight_decay=0.0), 20000),
]


@pytest.mark.parametrize("name,quad_hp,quad_steps,rosen_hp,rosen_steps", MINIMISE, ids=[m[0] for m in MINIMISE])
def test_minimises_parabola_and_rosenbrock(name, quad_hp, quad_steps, rosen_hp, rosen_steps):
    # RMSprop with a constant lr ends hovering ~lr from the minimum (cost ~lr^2):
    # "minimised" here means a 1e4-fold cost reduction and within 0.01 of x*
    for fun, hp, steps, start, x_star in ((_quadratic, quad_hp, quad_steps, [3.0, -2.0], [0.0, 0.0]),
                                          (_rosenbrock, rosen_hp, rosen_steps, [-1.2, 1.0], [1.0, 1.0])):
        p = fastnn.Parameters({"x": np.array(start)}, decay=set())
        opt = fastnn.optim.OPTIMIZERS[name](p, **hp)
        f0 = fun(p["x"])[0]
        for _ in range(steps):
            opt.zero_grad()
            p.grad[:] = fun(p["x"])[1]
            opt.step()
        f = fun(p["x"])[0]
        assert f < 1e-4 * f0, f"{name} on {fun.__name__}: {f0:.3g} -> {f:.3g}"
        assert np.abs(p["x"] - x_star).max() < 1e-2, f"{name} on {fun.__name__}: ended at {p['x']}"


def test_torch_agrees_when_installed():
    """Same inputs through torch.optim, after converting conventions."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    x0 = rng.standard_normal(50)
    grads = rng.standard_normal((10, 50))
    cases = [
        ("Adam", dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1),
         lambda t: torch.optim.Adam([t], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)),
        ("AdamW", dict(lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1),
         lambda t: torch.optim.AdamW([t], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)),
        ("RMSprop", dict(lr=0.01, beta=0.95, eps=1e-8),
         lambda t: torch.optim.RMSprop([t], lr=0.01, alpha=0.95, eps=1e-8)),
        # the course's v = b v + (1-b) g  ==  torch's v = b v + g with lr * (1 - b)
        ("Momentum", dict(lr=0.1, beta=0.9),
         lambda t: torch.optim.SGD([t], lr=0.1 * (1 - 0.9), momentum=0.9)),
    ]
    for name, hp, make_torch in cases:
        p = fastnn.Parameters({"x": x0.reshape(1, -1).copy()})      # 2-D: decayed
        opt = fastnn.optim.OPTIMIZERS[name](p, **hp)
        t = torch.tensor(x0.copy(), requires_grad=True)
        topt = make_torch(t)
        for g in grads:
            p.grad[:] = g
            opt.step()
            t.grad = torch.from_numpy(g.copy())
            topt.step()
        testing.assert_close(p.data, t.detach().numpy(), "reduction", err_msg=name)


def test_state_dict_roundtrip_resumes_identically(tmp_path):
    def run(opt, p, gs):
        for g in gs:
            p.grad[:] = g
            opt.step()
    gs = np.random.default_rng(4).standard_normal((6, 7 * 13 + 7 + 21 + 3))
    p1 = _params(np.float64)
    o1 = fastnn.Adam(p1, lr=0.01)
    run(o1, p1, gs)
    fastnn.io.save_npz(tmp_path / "ckpt.npz", {"params": p1.state_dict(), "optim": o1.state_dict()})
    # a fresh model and optimizer resumed from the file ...
    saved = fastnn.io.load_npz(tmp_path / "ckpt.npz")
    p2 = _params(np.float64, seed=9).load_state_dict(saved["params"])
    o2 = fastnn.Adam(p2, lr=0.5).load_state_dict(saved["optim"])
    assert o2.t == 6 and o2.lr == 0.01 and o2.betas == (0.9, 0.999)
    # ... continues exactly like the original
    run(o1, p1, gs[:3])
    run(o2, p2, gs[:3])
    assert np.array_equal(p1.data, p2.data)
    assert np.array_equal(o1.state["v"], o2.state["v"])
    with pytest.raises(ValueError, match="state is for 'Adam', not RMSprop"):
        fastnn.RMSprop(p2).load_state_dict(saved["optim"])


@pytest.mark.parametrize("make,match", [
    (lambda p: fastnn.SGD(p, lr=-0.1), "lr must be >= 0"),
    (lambda p: fastnn.Momentum(p, beta=1.0), r"beta must be in \[0, 1\)"),
    (lambda p: fastnn.Momentum(p, beta=-0.1), r"beta must be in \[0, 1\)"),
    (lambda p: fastnn.RMSprop(p, eps=0), "eps must be > 0"),
    (lambda p: fastnn.Adam(p, betas=(0.9, 1.0)), r"betas\[1\] must be in \[0, 1\)"),
    (lambda p: fastnn.Adam(p, betas=(0.9,)), "betas must be a pair"),
    (lambda p: fastnn.AdamW(p, weight_decay=-1), "weight_decay must be >= 0"),
    (lambda p: fastnn.Adam(p, lr=float("nan")), "lr must be finite"),
])
def test_bad_hyperparameters(make, match):
    with pytest.raises(ValueError, match=match):
        make(_params(np.float64))


def test_params_must_be_parameters():
    with pytest.raises(TypeError, match="params must be a fastnn.Parameters"):
        fastnn.Adam([np.ones(3)])


def test_parameters_views_and_state():
    p = _params(np.float32)
    itemsize = p.data.itemsize
    for n, off, _ in p.layout:                  # views at their offsets, no copies
        assert p[n].ctypes.data == p.data.ctypes.data + off * itemsize
        assert p.grad_of(n).ctypes.data == p.grad.ctypes.data + off * itemsize
    assert p.names() == ["w1", "w2", "b1", "gamma"]          # decayed (2-D) first
    state = p.state_dict()
    p.data[:] = 0
    p.load_state_dict(state)
    assert np.array_equal(p["w2"], state["w2"])
    with pytest.raises(ValueError, match="w1: expected"):
        p.load_state_dict({**state, "w1": np.ones((2, 2), np.float32)})
    with pytest.raises(TypeError, match="w has dtype float32"):
        fastnn.Parameters({"w": np.ones((2, 2), np.float32)})
