"""scikit-learn estimators: scikit-learn's own checks, model selection, labels, pickling, early
stopping and hyperparameter errors."""
import importlib
import pickle
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier
from sklearn.datasets import load_digits, make_blobs, make_moons
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import xpnet as xn
from xpnet.sklearn import XPNetClassifier, XPNetRegressor, train_until_no_improvement

# scikit-learn's checks run on the default estimators (the classifier with max_iter=50: the default
# 200 passes too, in about 3 times the time; the regressor needs more than 50 epochs to reach R^2 > 0.5
# on check_regressors_train) and on ones with every optional part: early stopping, batch norm,
# dropout, tanh and AdamW
EVERY_OPTION = {"early_stopping": True, "validation_fraction": 0.25, "batch_norm": True, "dropout": 0.1,
                    "activation": "tanh", "optimizer": "adamw", "max_iter": 30}


# fits that reach max_iter warn, as scikit-learn's do; the tests about that warning still see it
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def expected_failed_checks(estimator) -> dict:
    """The default estimators pass every check; with every option, integer weights cannot train as
    repeated rows do."""
    if not estimator.early_stopping:
        return {}
    return {"check_sample_weight_equivalence_on_dense_data":
            "early stopping holds out a share of the rows, batch norm averages over rows and dropout "
            "draws a mask per row: repeating rows changes all three, weighting them does not"}


@parametrize_with_checks([XPNetClassifier(max_iter=50), XPNetRegressor(),
                          XPNetClassifier(**EVERY_OPTION), XPNetRegressor(**EVERY_OPTION)],
                         expected_failed_checks=expected_failed_checks, xfail_strict=True)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


def blobs(n=300, centers=3, seed=1):
    X, y = make_blobs(n, centers=centers, random_state=seed)
    return StandardScaler().fit_transform(X), y


def test_grid_search_over_a_pipeline_on_digits():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    pipeline = make_pipeline(StandardScaler(), XPNetClassifier(early_stopping=True, random_state=0))
    search = GridSearchCV(pipeline, {"xpnetclassifier__alpha": [1e-4, 1e-1]}, cv=3).fit(X_train, y_train)
    assert search.best_estimator_[-1].alpha == search.best_params_["xpnetclassifier__alpha"]
    assert search.score(X_test, y_test) >= 0.95  # 0.978, as with random_state 1, 2 and 3


def test_cross_val_score_and_clone_keep_the_settings():
    estimator = XPNetClassifier(hidden_layer_sizes=(8, 4), activation="leaky_relu", optimizer="rmsprop",
                                rho=0.8, learning_rate_init=0.01, random_state=3)
    X, y = make_moons(200, noise=0.1, random_state=0)
    scores = cross_val_score(estimator, X, y, cv=3)
    assert scores.shape == (3,) and scores.min() > 0.8
    assert not hasattr(estimator, "model_")  # cross_val_score trains clones
    twin = clone(estimator.fit(X, y))
    assert twin.get_params() == estimator.get_params() and not hasattr(twin, "model_")


@pytest.mark.parametrize("estimator", [XPNetClassifier(dropout=0.2, batch_size=32, random_state=0),
                                       XPNetRegressor(batch_norm=True, batch_size=32, random_state=0)],
                         ids=["classifier", "regressor"])
def test_pickle_round_trip_predicts_and_trains_on_identically(estimator):
    X, y = blobs()
    estimator.partial_fit(X, y, **({"classes": [0, 1, 2]} if isinstance(estimator, XPNetClassifier) else {}))
    copy = pickle.loads(pickle.dumps(estimator))
    method = "predict_proba" if isinstance(estimator, XPNetClassifier) else "predict"
    np.testing.assert_array_equal(getattr(copy, method)(X), getattr(estimator, method)(X))
    estimator.partial_fit(X, y)
    copy.partial_fit(X, y)  # optimizer moments, shuffle and dropout streams travel too
    np.testing.assert_array_equal(getattr(copy, method)(X), getattr(estimator, method)(X))


def test_string_labels_come_back_as_strings():
    X, y = blobs()
    names = np.array(["zebra", "ant", "mole"])[y]
    classifier = XPNetClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0).fit(X, names)
    assert classifier.classes_.tolist() == ["ant", "mole", "zebra"]
    assert classifier.score(X, names) > 0.9
    probabilities = classifier.predict_proba(X)
    assert probabilities.shape == (300, 3) and probabilities.dtype == np.float64
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(classifier.predict(X), classifier.classes_[probabilities.argmax(axis=1)])


