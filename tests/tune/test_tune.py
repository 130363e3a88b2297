"""Hyperparameter search: distributions, strategies, populations of trials, results."""
import json
import math
import os
import re

import numpy as np
import pytest

import xpnet as xn
from xpnet import tune
from xpnet.tune import trials


def ks_statistic(samples, cdf):
    samples = np.sort(samples)
    n = samples.size
    values = cdf(samples)
    return max(np.max(np.arange(1, n + 1) / n - values), np.max(values - np.arange(n) / n))


def test_log_uniform_is_uniform_in_log10():
    draws = np.array(tune.LogUniform(1e-4, 1).sample(np.random.default_rng(0), 4000))
    assert draws.min() >= 1e-4 and draws.max() <= 1
    statistic = ks_statistic(np.log10(draws), lambda r: (r + 4) / 4)
    assert statistic < 1.63 / math.sqrt(4000)  # the KS critical value at the 1% level
    per_decade = np.histogram(np.log10(draws), bins=4, range=(-4, 0))[0]
    assert per_decade.min() > 0.9 * 1000


def test_one_minus_log_uniform_spreads_betas_evenly():
    draws = np.array(tune.OneMinusLogUniform(0.9, 0.999).sample(np.random.default_rng(1), 4000))
    assert draws.min() >= 0.9 and draws.max() <= 0.999
    low, high = np.sum(draws < 0.99), np.sum(draws >= 0.99)
    assert abs(low - high) < 0.06 * 4000
    assert ks_statistic(np.log10(1 - draws), lambda r: (r + 3) / 2) < 1.63 / math.sqrt(4000)


def test_int_uniform_and_choice_cover_their_values():
    ints = tune.IntUniform(2, 5).sample(np.random.default_rng(0), 2000)
    assert sorted(set(ints)) == [2, 3, 4, 5] and min(np.bincount(ints)[2:]) > 400
    picks = tune.Choice(["relu", "tanh", "sigmoid"]).sample(np.random.default_rng(0), 300)
    assert set(picks) == {"relu", "tanh", "sigmoid"}


def test_sampling_is_reproducible_and_grid_enumerates():
    space = {"lr": tune.LogUniform(1e-3, 1), "units": tune.IntUniform(4, 32), "act": tune.Choice(["relu", "tanh"])}
    assert tune.sample(space, 5, seed=3) == tune.sample(space, 5, seed=3)
    assert tune.sample(space, 5, seed=3) != tune.sample(space, 5, seed=4)
    points = tune.grid(space, 3)
    assert len(points) == 3 * 3 * 2
    assert sorted({p["lr"] for p in points}) == pytest.approx([1e-3, 10 ** -1.5, 1.0])


def test_zoom_shrinks_in_each_distributions_own_scale():
    space = {"lr": tune.LogUniform(1e-4, 1), "beta": tune.OneMinusLogUniform(0.9, 0.999),
             "units": tune.IntUniform(1, 100), "act": tune.Choice(["relu", "tanh", "sigmoid"])}
    chosen = [{"lr": 1e-3, "beta": 0.99, "units": 40, "act": "relu"},
              {"lr": 1e-2, "beta": 0.995, "units": 50, "act": "tanh"}]
    zoomed = tune.zoom(space, chosen, margin=0.5)
    assert zoomed["lr"].low == pytest.approx(10 ** -3.5) and zoomed["lr"].high == pytest.approx(10 ** -1.5)
    assert 0.98 < zoomed["beta"].low < 0.99 and 0.995 < zoomed["beta"].high < 0.999
    assert zoomed["units"].low == 35 and zoomed["units"].high == 55
    assert zoomed["act"].options == ["relu", "tanh"]


def test_bad_spaces_and_names():
    with pytest.raises(ValueError, match="LogUniform needs low > 0"):
        tune.LogUniform(0, 1)
    with pytest.raises(TypeError, match=r"space\['lr'\] must be an xpnet.tune distribution"):
        tune.sample({"lr": [0.1, 0.2]}, 2)
    with pytest.raises(ValueError, match=r"unknown hyperparameter\(s\) \['learning_rate'\]"):
        trials.complete({"learning_rate": 0.1})


