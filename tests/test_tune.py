"""Hyperparameter search: scales, reproducibility, failures, resumable logs,
coarse to fine, executors (process pool, Dask), and bad spaces."""
import json
import math

import numpy as np
import pytest

import fastnn
from fastnn import tune

from .tune_objectives import bowl, digits_model, sometimes_fails

SPACE = {"lr": tune.LogUniform(1e-4, 1.0), "beta": tune.OneMinusLogUniform(0.9, 0.999)}


def test_scales_sample_uniformly_in_their_own_coordinates():
    rng = np.random.default_rng(0)
    lr = np.array([tune.LogUniform(1e-4, 1).sample(rng) for _ in range(20000)])
    # a quarter of the samples in each decade
    counts = np.histogram(np.log10(lr), bins=[-4, -3, -2, -1, 0])[0] / lr.size
    np.testing.assert_allclose(counts, 0.25, atol=0.02)
    beta = np.array([tune.OneMinusLogUniform(0.9, 0.999).sample(rng) for _ in range(20000)])
    assert beta.min() >= 0.9 and beta.max() <= 0.999
    # as many in [0.9, 0.99] as in [0.99, 0.999]
    assert abs(np.mean(beta < 0.99) - 0.5) < 0.02
    units = [tune.IntUniform(2, 4).sample(rng) for _ in range(3000)]
    assert set(units) == {2, 3, 4}
    assert tune.Choice(["a", "b"]).sample(rng) in ("a", "b")


def test_same_seed_same_trials_and_results():
    a = tune.random_search(bowl, SPACE, 8, seed=3, executor=tune.SerialExecutor())
    b = tune.random_search(bowl, SPACE, 8, seed=3, executor=tune.SerialExecutor())
    assert [(t["id"], t["params"], t["metric"]) for t in a.trials] == \
           [(t["id"], t["params"], t["metric"]) for t in b.trials]
    c = tune.random_search(bowl, SPACE, 8, seed=4, executor=tune.SerialExecutor())
    assert [t["params"] for t in a.trials] != [t["params"] for t in c.trials]
    assert a.best["metric"] == min(t["metric"] for t in a.trials)
    assert "lr" in a.table() and "status" in a.table()


def test_records_say_when_they_finished(tmp_path):
    import time
    log = tmp_path / "log.jsonl"
    t0 = time.perf_counter()
    res = tune.random_search(bowl, SPACE, 6, seed=3, executor=tune.SerialExecutor(), log=log)
    wall = time.perf_counter() - t0
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    finished = [r["finished"] for r in logged]
    # seconds from the search's start, in the order the trials ended; each
    # trial ran inside that span (on the serial executor one after another)
    assert finished == sorted(finished) and 0 < finished[0] and finished[-1] <= wall
    assert all(r["finished"] >= r["time"] for r in logged)
    assert sorted(t["finished"] for t in res.trials) == finished
    train, dev = _digits()
    t0 = time.perf_counter()
    a = tune.asha(digits_model, train, dev, ASHA_SPACE, n_trials=9, max_epochs=9, executor=tune.SerialExecutor())
    wall = time.perf_counter() - t0
    top = [t for t in a.trials if t["rung"] == 2]
    assert top and all(t["time"] < t["finished"] <= wall for t in a.trials)


def test_failures_are_recorded_and_search_goes_on(tmp_path):
    res = tune.random_search(sometimes_fails, {"lr": tune.LogUniform(1e-4, 1.0)}, 20, seed=0,
                             executor=tune.SerialExecutor(), metric="dev_error", log=tmp_path / "log.jsonl")
    errors = {t["error"].split(":")[0] for t in res.failed}
    assert errors == {"RuntimeError", "FloatingPointError"}
    assert len(res.ok) + len(res.failed) == 20 and res.ok
    assert all(t["status"] == "ok" for t in res.trials[:len(res.ok)])      # failed ones last
    assert res.best["extra"] == {"train_error": 0.0}
    lines = (tmp_path / "log.jsonl").read_text().splitlines()
    assert len(lines) == 20 and all(json.loads(line)["id"] in range(20) for line in lines)