def test_two_classes_use_one_sigmoid_output():
    X, y = blobs(centers=2)
    labels = np.where(y == 1, 2, 1)  # {1, 2}
    classifier = XPNetClassifier(hidden_layer_sizes=(8,), learning_rate_init=0.01, random_state=0).fit(X, labels)
    assert classifier.classes_.tolist() == [1, 2]
    outputs = classifier.model_.predict(X)
    assert outputs.shape == (300, 1)
    np.testing.assert_allclose(classifier.predict_proba(X), np.hstack([1 - outputs, outputs]), rtol=1e-6)
    assert set(classifier.predict(X)) == {1, 2} and classifier.score(X, labels) > 0.9


def test_partial_fit_equals_one_epoch_of_fit():
    X, y = blobs()
    settings = {"hidden_layer_sizes": (16,), "dropout": 0.2, "batch_size": 32, "random_state": 0}
    with pytest.warns(ConvergenceWarning, match="max_iter=1"):
        fitted = XPNetClassifier(max_iter=1, **settings).fit(X, y)
    partial = XPNetClassifier(**settings).partial_fit(X, y, classes=[0, 1, 2])
    np.testing.assert_array_equal(partial.predict_proba(X), fitted.predict_proba(X))
    assert partial.n_iter_ == fitted.n_iter_ == 1


@pytest.mark.parametrize("random_state", ["abc", -1, 2**33, 1.5])
def test_a_bad_random_state_is_named(random_state):
    X, y = make_moons(40, random_state=0)
    with pytest.raises(ValueError, match=rf"random_state must be None, an int in \[0, 2\*\*32\) or a numpy "
                                         rf"RandomState, got {random_state!r}"):
        XPNetClassifier(random_state=random_state).fit(X, y)


@pytest.mark.parametrize("classes, error, message", [
    ([0.0, 1.0, np.nan], ValueError, "classes contains NaN or inf"),
    ([[0, 1]], ValueError, r"classes must be 1-D, one entry per label, got shape \(1, 2\)"),
    ([0, None], TypeError, "classes must hold labels of one kind"),
])
def test_partial_fit_checks_its_classes(classes, error, message):
    X, y = make_moons(40, random_state=0)
    estimator = XPNetClassifier()
    with pytest.raises(error, match=message):
        estimator.partial_fit(X, y, classes=classes)
    assert not hasattr(estimator, "model_")


def test_partial_fit_over_chunks():
    X, y = blobs(600)
    X_test, y_test = X[500:], y[500:]
    classifier = XPNetClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, random_state=0)
    with pytest.raises(ValueError, match="classes must be given on the first call"):
        classifier.partial_fit(X[:100], y[:100])
    first = y[:100] != 2  # the first chunk lacks class 2: classes= still gives three outputs
    classifier.partial_fit(X[:100][first], y[:100][first], classes=[2, 0, 1])
    assert classifier.classes_.tolist() == [0, 1, 2] and classifier.predict_proba(X_test).shape == (100, 3)
    before = classifier.score(X_test, y_test)
    for _ in range(5):
        for start in range(0, 500, 100):
            classifier.partial_fit(X[start:start + 100], y[start:start + 100])
    assert classifier.n_iter_ == 26 and len(classifier.loss_curve_) == 26
    assert classifier.score(X_test, y_test) > max(0.9, before)
    with pytest.raises(ValueError, match=r"labels \[7\] that are not in classes_"):
        classifier.partial_fit(X[:3], [0, 1, 7])
    with pytest.raises(ValueError, match="differs from the classes_"):
        classifier.partial_fit(X[:3], y[:3], classes=[0, 1])


def test_regressor_fits_a_smooth_function_and_keeps_the_target_shape():
    rng = np.random.default_rng(0)
    X = rng.uniform(-2, 2, (400, 2))
    y = np.sin(2 * X[:, 0]) + 0.5 * X[:, 1] + 0.05 * rng.standard_normal(400)
    regressor = XPNetRegressor(hidden_layer_sizes=(32, 32), learning_rate_init=0.01, random_state=0)
    assert regressor.fit(X[:300], y[:300]).score(X[300:], y[300:]) > 0.8
    assert regressor.predict(X).shape == (400,) and regressor.n_outputs_ == 1
    two = np.column_stack([y, -y])
    assert regressor.fit(X, two).predict(X).shape == (400, 2) and regressor.n_outputs_ == 2
    assert regressor.fit(X, y[:, None]).predict(X).shape == (400, 1)


