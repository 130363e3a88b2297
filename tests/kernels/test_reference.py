"""The reference kernels: every forward and backward against torch autograd (float64) on every backend,
stacked models against each model alone, and the ``out=`` convention."""
import numpy as np
import pytest
import torch

import xpnet as xn
from xpnet.kernels import OPS, reference
from xpnet.nn.losses import LOSSES

import oracle
import support

RTOL = 1e-6
ACTIVATIONS = {  # name -> (forward, backward, options, whether backward reads A instead of Z)
    "ReLU": ("relu", "relu_backward", {}, False),
    "LeakyReLU": ("leaky_relu", "leaky_relu_backward", {"alpha": 0.01}, False),
    "Tanh": ("tanh", "tanh_backward", {}, True),
    "Sigmoid": ("sigmoid", "sigmoid_backward", {}, True),
}


@pytest.fixture
def be(where):
    return xn.resolve_backend(dtype="float64", fast=False, **where)


def test_dense_matches_autograd(be, rng):
    X, W, b = rng.standard_normal((7, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    value, (dX, dW, db), upstream = oracle.gradients(lambda X, W, b: X @ W + b, X, W, b)
    k, dZ = be.kernels, be.asarray(upstream)
    support.assert_close(k.dense_forward(be.asarray(X), be.asarray(W), be.asarray(b)), value, rtol=RTOL)
    support.assert_close(k.input_grad(dZ, be.asarray(W)), dX, rtol=RTOL)
    support.assert_close(k.weight_grad(be.asarray(X), dZ), dW, rtol=RTOL)
    support.assert_close(k.bias_grad(dZ), db, rtol=RTOL)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_matches_autograd(be, rng, name):
    forward, backward, options, uses_output = ACTIVATIONS[name]
    Z = rng.standard_normal((6, 4)) * 3
    value, (dZ,), upstream = oracle.gradients(oracle.ACTIVATIONS[name], Z)
    A = getattr(be.kernels, forward)(be.asarray(Z), **options)
    support.assert_close(A, value, rtol=RTOL)
    got = getattr(be.kernels, backward)(be.asarray(upstream), A if uses_output else be.asarray(Z), **options)
    support.assert_close(got, dZ, rtol=RTOL)


@pytest.mark.parametrize("activation, alpha", [("relu", None), ("leaky_relu", 0.2)])
def test_fused_dense_activation_is_the_composition(be, rng, activation, alpha):
    options = {} if alpha is None else {"alpha": alpha}
    X, W, b, dA = (be.asarray(rng.standard_normal(shape)) for shape in ((6, 3), (3, 4), (4,), (6, 4)))
    k = be.kernels
    Z = k.dense_forward(X, W, b)
    A = getattr(k, f"dense_{activation}")(X, W, b, **options)
    support.assert_close(A, getattr(k, activation)(Z, **options))
    dZ, db = getattr(k, f"{activation}_bias_backward")(dA, A, **options)
    expected = getattr(k, f"{activation}_backward")(dA, Z, **options)
    support.assert_close(dZ, expected)
    support.assert_close(db, k.bias_grad(expected))
    dZ_only, none = getattr(k, f"{activation}_bias_backward")(dA, A, out=(be.empty((6, 4)), None), **options)
    assert none is None
    support.assert_close(dZ_only, expected)


def _targets(name, rng, m, k):
    if name == "binary_cross_entropy":
        return (rng.random((m, k)) > 0.5).astype(float)
    if name == "softmax_cross_entropy":
        return np.eye(k)[rng.integers(0, k, m)]
    return rng.standard_normal((m, k))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_autograd(be, rng, name):
    Z = rng.standard_normal((8, 3)) * 4
    Y = _targets(name, rng, 8, 3)
    value, (dZ,), upstream = oracle.gradients(lambda Z: oracle.loss_value(name, Z, torch.from_numpy(Y)), Z)
    cost, got_dZ = LOSSES[name]().value_and_grad(be.kernels, be.asarray(Z), be.asarray(Y))
    support.assert_close(cost, value, rtol=RTOL)
    support.assert_close(got_dZ * float(upstream), dZ, rtol=RTOL)  # the oracle scales by its upstream


def test_binary_cross_entropy_is_stable_for_large_logits(be):
    Z = np.array([[80.0], [-80.0], [0.0]])
    Y = np.array([[1.0], [0.0], [1.0]])
    cost, dZ = be.kernels.binary_cross_entropy(be.asarray(Z), be.asarray(Y))
    assert np.isfinite(support.host(cost)) and np.all(np.isfinite(support.host(dZ)))
    support.assert_close(cost, np.log(2) / 3, rtol=1e-12)


def test_dropout_forward_and_backward_use_one_mask(be, rng):
    A, U = rng.standard_normal((50, 20)), rng.random((50, 20))
    out, mask = be.kernels.dropout_forward(be.asarray(A), be.asarray(U), keep_prob=0.7)
    expected_mask = (U < 0.7) / 0.7
    support.assert_close(mask, expected_mask, rtol=1e-15)
    value, (dA,), upstream = oracle.gradients(lambda A: A * torch.from_numpy(expected_mask), A)
    support.assert_close(out, value, rtol=RTOL)
    support.assert_close(be.kernels.dropout(be.asarray(upstream), mask), dA, rtol=RTOL)


def test_batchnorm_matches_autograd(be, rng):
    Z, gamma, beta = rng.standard_normal((9, 4)) * 2 + 1, rng.random(4) + 0.5, rng.standard_normal(4)

    def torch_batchnorm(Z, gamma, beta):
        mean = Z.mean(dim=0, keepdim=True)
        var = ((Z - mean) ** 2).mean(dim=0, keepdim=True)
        return (Z - mean) / torch.sqrt(var + 1e-5) * gamma + beta

    value, (dZ, dgamma, dbeta), upstream = oracle.gradients(torch_batchnorm, Z, gamma, beta)
    k = be.kernels
    mean, var = k.batchnorm_statistics(be.asarray(Z))
    out, Z_hat, inv_std = k.batchnorm_forward(be.asarray(Z), mean, var, be.asarray(gamma), be.asarray(beta),
                                              eps=1e-5)
    support.assert_close(out, value, rtol=RTOL)
    for got, want in zip(k.batchnorm_backward(be.asarray(upstream), Z_hat, inv_std, be.asarray(gamma)),
                         (dZ, dgamma, dbeta)):
        support.assert_close(got, want, rtol=RTOL, atol=1e-12)


def test_l2_penalty_and_gradient_match_autograd(be, rng):
    W = rng.standard_normal((2, 12))
    l2 = np.array([0.3, 0.7])
    value, (dW,), upstream = oracle.gradients(lambda W: torch.from_numpy(l2) / (2 * 5) * (W * W).sum(dim=1), W)
    support.assert_close(be.kernels.l2_penalty(be.asarray(W), l2=be.asarray(l2), m=5), value, rtol=1e-12)
    grad = be.zeros((2, 12))
    be.kernels.add_l2_grad(grad, be.asarray(W), l2=be.asarray(l2.reshape(2, 1)), m=5)
    support.assert_close(grad * be.asarray(upstream.reshape(2, 1)), dW, rtol=1e-12)


def test_batchnorm_running_statistics_step_towards_the_unbiased_batch_values(be, rng):
    mean, var = rng.standard_normal((1, 3)), rng.random((1, 3)) + 0.5
    running_mean, running_var = be.asarray(np.zeros(3)), be.asarray(np.ones(3))
    be.kernels.batchnorm_running_update(running_mean, running_var, be.asarray(mean), be.asarray(var),
                                        momentum=0.8, m=5)
    support.assert_close(running_mean, 0.2 * mean[0], rtol=1e-12)
    support.assert_close(running_var, 0.8 + 0.2 * var[0] * 5 / 4, rtol=1e-12)


def test_adam_step_sizes_are_the_bias_corrections():
    step, root2 = reference.adam_step_sizes(0.01, 0.9, 0.999, 3)
    assert step == pytest.approx(0.01 / (1 - 0.9 ** 3), rel=1e-15)
    assert root2 == pytest.approx((1 - 0.999 ** 3) ** 0.5, rel=1e-15)
    per_model = reference.adam_step_sizes(np.array([0.01, 0.0]), np.array([0.9, 0.5]), 0.999, 1)
    np.testing.assert_allclose(per_model[0], [0.1, 0.0])


def test_ewa_update_in_place(be):
    average = be.zeros((3,))
    for theta in (40.0, 49.0, 45.0):
        be.kernels.ewa_update(average, be.asarray(np.full(3, theta)), beta=0.9)
    support.assert_close(average, np.full(3, 12.15), rtol=1e-12)


# Stacked models: a population's arrays carry a leading axis; each model's slice equals that model alone.

def _pair(rng, *shape):
    """Two independent draws and their stack ``(2, *shape)``."""
    a, b = rng.standard_normal(shape), rng.standard_normal(shape)
    return a, b, np.stack([a, b])


def test_dense_stacked(be, rng):
    k = be.kernels
    X, W, b, dZ = (tuple(be.asarray(v) for v in _pair(rng, *shape)) for shape in ((6, 4), (4, 3), (3,), (6, 3)))

    def run(i):
        return (k.dense_forward(X[i], W[i], b[i]), k.weight_grad(X[i], dZ[i]), k.bias_grad(dZ[i]),
                k.input_grad(dZ[i], W[i]))

    for i in range(2):
        for both, one in zip(run(2), run(i)):
            support.assert_close(both[i, ...], one, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_stacked(be, rng, name):
    forward, backward, options, uses_output = ACTIVATIONS[name]
    Z, dA = (tuple(be.asarray(v) for v in _pair(rng, 5, 4)) for _ in range(2))

    def run(i):
        A = getattr(be.kernels, forward)(Z[i], **options)
        return A, getattr(be.kernels, backward)(dA[i], A if uses_output else Z[i], **options)

    for i in range(2):
        for both, one in zip(run(2), run(i)):
            support.assert_close(both[i, ...], one, rtol=1e-12)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_stacked(be, rng, name):
    Z = _pair(rng, 7, 3)
    Y = np.stack([np.eye(3)[rng.integers(0, 3, 7)] for _ in range(2)])
    loss = LOSSES[name]()
    cost_both, dZ_both = loss.value_and_grad(be.kernels, be.asarray(Z[2]), be.asarray(Y))
    assert tuple(cost_both.shape) == (2,)
    for i in range(2):
        cost_one, dZ_one = loss.value_and_grad(be.kernels, be.asarray(Z[i]), be.asarray(Y[i]))
        support.assert_close(cost_both[i], cost_one, rtol=1e-12)
        support.assert_close(dZ_both[i, ...], dZ_one, rtol=1e-12)


def test_batchnorm_stacked(be, rng):
    k = be.kernels
    Z, dout, gamma, beta = (tuple(be.asarray(v) for v in _pair(rng, *shape))
                            for shape in ((8, 4), (8, 4), (4,), (4,)))

    def run(i):
        mean, var = k.batchnorm_statistics(Z[i])
        out, Z_hat, inv_std = k.batchnorm_forward(Z[i], mean, var, gamma[i], beta[i], eps=1e-5)
        return (out,) + k.batchnorm_backward(dout[i], Z_hat, inv_std, gamma[i])

    for i in range(2):
        for stacked, alone in zip(run(2), run(i)):
            support.assert_close(stacked[i, ...], alone, rtol=1e-10)


def test_dropout_mask_with_per_model_keep_prob(be, rng):
    uniform = be.asarray(rng.random((2, 1000, 8)))
    keep = be.asarray(np.array([0.5, 0.9]).reshape(2, 1, 1))
    mask = support.host(be.kernels.dropout_mask(uniform, keep_prob=keep))
    for i, keep_prob in enumerate((0.5, 0.9)):
        assert set(np.unique(mask[i])) == {0.0, 1 / keep_prob}
        assert abs((mask[i] > 0).mean() - keep_prob) < 0.03


# The out= convention.

def test_results_are_written_into_the_given_buffers(be, rng):
    k = be.kernels
    Z, Y = be.asarray(rng.standard_normal((5, 3))), be.asarray(np.eye(3)[[0, 1, 2, 0, 1]])
    A = be.empty((5, 3))
    assert k.relu(Z, out=A) is A
    support.assert_close(A, k.relu(Z))
    cost, dZ = be.empty(()), be.empty((5, 3))
    got = k.softmax_cross_entropy(Z, Y, out=(cost, dZ))
    assert got[0] is cost and got[1] is dZ
    for written, fresh in zip(got, k.softmax_cross_entropy(Z, Y)):
        support.assert_close(written, fresh)


def test_every_operation_is_a_reference_function_in_table_order():
    functions = [name for name, value in vars(reference).items()
                 if callable(value) and not name.startswith("_") and getattr(value, "__module__", "") ==
                 reference.__name__ and name not in ("bias_correction", "adam_step_sizes", "splitmix64")]
    assert list(OPS) == functions


# The random stream and the step program ---------------------------------------------------------

#: the first outputs of the reference SplitMix64 generator started from state 0
SPLITMIX64_FROM_ZERO = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


@pytest.fixture
def counter_backend(where):
    """The backends that draw with the counter-based stream (not NumPy's or torch's generators)."""
    if where["backend"] in ("numpy", "torch"):
        pytest.skip("draws with the backend's own generator")
    return xn.resolve_backend(dtype="float64", fast=False, **where)


def test_random_bits_are_splitmix64_and_the_counter_advances_separately(counter_backend):
    be = counter_backend
    counter = be.zeros((), dtype=be.xp.uint64)
    bits = be.kernels.random_bits(counter, key=0, out=be.empty((3,), be.xp.uint64))
    assert [int(value) for value in support.host(bits)] == SPLITMIX64_FROM_ZERO
    assert int(support.host(counter)) == 0
    be.kernels.increment(counter, by=2)
    single = be.kernels.random_uniform(counter, key=0, out=be.empty((1,), be.xp.float32))
    assert support.host(single)[0] == np.float32((SPLITMIX64_FROM_ZERO[2] >> 40) / 2 ** 24)


def test_gather_rows_takes_the_steps_batch_in_order(be, rng):
    X = rng.standard_normal((10, 3))
    order = rng.permutation(10)
    it = be.asarray(np.array(2), dtype=be.xp.int64)
    rows = be.kernels.gather_rows(be.asarray(X), be.asarray(order, dtype=be.xp.int64), it, stride=3,
                                  out=be.empty((3, 3)))
    support.assert_close(rows, X[order[6:9]], rtol=0)
    last = be.kernels.gather_rows(be.asarray(X), None, be.asarray(np.array(3), dtype=be.xp.int64), stride=3,
                                  out=be.empty((1, 3)))
    support.assert_close(last, X[9:10], rtol=0)


def test_select_and_record_read_and_write_the_steps_row(be, rng):
    table, it = rng.standard_normal((5, 2, 1)), be.asarray(np.array(3), dtype=be.xp.int64)
    support.assert_close(be.kernels.select_row(be.asarray(table), it, out=be.empty((2, 1))), table[3], rtol=0)
    series = be.zeros((5, 2))
    be.kernels.record_at(series, be.asarray(np.array([7.0, 8.0])), it)
    expected = np.zeros((5, 2))
    expected[3] = [7.0, 8.0]
    support.assert_close(series, expected, rtol=0)
