"""Many models in parallel: worker processes and an Optuna study shared through its storage."""
import concurrent.futures
import multiprocessing

import numpy as np
import pytest

import xpnet as xn
from xpnet import tune
from xpnet.tune import trials

SPACE = {"lr": tune.LogUniform(1e-3, 0.3), "beta1": tune.OneMinusLogUniform(0.8, 0.99),
         "units": tune.Choice([4, 8])}
BASE = {"layers": 1, "epochs": 3, "batch_size": 32}


@pytest.fixture(scope="module")
def problem():
    X_train, y_train, X_val, y_val = xn.datasets.moons(n_samples=200, noise=0.2)
    return tune.Problem(X_train, y_train, X_val, y_val, loss="binary_cross_entropy", output_dim=1,
                        dtype="float64")


@pytest.mark.parametrize("pruner", [None, tune.SuccessiveHalving(epochs=(1,), keep=0.5)], ids=["all", "halving"])
def test_worker_processes_match_one_process(problem, pruner):
    configs = [trials.complete(params, BASE) for params in tune.sample(SPACE, 8, seed=2)]
    here = tune.run(problem, configs, mode="population", pruner=pruner)
    spread = tune.run(problem, configs, mode="processes", workers=2, pruner=pruner)
    assert [r.number for r in spread] == [r.number for r in here]
    for a, b in zip(spread, here):
        assert a.val_loss == pytest.approx(b.val_loss, rel=1e-9) and a.state == b.state
        np.testing.assert_allclose(a.model().predict(problem.X_val), b.model().predict(problem.X_val), rtol=1e-9)


def test_two_processes_share_one_optuna_study(tmp_path, problem):
    optuna = pytest.importorskip("optuna")
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    tune_optuna = pytest.importorskip("xpnet.tune.optuna")
    tune_optuna.create_study(storage, "shared")  # create once, so the workers only join
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        futures = [pool.submit(tune_optuna.work, storage, "shared", SPACE, problem, 4, 2, BASE, seed)
                   for seed in (1, 2)]
        numbers = [future.result() for future in futures]
    study = optuna.load_study(study_name="shared", storage=storage)
    finished = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(study.trials) == len(finished) == 8
    assert sorted(numbers[0] + numbers[1]) == sorted(t.number for t in study.trials) == list(range(8))
    assert not set(numbers[0]) & set(numbers[1])
    assert all("1-beta1" in t.params and "lr" in t.params for t in finished)
    assert study.best_value == min(t.value for t in finished)


def test_optuna_suggestions_respect_each_scale():
    optuna = pytest.importorskip("optuna")
    from xpnet.tune.optuna import suggest

    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    space = {**SPACE, "beta1": tune.OneMinusLogUniform(0.9, 0.999)}
    draws = [suggest(study.ask(), space) for _ in range(200)]
    assert all(1e-3 <= d["lr"] <= 0.3 and 0.9 <= d["beta1"] <= 0.999 and d["units"] in (4, 8) for d in draws)
    assert 70 < sum(d["beta1"] > 0.99 for d in draws) < 130  # 0.9..0.99 and 0.99..0.999 about equally often
    assert 30 < sum(d["lr"] < 10 ** -1.5 for d in draws) / 2 < 70  # uniform in log10
