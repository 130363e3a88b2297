"""Sample and class weights: in the cost and its gradient (checked against torch autograd in float64),
"balanced" as scikit-learn computes it, and one reduction (the weighted sum divided by the number of
examples) in the cost, the gradient, evaluate and the History."""
import numpy as np
import pytest
import torch

import xpnet as xn
from xpnet.kernels import reference, reference_kernels
from xpnet.nn.losses import get_loss
from xpnet.training.regularization import L2
from xpnet.training.step import loss_and_gradients

import oracle

LOSSES = ["binary_cross_entropy", "softmax_cross_entropy", "mse"]


def weighted_torch_cost(name, Z, Y, w):
    """``sum_i w_i loss_i / m`` written with torch's per-example losses."""
    m = Z.shape[0]
    if name == "binary_cross_entropy":
        per_example = torch.nn.functional.binary_cross_entropy_with_logits(Z, Y, reduction="none").sum(dim=1)
    elif name == "softmax_cross_entropy":
        per_example = torch.nn.functional.cross_entropy(Z, Y.argmax(dim=1), reduction="none")
    else:
        per_example = torch.nn.functional.mse_loss(Z, Y, reduction="none").mean(dim=1)
    return (w[:, 0] * per_example).sum() / m


@pytest.mark.parametrize("name", LOSSES)
def test_weighted_loss_kernels_match_autograd(name):
    X, Y, k = oracle.problem(name, m=12)
    rng = np.random.default_rng(1)
    Z = rng.standard_normal((12, k)) * 2
    w = rng.uniform(0.0, 3.0, (12, 1))
    Z_t = oracle.tensor(Z, grad=True)
    expected = weighted_torch_cost(name, Z_t, oracle.tensor(Y), oracle.tensor(w))
    expected.backward()
    op = {"mse": "mean_squared_error"}.get(name, name)
    cost, dZ = getattr(reference, op)(np, Z, Y, w)
    np.testing.assert_allclose(cost, expected.item(), rtol=1e-12)
    np.testing.assert_allclose(dZ, Z_t.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", LOSSES)
def test_unit_weights_change_nothing_and_the_weighted_sum_is_divided_by_m(name):
    _, Y, k = oracle.problem(name, m=10)
    Z = np.random.default_rng(2).standard_normal((10, k))
    op = {"mse": "mean_squared_error"}.get(name, name)
    plain = getattr(reference, op)(np, Z, Y)
    ones = getattr(reference, op)(np, Z, Y, np.ones((10, 1)))
    np.testing.assert_array_equal(ones[0], plain[0])
    np.testing.assert_array_equal(ones[1], plain[1])
    twice = getattr(reference, op)(np, Z, Y, np.full((10, 1), 2.0))
    np.testing.assert_allclose(twice[0], 2 * plain[0], rtol=1e-14)  # not normalized by the weights' sum


def test_class_weights_are_pytorch_weights_summed_and_divided_by_m():
    """Our class weights, as sample weights, equal torch's weighted cross-entropy with reduction="sum"
    divided by m (PyTorch's "mean" divides by the sum of the weights instead)."""
    rng = np.random.default_rng(3)
    Z, labels = rng.standard_normal((20, 3)), rng.integers(0, 3, 20)
    class_weight = np.array([0.5, 2.0, 4.0])
    cost, _ = reference.softmax_cross_entropy(np, Z, np.eye(3)[labels], class_weight[labels][:, None])
    torch_sum = torch.nn.functional.cross_entropy(torch.tensor(Z), torch.tensor(labels),
                                                  weight=torch.tensor(class_weight), reduction="sum")
    np.testing.assert_allclose(cost, torch_sum.item() / 20, rtol=1e-12)


@pytest.mark.parametrize("name", LOSSES)
def test_network_gradients_with_sample_weights_match_autograd(name):
    X, Y, k = oracle.problem(name, m=16)
    w = np.random.default_rng(4).uniform(0.0, 2.0, (16, 1))
    model = xn.Sequential([xn.Dense(7), xn.Tanh(), xn.Dense(5), xn.ReLU(), xn.Dense(k)], input_dim=5,
                          dtype="float64", seed=2)
    l2 = L2(0.1, model.backend, model.lead)
    cost, penalty, _ = loss_and_gradients(model, model.backend.asarray(X), model.backend.asarray(Y),
                                          get_loss(name), l2, model.backend.asarray(w))
    params = {key: oracle.tensor(value, grad=True) for key, value in model.param_buffer.to_host().items()}
    expected = weighted_torch_cost(name, oracle.torch_network(model)(oracle.tensor(X), params), oracle.tensor(Y),
                                   oracle.tensor(w))
    expected = expected + 0.1 / 32 * sum((p ** 2).sum() for key, p in params.items() if key.endswith(".W"))
    expected.backward()
    np.testing.assert_allclose(float(cost) + float(penalty), expected.item(), rtol=1e-12)
    for key, p in params.items():
        np.testing.assert_allclose(xn.to_numpy(model.grads[key]), p.grad.numpy(), rtol=1e-10, atol=1e-14,
                                   err_msg=key)


def test_population_members_get_the_same_weights():
    X, Y, k = oracle.problem("softmax_cross_entropy", m=12)
    w = np.random.default_rng(5).uniform(0.0, 2.0, (12, 1))
    kernels = reference_kernels(np)
    Z = np.random.default_rng(6).standard_normal((3, 12, k))
    cost, dZ = get_loss("softmax_cross_entropy").value_and_grad(kernels, Z, Y, w)
    for member in range(3):
        single_cost, single_dZ = reference.softmax_cross_entropy(np, Z[member], Y, w)
        np.testing.assert_allclose(cost[member], single_cost, rtol=1e-14)
        np.testing.assert_allclose(dZ[member], single_dZ, rtol=1e-14)


def small_problem(m=90):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((m, 4))
    y = np.where(X[:, 0] > 0.8, 2, np.where(X[:, 1] > 0, 1, 0))  # unbalanced classes
    return X, y


def frozen_fit(model, X, y, **options):
    """An epoch whose updates change nothing (a learning rate below float64's resolution), so the
    History's loss can be compared with evaluate on the same weights."""
    return model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.SGD(1e-300), epochs=1, **options)