def test_resume_skips_logged_trials(tmp_path):
    log = tmp_path / "search.jsonl"
    full = tune.random_search(bowl, SPACE, 10, seed=1, executor=tune.SerialExecutor(), log=log)
    # an interrupted search: the log has 6 complete records and half of a 7th
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:6]) + "\n" + lines[6][:20])
    calls = []

    def counting(params, seed):
        calls.append(params)
        return bowl(params, seed)

    resumed = tune.random_search(counting, SPACE, 10, seed=1, executor=tune.SerialExecutor(), log=log,
                                 resume=True)
    assert len(calls) == 4                                       # only the unfinished trials ran
    assert [t["metric"] for t in resumed.trials] == [t["metric"] for t in full.trials]
    with pytest.raises(FileExistsError, match="resume=True"):
        tune.random_search(bowl, SPACE, 2, seed=1, executor=tune.SerialExecutor(), log=log)


def test_coarse_to_fine_narrows_around_the_best():
    res = tune.coarse_to_fine(bowl, SPACE, rounds=3, n_trials=12, top_k=3, seed=0,
                              executor=tune.SerialExecutor())
    assert len(res.trials) == 36 and {t["round"] for t in res.trials} == {0, 1, 2}
    first, last = res.rounds[0]["lr"], res.rounds[-1]["lr"]
    assert last.low >= first.low and last.high <= first.high
    # narrower on the log scale, and still containing the optimum region
    assert math.log10(last.high / last.low) < 0.6 * math.log10(first.high / first.low)
    # later rounds sample where the good trials were: their typical trial is much better
    median = [np.median([t["metric"] for t in res.trials if t["round"] == r]) for r in range(3)]
    assert median[2] < 0.2 * median[0]
    assert abs(math.log10(res.best["params"]["lr"]) + 2.5) < 0.3
    beta_last = res.rounds[-1]["beta"]
    assert isinstance(beta_last, tune.OneMinusLogUniform) and 0.9 <= beta_last.low < beta_last.high <= 0.999


def test_grid_search_covers_the_grid():
    res = tune.grid_search(bowl, {"lr": [1e-3, 1e-2], "beta": [0.9, 0.99, 0.999]}, executor=tune.SerialExecutor())
    assert sorted((t["params"]["lr"], t["params"]["beta"]) for t in res.trials) == \
        sorted((a, b) for a in (1e-3, 1e-2) for b in (0.9, 0.99, 0.999))
    assert "random search" in tune.grid_search.__doc__


def test_bad_dimensions():
    for make, match in [(lambda: tune.LogUniform(0.0, 1.0), "must be > 0 on a log scale"),
                        (lambda: tune.Uniform(2, 1), "low must be < high"),
                        (lambda: tune.LogUniform(1e-3, 1e-3), "low must be < high"),
                        (lambda: tune.OneMinusLogUniform(0.9, 1.0), r"must lie in \(0, 1\)"),
                        (lambda: tune.OneMinusLogUniform(0.0, 0.9), r"must lie in \(0, 1\)"),
                        (lambda: tune.IntUniform(1.5, 3), "must be ints"),
                        (lambda: tune.Choice([]), "at least one option")]:
        with pytest.raises(ValueError, match=match):
            make()
    calls = []
    with pytest.raises(TypeError, match=r"space\['lr'\] must be a fastnn.tune Dimension"):
        tune.random_search(lambda p, s: calls.append(p) or 0.0, {"lr": (1e-4, 1)}, 3,
                           executor=tune.SerialExecutor())
    assert calls == []


def test_process_pool_matches_serial():
    serial = tune.random_search(bowl, SPACE, 6, seed=5, executor=tune.SerialExecutor())
    with tune.local_executor(workers=2) as ex:
        pooled = tune.random_search(bowl, SPACE, 6, seed=5, executor=ex)
    assert [(t["id"], t["metric"]) for t in pooled.trials] == [(t["id"], t["metric"]) for t in serial.trials]


def test_dask_local_cluster_matches_serial():
    distributed = pytest.importorskip("distributed")
    serial = tune.random_search(bowl, SPACE, 6, seed=6, executor=tune.SerialExecutor())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        res = tune.random_search(bowl, SPACE, 6, seed=6, executor=client.get_executor())
    assert [(t["id"], t["params"], t["metric"]) for t in res.trials] == \
           [(t["id"], t["params"], t["metric"]) for t in serial.trials]


