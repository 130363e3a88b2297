"""Successive halving inside a population, and Optuna's pruners through the bridge."""
import numpy as np
import pytest

import xpnet as xn
from xpnet import tune
from xpnet.tune import runner, trials

X_train, y_train, X_val, y_val = xn.datasets.moons(n_samples=240, noise=0.3, seed=5)
PROBLEM = tune.Problem(X_train, y_train, X_val, y_val, "binary_cross_entropy", 1, dtype="float64")
SPACE = {"lr": tune.LogUniform(1e-4, 0.3), "units": tune.IntUniform(4, 16)}


def configs(n=8):
    return [trials.complete(params, {"epochs": 8, "batch_size": 32}) for params in tune.sample(SPACE, n, seed=1)]


def test_halving_keeps_the_best_half_at_each_rung_and_survivors_train_as_without_pruning():
    pruner = tune.SuccessiveHalving(epochs=(2, 4), keep=0.5)
    pruned = tune.Results(tune.run(PROBLEM, configs(), pad="widest", pruner=pruner))
    full = tune.Results(tune.run(PROBLEM, configs(), pad="widest"))
    by_number = {trial.number: trial for trial in full}
    assert sorted(trial.epochs for trial in pruned) == [2] * 4 + [4] * 2 + [8] * 2
    assert [trial.state for trial in pruned] == ["complete"] * 2 + ["pruned"] * 6
    for trial in pruned:
        alone = by_number[trial.number]
        np.testing.assert_allclose(trial.history["val_loss"], alone.history["val_loss"][:trial.epochs], rtol=1e-9)
        assert trial.model().epoch == trial.epochs  # a pruned trial keeps its weights from where it stopped
    at_two = {t.number: t.history["val_loss"][1] for t in full}
    survivors = sorted(at_two, key=at_two.get)[:4]
    assert sorted(t.number for t in pruned if t.epochs > 2) == sorted(survivors)
    assert pruned.best.number == min((t for t in full if t.number in {p.number for p in pruned if p.epochs == 8}),
                                     key=lambda t: t.val_loss).number


def test_halving_arguments_are_checked():
    with pytest.raises(ValueError, match="must increase"):
        tune.SuccessiveHalving(epochs=(4, 2))
    with pytest.raises(ValueError, match="keep must be in"):
        tune.SuccessiveHalving(keep=1.5)


def test_optuna_pruner_stops_trials_through_the_bridge(tmp_path):
    optuna = pytest.importorskip("optuna")
    from xpnet.tune import optuna as bridge

    study = bridge.create_study(f"sqlite:///{tmp_path / 'prune.db'}", "pruned", optuna.samplers.RandomSampler(seed=0),
                                optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    results = bridge.optimize(study, SPACE, PROBLEM, n_trials=12, population_size=4,
                              base={"epochs": 6, "batch_size": 32}, prune=True)
    states = [trial.state for trial in study.trials]
    assert len(states) == 12 and optuna.trial.TrialState.PRUNED in states
    assert states.count(optuna.trial.TrialState.PRUNED) == sum(r.state == "pruned" for r in results)
    for trial in study.trials:
        assert len(trial.intermediate_values) in range(1, 6)
        if trial.state == optuna.trial.TrialState.PRUNED:
            assert len(trial.intermediate_values) < 5


def test_optuna_prune_must_be_a_bool_and_is_checked_before_asking():
    optuna = pytest.importorskip("optuna")
    from xpnet.tune import optuna as bridge

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.raises(TypeError, match="prune must be True or False, got 'no'"):
        bridge.optimize(study, SPACE, PROBLEM, n_trials=2, prune="no")
    assert study.trials == []


@pytest.mark.parametrize("options, message", [({"n_trials": 0}, r"n_trials must be a positive int, got 0"),
                                              ({"n_trials": 2, "population_size": 0},
                                               r"population_size must be a positive int, got 0")])
def test_optuna_trial_counts_are_positive_ints(options, message):
    optuna = pytest.importorskip("optuna")
    from xpnet.tune import optuna as bridge

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    with pytest.raises(ValueError, match=message):
        bridge.optimize(study, SPACE, PROBLEM, **options)
    assert study.trials == []


class Clock:
    """Stands in for the time module: every reading is one second after the previous one."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self):
        self.now += 1.0
        return self.now


def test_seconds_are_equal_shares_of_each_stretch_of_training(monkeypatch):
    monkeypatch.setattr(runner, "time", Clock())  # each stretch (to a checkpoint, or the end) takes 1 s
    pruner = tune.SuccessiveHalving(epochs=(2,), keep=0.5)
    found = tune.run(PROBLEM, configs(4), pad="widest", pruner=pruner)
    seconds = {trial.state: set() for trial in found}
    for trial in found:
        seconds[trial.state].add(trial.seconds)
    assert seconds == {"pruned": {1 / 4}, "complete": {1 / 4 + 1 / 2}}
    assert sum(trial.seconds for trial in found) == 2.0
