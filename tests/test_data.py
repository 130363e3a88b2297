"""Data checks: values beyond the model's dtype are refused on the way in, naming the argument; the
validation split is stratified and seeded."""
import numpy as np
import pytest

import xpnet as xn
from xpnet import data


def model(dtype="float32", outputs=1):
    return xn.Sequential([xn.Dense(4), xn.ReLU(), xn.Dense(outputs)], input_dim=3, dtype=dtype, seed=0)


def regression(m=40):
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, 3)), rng.standard_normal(m)


HUGE = 1e39  # finite in float64, beyond float32's 3.4e38


@pytest.mark.parametrize("make_call, message", [
    (lambda X, y: {"X": np.where(np.arange(3) == 2, HUGE, X), "y": y}, r"X holds 1e\+39 \(at index \(0, 2\)\)"),
    (lambda X, y: {"X": X, "y": np.where(np.arange(40) == 7, -HUGE, y)}, r"y holds -1e\+39 \(at index \(7,\)\)"),
    (lambda X, y: {"X": X, "y": y, "sample_weight": np.where(np.arange(40) == 3, HUGE, 1.0)},
     r"sample_weight holds 1e\+39 \(at index \(3,\)\)"),
    (lambda X, y: {"X": X, "y": y, "validation_data": (X * HUGE, y)}, r"validation_data X holds"),
    (lambda X, y: {"X": X, "y": y, "validation_data": (X, y, np.full(40, HUGE))},
     r"validation_data sample_weight holds"),
])
def test_values_beyond_float32_are_refused_naming_the_argument(make_call, message):
    X, y = regression()
    net = model()
    before = net.get_weights()
    with pytest.raises(ValueError, match=message + r".*beyond the range of the model's dtype float32"):
        net.fit(**{"loss": "mse", **make_call(X, y)})
    for name, value in before.items():
        np.testing.assert_array_equal(net.get_weights()[name], value)
    assert net.epoch == 0 and net.history.epochs == 0


def test_the_same_values_are_accepted_in_float64():
    X, y = regression()
    X[0, 0] = HUGE
    net = model("float64")
    net.fit(X, y, loss="mse", optimizer=xn.SGD(1e-300))
    assert net.epoch == 1


def test_predict_and_evaluate_refuse_them_too():
    X, y = regression()
    net = model()
    net.fit(X, y, loss="mse")
    with pytest.raises(ValueError, match=r"X holds 1e\+39"):
        net.predict(X * 0 + HUGE)
    with pytest.raises(ValueError, match=r"y holds 1e\+39"):
        net.evaluate(X, y * 0 + HUGE)


def test_bad_values_are_located_across_check_blocks(monkeypatch):
    monkeypatch.setattr(data, "CHECK_BLOCK", 12)  # 4 rows of 3 values per block
    X = np.zeros((20, 3))
    X[13, 1] = np.inf
    with pytest.raises(ValueError, match=r"X contains NaN or inf \(first at index \(13, 1\)\)"):
        data.check_features(X, 3)
    X[13, 1] = HUGE
    data.check_features(X, 3)
    with pytest.raises(ValueError, match=r"at index \(13, 1\)"):
        data.check_features(X, 3, dtype="float32")


def test_validation_rows_are_stratified_seeded_and_disjoint():
    classes = np.repeat([0, 1, 2], [50, 30, 20])
    train, val = data.validation_rows(100, 0.2, 7, classes)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(100))
    assert np.bincount(classes[val]).tolist() == [10, 6, 4]
    again, _ = data.validation_rows(100, 0.2, 7, classes)
    other, _ = data.validation_rows(100, 0.2, 8, classes)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    plain_train, plain_val = data.validation_rows(100, 0.25, 7)
    assert plain_val.size == 25 and np.all(np.diff(plain_train) > 0)


def test_validation_rows_leave_every_class_a_training_row():
    classes = np.repeat([0, 1, 2], [20, 2, 1])
    train, val = data.validation_rows(23, 0.8, 3, classes)
    assert np.bincount(classes[val], minlength=3).tolist() == [16, 1, 0]
    assert np.bincount(classes[train], minlength=3).tolist() == [4, 1, 1]


def test_validation_split_in_fit_holds_out_a_stratified_part():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((200, 3))
    y = np.repeat(["a", "b", "c", "d"], [100, 50, 30, 20])
    net = model(outputs=4)
    history = net.fit(X, y, loss="softmax_cross_entropy", validation_split=0.1, epochs=2, seed=3)
    train, val = data.validation_rows(200, 0.1, 3, np.searchsorted(["a", "b", "c", "d"], y))
    assert np.bincount(np.searchsorted(["a", "b", "c", "d"], y[val])).tolist() == [10, 5, 3, 2]
    assert history["val_accuracy"][-1] == net.evaluate(X[val], y[val])["accuracy"]
    assert len(history.iteration_cost) == 2 * int(np.ceil(180 / 32))


def test_split_validation_helper():
    X, y = np.arange(40.0).reshape(20, 2), np.repeat([0, 1], 10)
    X_train, y_train, X_val, y_val = xn.split_validation(X, y, 0.2, seed=0)
    assert X_train.shape == (16, 2) and X_val.shape == (4, 2)
    assert np.bincount(y_val).tolist() == [2, 2]
    assert not set(X_train[:, 0]) & set(X_val[:, 0])


