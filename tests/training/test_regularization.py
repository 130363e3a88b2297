"""L2 regularization and inverted dropout: exact math, and that they narrow the train/test gap."""
import numpy as np
import pytest

import xpnet as xn
from xpnet.nn.losses import get_loss
from xpnet.params import Workspace
from xpnet.training.regularization import L2
from xpnet.training.step import loss_and_gradients

import oracle
import support


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "softmax_cross_entropy", "mse"])
def test_l2_cost_and_gradients_match_autograd(where, loss):
    X, Y, k = oracle.problem(loss)
    model = xn.Sequential([xn.Dense(7), xn.ReLU(), xn.BatchNorm(), xn.Dense(4), xn.Tanh(), xn.Dense(k)],
                          input_dim=5, dtype="float64", seed=2, **where)
    cost, penalty, _ = loss_and_gradients(model, model.backend.asarray(X), model.backend.asarray(Y),
                                          get_loss(loss), L2(0.7, model.backend, model.lead))
    expected_cost, expected = oracle.network_gradients(model, X, Y, loss, l2=0.7)
    assert float(cost) + float(penalty) == pytest.approx(expected_cost, rel=1e-10)
    weights = [value for name, value in model.get_weights().items() if name.endswith(".W")]
    assert float(penalty) == pytest.approx(0.7 / (2 * 16) * sum((W ** 2).sum() for W in weights), rel=1e-12)
    for name, grad in expected.items():
        support.assert_close(model.grads[name], grad, rtol=1e-6, atol=1e-12)


def test_history_reports_data_cost_and_penalty_separately():
    X, Y, _ = oracle.problem("softmax_cross_entropy", m=64)
    model = xn.Sequential([xn.Dense(8), xn.ReLU(), xn.Dense(3)], input_dim=5, dtype="float64")
    initial = model.get_weights()
    data_cost = model.evaluate(X, Y, loss="softmax_cross_entropy")["loss"]
    history = model.fit(X, Y, loss="softmax_cross_entropy", optimizer=xn.SGD(0.1), batch_size=None,
                        epochs=1, l2=0.5)
    expected_penalty = 0.5 / (2 * 64) * sum((initial[name] ** 2).sum() for name in ("0.W", "2.W"))
    assert history["l2_penalty"][0] == pytest.approx(expected_penalty, rel=1e-12)
    assert history["loss"][0] == pytest.approx(data_cost, rel=1e-12)
    assert history.iteration_cost[0] == pytest.approx(data_cost + expected_penalty, rel=1e-12)


def overfitting_setup():
    """60 noisy training points, 1000 test points, a network far too large for them."""
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=1000, noise=0.35, random_state=0)
    return X[:60], y[:60], X[60:], y[60:]


def big_network(dropout=None):
    hidden = [xn.Dense(200), xn.ReLU()] + ([xn.Dropout(dropout)] if dropout else [])
    return xn.Sequential(hidden + [xn.Dense(200), xn.ReLU()] + ([xn.Dropout(dropout)] if dropout else []) +
                         [xn.Dense(1)], input_dim=2, dtype="float64", seed=0)


def train_gap(model, l2=0.0):
    X_train, y_train, X_test, y_test = overfitting_setup()
    model.fit(X_train, y_train, loss="binary_cross_entropy", optimizer=xn.Adam(0.01), batch_size=None,
              epochs=800, l2=l2)
    return model.evaluate(X_train, y_train)["accuracy"] - model.evaluate(X_test, y_test)["accuracy"], model


@pytest.fixture(scope="module")
def unregularized():
    return train_gap(big_network())


def test_l2_shrinks_weights_and_narrows_the_gap(unregularized):
    plain_gap, plain = unregularized
    gap, model = train_gap(big_network(), l2=1.0)

    def norm(m):
        return sum((v ** 2).sum() for k, v in m.get_weights().items() if k.endswith(".W"))

    assert norm(model) < 0.5 * norm(plain)
    assert plain_gap > 0.15 and gap < plain_gap - 0.04


def test_dropout_narrows_the_gap(unregularized):
    plain_gap, _ = unregularized
    gap, _ = train_gap(big_network(dropout=0.5))
    assert gap < plain_gap - 0.04


def test_dropout_keeps_the_expected_activation(where):
    be = xn.resolve_backend(dtype="float64", **where)
    layer = support.standalone(xn.Dropout(keep_prob=0.8), be, 50)
    A = be.asarray(np.full((2000, 50), 3.0))
    outputs = [xn.to_numpy(layer.forward(A, Workspace(be), training=True)) for _ in range(20)]
    assert np.mean([out.mean() for out in outputs]) == pytest.approx(3.0, rel=0.01)
    assert set(np.unique(outputs[0])) == {0.0, 3.0 / 0.8}
    assert not np.array_equal(outputs[0], outputs[1])  # a fresh mask each call


def test_dropout_is_the_identity_in_evaluation_and_predict_is_deterministic():
    X, Y, k = oracle.problem("softmax_cross_entropy")
    model = xn.Sequential([xn.Dense(20), xn.ReLU(), xn.Dropout(0.5), xn.Dense(k)], input_dim=5)
    model.fit(X, Y, loss="softmax_cross_entropy", epochs=1)
    without = xn.Sequential([xn.Dense(20), xn.ReLU(), xn.Dense(k)], input_dim=5)
    without.set_weights({"0.W": model.params["0.W"], "0.b": model.params["0.b"],
                        "2.W": model.params["3.W"], "2.b": model.params["3.b"]})
    without.loss = model.loss
    np.testing.assert_array_equal(model.predict(X), model.predict(X))
    np.testing.assert_allclose(model.predict(X), without.predict(X), rtol=1e-6)


def test_dropout_rate_and_keep_prob_spellings():
    assert xn.Dropout(rate=0.2).keep_prob == pytest.approx(0.8)
    assert xn.Dropout(keep_prob=0.8).rate == pytest.approx(0.2)
    with pytest.raises(ValueError, match="rate or keep_prob, not both"):
        xn.Dropout(rate=0.2, keep_prob=0.8)
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1\)"):
        xn.Dropout(rate=1.0)
