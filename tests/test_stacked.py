"""Kernels applied to two models stacked on a leading axis equal each model computed alone."""
import numpy as np
import pytest

import xpnet as xn
from xpnet import functional as F
from xpnet.losses import LOSSES

from conftest import assert_close

rng = np.random.default_rng(1)
ACTIVATIONS = {
    "relu": (F.relu, F.relu_backward, {}),
    "leaky_relu": (F.leaky_relu, F.leaky_relu_backward, {"alpha": 0.1}),
    "tanh": (F.tanh, F.tanh_backward, {}),
    "sigmoid": (F.sigmoid, F.sigmoid_backward, {}),
}


@pytest.fixture
def be(where):
    return xn.resolve_backend(dtype="float64", **where)


def _pair(*shape):
    """Two independent draws and their stack ``(2, *shape)``."""
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    return a, b, np.stack([a, b])


def test_dense_stacked(be):
    xp = be.xp
    X = _pair(6, 4)
    W = _pair(4, 3)
    b = _pair(3)
    dZ = _pair(6, 3)
    Z_both = F.dense_forward(xp, *(be.asarray(v[2]) for v in (X, W, b)))
    grads_both = F.dense_backward(xp, be.asarray(dZ[2]), be.asarray(X[2]), be.asarray(W[2]))
    for i in range(2):
        Z_one = F.dense_forward(xp, *(be.asarray(v[i]) for v in (X, W, b)))
        assert_close(Z_both[i, ...], Z_one, rtol=1e-12)
        grads_one = F.dense_backward(xp, be.asarray(dZ[i]), be.asarray(X[i]), be.asarray(W[i]))
        for both, one in zip(grads_both, grads_one):
            assert_close(both[i, ...], one, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_stacked(be, name):
    forward, backward, options = ACTIVATIONS[name]
    xp = be.xp
    Z, dA = _pair(5, 4), _pair(5, 4)
    A_both = forward(xp, be.asarray(Z[2]), **options)
    dZ_both = backward(xp, be.asarray(dA[2]), be.asarray(Z[2]), A_both, **options)
    for i in range(2):
        A_one = forward(xp, be.asarray(Z[i]), **options)
        assert_close(A_both[i, ...], A_one, rtol=1e-12)
        dZ_one = backward(xp, be.asarray(dA[i]), be.asarray(Z[i]), A_one, **options)
        assert_close(dZ_both[i, ...], dZ_one, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_stacked(be, name):
    Z = _pair(7, 3)
    Y = np.stack([np.eye(3)[rng.integers(0, 3, 7)] for _ in range(2)])
    loss = LOSSES[name]()
    cost_both, dZ_both = loss.value_and_grad(be.xp, be.asarray(Z[2]), be.asarray(Y))
    assert tuple(cost_both.shape) == (2,)
    for i in range(2):
        cost_one, dZ_one = loss.value_and_grad(be.xp, be.asarray(Z[i]), be.asarray(Y[i]))
        assert_close(cost_both[i], cost_one, rtol=1e-12)
        assert_close(dZ_both[i, ...], dZ_one, rtol=1e-12)


def test_batchnorm_stacked(be):
    xp = be.xp
    Z, dout, gamma, beta = _pair(8, 4), _pair(8, 4), _pair(4), _pair(4)

    def run(i):
        mean, var = F.batchnorm_statistics(xp, be.asarray(Z[i]))
        out, Z_hat, inv_std = F.batchnorm_forward(xp, be.asarray(Z[i]), mean, var, be.asarray(gamma[i]),
                                                  be.asarray(beta[i]), 1e-5)
        return (out,) + F.batchnorm_backward(xp, be.asarray(dout[i]), Z_hat, inv_std,
                                             be.asarray(gamma[i]))

    both = run(2)
    for i in range(2):
        for stacked, alone in zip(both, run(i)):
            assert_close(stacked[i, ...], alone, rtol=1e-10)


def test_dropout_mask_with_per_model_keep_prob(be):
    uniform = be.asarray(rng.random((2, 1000, 8)))
    keep = be.asarray(np.array([0.5, 0.9]).reshape(2, 1, 1))
    mask = xn.to_numpy(F.dropout_mask(be.xp, uniform, keep))
    for i, keep_prob in enumerate((0.5, 0.9)):
        assert set(np.unique(mask[i])) == {0.0, 1 / keep_prob}
        assert abs((mask[i] > 0).mean() - keep_prob) < 0.03
