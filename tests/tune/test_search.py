"""What a search returns: trials ranked by the weights they kept, the winner as a model, a refit."""
import math

import numpy as np
import pytest

import xpnet as xn
from xpnet import tune
from xpnet.training.history import History
from xpnet.tune import runner

X_train, y_train, X_val, y_val = xn.datasets.moons(n_samples=200, noise=0.3, seed=4)
PROBLEM = tune.Problem(X_train, y_train, X_val, y_val, "binary_cross_entropy", 1, dtype="float64")
SPACE = {"lr": tune.LogUniform(1e-3, 0.3), "units": tune.Choice([4, 8])}


def finished(number, val_losses, state="complete"):
    history = History()
    for loss in val_losses:
        history.append_epoch({"loss": loss, "val_loss": loss, "val_accuracy": 1 - loss}, [loss])
    result = tune.trials.summarize(number, {}, history, 0.1, state)
    return result


def test_trials_rank_by_the_weights_they_kept_and_completed_ones_first():
    overfit = finished(0, [0.5, 0.01, 1.367])  # its best epoch's weights are gone
    steady = finished(1, [0.5, 0.3, 0.2])
    pruned = finished(2, [0.05], "pruned")
    diverged = finished(3, [0.04, math.nan], "diverged")
    results = tune.Results([overfit, diverged, pruned, steady])
    assert [trial.number for trial in results] == [1, 0, 2, 3]
    assert overfit.val_loss == 1.367 and overfit.best_val_loss == 0.01 and overfit.val_accuracy == 1 - 1.367
    assert diverged.val_loss == 0.04 and diverged.epochs == 1
    assert [trial.state for trial in results] == ["complete", "complete", "pruned", "diverged"]
    with pytest.raises(ValueError, match="trial 1 kept no model"):
        results.best_model()


def test_the_best_model_is_the_trained_winner_and_refit_trains_it_on_all_the_data():
    base = {"epochs": 3, "batch_size": 32}
    results = tune.random_search(SPACE, PROBLEM, n_trials=6, base=base, seed=3)
    winner = results.best_model()
    assert winner.evaluate(X_val, y_val)["loss"] == pytest.approx(results.best.val_loss, rel=1e-12)
    assert winner.history.epochs == 3 and winner.optimizer.lr == results.best.params["lr"]
    refitted = tune.random_search(SPACE, PROBLEM, n_trials=6, base=base, seed=3, refit=True)
    assert refitted.best.number == results.best.number
    model = refitted.best_model()
    assert model is refitted.refitted and model.history["val_loss"] == [None] * 3
    again = tune.build_model(results.best.config, 2, 1, loss="binary_cross_entropy", dtype="float64")
    again.fit(np.concatenate([X_train, X_val]), np.concatenate([y_train, y_val]), seed=0,
              **tune.fit_options(results.best.config))
    np.testing.assert_array_equal(model.predict(X_val), again.predict(X_val))


def test_refit_without_a_completed_trial_is_refused():
    with pytest.raises(ValueError, match="no trial completed"):
        tune.random_search({"lr": tune.LogUniform(1e200, 1e201)}, PROBLEM, n_trials=2,
                           base={"epochs": 2, "optimizer": "sgd"}, refit=True)


@pytest.mark.parametrize("search", [tune.random_search, tune.grid_search, tune.coarse_to_fine])
def test_refit_must_be_a_bool_and_is_checked_before_the_search(search, monkeypatch):
    ran = []
    monkeypatch.setattr(runner, "run", lambda *args, **options: ran.append(args))
    with pytest.raises(TypeError, match="refit must be True or False, got 'no'"):
        search(SPACE, PROBLEM, refit="no")
    assert ran == []


def test_search_options_are_checked():
    with pytest.raises(ValueError, match="pad must be one of"):
        tune.random_search(SPACE, PROBLEM, n_trials=2, pad="some")
    with pytest.raises(ValueError, match="threads must be a positive int, got 0"):
        tune.random_search(SPACE, PROBLEM, n_trials=2, threads=0)


def ten_classes():
    rng = np.random.default_rng(0)
    return rng.standard_normal((60, 4)), np.arange(60) % 10, rng.standard_normal((20, 4)), np.arange(20) % 10


@pytest.mark.parametrize("change, error, message", [
    ({"loss": "softmax"}, ValueError, r"loss must be one of .*, got 'softmax'"),
    ({"output_dim": 5}, ValueError, r"tune.Problem\(loss='softmax_cross_entropy', output_dim=5\): y_train must hold "
                                    r"integer class labels in \[0, 5\) or exactly 5 distinct labels .* got 10"),
    ({"output_dim": 0}, ValueError, r"output_dim must be a positive int, got 0"),
    ({"X_val": np.zeros((20, 3))}, ValueError, r"X_val must have shape \(m_val, 4\), as many features as X_train, "
                                               r"got shape \(20, 3\)"),
    ({"y_val": np.arange(19) % 10}, ValueError, r"y_val must have one entry per row of X_val \(20\), got shape "
                                                r"\(19,\)"),
    ({"X_train": np.full((60, 4), np.nan)}, ValueError, r"X_train contains NaN or inf"),
    ({"loss": "mse", "output_dim": 2}, ValueError, r"mse targets must have 2 column\(s\), .* y_train has shape "
                                                   r"\(60,\)"),
    ({"loss": "binary_cross_entropy"}, ValueError, r"y_train has shape \(60,\), one label per example: "
                                                   r"loss='binary_cross_entropy' then needs a model with one output"),
    ({"dtype": "float16"}, ValueError, r"dtype must be one of \('float32', 'float64'\), got 'float16'"),
])
def test_a_problem_is_checked_when_made_not_trial_by_trial(change, error, message):
    X, y, X_val, y_val = ten_classes()
    arguments = {"X_train": X, "y_train": y, "X_val": X_val, "y_val": y_val, "loss": "softmax_cross_entropy",
                 "output_dim": 10, **change}
    with pytest.raises(error, match=message):
        tune.Problem(**arguments)


def test_a_problem_takes_a_numpy_dtype_and_keeps_its_name():
    X, y, X_val, y_val = ten_classes()
    problem = tune.Problem(X, y, X_val, y_val, "softmax_cross_entropy", 10, dtype=np.float64)
    assert problem.dtype == "float64" and problem.on_device("cpu").dtype == "float64"


@pytest.mark.parametrize("search, options, message", [
    (tune.random_search, {"n_trials": 0}, r"n_trials must be a positive int, got 0"),
    (tune.random_search, {"n_trials": -3}, r"n_trials must be a positive int, got -3"),
    (tune.random_search, {"n_trials": 2.0}, r"n_trials must be a positive int, got 2\.0"),
    (tune.random_search, {"n_trials": "5"}, r"n_trials must be a positive int, got '5'"),
    (tune.grid_search, {"points": 0}, r"points must be a positive int, got 0"),
    (tune.coarse_to_fine, {"n_trials": 0}, r"n_trials must be a positive int, got 0"),
    (tune.coarse_to_fine, {"rounds": 0}, r"rounds must be a positive int, got 0"),
    (tune.coarse_to_fine, {"top_k": 1.5}, r"top_k must be a positive int, got 1\.5"),
])
def test_trial_counts_are_positive_ints_checked_before_the_search(search, options, message, monkeypatch):
    ran = []
    monkeypatch.setattr(runner, "run", lambda *args, **run_options: ran.append(args))
    with pytest.raises(ValueError, match=message):
        search(SPACE, PROBLEM, **options)
    assert ran == []