def test_model_objective_and_babysitting(tmp_path):
    X, y = fastnn.datasets.load_digits()
    Xt, yt, Xd, yd = X[:400] / 16, y[:400], X[400:600] / 16, y[400:600]
    objective = tune.make_objective(digits_model, (Xt, yt), (Xd, yd), epochs=3)
    res = tune.random_search(objective, {"lr": tune.LogUniform(1e-4, 1e-1),
                                         "beta1": tune.OneMinusLogUniform(0.8, 0.99)}, 4, seed=0,
                             executor=tune.SerialExecutor(), metric="dev_error")
    assert res.best["metric"] < 0.5 and "train_error" in res.best["extra"]
    # pandas: save, resume with a lower learning rate, keep training
    model, opt = digits_model(res.best["params"], 0)
    model.fit(Xt, yt, optimizer=opt, epochs=2, verbose=False)
    model.save(tmp_path / "baby.npz", optimizer=opt)
    model2, opt2 = tune.resume(tmp_path / "baby.npz", lr=opt.lr / 10)
    assert opt2.lr == pytest.approx(opt.lr / 10) and opt2.t == opt.t
    model2.fit(Xt, yt, optimizer=opt2, epochs=1, verbose=False)
    assert model2.evaluate(Xd, yd)["accuracy"] > 0.5


SEARCH_WITHOUT_GUARD = """
import numpy as np
from fastnn import tune
offset = 0.25
res = tune.random_search(lambda p, seed: (p["lr"] - offset) ** 2, {"lr": tune.Uniform(0, 1)}, 4, seed=0)
print("best", len(res.ok), round(res.best["metric"], 12) >= 0)
"""


@pytest.mark.parametrize("form", ["script", "python -c"])
def test_default_pool_runs_lambdas_and_scripts_without_a_guard(tmp_path, form):
    """The default executor (loky, with joblib installed) takes a lambda
    closing over a global, from a script without an ``if __name__ ==
    "__main__":`` guard or from ``python -c``, in a fresh process."""
    import subprocess
    import sys
    pytest.importorskip("joblib")
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    if form == "script":
        path = tmp_path / "search.py"
        path.write_text(SEARCH_WITHOUT_GUARD)
        cmd = [sys.executable, str(path)]
    else:
        cmd = [sys.executable, "-c", SEARCH_WITHOUT_GUARD]
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == "best 4 True"


def test_without_joblib_an_unsendable_objective_is_refused_before_any_trial(monkeypatch):
    monkeypatch.setattr(tune, "_loky", lambda: None)
    monkeypatch.setattr(tune.os, "cpu_count", lambda: 2)
    ran = []
    with pytest.raises(TypeError, match="fastnn-numba\\[tune\\]"):
        tune.random_search(lambda p, s: ran.append(p) or 0.0, SPACE, 4, seed=0)
    assert ran == []


