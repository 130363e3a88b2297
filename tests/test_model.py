"""Whole-network gradients (back-propagation through every layer and loss) against torch autograd."""
import copy
import threading

import numpy as np
import pytest

import xpnet as xn
from xpnet.nn.losses import get_loss
from xpnet.training.regularization import L2
from xpnet.training.step import loss_and_gradients

import oracle
import support

ACTIVATION_LAYERS = [xn.ReLU, xn.LeakyReLU, xn.Tanh, xn.Sigmoid]


@pytest.mark.parametrize("loss", ["binary_cross_entropy", "softmax_cross_entropy", "mse"])
@pytest.mark.parametrize("activation", ACTIVATION_LAYERS, ids=lambda cls: cls.__name__)
def test_network_gradients_match_autograd(where, loss, activation):
    X, Y, k = oracle.problem(loss)
    model = xn.Sequential([xn.Dense(7), activation(), xn.Dense(4), activation(), xn.Dense(k)],
                          input_dim=5, dtype="float64", seed=3, **where)
    cost, _, _ = loss_and_gradients(model, model.backend.asarray(X), model.backend.asarray(Y), get_loss(loss),
                                    L2(0.0, model.backend, model.lead))
    expected_cost, expected = oracle.network_gradients(model, X, Y, loss)
    assert float(cost) == pytest.approx(expected_cost, rel=1e-10)
    for name, grad in expected.items():
        support.assert_close(model.grads[name], grad, rtol=1e-6, atol=1e-12)


def test_input_gradient_matches_autograd(where):
    X, Y, k = oracle.problem("softmax_cross_entropy")
    model = xn.Sequential([xn.Dense(6), xn.Tanh(), xn.Dense(k)], input_dim=5, dtype="float64", **where)
    be = model.backend
    logits = model.forward(be.asarray(X), training=True)
    _, grad = get_loss("softmax_cross_entropy").value_and_grad(be.kernels, logits, be.asarray(Y))
    dX = model.backward(grad)
    X_t = oracle.tensor(X, grad=True)
    params = {name: oracle.tensor(value) for name, value in model.param_buffer.to_host().items()}
    oracle.loss_value("softmax_cross_entropy", oracle.torch_network(model)(X_t, params), oracle.tensor(Y)).backward()
    support.assert_close(dX, X_t.grad.numpy(), rtol=1e-6, atol=1e-14)


def test_a_population_with_one_seed_per_model_trains_on_every_backend_without_a_fit_seed(cpu_where):
    X, y = np.random.default_rng(0).standard_normal((30, 4)), np.arange(30) % 2
    model = xn.Sequential([xn.Dense(3), xn.ReLU(), xn.Dense(1)], input_dim=4, population=2, seed=[0, 1],
                          **cpu_where)
    model.fit(X, y, loss="binary_cross_entropy", epochs=2)
    model.to("cpu", backend=cpu_where["backend"])
    model.fit(X, y, epochs=1)
    assert model.epoch == 3


@pytest.mark.parametrize("seed", [-1, 1.5, "a", [0, "b"]])
def test_seeds_must_be_ints(seed):
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        xn.Sequential([xn.Dense(2)], input_dim=3, seed=seed, population=2 if isinstance(seed, list) else None)


def test_a_layer_belongs_to_one_model():
    shared = xn.Dense(4)
    first = xn.Sequential([shared, xn.ReLU(), xn.Dense(2)], input_dim=3)
    with pytest.raises(ValueError, match=r"Dense\(units=4.*already belongs to another model"):
        xn.Sequential([shared, xn.Dense(2)], input_dim=3)
    assert first.params["0.W"] is shared.params["W"]
    copied = xn.Sequential([copy.deepcopy(shared), xn.Dense(2)], input_dim=3)  # an unbound copy is fine
    assert copied.params["0.W"].shape == (3, 4)
    first.to("cpu")  # moving the model rebinds its own layers
    assert first.clone().layers[0] is not shared


def test_every_model_has_metadata():
    assert xn.Sequential([xn.Dense(2)], input_dim=3).metadata == {}


def test_predicting_from_another_thread_leaves_training_alone():
    """predict works in buffers of its own: a fit with predictions running alongside ends with exactly
    the weights of a fit without them."""
    X, y = np.random.default_rng(1).standard_normal((400, 6)), np.arange(400) % 3

    def model():
        return xn.Sequential([xn.Dense(32), xn.ReLU(), xn.Dropout(0.2), xn.Dense(3)], input_dim=6, seed=4)

    alone = model()
    alone.fit(X, y, loss="softmax_cross_entropy", batch_size=16, epochs=4, seed=0)
    busy = model()
    busy.loss = alone.loss
    stop, predictions = threading.Event(), []

    def keep_predicting():
        while not stop.is_set():
            predictions.append(busy.predict(X[:50]))

    worker = threading.Thread(target=keep_predicting)
    worker.start()
    try:
        busy.fit(X, y, loss="softmax_cross_entropy", batch_size=16, epochs=4, seed=0)
    finally:
        stop.set()
        worker.join()
    assert predictions and all(p.shape == (50, 3) for p in predictions)
    for name, value in alone.get_weights().items():
        np.testing.assert_array_equal(busy.get_weights()[name], value, err_msg=name)