@pytest.mark.parametrize("params, message", [
    ({"epochs": "5"}, "epochs must be a positive int, got '5'"),
    ({"batch_size": 0}, "batch_size must be a positive int, got 0"),
    ({"units": 32.0}, "units must be a positive int, got 32.0"),
    ({"layers": 1, "units_1": "8"}, "units_1 must be a positive int, got '8'"),
    ({"layers": "2"}, "layers must be an int >= 0, got '2'"),
    ({"decay_interval": 2.5}, "decay_interval must be a positive int, got 2.5"),
    ({"l2": "0.1"}, "l2 must be a finite number >= 0 (a single number), got '0.1'"),
])
def test_counts_and_l2_are_checked_as_fit_checks_them(params, message):
    """As in ``fit``, no string or float stands for an int (``int()`` would take "5" and cut 2.5)."""
    with pytest.raises(ValueError, match=re.escape(message)):
        trials.complete(params)
    assert trials.complete({}, {"layers": 0, "epochs": np.int64(3)})["epochs"] == 3


def test_switches_must_be_bools():
    """``"no"`` would be true: a batch-normalized network, a log scale, curves written."""
    with pytest.raises(TypeError, match="batchnorm must be True or False, got 'no'"):
        trials.complete({"batchnorm": "no"})
    with pytest.raises(TypeError, match="nesterov must be True or False, got 'no'"):
        trials.complete({}, {"nesterov": "no"})
    assert trials.complete({"batchnorm": np.bool_(True)})["batchnorm"]
    with pytest.raises(TypeError, match="IntUniform log must be True or False, got 'no'"):
        tune.IntUniform(1, 10, log="no")
    with pytest.raises(TypeError, match="curves must be True or False, got 'no'"):
        tune.Results([]).to_json(os.devnull, curves="no")


@pytest.fixture(scope="module")
def moons():
    X_train, y_train, X_val, y_val = xn.datasets.moons(n_samples=300, noise=0.25, seed=1)
    return tune.Problem(X_train, y_train, X_val, y_val, loss="binary_cross_entropy", output_dim=1,
                        dtype="float64")


def test_population_mode_equals_sequential_mode(moons):
    space = {"lr": tune.LogUniform(1e-3, 0.3), "beta1": tune.OneMinusLogUniform(0.8, 0.99),
             "l2": tune.LogUniform(1e-4, 0.1), "init_scale": tune.Uniform(0.5, 1.5),
             "decay_rate": tune.Uniform(0, 0.2), "seed": tune.IntUniform(0, 1000)}
    base = {"layers": 2, "units": 8, "epochs": 5, "batch_size": 32, "batchnorm": True}
    together = tune.random_search(space, moons, n_trials=6, base=base, mode="population")
    apart = tune.random_search(space, moons, n_trials=6, base=base, mode="sequential")
    assert [t.number for t in together] == [t.number for t in apart]
    for a, b in zip(together, apart):
        assert a.params == b.params
        assert a.val_loss == pytest.approx(b.val_loss, rel=1e-6)


def test_trials_of_different_shapes_are_grouped(moons):
    space = {"units": tune.Choice([4, 8]), "activation": tune.Choice(["relu", "tanh"]),
             "lr": tune.LogUniform(1e-3, 0.1)}
    configs = [trials.complete(p, {"epochs": 2}) for p in tune.sample(space, 12, seed=0)]
    groups = tune.runner.group_by_shape(list(enumerate(configs)))
    assert sum(len(group) for group in groups) == 12
    assert len(groups) == len({(c["units"], c["activation"]) for c in configs})
    results = tune.run(moons, configs)
    assert [r.number for r in results] == list(range(12))
    assert all(r.epochs == 2 and len(r.history["val_loss"]) == 2 for r in results)


def test_coarse_to_fine_zooms_in_and_improves(moons):
    space = {"lr": tune.LogUniform(1e-5, 10.0), "l2": tune.LogUniform(1e-5, 10.0)}
    base = {"layers": 2, "units": 16, "epochs": 8, "batch_size": 32, "optimizer": "adam"}
    results = tune.coarse_to_fine(space, moons, rounds=3, n_trials=12, top_k=3, base=base, seed=0)
    assert len(results) == 36 and len(results.spaces) == 3
    first, last = results.spaces[0]["lr"], results.spaces[-1]["lr"]
    assert math.log10(last.high / last.low) < 0.6 * math.log10(first.high / first.low)
    best_first = min(t.val_loss for t in results if t.params["round"] == 0)
    assert results.best.val_loss < best_first
    assert results.best.params["round"] > 0


