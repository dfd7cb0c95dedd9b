"""fastnn with Optuna: the pruning callback and the search-space helper,
with Optuna's in-memory and journal-file storages (skipped without optuna)."""
import numpy as np
import pytest

import fastnn
from fastnn import tune

optuna = pytest.importorskip("optuna")
optuna.logging.set_verbosity(optuna.logging.WARNING)

SPACE = {"lr": tune.LogUniform(1e-4, 1e-1), "beta1": tune.OneMinusLogUniform(0.8, 0.999),
         "units": tune.IntUniform(4, 16), "act": tune.Choice(["relu", "tanh"]), "shape": tune.Choice([(1,), (2,)]),
         "l2": tune.Uniform(0.0, 0.1)}


def _data():
    X, y = fastnn.datasets.moons(400, seed=0)
    return fastnn.data.train_dev_test_split(X, y, dev=0.25, test=0.0, seed=0)


def _objective(trial):
    (Xt, yt), (Xd, yd), _ = _data()
    p = tune.suggest(trial, SPACE)
    model = fastnn.Sequential([fastnn.Dense(2, p["units"], p["act"]), fastnn.Dense(p["units"], 2)], l2=p["l2"],
                              seed=0)
    opt = fastnn.Adam(model.parameters(), lr=p["lr"], betas=(p["beta1"], 0.999))
    h = model.fit(Xt, yt, opt, epochs=12, validation_data=(Xd, yd), verbose=False,
                  callbacks=[fastnn.callbacks.OptunaPruning(trial, monitor="val_cost")])
    return h["val_cost"][-1]


@pytest.mark.parametrize("storage", ["memory", "journal"])
def test_study_with_pruning(tmp_path, storage):
    if storage == "journal":
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend
        store = JournalStorage(JournalFileBackend(str(tmp_path / "journal.log")))
    else:
        store = None
    study = optuna.create_study(storage=store, sampler=optuna.samplers.RandomSampler(seed=0),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2))
    study.optimize(_objective, n_trials=12)
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.PRUNED in states and optuna.trial.TrialState.COMPLETE in states
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert all(max(t.intermediate_values) < 11 for t in pruned)        # stopped before the last epoch
    assert study.best_value < 0.69
    if storage == "journal":                                          # the study reloads from the file
        again = optuna.load_study(study_name=study.study_name, storage=store)
        assert len(again.trials) == 12 and again.best_value == study.best_value


def test_suggest_maps_every_dimension_on_its_scale():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    drawn = [tune.suggest(study.ask(), SPACE) for _ in range(300)]
    lr = np.array([d["lr"] for d in drawn])
    assert lr.min() >= 1e-4 and lr.max() <= 1e-1 and abs(np.mean(np.log10(lr) < -2.5) - 0.5) < 0.1
    beta = np.array([d["beta1"] for d in drawn])
    assert beta.min() >= 0.8 and beta.max() <= 0.999 and abs(np.mean(beta < 1 - 10 ** -1.65) - 0.5) < 0.1
    assert {d["units"] for d in drawn} == set(range(4, 17))
    assert {d["act"] for d in drawn} == {"relu", "tanh"} and {d["shape"] for d in drawn} == {(1,), (2,)}
    assert "1-beta1" in study.trials[0].params


def test_pruning_callback_needs_the_monitored_value():
    study = optuna.create_study()
    model = fastnn.Sequential([fastnn.Dense(2, 2)])
    X, y = fastnn.datasets.moons(40, seed=0)
    with pytest.raises(ValueError, match="validation_data"):
        model.fit(X, y, fastnn.SGD(model.parameters()), verbose=False,
                  callbacks=[fastnn.callbacks.OptunaPruning(study.ask(), monitor="val_cost")])
