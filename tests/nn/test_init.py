"""Initializers: their statistics match their formulas, and why initialization matters."""
import math

import numpy as np
import pytest

import xpnet as xn
from xpnet.nn import init

FAN_IN, FAN_OUT = 400, 300
#: name -> (expected variance, distribution)
EXPECTED = {
    "he": (2 / FAN_IN, "normal"),
    "he_normal": (2 / FAN_IN, "normal"),
    "he_uniform": (2 / FAN_IN, "uniform"),
    "xavier": (1 / FAN_IN, "normal"),
    "lecun": (1 / FAN_IN, "normal"),
    "glorot_normal": (2 / (FAN_IN + FAN_OUT), "normal"),
    "glorot_uniform": (2 / (FAN_IN + FAN_OUT), "uniform"),
    "normal": (0.01 ** 2, "normal"),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_initializer_statistics_match_formula(name):
    variance, distribution = EXPECTED[name]
    W = init.get_initializer(name)(np.random.default_rng(0), (FAN_IN, FAN_OUT))
    assert W.shape == (FAN_IN, FAN_OUT)
    assert abs(W.mean()) < 0.02 * math.sqrt(variance)
    assert W.var() == pytest.approx(variance, rel=0.03)
    if distribution == "uniform":
        assert np.abs(W).max() <= math.sqrt(3 * variance)
        assert np.abs(W).max() > 0.99 * math.sqrt(3 * variance)


def test_scale_multiplies_the_standard_deviation():
    W = init.normal(np.random.default_rng(0), (FAN_IN, FAN_OUT), scale=10.0)
    assert W.std() == pytest.approx(10.0, rel=0.02)
    W = init.he_normal(np.random.default_rng(0), (FAN_IN, FAN_OUT), scale=0.5)
    assert W.std() == pytest.approx(0.5 * math.sqrt(2 / FAN_IN), rel=0.02)


def test_zeros_and_callable_and_biases():
    model = xn.Sequential([xn.Dense(4, init="zeros"), xn.Dense(2, init=lambda rng, shape, scale: np.ones(shape))],
                          input_dim=3)
    params = model.get_weights()
    assert not params["0.W"].any() and not params["0.b"].any() and not params["1.b"].any()
    assert (params["1.W"] == 1).all()


def test_population_axes_get_independent_draws():
    W = init.he_normal(np.random.default_rng(0), (2, FAN_IN, FAN_OUT))
    assert not np.allclose(W[0], W[1])


def circles_network(init_name):
    return xn.Sequential([xn.Dense(10, init=init_name), xn.ReLU(), xn.Dense(5, init=init_name), xn.ReLU(),
                          xn.Dense(1, init=init_name)], input_dim=2, dtype="float64", seed=1)


@pytest.fixture(scope="module")
def circles():
    return xn.datasets.circles(n_samples=300, noise=0.05)


def test_zeros_never_break_symmetry(circles):
    X_train, y_train, _, _ = circles
    model = xn.Sequential([xn.Dense(6, init="zeros"), xn.Tanh(), xn.Dense(4, init="zeros"), xn.Tanh(),
                           xn.Dense(1, init="zeros")], input_dim=2, dtype="float64")
    model.fit(X_train, y_train, loss="binary_cross_entropy", optimizer=xn.SGD(0.5), batch_size=None,
              epochs=200)
    params = model.get_weights()
    for layer in ("0", "2"):
        W, b = params[f"{layer}.W"], params[f"{layer}.b"]
        assert np.all(W[:, :1] == W) and np.all(b == b[0]), f"hidden units of layer {layer} differ"
    assert abs(model.evaluate(X_train, y_train)["accuracy"] - 0.5) < 0.05


def test_he_beats_zeros_on_circles(circles):
    X_train, y_train, X_test, y_test = circles
    accuracy = {}
    for name in ("zeros", "he"):
        model = circles_network(name)
        model.fit(X_train, y_train, loss="binary_cross_entropy", optimizer=xn.SGD(0.1), batch_size=None,
                  epochs=1500)
        accuracy[name] = (model.evaluate(X_train, y_train)["accuracy"],
                          model.evaluate(X_test, y_test)["accuracy"])
    assert abs(accuracy["zeros"][0] - 0.5) < 0.05
    assert accuracy["he"][1] >= 0.95