def test_diverged_trials_are_marked_and_sorted_last(moons):
    configs = [trials.complete({"lr": lr, "optimizer": "sgd"}, {"epochs": 3, "units": 8}) for lr in (0.1, 1e200)]
    results = tune.Results(tune.run(moons, configs))
    assert [t.diverged for t in results] == [False, True]


def test_results_export(tmp_path, moons):
    results = tune.random_search({"lr": tune.LogUniform(1e-3, 0.1)}, moons, n_trials=3,
                                 base={"epochs": 2, "units": 4})
    results.to_csv(tmp_path / "trials.csv")
    results.to_json(tmp_path / "trials.json")
    lines = (tmp_path / "trials.csv").read_text().splitlines()
    assert lines[0].startswith("number,val_loss,best_val_loss") and len(lines) == 4
    records = json.loads((tmp_path / "trials.json").read_text())
    assert records[0]["number"] == results.best.number and len(records[0]["history"]["history"]["loss"]) == 2
    assert "best_val_loss" in results.table() and len(results.table(limit=2).splitlines()) == 3


def test_babysitting_adjusts_and_resumes_exactly(tmp_path, moons):
    from xpnet.tune.babysit import Babysitter

    def sitter():
        model = xn.Sequential([xn.Dense(8), xn.ReLU(), xn.Dropout(0.2), xn.Dense(1)], input_dim=2, dtype="float64")
        return Babysitter(model, moons.X_train, moons.y_train, "binary_cross_entropy", xn.Adam(0.01),
                          batch_size=32, validation_data=(moons.X_val, moons.y_val))

    straight = sitter()
    straight.train(2, verbose=False)
    straight.adjust(lr=0.002, beta1=0.95, batch_size=16, l2=0.01)
    straight.train(3, verbose=False)

    interrupted = sitter()
    metrics = interrupted.train(2, verbose=False)
    assert set(metrics) >= {"loss", "val_loss", "val_accuracy", "lr"}
    interrupted.adjust(lr=0.002, beta1=0.95, batch_size=16, l2=0.01)
    interrupted.save(tmp_path / "panda.npz")
    resumed = Babysitter.resume(tmp_path / "panda.npz", moons.X_train, moons.y_train, (moons.X_val, moons.y_val))
    assert resumed.optimizer.beta1 == 0.95 and resumed.settings["batch_size"] == 16
    resumed.train(3, verbose=False)
    for name, value in straight.model.get_weights().items():
        np.testing.assert_array_equal(resumed.model.get_weights()[name], value)
    assert resumed.model.history["lr"] == [0.01, 0.01, 0.002, 0.002, 0.002]
    with pytest.raises(ValueError, match="Adam has no hyperparameter 'momentum'"):
        resumed.adjust(momentum=0.9)


@pytest.mark.parametrize("schedule, expected", [
    ("inverse_time", [0.1, 0.1 / 1.5, 0.1 / 2.0]),
    ("staircase", [0.1, 0.1, 0.1 / 1.5]),
    ("exponential", [0.1, 0.05, 0.025]),
])
def test_every_schedule_and_layer_setting_reaches_the_model(moons, schedule, expected):
    base = {"epochs": 3, "units": 4, "layers": 1, "activation": "leaky_relu", "alpha": 0.2, "batchnorm": True,
            "bn_momentum": 0.8, "optimizer": "momentum", "nesterov": True, "schedule": schedule,
            "decay_interval": 2}
    configs = [trials.complete({"lr": 0.1, "decay_rate": 0.5}, base)] * 2
    results = tune.run(moons, configs)
    assert results[0].history["lr"] == pytest.approx(expected)
    layers = trials.build_layers(configs[0], 1)
    assert layers[1].momentum == 0.8 and layers[2].alpha == 0.2
    assert trials.build_optimizer(configs).nesterov is True