def three_class_model():
    return xn.Sequential([xn.Dense(6), xn.ReLU(), xn.Dense(3)], input_dim=4, dtype="float64", seed=1)


def test_history_loss_is_the_weighted_sum_over_m_and_equals_evaluate():
    X, y = small_problem()
    w = np.random.default_rng(7).uniform(0.0, 3.0, 90)
    model = three_class_model()
    history = frozen_fit(model, X, y, batch_size=16, sample_weight=w, shuffle=False)
    logits = xn.to_numpy(model.forward(X))
    log_probabilities = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    expected = -(w * log_probabilities[np.arange(90), y]).sum() / 90
    np.testing.assert_allclose(history["loss"][-1], expected, rtol=1e-12)
    np.testing.assert_allclose(model.evaluate(X, y, sample_weight=w)["loss"], expected, rtol=1e-12)
    unweighted = model.evaluate(X, y)
    assert not np.isclose(unweighted["loss"], expected)
    assert history["accuracy"][-1] == unweighted["accuracy"]  # accuracy is never weighted


def test_class_weight_multiplies_the_sample_weights():
    X, y = small_problem()
    w = np.random.default_rng(8).uniform(0.5, 1.5, 90)
    class_weight = {0: 1.0, 1: 3.0, 2: 0.25}
    model = three_class_model()
    history = frozen_fit(model, X, y, batch_size=32, sample_weight=w, class_weight=class_weight)
    per_example = w * np.array([1.0, 3.0, 0.25])[y]
    np.testing.assert_allclose(history["loss"][-1], model.evaluate(X, y, sample_weight=per_example)["loss"],
                               rtol=1e-12)


def test_balanced_class_weight_matches_scikit_learn():
    from sklearn.utils.class_weight import compute_class_weight

    from xpnet import labels

    for y in (small_problem()[1], np.array(["b", "a", "a", "c", "a", "b", "a", "a"])):
        classes = np.unique(y)
        expected = compute_class_weight("balanced", classes=classes, y=y)
        ours = labels.class_weights("balanced", labels.encode(y, classes), classes)
        np.testing.assert_allclose(ours, expected, rtol=1e-14)