@pytest.mark.parametrize("compiled_net", [True, False])
def test_lr_find_suggests_a_rate_and_restores_everything(tmp_path, compiled_net):
    X, y = fastnn.datasets.moons(512, seed=0)
    layers = [fastnn.Dense(2, 16, bias=False), fastnn.BatchNorm(16), fastnn.ReLU(), fastnn.Dropout(0.9),
              fastnn.Dense(16, 2)]
    model = fastnn.Sequential(layers, seed=0, backend=None if compiled_net else "ref")
    opt = fastnn.Adam(model.parameters(), lr=3e-3)
    model.fit(X, y, opt, epochs=1, verbose=False)               # a model in the middle of its training
    before = (model.parameters().data.copy(), model.parameters().grad.copy(), opt.state_dict(), opt.lr,
              model.layers[1].running_var.copy(), model.layers[3].offset)
    result = tune.lr_find(model, opt, X, y, start_lr=1e-6, end_lr=1e4, steps=120)
    assert 1e-4 < result.suggestion < 1.0
    assert result.lrs == sorted(result.lrs) and len(result.lrs) == len(result.costs)
    assert len(result.lrs) < 120 and max(result.costs) > 4 * min(result.costs)     # stopped on the way up
    data, grad, state, lr, var, offset = before
    assert np.array_equal(model.parameters().data, data) and np.array_equal(model.parameters().grad, grad)
    after = opt.state_dict()
    assert after["t"] == state["t"] and opt.lr == lr and all(np.array_equal(after["state"][k], state["state"][k])
                                                             for k in state["state"])
    assert np.array_equal(model.layers[1].running_var, var) and model.layers[3].offset == offset
    # training goes on exactly as if the test had not run
    twin = fastnn.Sequential([fastnn.Dense(2, 16, bias=False), fastnn.BatchNorm(16), fastnn.ReLU(),
                              fastnn.Dropout(0.9), fastnn.Dense(16, 2)], seed=0,
                             backend=None if compiled_net else "ref")
    twin_opt = fastnn.Adam(twin.parameters(), lr=3e-3)
    twin.fit(X, y, twin_opt, epochs=1, verbose=False)
    model.fit(X, y, opt, epochs=1, verbose=False, seed=5)
    twin.fit(X, y, twin_opt, epochs=1, verbose=False, seed=5)
    assert np.array_equal(model.parameters().data, twin.parameters().data)
    import importlib.util
    if importlib.util.find_spec("matplotlib") is None:
        assert result.plot(tmp_path / "lr.png") is None
    else:
        assert result.plot(tmp_path / "lr.png") and (tmp_path / "lr.png").stat().st_size > 1000


def _digits():
    X, y = fastnn.datasets.load_digits()
    (Xt, yt), (Xd, yd), _ = fastnn.data.train_dev_test_split(X, y, dev=0.2, test=0.1, seed=0)
    return (Xt, yt), (Xd, yd)


ASHA_SPACE = {"lr": tune.LogUniform(1e-4, 1e-1), "beta1": tune.OneMinusLogUniform(0.8, 0.999)}


def test_asha_stops_the_bottom_of_each_rung_and_is_reproducible():
    train, dev = _digits()
    run = lambda: tune.asha(digits_model, train, dev, ASHA_SPACE, n_trials=27, max_epochs=9,  # noqa: E731
                            executor=tune.SerialExecutor())
    a, b = run(), run()
    assert [(t["id"], t["rung"], t["metric"]) for t in a.trials] == [(t["id"], t["rung"], t["metric"])
                                                                      for t in b.trials]
    counts = [sum(1 for t in a.trials if t["rung"] == k) for k in range(3)]
    assert counts == [18, 6, 3]                          # 27 -> 9 -> 3 promoted with eta = 3
    assert a.best["rung"] == 2 and a.best["epochs"] == 9 and len(a.best["extra"]["curve"]) == 6
    stopped = [t for t in a.trials if t["rung"] == 0]
    promoted = [t for t in a.trials if t["rung"] > 0]
    assert all(len(t["extra"]["curve"]) == 1 for t in stopped)
    assert len(promoted) == 9 and all(len(t["extra"]["curve"]) in (2, 6) for t in promoted)
    assert a.best["metric"] < 0.1


def test_asha_continues_live_models_exactly_as_loaded_states(monkeypatch):
    """A trial's next rung in the same process continues the rung's live
    model and optimizer (``_asha._LIVE``) instead of building the model and
    loading the state: the same records, bit for bit, with one build per
    trial instead of one per rung."""
    from fastnn import _asha
    train, dev = _digits()
    builds = []

    def counted(params, seed):
        builds.append(seed)
        return digits_model(params, seed)

    def run():
        builds.clear()
        res = tune.asha(counted, train, dev, ASHA_SPACE, n_trials=9, max_epochs=9, executor=tune.SerialExecutor())
        return [(t["id"], t["rung"], t["metric"], t["extra"]["curve"]) for t in res.trials], len(builds)

    live, live_builds = run()
    monkeypatch.setattr(_asha, "LIVE_BYTES", 0)
    loaded, loaded_builds = run()
    assert live == loaded
    promotions = sum(t[1] for t in loaded)                          # rungs after the first, over every trial
    assert live_builds == 9 and loaded_builds == 9 + promotions and promotions > 0


