"""Whole-network gradients (back-propagation through every layer and loss) against torch autograd."""
import numpy as np
import pytest

import xpnet as xn
from xpnet.losses import get_loss

from conftest import assert_close
from oracle import loss_value, tensor, torch_network

ACTIVATION_LAYERS = [xn.ReLU, xn.LeakyReLU, xn.Tanh, xn.Sigmoid]


def _problem(loss, m=16, n=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, n))
    if loss == "binary_cross_entropy":
        return X, (rng.random((m, 1)) > 0.5).astype(float), 1
    if loss == "softmax_cross_entropy":
        return X, np.eye(k)[rng.integers(0, k, m)], k
    return X, rng.standard_normal((m, k)), k


def oracle_gradients(model, X, Y, loss, l2=0.0):
    """Cost and d cost / d params computed by torch autograd on the model's current weights."""
    params = {name: tensor(value, grad=True) for name, value in model._params.to_host().items()}
    forward = torch_network(model)
    cost = loss_value(loss, forward(tensor(X), params), tensor(Y))
    weights = [p for name, p in params.items() if name.endswith(".W")]
    cost = cost + l2 / (2 * X.shape[0]) * sum((W ** 2).sum() for W in weights)
    cost.backward()
    return cost.item(), {name: p.grad.numpy() for name, p in params.items()}


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "softmax_cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ACTIVATION_LAYERS, ids=lambda cls: cls.__name__)
def test_network_gradients_match_autograd(where, loss, activation):
    X, Y, k = _problem(loss)
    model = xn.Sequential([xn.Dense(7), activation(), xn.Dense(4), activation(), xn.Dense(k)],
                          input_dim=5, dtype="float64", seed=3, **where)
    cost, penalty, _ = model.loss_and_gradients(model.backend.asarray(X), model.backend.asarray(Y),
                                                get_loss(loss))
    expected_cost, expected = oracle_gradients(model, X, Y, loss)
    assert float(cost) == pytest.approx(expected_cost, rel=1e-10)
    for name, grad in expected.items():
        assert_close(model.grads[name], grad, rtol=1e-6, atol=1e-12)


def test_input_gradient_matches_autograd(where):
    X, Y, k = _problem("softmax_cross_entropy")
    model = xn.Sequential([xn.Dense(6), xn.Tanh(), xn.Dense(k)], input_dim=5, dtype="float64", **where)
    be = model.backend
    logits = model.forward(be.asarray(X), training=True)
    _, grad = get_loss("softmax_cross_entropy").value_and_grad(be.xp, logits, be.asarray(Y))
    dX = model.backward(grad)
    X_t = tensor(X, grad=True)
    params = {name: tensor(value) for name, value in model._params.to_host().items()}
    loss_value("softmax_cross_entropy", torch_network(model)(X_t, params), tensor(Y)).backward()
    assert_close(dX, X_t.grad.numpy(), rtol=1e-6, atol=1e-14)
