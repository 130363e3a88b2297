"""A population of stacked models trains exactly like the same models trained one by one."""
import numpy as np
import pytest

import xpnet as xn
from xpnet.params import Workspace

rng = np.random.default_rng(0)
X = rng.standard_normal((90, 4))
y = (X[:, 0] * X[:, 1] + X[:, 2] > 0).astype(float)
SEEDS = [3, 1, 4]


def layers(dropout=None, batchnorm=False):
    hidden = [xn.Dense(8)] + ([xn.BatchNorm()] if batchnorm else []) + [xn.Tanh()]
    return hidden + ([xn.Dropout(dropout)] if dropout is not None else []) + [xn.Dense(6), xn.ReLU(), xn.Dense(1)]


def separate(make_optimizer, index, l2=0.0, where=None, **options):
    model = xn.Sequential(layers(**options), input_dim=4, dtype="float64", seed=SEEDS[index], **(where or {}))
    model.fit(X, y, loss="binary_cross_entropy", optimizer=make_optimizer(index), batch_size=32, epochs=4,
              seed=9, l2=l2)
    return model


def together(optimizer, l2=0.0, where=None, **options):
    model = xn.Sequential(layers(**options), input_dim=4, dtype="float64", seed=SEEDS, population=3,
                          **(where or {}))
    model.fit(X, y, loss="binary_cross_entropy", optimizer=optimizer, batch_size=32, epochs=4, seed=9, l2=l2)
    return model


def assert_members_equal(population, singles, rtol=1e-6):
    stacked = population.get_weights()
    for index, single in enumerate(singles):
        for name, value in single.get_weights().items():
            np.testing.assert_allclose(stacked[name][index], value, rtol=rtol, atol=1e-12)


def test_identical_hyperparameters_equal_separate_runs(cpu_where):
    population = together(xn.Adam(0.01), where=cpu_where)
    singles = [separate(lambda i: xn.Adam(0.01), i, where=cpu_where) for i in range(3)]
    assert_members_equal(population, singles)
    history = population.history.member(1)
    np.testing.assert_allclose(history["loss"], singles[1].history["loss"], rtol=1e-6)


def test_per_model_learning_rates_betas_l2_and_batchnorm():
    rates, beta1, l2 = [0.001, 0.01, 0.1], [0.8, 0.9, 0.95], [0.0, 0.5, 2.0]
    population = together(xn.Adam(rates, beta1=beta1), l2=l2, batchnorm=True)
    singles = [separate(lambda i: xn.Adam(rates[i], beta1=beta1[i]), i, l2=l2[i], batchnorm=True)
               for i in range(3)]
    assert_members_equal(population, singles)
    np.testing.assert_allclose(population.history["l2_penalty"][-1],
                               [s.history["l2_penalty"][-1] for s in singles], rtol=1e-6)


@pytest.mark.parametrize("make", [lambda lr: xn.SGD(lr), lambda lr: xn.Momentum(lr, beta=[0.5, 0.9, 0.99]),
                                  lambda lr: xn.RMSprop(lr), lambda lr: xn.AdamW(lr, weight_decay=[0, 0.1, 1.0])],
                         ids=["sgd", "momentum", "rmsprop", "adamw"])
def test_every_optimizer_with_per_model_rates(make):
    rates = [0.003, 0.03, 0.3]
    population = together(make(rates))
    reference = make(rates)

    def single_optimizer(i):
        config = reference.get_config()
        config = {key: (value[i] if isinstance(value, list) else value) for key, value in config.items()}
        return type(reference)(**config)

    assert_members_equal(population, [separate(single_optimizer, i) for i in range(3)])


def test_per_model_dropout_rates_and_init_scale():
    model = xn.Sequential(layers(dropout=[0.0, 0.5, 0.9]), input_dim=4, seed=[1, 1, 1], population=3,
                          init_scale=[1.0, 2.0, 0.5])
    W = model.get_weights()["0.W"]
    np.testing.assert_allclose(W[1], 2 * W[0], rtol=1e-6)
    np.testing.assert_allclose(W[2], 0.5 * W[0], rtol=1e-6)
    out = xn.to_numpy(model.layers[2].forward(model.backend.asarray(np.ones((3, 500, 8))), Workspace(model.backend),
                                                training=True))
    kept = (out > 0).mean(axis=(1, 2))
    np.testing.assert_allclose(kept, [1.0, 0.5, 0.1], atol=0.03)


def test_a_diverging_model_is_dropped_without_disturbing_the_rest():
    rates = [0.001, 10.0, 0.002]
    population = xn.Sequential(layers(), input_dim=4, dtype="float64", seed=SEEDS, population=3)
    with np.errstate(all="ignore"):
        population.fit(X * 100, y, loss="mse", optimizer=xn.SGD(rates), batch_size=32, epochs=4, seed=9)
    assert population.alive.tolist() == [True, False, True]
    assert np.isnan(population.history["loss"][-1][1])
    assert np.all(np.isfinite(population.get_weights()["0.W"]))
    for index in (0, 2):
        model = xn.Sequential(layers(), input_dim=4, dtype="float64", seed=SEEDS[index])
        model.fit(X * 100, y, loss="mse", optimizer=xn.SGD(rates[index]), batch_size=32, epochs=4, seed=9)
        for name, value in model.get_weights().items():
            np.testing.assert_allclose(population.get_weights()[name][index], value, rtol=1e-6, atol=1e-12)


def test_population_evaluate_and_predict_per_model():
    population = together(xn.Adam([0.001, 0.01, 0.1]))
    scores = population.evaluate(X, y)
    assert scores["accuracy"].shape == (3,) and population.predict(X).shape == (3, 90, 1)


def test_population_arguments_are_checked():
    with pytest.raises(ValueError, match="seed has 2 values; a population of 3 models needs one each"):
        xn.Sequential(layers(), input_dim=4, seed=[1, 2], population=3)
    with pytest.raises(ValueError, match="population must be a positive int"):
        xn.Sequential(layers(), input_dim=4, population=0)
    with pytest.raises(ValueError, match="lr has 2 values, one per model, which needs a population model"):
        xn.Sequential(layers(), input_dim=4).fit(X, y, loss="binary_cross_entropy", optimizer=xn.SGD([0.1, 0.2]))