def test_early_stopping_stops_and_restores_the_best_epoch():
    X, y = blobs(400)
    settings = {"hidden_layer_sizes": (64,), "learning_rate_init": 0.05, "early_stopping": True, "tol": 0.0,
                    "random_state": 0}
    stopped = XPNetClassifier(n_iter_no_change=5, max_iter=200, **settings).fit(X, y)
    curve = stopped.validation_loss_curve_
    best_epoch = int(np.argmin(curve)) + 1
    assert len(curve) == stopped.n_iter_ == best_epoch + 5 < 200
    # the same run cut off at the best epoch ends with the weights the stopped one restored
    with pytest.warns(ConvergenceWarning):
        cut = XPNetClassifier(n_iter_no_change=1000, max_iter=best_epoch, **settings).fit(X, y)
    np.testing.assert_array_equal(stopped.predict_proba(X), cut.predict_proba(X))
    assert XPNetClassifier().fit(X, y).validation_loss_curve_ is None


class RecordingModel:
    """Stands in for a model: its weights are the number of epochs trained."""

    def __init__(self):
        self.epochs = 0
        self.weights = None

    def get_weights(self):
        return {"epochs": self.epochs}

    def set_weights(self, values):
        self.weights = values


@pytest.mark.parametrize("losses, tol, expected_epochs, expected_best, expected_stop", [
    ([5.0, 4.0, 3.95, 3.99, 3.0, 2.0], 0.1, 4, 3, True),     # 3.95 improves by less than tol
    ([5.0, 4.0, 3.95, 3.99, 3.0, 2.0], 0.0, 6, 6, False),    # any decrease counts: runs to max_iter
    ([1.0, 2.0, 3.0], 0.0, 3, 1, True),                      # stops on the last allowed epoch
])
def test_stopping_rule(losses, tol, expected_epochs, expected_best, expected_stop):
    model = RecordingModel()

    def run_epoch():
        model.epochs += 1
        return losses[model.epochs - 1]

    stopped = train_until_no_improvement(model, run_epoch, max_iter=len(losses), n_iter_no_change=2,
                                         tol=tol, restore_best=True)
    assert (model.epochs, model.weights, stopped) == (expected_epochs, {"epochs": expected_best}, expected_stop)


