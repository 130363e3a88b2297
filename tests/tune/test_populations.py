"""Padded populations train each member exactly as alone; members come out as models of their own."""
import math

import numpy as np
import pytest

import xpnet as xn
from xpnet import tune
from xpnet.tune import populations, trials

X_train, y_train, X_val, y_val = xn.datasets.moons(n_samples=240, noise=0.25, seed=3)
WIDTHS = [(3, 7), (5, 2), (8, 8)]


def configs(**base):
    settings = {"layers": 2, "epochs": 4, "batch_size": 32, "activation": "sigmoid", "batchnorm": True, **base}
    return [trials.complete({"units_1": first, "units_2": second, "lr": 0.01 * (i + 1), "seed": 10 + i,
                             "l2": [0.0, 0.05, 0.3][i], "init_scale": [1.0, 0.7, 1.3][i]}, settings)
            for i, (first, second) in enumerate(WIDTHS)]


def train_alone(config, where=None):
    model = tune.build_model(config, 2, 1, loss="binary_cross_entropy", dtype="float64", **(where or {}))
    model.fit(X_train, y_train, seed=0, validation_data=(X_val, y_val), **tune.fit_options(config))
    return model


def train_padded(group, where=None):
    population = populations.build_population(group, 2, 1, dtype="float64", **(where or {}))
    population.fit(X_train, y_train, loss="binary_cross_entropy", optimizer=trials.build_optimizer(group),
                   batch_size=32, epochs=4, seed=0, validation_data=(X_val, y_val),
                   l2=trials.per_model(group, "l2"))
    return population


def assert_same_model(a, b, rtol=1e-9):
    wa, wb = a.get_weights(), b.get_weights()
    assert {name: value.shape for name, value in wa.items()} == {name: value.shape for name, value in wb.items()}
    for name in wa:
        np.testing.assert_allclose(wa[name], wb[name], rtol=rtol, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "momentum", "rmsprop"])
def test_a_padded_member_trains_exactly_as_alone(cpu_where, optimizer):
    group = configs(optimizer=optimizer)
    population = train_padded(group, cpu_where)
    assert [type(layer).__name__ for layer in population.layers].count("UnitMask") == 2
    for index, config in enumerate(group):
        alone, taken = train_alone(config, cpu_where), populations.member(population, index)
        assert_same_model(taken, alone)
        assert taken.optimizer.t == alone.optimizer.t and taken.epoch == alone.epoch == 4
        np.testing.assert_allclose(taken.optimizer.state_dict()["s" if optimizer == "rmsprop" else "v"],
                                   alone.optimizer.state_dict()["s" if optimizer == "rmsprop" else "v"],
                                   rtol=1e-9, atol=1e-15)
        for key in ("loss", "l2_penalty", "val_loss"):
            np.testing.assert_allclose(taken.history[key], alone.history[key], rtol=1e-9)
        np.testing.assert_allclose(taken.predict(X_val), alone.predict(X_val), rtol=1e-9)
        taken.fit(X_train, y_train, epochs=1)  # goes on like the model trained alone
        alone.fit(X_train, y_train, epochs=1)
        assert_same_model(taken, alone)


def test_padding_stays_exactly_zero_with_dropout_and_batchnorm():
    group = configs(dropout=0.3, activation="relu")
    population = train_padded(group)
    weights = population.get_weights()
    for index, (first, second) in enumerate(WIDTHS):
        assert not weights["0.W"][index][:, first:].any() and not weights["5.W"][index][first:, :].any()
        assert not weights["5.W"][index][:, second:].any() and not weights["10.W"][index][second:, :].any()
        assert not weights["1.gamma"][index][first:].any() and not weights["1.beta"][index][first:].any()
    for moment in ("v", "s"):
        padded = population.param_layout.unpack(population.optimizer.state_dict()[moment])
        assert not padded["0.W"][0][:, 3:].any()


def test_select_keeps_a_smaller_population_with_only_the_padding_it_needs():
    population = train_padded(configs())
    pair = populations.select(population, [2, 0])
    assert pair.population == 2 and pair.layers[0].units == 8 and pair.optimizer.lr == [0.03, 0.01]
    np.testing.assert_allclose(pair.predict(X_val)[0], population.predict(X_val)[2], rtol=1e-12)
    alike = populations.select(population, [1])
    assert not any(type(layer).__name__ == "UnitMask" for layer in alike.layers)
    assert alike.layers[0].units == 5 and alike.history["loss"][-1] == [population.history["loss"][-1][1]]
    with pytest.raises(ValueError, match="indices must name models 0..2"):
        populations.select(population, [3])
    with pytest.raises(ValueError, match="this model is a single one"):
        populations.member(populations.member(population, 0), 0)


def test_a_padded_population_saves_and_pickles(tmp_path):
    import pickle

    population = train_padded(configs())
    twin = pickle.loads(pickle.dumps(population))
    np.testing.assert_array_equal(twin.predict(X_val), population.predict(X_val))
    xn.save(populations.member(population, 1), tmp_path / "member.npz")
    np.testing.assert_array_equal(xn.load(tmp_path / "member.npz").predict(X_val),
                                  populations.member(population, 1).predict(X_val))


def test_a_search_over_widths_trains_together_and_keeps_each_trained_model():
    problem = tune.Problem(X_train, y_train, X_val, y_val, "binary_cross_entropy", 1, dtype="float64")
    space = {"units": tune.IntUniform(16, 256), "lr": tune.LogUniform(1e-3, 1e-1)}
    configs_ = [trials.complete(params, {"epochs": 2}) for params in tune.sample(space, 32, seed=0)]
    units = [config["units"] for config in configs_]
    assert len(tune.runner.group_by_shape(list(enumerate(configs_)), "none")) == len(set(units)) >= 28
    buckets = tune.runner.group_by_shape(list(enumerate(configs_)), "buckets")
    assert len(buckets) == len({math.ceil(math.log2(u)) for u in units}) <= 5
    assert all(max(c["units"] for _, c in group) <= 2 * min(c["units"] for _, c in group) for group in buckets)
    assert len(tune.runner.group_by_shape(list(enumerate(configs_)), "widest")) == 1
    together = tune.Results(tune.run(problem, configs_[:6], pad="widest"))
    apart = tune.Results(tune.run(problem, configs_[:6], pad="none"))
    for a, b in zip(together, apart):
        assert a.number == b.number and a.val_loss == pytest.approx(b.val_loss, rel=1e-9)
        assert_same_model(a.model(), b.model())
    best = together.best_model()
    assert best.layers[0].units == together.best.config["units"]
    assert best.evaluate(X_val, y_val)["loss"] == pytest.approx(together.best.val_loss, rel=1e-12)


def test_build_model_and_fit_options_rebuild_a_configuration():
    config = {"units": 6, "layers": 1, "optimizer": "momentum", "nesterov": True, "lr": 0.05, "l2": 0.01,
              "dropout": 0.1, "decay_rate": 0.5, "batch_size": 16, "epochs": 3}
    model = tune.build_model(config, 2, 1, loss="binary_cross_entropy")
    assert [type(layer).__name__ for layer in model.layers] == ["Dense", "ReLU", "Dropout", "Dense"]
    assert model.optimizer.nesterov and tune.fit_options(config) == {"batch_size": 16, "epochs": 3, "l2": 0.01}
    model.fit(X_train, y_train, **tune.fit_options(config))
    assert model.history["lr"] == pytest.approx([0.05, 0.05 / 1.5, 0.05 / 2])
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        tune.build_model({"width": 3}, 2, 1)