def test_asha_live_models_stay_within_their_budget(monkeypatch):
    from fastnn import _asha
    model, opt = digits_model({"lr": 1e-3, "beta1": 0.9}, 0)
    size = model.parameters().data.nbytes * (2 + len(opt.state))
    monkeypatch.setattr(_asha, "LIVE_BYTES", 2 * size)
    _asha._LIVE.clear()
    for tid in range(3):
        _asha._keep_live(("s", tid, 1), model, opt)
    assert list(_asha._LIVE) == [("s", 1, 1), ("s", 2, 1)]              # the oldest went first
    _asha._keep_live(("t", 0, 1), model, opt)
    assert list(_asha._LIVE) == [("t", 0, 1)]                           # another search's models went
    assert _asha._take_live(("t", 0, 1)) == (model, opt) and _asha._take_live(("t", 0, 1)) is None


def test_asha_resumes_from_its_log_losing_only_what_was_in_flight(tmp_path):
    train, dev = _digits()
    log = tmp_path / "asha.jsonl"
    full = tune.asha(digits_model, train, dev, ASHA_SPACE, n_trials=9, max_epochs=9, executor=tune.SerialExecutor(),
                     log=log)
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:7]) + "\n" + lines[7][:15])           # killed in the 8th rung's record
    calls = []

    class Counting(tune.SerialExecutor):
        def submit(self, fn, *args, **kwargs):
            calls.append(args[5]["id"])
            return super().submit(fn, *args, **kwargs)

    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again = tune.asha(digits_model, train, dev, ASHA_SPACE, n_trials=9, max_epochs=9, executor=Counting(),
                          log=log, resume=True)
    assert len(calls) == len(lines) - 7                    # only the rungs not logged ran again
    assert [(t["id"], t["rung"], t["metric"]) for t in again.trials] == [(t["id"], t["rung"], t["metric"])
                                                                          for t in full.trials]


def test_asha_on_the_default_pool():
    train, dev = _digits()
    res = tune.asha(digits_model, train, dev, ASHA_SPACE, n_trials=9, max_epochs=9)
    assert len(res.trials) == 9 and res.best["rung"] == 2 and res.best["status"] == "ok"


def test_synchronous_successive_halving_promotes_exactly_each_rung_s_top_third(tmp_path):
    train, dev = _digits()
    log = tmp_path / "sh.jsonl"
    res = tune.asha(digits_model, train, dev, ASHA_SPACE, n_trials=9, max_epochs=9, synchronous=True,
                    executor=tune.SerialExecutor(), log=log)
    assert [sum(1 for t in res.trials if t["rung"] >= k) for k in range(3)] == [9, 3, 1]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    for k in (0, 1):
        ranked = sorted((r for r in records if r["rung"] == k), key=lambda r: (r["metric"], r["id"]))
        promoted = {r["id"] for r in records if r["rung"] == k + 1}
        assert promoted == {r["id"] for r in ranked[:len(ranked) // 3]}


def test_hyperband_runs_its_brackets():
    train, dev = _digits()
    res = tune.hyperband(digits_model, train, dev, ASHA_SPACE, n_trials=12, max_epochs=9,
                         executor=tune.SerialExecutor())
    brackets = {t["extra"]["bracket"] for t in res.trials}
    assert brackets == {0, 1, 2} and res.best["epochs"] == 9
    assert all(t["epochs"] == 9 for t in res.trials if t["extra"]["bracket"] == 2)
    assert len({t["id"] for t in res.trials}) == len(res.trials) and "trial" in res.table()


def test_asha_on_a_dask_cluster():
    """The state between rungs travels with the tasks: a Dask cluster runs ASHA
    as is (synchronous here, so the promotions match the serial run's)."""
    distributed = pytest.importorskip("distributed")
    train, dev = _digits()
    serial = tune.asha(digits_model, train, dev, ASHA_SPACE, n_trials=9, max_epochs=9, synchronous=True,
                       executor=tune.SerialExecutor())
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        res = tune.asha(digits_model, train, dev, ASHA_SPACE, n_trials=9, max_epochs=9, synchronous=True,
                        executor=client.get_executor())
    assert sorted((t["id"], t["rung"]) for t in res.trials) == sorted((t["id"], t["rung"]) for t in serial.trials)
    ours = {t["id"]: t["metric"] for t in res.trials}
    assert all(abs(ours[t["id"]] - t["metric"]) < 1e-12 for t in serial.trials)