def test_training_cost_stops_fit_without_early_stopping():
    X, y = blobs()
    classifier = XPNetClassifier(hidden_layer_sizes=(16,), learning_rate_init=0.01, tol=1e-2,
                                 n_iter_no_change=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        classifier.fit(X, y)
    curve = classifier.loss_curve_
    n = classifier.n_iter_
    assert n == len(curve) < 200
    best_before = np.minimum.accumulate(curve)[:-1]  # the best loss before each epoch from the second
    improved = np.asarray(curve[1:]) < best_before - 1e-2
    assert improved[-4] and not improved[-3:].any()  # stopped after 3 epochs without improving by tol
    history = classifier.model_.history
    np.testing.assert_allclose(curve, np.add(history["loss"], history["l2_penalty"]))


def test_the_network_follows_the_settings():
    X, y = blobs()
    classifier = XPNetClassifier(hidden_layer_sizes=(6, 5), activation="sigmoid", dropout=0.3, batch_norm=True,
                                 optimizer="adamw", beta_1=0.8, beta_2=0.99, weight_decay=0.05, max_iter=2,
                                 random_state=0)
    with pytest.warns(ConvergenceWarning):
        classifier.fit(X, y)
    model = classifier.model_
    assert [type(layer).__name__ for layer in model.layers] == [
        "Dense", "BatchNorm", "Sigmoid", "Dropout", "Dense", "BatchNorm", "Sigmoid", "Dropout", "Dense"]
    assert model.predict(X).shape == (300, 3)
    optimizer = model.optimizer
    assert isinstance(optimizer, xn.AdamW)
    assert (optimizer.beta1, optimizer.beta2, optimizer.weight_decay) == (0.8, 0.99, 0.05)
    logistic = XPNetClassifier(hidden_layer_sizes=(), max_iter=2, random_state=0)
    with pytest.warns(ConvergenceWarning):
        assert [type(layer).__name__ for layer in logistic.fit(X, y).model_.layers] == ["Dense"]


@pytest.mark.parametrize("name, settings, expected", [
    ("sgd", {}, (xn.SGD, {})),
    ("momentum", {"momentum": 0.7}, (xn.Momentum, {"beta": 0.7})),
    ("rmsprop", {"rho": 0.8, "epsilon": 1e-6}, (xn.RMSprop, {"beta": 0.8, "eps": 1e-6})),
    ("adam", {"beta_1": 0.85, "beta_2": 0.95}, (xn.Adam, {"beta1": 0.85, "beta2": 0.95})),
])
def test_optimizer_settings_reach_the_optimizer(name, settings, expected):
    X, y = blobs()
    classifier = XPNetClassifier(optimizer=name, learning_rate_init=0.02, random_state=0, **settings)
    optimizer = classifier.partial_fit(X, y, classes=[0, 1, 2]).model_.optimizer
    kind, values = expected
    assert type(optimizer) is kind and optimizer.lr == 0.02
    assert {key: getattr(optimizer, key) for key in values} == values


def test_alpha_is_the_l2_penalty():
    X, y = blobs()
    norms = {}
    for alpha in (0.0, 10.0):
        classifier = XPNetClassifier(hidden_layer_sizes=(16,), alpha=alpha, max_iter=50, n_iter_no_change=50,
                                     learning_rate_init=0.01, random_state=0)
        with pytest.warns(ConvergenceWarning):
            weights = classifier.fit(X, y).model_.get_weights()
        norms[alpha] = sum(float(np.sum(value ** 2)) for name, value in weights.items() if name.endswith("W"))
        assert (classifier.model_.history["l2_penalty"][-1] > 0) == (alpha > 0)
    assert norms[10.0] < 0.5 * norms[0.0]


def test_verbose_prints_one_line_per_epoch(capsys):
    X, y = blobs()
    XPNetClassifier(hidden_layer_sizes=(8,), max_iter=3, verbose=True, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["epoch", "1"], ["epoch", "2"], ["epoch", "3"]]
    XPNetClassifier(hidden_layer_sizes=(8,), max_iter=3, random_state=0).fit(X, y)
    assert capsys.readouterr().out == ""


def test_shuffle_false_keeps_the_batches_in_order():
    X, y = blobs()
    within_batches = np.concatenate([np.random.default_rng(0).permutation(50) + start
                                     for start in range(0, 300, 50)])  # rows swapped inside each batch of 50
    for shuffle in (False, True):
        fitted = [XPNetClassifier(hidden_layer_sizes=(8,), optimizer="sgd", learning_rate_init=0.1, batch_size=50,
                                  shuffle=shuffle, random_state=0).partial_fit(X[rows], y[rows], classes=[0, 1, 2])
                  for rows in (np.arange(300), within_batches)]
        # unshuffled, every batch holds the same rows either way; shuffled, the same draw mixes other rows
        same = np.allclose(fitted[0].predict_proba(X), fitted[1].predict_proba(X), rtol=1e-9, atol=0)
        assert same == (not shuffle)


def test_dtype_follows_the_data_unless_given():
    X, y = blobs()
    for data_type, setting, expected in [(np.float64, None, "float64"), (np.float32, None, "float32"),
                                         (np.float64, "float32", "float32")]:
        classifier = XPNetClassifier(dtype=setting, random_state=0)
        assert classifier.partial_fit(X.astype(data_type), y, classes=[0, 1, 2]).model_.dtype == expected
        assert classifier.predict_proba(X).dtype == np.float64


def test_data_frames_give_feature_names():
    X, y = blobs()
    frame = pd.DataFrame(X, columns=["width", "height"])
    regressor = XPNetRegressor(hidden_layer_sizes=(8,), max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):
        regressor.fit(frame, y.astype(float))
    assert regressor.feature_names_in_.tolist() == ["width", "height"] and regressor.n_features_in_ == 2
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        np.testing.assert_array_equal(regressor.predict(X), regressor.predict(frame))
    with pytest.raises(ValueError, match="feature names"):
        regressor.predict(frame[["height", "width"]])


@pytest.mark.parametrize("setting, value, error, message", [
    ("hidden_layer_sizes", (10, 0), ValueError, r"hidden_layer_sizes must be a tuple of ints >= 1.*\(10, 0\)"),
    ("hidden_layer_sizes", "wide", ValueError, r"hidden_layer_sizes must be .*'wide'"),
    ("activation", "softplus", ValueError, r"activation must be one of \['leaky_relu', 'relu', 'sigmoid', "
                                           r"'tanh'\], got 'softplus'"),
    ("optimizer", "lbfgs", ValueError, r"optimizer must be one of .*'adamw'.*got 'lbfgs'"),
    ("learning_rate_init", 0.0, ValueError, r"learning_rate_init must be a number > 0, got 0.0"),
    ("learning_rate_init", "0.1", TypeError, r"learning_rate_init must be a number > 0, got '0.1' of type str"),
    ("epsilon", float("nan"), ValueError, r"epsilon must be a number > 0, got nan"),
    ("alpha", -1e-3, ValueError, r"alpha must be a number >= 0, got -0.001"),
    ("beta_2", 1.0, ValueError, r"beta_2 must be a number in \[0, 1\), got 1.0"),
    ("dropout", 1.0, ValueError, r"dropout must be a number in \[0, 1\), got 1.0"),
    ("momentum", True, TypeError, r"momentum must be a number in \[0, 1\), got True"),
    ("validation_fraction", 0.0, ValueError, r"validation_fraction must be a number in \(0, 1\), got 0.0"),
    ("max_iter", 0, ValueError, r"max_iter must be an int >= 1, got 0"),
    ("n_iter_no_change", 2.5, ValueError, r"n_iter_no_change must be an int >= 1, got 2.5"),
    ("batch_size", "full", ValueError, r"batch_size must be an int >= 1 or \"auto\", got 'full'"),
    ("batch_norm", "yes", TypeError, r"batch_norm must be True or False, got 'yes'"),
    ("early_stopping", "no", TypeError, r"early_stopping must be True or False, got 'no'"),
    ("shuffle", 1.0, TypeError, r"shuffle must be True or False, got 1.0"),
    ("verbose", "no", TypeError, r"verbose must be True, False or an int >= 0 .*, got 'no'"),
    ("verbose", -1, TypeError, r"verbose must be True, False or an int >= 0 .*, got -1"),
    ("dtype", "float16", ValueError, r"dtype must be one of"),
    ("device", "tpu", ValueError, r"device.*'tpu'"),
])
def test_bad_settings_fail_at_fit_naming_the_setting(setting, value, error, message):
    X, y = blobs(30)
    for estimator in (XPNetClassifier(**{setting: value}), XPNetRegressor().set_params(**{setting: value})):
        with pytest.raises(error, match=message):
            estimator.fit(X, y)


def test_early_stopping_on_too_few_examples_names_the_setting():
    X, y = blobs(12)
    with pytest.raises(ValueError, match=r"early_stopping cannot hold out validation_fraction=0.1 of "
                                         r"n_samples=12.*number of classes = 3"):
        XPNetClassifier(early_stopping=True).fit(X, y)


def test_one_class_is_refused():
    X, _ = blobs(20)
    with pytest.raises(ValueError, match=r"y has 1 class \(\['a'\]\); a classifier needs at least 2"):
        XPNetClassifier().fit(X, ["a"] * 20)
    with pytest.raises(ValueError, match=r"classes has 1 class"):
        XPNetClassifier().partial_fit(X, [0] * 20, classes=[0])


def test_missing_scikit_learn_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn.base", None)
    monkeypatch.delitem(sys.modules, "xpnet.sklearn")
    with pytest.raises(ImportError, match=r"pip install 'xpnet\[sklearn\]'"):
        importlib.import_module("xpnet.sklearn")


def repeated(X, y, counts):
    return np.repeat(X, counts, axis=0), np.repeat(y, counts, axis=0)


@pytest.mark.parametrize("estimator", [XPNetClassifier(hidden_layer_sizes=(16,), alpha=0.1, max_iter=20,
                                                       random_state=0),
                                       XPNetRegressor(hidden_layer_sizes=(16,), alpha=0.1, max_iter=20,
                                                      random_state=0)],
                         ids=["classifier", "regressor"])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_integer_sample_weights_count_examples_like_repeating_them(estimator, method):
    X, y = blobs(60)
    counts = np.random.default_rng(0).integers(0, 4, 60)  # zeros included: those rows drop out
    extra = {"classes": [0, 1, 2]} if method == "partial_fit" and is_classifier(estimator) else {}
    # with all rows in one batch (batch_size "auto": up to 200) the weighted mean loss and alpha's penalty
    # over sum(counts) are those of the repeated rows, so the two train alike
    weighted = getattr(clone(estimator), method)(X, y, sample_weight=counts, **extra)
    copies = getattr(clone(estimator), method)(*repeated(X, y, counts), **extra)
    assert weighted.n_iter_ == copies.n_iter_
    output = "predict_proba" if is_classifier(estimator) else "predict"
    np.testing.assert_allclose(getattr(weighted, output)(X), getattr(copies, output)(X), rtol=1e-9)
    unweighted = getattr(clone(estimator), method)(X, y, **extra)
    assert not np.allclose(getattr(unweighted, output)(X), getattr(weighted, output)(X), rtol=1e-6)


def test_early_stopping_holds_out_weights_with_their_rows():
    X, y = blobs(200)
    weights = np.where(y == 0, 3.0, 1.0)
    settings = {"hidden_layer_sizes": (8,), "early_stopping": True, "max_iter": 5, "random_state": 0}
    weighted = XPNetClassifier(**settings).fit(X, y, sample_weight=weights)
    ones = XPNetClassifier(**settings).fit(X, y, sample_weight=np.ones(200))
    plain = XPNetClassifier(**settings).fit(X, y)
    np.testing.assert_array_equal(ones.validation_loss_curve_, plain.validation_loss_curve_)
    assert not np.allclose(weighted.validation_loss_curve_, plain.validation_loss_curve_, rtol=1e-3)


@pytest.mark.parametrize("weights, message", [
    (np.zeros(30), r"sample_weight must hold at least one weight > 0, got all zeros"),
    (-np.ones(30), r"sample_weight must hold weights >= 0, got -1.0"),
    (np.ones(29), r"sample_weight must have one weight per example, shape \(30,\), got shape \(29,\)"),
])
def test_bad_sample_weights_are_refused(weights, message):
    X, y = blobs(30)
    for estimator in (XPNetClassifier(), XPNetRegressor()):
        with pytest.raises(ValueError, match=message):
            estimator.fit(X, y, sample_weight=weights)
        with pytest.raises(ValueError, match=message):
            estimator.partial_fit(X, y, sample_weight=weights, **({"classes": [0, 1, 2]}
                                                                  if is_classifier(estimator) else {}))


def test_early_stopping_refuses_a_part_without_weight():
    X, y = blobs(30)
    with pytest.raises(ValueError, match=r"sample_weight of the early_stopping (training|validation) part must "
                                         r"hold at least one weight > 0, got all zeros"):
        XPNetRegressor(early_stopping=True).fit(X, y, sample_weight=np.r_[1.0, np.zeros(29)])


def test_weights_that_leave_one_class_are_refused():
    X, y = blobs(30, centers=2)
    with pytest.raises(ValueError, match=r"y where sample_weight > 0 has 1 class \(\[1\]\); a classifier needs"):
        XPNetClassifier().fit(X, y, sample_weight=y)


@pytest.mark.parametrize("estimator_class", [XPNetClassifier, XPNetRegressor])
def test_an_unknown_setting_names_the_public_class(estimator_class):
    with pytest.raises(TypeError, match=rf"^{estimator_class.__name__}\.__init__\(\) got an unexpected keyword "
                                        r"argument 'solver'$"):
        estimator_class(solver="adam")


def test_a_batch_larger_than_the_data_is_clipped_with_a_warning():
    X, y = blobs(50)
    settings = {"hidden_layer_sizes": (8,), "max_iter": 3, "random_state": 0}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clipped = XPNetClassifier(batch_size=64, **settings).fit(X, y)
        exact = XPNetClassifier(batch_size=50, **settings).fit(X, y)
        XPNetClassifier(batch_size=48, early_stopping=True, validation_fraction=0.1, **settings).fit(X, y)
        XPNetRegressor(batch_size=64, **settings).partial_fit(X, y).partial_fit(X[:10], y[:10])
    clipping = [str(warning.message) for warning in caught if warning.category is UserWarning]
    assert clipping == [  # once per fit (not per epoch), and once per partial_fit call
        "batch_size=64 is larger than the 50 training examples; it is clipped to 50",
        "batch_size=48 is larger than the 45 training examples; it is clipped to 45",  # early stopping holds 5 out
        "batch_size=64 is larger than the 50 training examples; it is clipped to 50",
        "batch_size=64 is larger than the 10 training examples; it is clipped to 10"]
    assert all(warning.filename == __file__ for warning in caught if warning.category is UserWarning)
    np.testing.assert_array_equal(clipped.predict_proba(X), exact.predict_proba(X))
