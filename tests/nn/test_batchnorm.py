"""Batch normalization against torch.nn.BatchNorm1d, and where it visibly helps."""
import warnings

import numpy as np
import pytest
import torch

import xpnet as xn

import support

rng = np.random.default_rng(0)


def torch_batchnorm(features, eps, momentum):
    """torch's BatchNorm1d with our convention translated: its momentum weighs the NEW value."""
    layer = torch.nn.BatchNorm1d(features, eps=eps, momentum=1.0 - momentum).double()
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(rng.uniform(0.5, 1.5, features)))
        layer.bias.copy_(torch.from_numpy(rng.standard_normal(features)))
    return layer


def test_matches_torch_batchnorm1d(where):
    features, eps, momentum = 4, 1e-3, 0.8
    reference = torch_batchnorm(features, eps, momentum)
    layer = xn.BatchNorm(eps=eps, momentum=momentum)
    model = xn.Sequential([layer], input_dim=features, dtype="float64", **where)
    model.set_weights({"0.gamma": reference.weight.detach().numpy(), "0.beta": reference.bias.detach().numpy()})
    be = model.backend
    for _ in range(4):
        Z = rng.standard_normal((16, features)) * 3 + 2
        upstream = rng.standard_normal((16, features))
        Z_t = torch.tensor(Z, requires_grad=True)
        reference.zero_grad()
        out_t = reference.train()(Z_t)
        (out_t * torch.from_numpy(upstream)).sum().backward()
        out = model.forward(be.asarray(Z), training=True)
        dZ = model.backward(be.asarray(upstream))
        support.assert_close(out, out_t.detach().numpy(), rtol=1e-9, atol=1e-12)
        support.assert_close(dZ, Z_t.grad.numpy(), rtol=1e-9, atol=1e-12)
        support.assert_close(model.grads["0.gamma"], reference.weight.grad.numpy(), rtol=1e-9)
        support.assert_close(model.grads["0.beta"], reference.bias.grad.numpy(), rtol=1e-9)
    support.assert_close(model.state["0.running_mean"], reference.running_mean.numpy(), rtol=1e-9)
    support.assert_close(model.state["0.running_var"], reference.running_var.numpy(), rtol=1e-9)
    Z = rng.standard_normal((5, features))
    expected = reference.eval()(torch.from_numpy(Z)).detach().numpy()
    support.assert_close(model.forward(be.asarray(Z), training=False), expected, rtol=1e-9, atol=1e-12)


def test_evaluation_uses_running_statistics_not_the_batch():
    model = xn.Sequential([xn.BatchNorm()], input_dim=3, dtype="float64")
    Z = rng.standard_normal((10, 3)) * 5 + 7
    np.testing.assert_allclose(model.forward(Z, training=False), Z / np.sqrt(1 + 1e-5))
    single = model.forward(Z[:1], training=False)  # one example is fine outside training
    np.testing.assert_allclose(single, Z[:1] / np.sqrt(1 + 1e-5))


def test_a_training_batch_of_one_is_an_error():
    model = xn.Sequential([xn.Dense(3), xn.BatchNorm(), xn.ReLU(), xn.Dense(2)], input_dim=2)
    with pytest.raises(ValueError, match="BatchNorm needs at least 2 examples per training batch, got a batch of 1"):
        model.forward(np.zeros((1, 2)), training=True)
    with pytest.raises(ValueError, match=r"batch_size gives a training batch of 1 example \(batch 3 of 3\)"):
        model.fit(np.zeros((5, 2)), [0, 1, 0, 1, 0], loss="softmax_cross_entropy", batch_size=2)


def test_dense_before_batchnorm_drops_its_bias():
    model = xn.Sequential([xn.Dense(3), xn.BatchNorm(), xn.ReLU(), xn.Dense(2)], input_dim=2)
    assert "0.b" not in model.params and "3.b" in model.params
    with pytest.warns(UserWarning, match="bias is cancelled"):
        model = xn.Sequential([xn.Dense(3, use_bias=True), xn.BatchNorm()], input_dim=2)
    assert "0.b" in model.params
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "0.b" not in xn.Sequential([xn.Dense(3, use_bias=False), xn.BatchNorm()], input_dim=2).params


def test_gamma_and_beta_are_trained_but_never_decayed():
    model = xn.Sequential([xn.Dense(6), xn.BatchNorm(), xn.ReLU(), xn.Dense(2)], input_dim=3, dtype="float64")
    assert model.param_layout.n_decayed == 3 * 6 + 6 * 2
    X, y = rng.standard_normal((32, 3)), rng.integers(0, 2, 32)
    before = model.get_weights()
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.AdamW(0.01, weight_decay=0.5), epochs=2,
              l2=0.3, batch_size=8)
    after = model.get_weights()
    assert not np.allclose(after["1.gamma"], before["1.gamma"])
    assert not np.allclose(after["1.beta"], before["1.beta"])


def deep_digits_network(batchnorm):
    layers = []
    for _ in range(10):
        layers += [xn.Dense(64)] + ([xn.BatchNorm()] if batchnorm else []) + [xn.ReLU()]
    return xn.Sequential(layers + [xn.Dense(10)], input_dim=64, seed=0)


def test_batchnorm_rescues_a_deep_network_at_a_high_learning_rate():
    # At lr 1.0 single runs are chaotic (5 epochs with batch norm: test accuracy 0.78-0.96 over seeds,
    # and BLAS builds differ in summation order), so the normalized network is judged by its mean over
    # three seeds; without batch norm every run stays near chance or diverges.
    X_train, y_train, X_test, y_test = xn.datasets.digits()
    plain = deep_digits_network(batchnorm=False)
    try:
        with np.errstate(all="ignore"):
            plain.fit(X_train, y_train, loss="softmax_cross_entropy", optimizer=xn.SGD(1.0), batch_size=64,
                      epochs=5, seed=0)
        plain_accuracy = plain.evaluate(X_test, y_test)["accuracy"]
    except xn.DivergenceError:
        plain_accuracy = 0.0
    normalized_accuracies = []
    for seed in range(3):
        normalized = deep_digits_network(batchnorm=True)
        normalized.fit(X_train, y_train, loss="softmax_cross_entropy", optimizer=xn.SGD(1.0), batch_size=64,
                       epochs=5, seed=seed)
        normalized_accuracies.append(normalized.evaluate(X_test, y_test)["accuracy"])
    assert plain_accuracy < 0.5, "without batch norm this setting should stall or diverge"
    assert np.mean(normalized_accuracies) >= 0.80, normalized_accuracies
