"""Gradient checking: passes for correct back-propagation, catches a planted bug."""
import numpy as np
import pytest

import xpnet as xn

import oracle

ARCHITECTURES = {
    "relu": lambda k: [xn.Dense(5), xn.ReLU(), xn.Dense(4), xn.ReLU(), xn.Dense(k)],
    "tanh-sigmoid": lambda k: [xn.Dense(5), xn.Tanh(), xn.Dense(4), xn.Sigmoid(), xn.Dense(k)],
    "leaky-dropout": lambda k: [xn.Dense(6), xn.LeakyReLU(0.1), xn.Dropout(0.3), xn.Dense(k)],
    "batchnorm": lambda k: [xn.Dense(5), xn.BatchNorm(), xn.ReLU(), xn.Dense(4), xn.BatchNorm(),
                            xn.Tanh(), xn.Dense(k)],
}


@pytest.mark.parametrize("l2", [0.0, 0.3])
@pytest.mark.parametrize("loss", ["binary_cross_entropy", "softmax_cross_entropy", "mse"])
@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_gradient_check_passes(where, architecture, loss, l2):
    X, Y, k = oracle.problem(loss, m=10)
    model = xn.Sequential(ARCHITECTURES[architecture](k), input_dim=5, dtype="float32", seed=1, **where)
    before = model.get_weights()
    report = xn.gradient_check(model, X, Y, loss=loss, l2=l2)
    assert report.passed, str(report)
    assert report.checked == model.count_params()
    assert set(report.per_parameter) == set(model.params)
    for name, value in before.items():  # the model itself is untouched, float32 and all
        np.testing.assert_array_equal(model.get_weights()[name], value)
    assert model.dtype == "float32"


class BrokenDense(xn.Dense):
    """A test double whose weight gradient is 10% too large."""

    def backward(self, dZ, workspace, need_dX=True):
        dX = super().backward(dZ, workspace, need_dX)
        self.grads["W"][...] = self.grads["W"] * 1.1
        return dX


def test_planted_bug_is_caught(where):
    X, Y, k = oracle.problem("softmax_cross_entropy", m=10)
    model = xn.Sequential([xn.Dense(5), xn.Tanh(), BrokenDense(4), xn.Tanh(), xn.Dense(k)], input_dim=5,
                          **where)
    report = xn.gradient_check(model, X, Y, loss="softmax_cross_entropy")
    assert not report.passed and report.difference > 1e-3
    assert report.per_parameter["2.W"] > 1e-3 and report.per_parameter["0.W"] < 1e-6
    assert report.worst[0][0] == "2.W"


def test_subset_of_parameters():
    X, Y, k = oracle.problem("softmax_cross_entropy", m=10)
    model = xn.Sequential([xn.Dense(50), xn.ReLU(), xn.Dense(k)], input_dim=5)
    report = xn.gradient_check(model, X, Y, loss="softmax_cross_entropy", max_params=40, seed=3)
    assert report.checked == 40 and report.passed
    assert "passed" in str(report)
