"""pickle and copy.deepcopy of models, populations and optimizers, on every CPU backend."""
import copy
import pickle

import numpy as np
import pytest

import xpnet as xn

X = np.random.default_rng(0).standard_normal((40, 3))
y = (X[:, 0] - X[:, 1] > 0).astype(float)

OPTIMIZERS = [lambda: xn.SGD(0.1), lambda: xn.Momentum(0.05, nesterov=True), lambda: xn.RMSprop(0.01),
              lambda: xn.Adam(0.01), lambda: xn.AdamW(xn.schedules.InverseTimeDecay(0.01, 0.5))]


def round_trip(value, how):
    return pickle.loads(pickle.dumps(value)) if how == "pickle" else copy.deepcopy(value)


def network(where, population=None):
    seed = [4, 5, 6] if population else 4
    dropout = [0.0, 0.2, 0.4] if population else 0.2
    return xn.Sequential([xn.Dense(5), xn.BatchNorm(), xn.Tanh(), xn.Dropout(dropout), xn.Dense(1)], input_dim=3,
                         dtype="float64", seed=seed, population=population, **where)


def train(model, optimizer=None, epochs=2):
    model.fit(X, y, loss="binary_cross_entropy", optimizer=optimizer, batch_size=16, epochs=epochs, l2=0.01)
    return model


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert wa.keys() == wb.keys()
    for name in wa:
        np.testing.assert_array_equal(wa[name], wb[name], err_msg=name)


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
@pytest.mark.parametrize("make", OPTIMIZERS, ids=["sgd", "momentum", "rmsprop", "adam", "adamw-schedule"])
def test_an_optimizer_copy_continues_training_exactly(cpu_where, how, make):
    model = train(network(cpu_where), make())
    twin_model, twin_optimizer = round_trip(model, how), round_trip(model.optimizer, how)
    assert twin_optimizer is not model.optimizer and twin_optimizer.bound is None
    assert twin_optimizer.t == model.optimizer.t and repr(twin_optimizer) == repr(model.optimizer)
    train(twin_model, twin_optimizer)  # bound again: the moments and t come back on this backend
    train(model)
    assert twin_model.optimizer is twin_optimizer and twin_optimizer.t == model.optimizer.t
    assert_same_weights(twin_model, model)
    np.testing.assert_array_equal(twin_model.predict(X), model.predict(X))


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_population_round_trips_with_its_frozen_members(cpu_where, how):
    population = train(network(cpu_where, population=3), xn.Adam([0.01, 0.02, 0.03]))
    population.optimizer.freeze([False, True, False])
    population.alive = np.array([True, False, True])
    twin = round_trip(population, how)
    assert twin.population == 3 and twin.backend.name == population.backend.name
    np.testing.assert_array_equal(twin.predict(X), population.predict(X))
    np.testing.assert_array_equal(twin.optimizer.frozen, [False, True, False])
    np.testing.assert_array_equal(twin.alive, [True, False, True])
    train(twin)
    train(population)
    assert_same_weights(twin, population)
    np.testing.assert_array_equal(twin.history.member(1)["loss"], population.history.member(1)["loss"])


def test_an_unbound_optimizer_and_a_mismatched_binding(cpu_where):
    fresh = round_trip(xn.Adam(0.01, beta1=[0.8, 0.9]), "pickle")
    assert fresh.beta1 == [0.8, 0.9] and fresh.t == 0
    model = train(network(cpu_where), xn.Adam(0.01))
    stranger = xn.Sequential([xn.Dense(2), xn.Dense(1)], input_dim=3, **cpu_where)
    with pytest.raises(ValueError, match="bind it to the model it was trained with"):
        stranger.fit(X, y, loss="binary_cross_entropy", optimizer=round_trip(model.optimizer, "pickle"))


def test_an_optimizer_with_a_plain_function_as_rate_cannot_be_pickled():
    with pytest.raises(TypeError, match="plain function cannot be saved"):
        pickle.dumps(xn.SGD(lambda epoch: 0.1))


def test_a_model_never_fitted_predicts_with_the_loss_given_at_construction(cpu_where, tmp_path):
    model = xn.Sequential([xn.Dense(2)], input_dim=3, loss="softmax_cross_entropy", **cpu_where)
    assert model.loss.name == "softmax_cross_entropy"
    probabilities = model.predict(X)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    xn.save(model, tmp_path / "never-fitted.npz")
    loaded = xn.load(tmp_path / "never-fitted.npz")
    np.testing.assert_array_equal(loaded.predict(X), probabilities)
    np.testing.assert_array_equal(round_trip(model, "pickle").predict_classes(X), model.predict_classes(X))
    with pytest.raises(ValueError, match="loss must be one of"):
        xn.Sequential([xn.Dense(2)], input_dim=3, loss="hinge")
