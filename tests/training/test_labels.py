"""Labels of any kind: mapped to class indices through ``classes_``, kept on the model, saved with it,
and given back by predict_classes."""
import numpy as np
import pytest

import xpnet as xn
from xpnet import labels


def separable(m=200, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 3))
    return X, (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)


def classifier(outputs):
    return xn.Sequential([xn.Dense(16), xn.ReLU(), xn.Dense(outputs)], input_dim=3, dtype="float64", seed=0)


@pytest.mark.parametrize("names, loss, outputs", [
    (np.array(["cat", "dog", "emu"]), "softmax_cross_entropy", 3),
    (np.array([1, 2, 3]), "softmax_cross_entropy", 3),
    (np.array([-1.5, 0.5, 7.0]), "softmax_cross_entropy", 3),
    (np.array(["no", "yes"]), "binary_cross_entropy", 1),
    (np.array([1, 2]), "binary_cross_entropy", 1),
    (np.array([-1, 1]), "binary_cross_entropy", 1),
    (np.array([False, True]), "binary_cross_entropy", 1),
])
def test_labels_round_trip_through_fit_predict_save_and_load(tmp_path, names, loss, outputs):
    X, indices = separable()
    indices = np.minimum(indices, names.size - 1)
    y = names[indices]
    model = classifier(outputs)
    model.fit(X, y, loss=loss, optimizer=xn.Adam(0.02), epochs=30, seed=0)
    np.testing.assert_array_equal(model.classes_, names)
    predicted = model.predict_classes(X)
    assert predicted.dtype == names.dtype
    assert set(np.unique(predicted)) <= set(names.tolist())
    assert np.mean(predicted == y) > 0.9
    xn.save(model, tmp_path / "model.npz")
    loaded = xn.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.classes_, names)
    assert loaded.classes_.dtype == names.dtype
    np.testing.assert_array_equal(loaded.predict_classes(X), predicted)
    assert loaded.evaluate(X, y)["accuracy"] == model.evaluate(X, y)["accuracy"]


def test_integer_labels_in_range_stay_class_indices():
    X, y = separable()
    model = classifier(4)  # class 3 never appears: labels 0..2 are still indices 0..2
    model.fit(X, y, loss="softmax_cross_entropy", epochs=1)
    np.testing.assert_array_equal(model.classes_, np.arange(4))
    assert model.predict_classes(X).dtype.kind == "i"


def test_labels_from_pandas_like_object_arrays_become_strings():
    X, y = separable()
    y = np.array(["a", "b", "c"], dtype=object)[y]
    model = classifier(3)
    model.fit(X, y, loss="softmax_cross_entropy", epochs=1)
    assert model.classes_.dtype.kind == "U"
    np.testing.assert_array_equal(model.classes_, ["a", "b", "c"])


def test_a_second_fit_keeps_the_classes_and_refuses_unknown_labels():
    X, y = separable()
    names = np.array(["cat", "dog", "emu"])
    model = classifier(3)
    model.fit(X, names[y], loss="softmax_cross_entropy", epochs=1)
    model.fit(X[:50], names[y[:50]], epochs=1)  # a subset of the classes maps the same way
    np.testing.assert_array_equal(model.classes_, names)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"y holds labels that are not among the model's classes_ "
                                         r"\('cat', 'dog', 'emu'\): 'gnu'"):
        model.fit(X, np.where(y == 2, "gnu", names[y]), epochs=1)
    with pytest.raises(ValueError, match="validation_data y holds labels that are not among"):
        model.fit(X, names[y], validation_data=(X, y), epochs=1)
    for name, value in before.items():
        np.testing.assert_array_equal(model.get_weights()[name], value)


@pytest.mark.parametrize("y, loss, outputs, message", [
    (np.array(["a", "b", "c", "d"] * 50), "softmax_cross_entropy", 3,
     r"y must hold integer class labels in \[0, 3\) or exactly 3 distinct labels of any kind .* got 4 distinct "
     r"labels \('a', 'b', 'c' \.\.\.\)"),
    (np.array(["a", "b", "c", "a"] * 50), "binary_cross_entropy", 1,
     r"y must hold only 0 and 1 for loss='binary_cross_entropy', got values 'a', 'b', 'c' \(3 distinct labels"),
    (np.array([1.0, 2.0, np.nan, 1.0] * 50), "binary_cross_entropy", 1, r"y contains NaN or inf"),
    (np.array([{"a": 1}] * 200), "softmax_cross_entropy", 3, r"y must hold labels of one kind"),
])
def test_bad_labels_are_refused_with_what_was_seen(y, loss, outputs, message):
    X, _ = separable()
    with pytest.raises((ValueError, TypeError), match=message):
        classifier(outputs).fit(X, y, loss=loss)


def test_classes_can_be_set_before_streaming_chunks_of_labels():
    X, y = separable()
    names = np.array(["cat", "dog", "emu"])
    model = classifier(3)
    chunks = [(X[i:i + 50], names[y[i:i + 50]]) for i in range(0, 200, 50)]
    with pytest.raises(ValueError, match=r"X chunk 0: y must hold integer class labels in \[0, 3\)"):
        model.fit(chunks, loss="softmax_cross_entropy")
    model.classes_ = names
    model.fit(chunks, loss="softmax_cross_entropy", epochs=2)
    assert model.epoch == 2 and set(model.predict_classes(X)) <= set(names)
    with pytest.raises(ValueError, match="classes_ must hold distinct labels in sorted order"):
        model.classes_ = ["dog", "cat", "emu"]


def test_mse_has_no_classes():
    model = xn.Sequential([xn.Dense(1)], input_dim=3)
    model.fit(np.zeros((4, 3)), np.arange(4.0), loss="mse")
    assert model.classes_ is None


def test_encode_and_decode_are_inverse():
    classes = np.array(["x", "y", "z"])
    values = np.array(["z", "x", "x", "y"])
    np.testing.assert_array_equal(labels.decode(labels.encode(values, classes), classes), values)
