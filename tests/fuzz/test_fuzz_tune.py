"""Search logs against corruption and misuse (the searches against trials
that kill their workers, hang, or kill the search itself are named tests
in ``tests/test_reliability.py``)."""
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastnn import tune

from ..tune_objectives import bowl

SPACE = {"lr": tune.LogUniform(1e-4, 1.0), "beta": tune.OneMinusLogUniform(0.9, 0.999)}
JUNK = ["12", "null", '{"x": 1}', "[1, 2]", '"text"', '{"id": "3", "params": {}}', '{"id": 2, "params": [],',
        '{"id": 1, "params": {}, "status": "weird"}', "\x00\x01", '{"id": true, "params": {}, "status": "ok"}']


@given(keep=st.integers(0, 8), cut=st.integers(0, 200), junk=st.lists(st.sampled_from(JUNK), max_size=4),
       where=st.integers(0, 10))
def test_resume_after_any_damage_runs_each_trial_once(tmp_path_factory, keep, cut, junk, where):
    log = tmp_path_factory.mktemp("log") / "search.jsonl"
    full = tune.random_search(bowl, SPACE, 8, seed=1, executor=tune.SerialExecutor(), log=log)
    lines = log.read_text().splitlines()[:keep]
    cut_line = log.read_text().splitlines()[min(keep, 7)][:cut % 60] if keep < 8 else ""
    for j in junk:
        lines.insert(where % (len(lines) + 1), j)
    log.write_text("\n".join(lines) + ("\n" if lines else "") + cut_line)       # the last line cut
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        resumed = tune.random_search(bowl, SPACE, 8, seed=1, executor=tune.SerialExecutor(), log=log, resume=True)
    assert sorted(t["id"] for t in resumed.trials) == list(range(8))
    assert [(t["id"], t["metric"]) for t in resumed.trials] == [(t["id"], t["metric"]) for t in full.trials]
    # every line the search wrote is a whole record; the damage before it stays as it was
    records = []
    for line in log.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(rec, dict) and rec.get("status") in ("ok", "failed") and isinstance(rec.get("id"), int) \
                and not isinstance(rec.get("id"), bool):
            records.append(rec["id"])
    assert sorted(set(records)) == list(range(8))


def test_another_search_s_log_is_refused(tmp_path):
    log = tmp_path / "search.jsonl"
    tune.random_search(bowl, SPACE, 4, seed=1, executor=tune.SerialExecutor(), log=log)
    with pytest.raises(ValueError, match="another search"):
        tune.random_search(bowl, SPACE, 4, seed=2, executor=tune.SerialExecutor(), log=log, resume=True)


def test_two_searches_cannot_share_a_log(tmp_path):
    log = tmp_path / "search.jsonl"
    with tune._Log(log, resume=False):
        with pytest.raises(RuntimeError, match="another search is writing"):
            tune.random_search(bowl, SPACE, 2, seed=1, executor=tune.SerialExecutor(), log=log, resume=True)


def test_choice_of_tuples_resumes_without_rerunning(tmp_path):
    log = tmp_path / "search.jsonl"
    space = {"shape": tune.Choice([(8, 4), (16,)]), "lr": tune.LogUniform(1e-3, 1e-1)}
    calls = []

    def objective(params, seed):
        calls.append(params)
        return params["lr"]
    tune.random_search(objective, space, 5, seed=0, executor=tune.SerialExecutor(), log=log)
    tune.random_search(objective, space, 5, seed=0, executor=tune.SerialExecutor(), log=log, resume=True)
    assert len(calls) == 5
    with pytest.raises(TypeError, match="JSON"):
        tune.Choice([object()])


def test_serial_search_writes_each_trial_as_it_ends(tmp_path):
    log = tmp_path / "search.jsonl"
    seen = []

    def objective(params, seed):
        seen.append(len(log.read_text().splitlines()) if log.exists() else 0)
        return params["lr"]
    tune.random_search(objective, SPACE, 4, seed=0, executor=tune.SerialExecutor(), log=log)
    assert seen == [0, 1, 2, 3]