def test_balanced_weights_leave_absent_classes_at_one_and_train_toward_the_rare_class():
    X, y = small_problem(300)
    plain = three_class_model()
    plain.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), epochs=30, seed=0)
    balanced = three_class_model()
    balanced.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), epochs=30, seed=0,
                 class_weight="balanced")
    rare = y == 2  # about 21% of the examples
    recall = [np.mean(model.predict_classes(X)[rare] == 2) for model in (plain, balanced)]
    assert recall[1] >= recall[0]


def test_unit_sample_weights_train_bit_identically():
    X, y = small_problem()
    runs = []
    for weights in (None, np.ones(90)):
        model = three_class_model()
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), epochs=3, seed=0,
                  sample_weight=weights)
        runs.append(model.get_weights())
    for name, value in runs[0].items():
        np.testing.assert_array_equal(runs[1][name], value)


def test_a_validation_split_keeps_its_part_of_the_sample_weights():
    X, y = small_problem()
    w = np.random.default_rng(9).uniform(0.0, 3.0, 90)
    model = three_class_model()
    history = frozen_fit(model, X, y, validation_split=0.3, sample_weight=w, class_weight="balanced", seed=4)
    _, val_rows = xn.data.validation_rows(90, 0.3, 4, y)
    expected = model.evaluate(X[val_rows], y[val_rows], sample_weight=w[val_rows])["loss"]
    np.testing.assert_allclose(history["val_loss"][-1], expected, rtol=1e-12)


@pytest.mark.parametrize("options, message", [
    ({"sample_weight": -np.ones(90)}, r"sample_weight must hold weights >= 0, got -1\.0"),
    ({"sample_weight": np.ones(89)}, r"sample_weight must have one weight per example, shape \(90,\), got shape"),
    ({"sample_weight": np.full(90, np.nan)}, r"sample_weight contains NaN or inf"),
    ({"class_weight": "even"}, r"class_weight must be 'balanced' or a dict"),
    ({"class_weight": {5: 2.0}}, r"class_weight keys must hold integer class labels in \[0, 3\), got 5\.0"),
    ({"class_weight": {1: -2.0}}, r"class_weight\[1\] must be a finite number >= 0, got -2\.0"),
    ({"sample_weight": np.zeros(90)}, r"sample_weight gives every training example the weight 0"),
    ({"class_weight": {0: 0, 1: 0, 2: 0}}, r"class_weight gives every training example the weight 0"),
])
def test_bad_weights_are_refused_and_nothing_is_trained(options, message):
    X, y = small_problem()
    model = three_class_model()
    before = model.get_weights()
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(X, y, loss="softmax_cross_entropy", **options)
    for name, value in before.items():
        np.testing.assert_array_equal(model.get_weights()[name], value)
    assert model.epoch == 0


def test_weights_that_together_zero_every_training_example_are_refused():
    X, y = small_problem()
    model = three_class_model()
    only_class_zero = (y == 0).astype(float)
    with pytest.raises(ValueError, match="sample_weight and class_weight give every training example the weight 0"):
        model.fit(X, y, loss="softmax_cross_entropy", sample_weight=only_class_zero, class_weight={0: 0})
    # weight left only in the validation part: the training part learns nothing either
    _, val_rows = xn.data.validation_rows(len(y), 0.3, 4, y)
    only_validation = np.zeros(len(y))
    only_validation[val_rows] = 1.0
    with pytest.raises(ValueError, match="sample_weight gives every training example the weight 0"):
        model.fit(X, y, loss="softmax_cross_entropy", sample_weight=only_validation, validation_split=0.3, seed=4)
    assert model.epoch == 0


def test_class_weight_needs_a_classifier():
    model = xn.Sequential([xn.Dense(2)], input_dim=4)
    with pytest.raises(ValueError, match="class_weight needs class labels .* loss='mse'"):
        model.fit(np.zeros((5, 4)), np.zeros((5, 2)), loss="mse", class_weight="balanced")
    with pytest.raises(ValueError, match="a binary_cross_entropy model with 2 outputs takes multi-label 0/1 "
                                         "targets: weight examples with sample_weight"):
        model.fit(np.zeros((5, 4)), np.zeros((5, 2)), loss="binary_cross_entropy", class_weight={0: 2.0})