@pytest.mark.parametrize("X, y, options, error, message", [
    (np.zeros((20, 2)), np.eye(2)[np.repeat([0, 1], 10)], {"stratify": True}, ValueError,
     r"stratify=True needs y as one class label per example, shape \(20,\), got shape \(20, 2\)"),
    (np.zeros((20, 2)), 3, {}, ValueError, r"X and y must have one row per example, got shapes \(20, 2\) and \(\)"),
    (5, np.zeros(20), {}, ValueError, r"X and y must have one row per example, got shapes \(\) and \(20,\)"),
    (np.zeros((4, 2)), np.array([1, "a", 1, "a"], dtype=object), {}, TypeError, "y must hold labels of one kind"),
])
def test_split_validation_names_odd_inputs(X, y, options, error, message):
    with pytest.raises(error, match=message):
        xn.split_validation(X, y, 0.5, **options)


@pytest.mark.parametrize("seed", [-1, "a", 1.5])
def test_split_validation_names_a_bad_seed(seed):
    X, y = np.arange(40.0).reshape(20, 2), np.repeat([0, 1], 10)
    with pytest.raises(ValueError, match=f"seed must be an int >= 0, got {seed!r}"):
        xn.split_validation(X, y, 0.2, seed=seed)


@pytest.mark.parametrize("stratify", ["no", np.repeat([0, 1], 10)])
def test_split_validation_takes_stratify_as_a_bool(stratify):
    """``stratify=y``, as scikit-learn's train_test_split takes it, is refused, not read as true."""
    X, y = np.arange(40.0).reshape(20, 2), np.repeat([0, 1], 10)
    with pytest.raises(TypeError, match="stratify must be True, False or None, got"):
        xn.split_validation(X, y, 0.2, stratify=stratify)


@pytest.mark.parametrize("options, message", [
    ({"validation_split": 1.5}, r"validation_split must be a number in \(0, 1\)"),
    ({"validation_split": 0.2, "validation_data": "x"}, r"give either validation_data or validation_split"),
    ({"validation_split": 0.001}, r"validation_split=0\.001 leaves no validation examples out of 40"),
    ({"shuffle": "yes"}, r"shuffle must be True, False or None"),
    ({"verbose": 3}, r"verbose must be 0 \(silent\), 1 .* or 2 .*, got 3"),
    ({"callbacks": [object()]}, r"callbacks\[0\] must be a callback"),
])
def test_bad_data_arguments(options, message):
    X, y = regression()
    with pytest.raises((ValueError, TypeError), match=message):
        model().fit(X, y, loss="mse", **options)


def labels_and_ten_outputs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((30, 3)), np.arange(30) % 10, model(outputs=10)


@pytest.mark.parametrize("loss, targets, message", [
    ("binary_cross_entropy", lambda y: y % 2, r"y has shape \(30,\), one label per example: "
     r"loss='binary_cross_entropy' then needs a model with one output, and this model has 10; give 0/1 targets of "
     r"shape \(30, 10\)"),
    ("mse", lambda y: y, r"mse targets must have 10 column\(s\), one per output of the model \(shape \(30, 10\)\), "
     r"but y has shape \(30,\) \(one value per example fits a model with one output; this model has 10\)"),
    ("mse", lambda y: np.c_[y, y], r"mse targets must have 10 column\(s\), .* but y has shape \(30, 2\)$"),
    ("mse", lambda y: y[:, None, None], r"y must be 1-D or 2-D, got shape \(30, 1, 1\)"),
    ("softmax_cross_entropy", lambda y: np.eye(5)[y % 5], r"one-hot rows for loss='softmax_cross_entropy' must have "
     r"10 column\(s\), .* but y has shape \(30, 5\)"),
])
def test_targets_that_do_not_fit_the_loss_and_outputs_name_the_shape_given_and_the_cause(loss, targets, message):
    X, y, ten = labels_and_ten_outputs()
    with pytest.raises(ValueError, match=message):
        ten.fit(X, targets(y), loss=loss)


def test_evaluate_and_a_second_fit_with_another_loss_say_so_too():
    X, y, ten = labels_and_ten_outputs()
    ten.fit(X, y, loss="softmax_cross_entropy")
    with pytest.raises(ValueError, match=r"mse targets must have 10 column\(s\), .* y has shape \(30,\)"):
        ten.evaluate(X, y, loss="mse")
    with pytest.raises(ValueError, match=r"y has shape \(30,\), one label per example: loss='binary_cross_entropy'"):
        ten.fit(X, y % 2, loss="binary_cross_entropy")
    with pytest.raises(ValueError, match=r"0/1 targets for loss='binary_cross_entropy' must have 1 column\(s\), one "
                                         r"per output of the model \(shape \(30, 1\) or \(30,\)\), but y has shape "
                                         r"\(30, 2\)"):
        model().fit(X, np.c_[y % 2, y % 2], loss="binary_cross_entropy")


@pytest.mark.parametrize("name", ["digits", "moons", "circles"])
def test_bundled_datasets_standardize_by_the_training_split_unless_asked_not_to(name):
    pytest.importorskip("sklearn")
    raw = xn.datasets.load(name, seed=3, standardize=False)
    standardized = xn.datasets.load(name, seed=3)
    scaler = data.Standardizer().fit(raw[0])
    np.testing.assert_array_equal(standardized[0], scaler.transform(raw[0]))
    np.testing.assert_array_equal(standardized[2], scaler.transform(raw[2]))
    np.testing.assert_array_equal(standardized[1], raw[1])
    assert not np.allclose(raw[0].mean(axis=0), 0.0)
