"""Every kernel's forward and backward against torch autograd (float64), on every backend."""
import numpy as np
import pytest
import torch

import xpnet as xn
from xpnet import functional as F
from xpnet.losses import LOSSES

from conftest import assert_close
from oracle import ACTIVATIONS, gradients, loss_value

RTOL = 1e-6
rng = np.random.default_rng(0)


@pytest.fixture
def be(where):
    return xn.resolve_backend(dtype="float64", **where)


def test_dense_matches_autograd(be):
    X, W, b = rng.standard_normal((7, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    value, (dX, dW, db), upstream = gradients(lambda X, W, b: X @ W + b, X, W, b)
    xp = be.xp
    Z = F.dense_forward(xp, be.asarray(X), be.asarray(W), be.asarray(b))
    got_dX, got_dW, got_db = F.dense_backward(xp, be.asarray(upstream), be.asarray(X), be.asarray(W))
    for got, want in ((Z, value), (got_dX, dX), (got_dW, dW), (got_db, db)):
        assert_close(got, want, rtol=RTOL)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_autograd(be, name):
    Z = rng.standard_normal((6, 4)) * 3
    value, (dZ,), upstream = gradients(ACTIVATIONS[name], Z)
    layer = getattr(xn, name)()
    layer.bind(be, {}, {}, {})
    A = layer.forward(be.asarray(Z), training=True)
    assert_close(A, value, rtol=RTOL)
    assert_close(layer.backward(be.asarray(upstream)), dZ, rtol=RTOL)


def _targets(name, m, k):
    if name == "binary_cross_entropy":
        return (rng.random((m, k)) > 0.5).astype(float)
    if name == "softmax_cross_entropy":
        return np.eye(k)[rng.integers(0, k, m)]
    return rng.standard_normal((m, k))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_autograd(be, name):
    Z = rng.standard_normal((8, 3)) * 4
    Y = _targets(name, 8, 3)
    value, (dZ,), upstream = gradients(lambda Z: loss_value(name, Z, torch.from_numpy(Y)), Z)
    cost, got_dZ = LOSSES[name]().value_and_grad(be.xp, be.asarray(Z), be.asarray(Y))
    assert_close(cost, value, rtol=RTOL)
    assert_close(got_dZ * float(upstream), dZ, rtol=RTOL)  # the oracle scales by its upstream


def test_binary_cross_entropy_is_stable_for_large_logits(be):
    Z = np.array([[80.0], [-80.0], [0.0]])
    Y = np.array([[1.0], [0.0], [1.0]])
    cost, dZ = LOSSES["binary_cross_entropy"]().value_and_grad(be.xp, be.asarray(Z), be.asarray(Y))
    assert np.isfinite(xn.to_numpy(cost)) and np.all(np.isfinite(xn.to_numpy(dZ)))
    assert_close(cost, np.log(2) / 3, rtol=1e-12)


def test_dropout_backward_uses_the_forward_mask(be):
    A = rng.standard_normal((50, 20))
    layer = xn.Dropout(rate=0.3)
    layer.bind(be, {}, {}, {})
    out = layer.forward(be.asarray(A), training=True)
    mask = xn.to_numpy(layer.mask)
    value, (dA,), upstream = gradients(lambda A: A * torch.from_numpy(mask), A)
    assert_close(out, value, rtol=RTOL)
    assert_close(layer.backward(be.asarray(upstream)), dA, rtol=RTOL)
    assert set(np.unique(mask)) <= {0.0, 1 / 0.7}
