"""Figures: each is rendered to a PNG and its lines, points and panels are checked against the data."""
import io
import math
import subprocess
import sys

import numpy as np
import pytest

import xpnet as xn
from xpnet import tune

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    content = path.read_bytes()
    assert len(content) > 1000 and content.startswith(PNG_SIGNATURE)


def blobs(classes: int, per_class: int = 30, seed: int = 0):
    """Well separated Gaussian clusters in 2-D, centres on a circle of radius 3."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(classes) / classes
    centres = 3 * np.column_stack([np.cos(angles), np.sin(angles)])
    X = np.concatenate([centre + 0.5 * rng.standard_normal((per_class, 2)) for centre in centres])
    return X.astype(np.float32), np.repeat(np.arange(classes), per_class)


def trained(classes: int, epochs: int = 30, **options):
    X, y = blobs(classes)
    loss = "binary_cross_entropy" if classes == 2 else "softmax_cross_entropy"
    model = xn.Sequential([xn.Dense(8), xn.ReLU(), xn.Dense(1 if classes == 2 else classes)], input_dim=2,
                          **options)
    model.fit(X, y, loss=loss, optimizer=xn.Adam(lr=0.02), batch_size=16, epochs=epochs,
              validation_data=(X, y), seed=0)
    return model, X, y


def line_data(ax) -> list:
    return [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines()]


def points(collection) -> np.ndarray:
    return np.asarray(collection.get_offsets())


def sorted_points(collection) -> np.ndarray:
    """The scattered points in order of x (Results order the trials by loss)."""
    found = points(collection)
    return found[np.argsort(found[:, 0])]


def test_importing_xpnet_does_not_import_matplotlib():
    code = "import sys, xpnet; xpnet.plot; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'xpnet\[plot\]'"):
        xn.plot.compare({"run": xn.History()})


# training curves ---------------------------------------------------------------------------------


def test_history_of_one_model_draws_cost_with_its_average_and_every_epoch_curve(tmp_path):
    model, _, _ = trained(2, epochs=4)
    history = model.history
    figure = history.plot(tmp_path / "history.png")
    assert_png(tmp_path / "history.png")
    cost, loss, accuracy, lr = figure.axes
    raw, smoothed = line_data(cost)
    np.testing.assert_allclose(raw, history.iteration_cost)
    np.testing.assert_allclose(smoothed, history.smoothed_cost(0.9))
    assert len(raw) == 4 * math.ceil(60 / 16)
    np.testing.assert_allclose(line_data(loss), [history["loss"], history["val_loss"]])
    np.testing.assert_allclose(line_data(accuracy), [history["accuracy"], history["val_accuracy"]])
    np.testing.assert_allclose(line_data(lr), [history["lr"]])
    assert [line.get_linestyle() for line in loss.get_lines()] == ["-", "--"]


def test_history_leaves_out_what_was_not_recorded():
    X, _ = blobs(2)
    model = xn.Sequential([xn.Dense(4), xn.ReLU(), xn.Dense(1)], input_dim=2)
    history = model.fit(X, X[:, :1] * 2.0, loss="mse", epochs=3, batch_size=20)
    figure = xn.plot.history(history, beta=0.5)
    assert [ax.get_title() for ax in figure.axes] == ["cost per iteration", "loss per epoch",
                                                      "learning rate per epoch"]
    np.testing.assert_allclose(line_data(figure.axes[0])[1], history.smoothed_cost(0.5))
    assert len(figure.axes[1].get_lines()) == 1  # no validation loss


def test_history_of_a_population_draws_one_line_per_model(tmp_path):
    model, _, _ = trained(2, epochs=3, population=3, seed=[0, 1, 2])
    members = model.history.members()
    figure = xn.plot.history(model.history, tmp_path / "population.png")
    assert_png(tmp_path / "population.png")
    cost, loss, accuracy, lr = figure.axes
    np.testing.assert_allclose(line_data(cost), [member.smoothed_cost(0.9) for member in members])
    expected_loss = [curve for member in members for curve in (member["loss"], member["val_loss"])]
    np.testing.assert_allclose(line_data(loss), expected_loss)
    assert len(accuracy.get_lines()) == 6 and len(lr.get_lines()) == 3
    assert cost.get_lines()[2].get_label() == "model 2"


def test_compare_draws_one_line_per_run(tmp_path):
    first, second = trained(2, epochs=3)[0].history, trained(2, epochs=5, seed=1)[0].history
    figure = xn.plot.compare({"first": first, "second": second}, tmp_path / "compare.png", key="val_loss",
                             yscale="log")
    assert_png(tmp_path / "compare.png")
    (ax,) = figure.axes
    assert [line.get_label() for line in ax.get_lines()] == ["first", "second"]
    np.testing.assert_allclose(line_data(ax)[1], second["val_loss"])
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="histories"):
        xn.plot.compare({})


# saving ------------------------------------------------------------------------------------------


def figure_that_fails_to_draw():
    """An axes whose figure holds an artist that raises when drawn: saving it fails midway."""
    from matplotlib.artist import Artist
    from matplotlib.figure import Figure

    class Failing(Artist):
        def draw(self, renderer):
            raise RuntimeError("drawing failed")

    figure = Figure()
    ax = figure.add_subplot()
    ax.plot([0.0, 1.0])  # drawn (and, for SVG, written to the open file) before the failing artist
    figure.add_artist(Failing())
    return ax


@pytest.mark.parametrize("name", ["curves.svg", "curves.pdf"])
def test_a_failed_save_leaves_the_existing_file_and_no_temporary(tmp_path, name):
    """matplotlib opens an SVG or PDF file before drawing into it (a PNG only after): saved in place, a
    figure that fails to draw would leave the old file truncated."""
    history = trained(2, epochs=2)[0].history
    path = tmp_path / name
    path.write_bytes(b"the curves of an earlier run")
    with pytest.raises(RuntimeError, match="drawing failed"):
        xn.plot.compare({"run": history}, path, ax=figure_that_fails_to_draw())
    assert path.read_bytes() == b"the curves of an earlier run"
    assert [entry.name for entry in tmp_path.iterdir()] == [name]


def test_save_takes_the_format_from_the_suffix_and_defaults_like_matplotlib(tmp_path):
    figure = xn.plot.compare({"run": trained(2, epochs=2)[0].history})
    assert xn.plot.save(figure, tmp_path / "curves.SVG") == str(tmp_path / "curves.SVG")
    assert b"<svg" in (tmp_path / "curves.SVG").read_bytes()
    assert xn.plot.save(figure, tmp_path / "curves") == str(tmp_path / "curves.png")  # savefig's default
    assert_png(tmp_path / "curves.png")
    buffer = io.BytesIO()
    assert xn.plot.save(figure, buffer) is buffer
    assert buffer.getvalue().startswith(PNG_SIGNATURE)
    assert sorted(entry.name for entry in tmp_path.iterdir()) == ["curves.SVG", "curves.png"]


# decision boundaries -----------------------------------------------------------------------------


@pytest.mark.parametrize("classes", [2, 3])
def test_decision_boundary_fills_the_predicted_classes_and_scatters_the_points(tmp_path, classes):
    model, X, y = trained(classes)
    assert model.evaluate(X, y)["accuracy"] > 0.95
    figure = xn.plot.decision_boundary(model, X, y, tmp_path / "boundary.png", resolution=50)
    assert_png(tmp_path / "boundary.png")
    (ax,) = figure.axes
    filled, *scattered = ax.collections
    assert len(filled.get_paths()) == classes  # one filled region per class
    assert len(scattered) == classes
    for label, collection in enumerate(scattered):
        np.testing.assert_allclose(points(collection), X[y == label], rtol=1e-6)
    low, high = ax.get_xlim()
    assert low < X[:, 0].min() and high > X[:, 0].max()


class SignOfFirstFeature:
    """A stand-in classifier: class 1 where ``x1 > 0.25``."""

    population = None

    def predict_classes(self, X):
        return (np.asarray(X)[:, 0] > 0.25).astype(np.int64)


def test_decision_boundary_regions_follow_the_predictions():
    X = np.array([[-2.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [2.0, 1.0]])
    y = np.array([0, 0, 1, 1])
    figure = xn.plot.decision_boundary(SignOfFirstFeature(), X, y, resolution=101)
    class_0, class_1 = figure.axes[0].collections[0].get_paths()
    cell = 4.8 / 100  # the grid spans [-2.4, 2.4] in x1
    assert class_0.vertices[:, 0].max() <= 0.25 + cell
    assert class_1.vertices[:, 0].min() >= 0.25 - cell
    assert class_0.vertices[:, 0].min() == pytest.approx(-2.4)


def test_decision_boundary_accepts_one_hot_labels_and_draws_into_given_axes():
    model, X, y = trained(3, epochs=2)
    figure = xn.plot.decision_boundary(SignOfFirstFeature(), X, y)
    target = figure.axes[0]
    returned = xn.plot.decision_boundary(model, X, np.eye(3)[y], ax=target, resolution=20)
    assert returned is figure and len(figure.axes) == 1
    assert len(target.collections) == 2 * (1 + 3)


@pytest.mark.parametrize("X, message", [
    (np.zeros((5, 3)), r"shape \(m, 2\).*\(5, 3\)"),
    (np.zeros(5), r"shape \(m, 2\).*\(5,\)"),
    (np.zeros((0, 2)), "at least one sample"),
])
def test_decision_boundary_needs_two_features(X, message):
    with pytest.raises(ValueError, match=message):
        xn.plot.decision_boundary(SignOfFirstFeature(), X, np.zeros(len(X), dtype=int))


def test_decision_boundary_rejects_bad_labels_resolution_and_populations():
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match=r"one label per row of X \(4\), got shape \(3,\)"):
        xn.plot.decision_boundary(SignOfFirstFeature(), X, [0, 1, 0])
    with pytest.raises(ValueError, match="class labels"):
        xn.plot.decision_boundary(SignOfFirstFeature(), X, [0, 0.5, 1, 1])
    with pytest.raises(ValueError, match="resolution must be an int >= 2.*got 1"):
        xn.plot.decision_boundary(SignOfFirstFeature(), X, [0, 0, 1, 1], resolution=1)
    population = xn.Sequential([xn.Dense(1)], input_dim=2, population=2, seed=[0, 1])
    with pytest.raises(ValueError, match="population of 2"):
        xn.plot.decision_boundary(population, X, [0, 0, 1, 1])


# hyperparameter searches -------------------------------------------------------------------------

SPACE = {"lr": tune.LogUniform(1e-4, 1), "beta1": tune.OneMinusLogUniform(0.9, 0.999),
         "units": tune.IntUniform(8, 64), "activation": tune.Choice(["relu", "tanh", "sigmoid"])}


def trial(number, loss, **params):
    return tune.TrialResult(number=number, params=params, val_loss=loss, best_val_loss=loss,
                            val_accuracy=None, best_val_accuracy=None, epochs=3, seconds=0.1,
                            diverged=math.isnan(loss))


def two_rounds():
    """Three trials in round 0 (one diverged), two in round 1; ``epochs`` is the same everywhere."""
    rows = [(0.5, 1e-3, 0.9, 8, "relu", 0), (0.3, 1e-2, 0.99, 16, "tanh", 0),
            (math.nan, 0.9, 0.95, 64, "sigmoid", 0), (0.2, 2e-2, 0.995, 32, "tanh", 1),
            (0.25, 5e-3, 0.98, 24, "relu", 1)]
    trials = [trial(number, loss, lr=lr, beta1=beta1, units=units, activation=activation, epochs=5,
                    round=round_index)
              for number, (loss, lr, beta1, units, activation, round_index) in enumerate(rows)]
    return tune.Results(trials, [SPACE, tune.zoom(SPACE, [t.params for t in trials[:2]])])


def test_search_draws_each_varied_hyperparameter_on_its_own_scale(tmp_path):
    results = two_rounds()
    figure = results.plot(tmp_path / "search.png")
    assert_png(tmp_path / "search.png")
    assert [ax.get_xlabel() for ax in figure.axes] == ["lr", "1 - beta1", "units", "activation"]
    assert [ax.get_xscale() for ax in figure.axes] == ["log", "log", "linear", "linear"]
    assert all(ax.get_yscale() == "log" and ax.get_ylabel() == "best validation loss" for ax in figure.axes)
    lr, beta1, units, activation = figure.axes
    first_round, second_round, diverged = beta1.collections
    assert first_round.get_label() == "round 1" and second_round.get_label() == "round 2"
    np.testing.assert_allclose(sorted_points(first_round), [[1 - 0.99, 0.3], [1 - 0.9, 0.5]])
    np.testing.assert_allclose(sorted_points(second_round), [[1 - 0.995, 0.2], [1 - 0.98, 0.25]])
    assert diverged.get_label() == "diverged" and points(diverged)[:, 0] == pytest.approx([0.05])
    assert [text.get_text() for text in activation.get_xticklabels()] == ["relu", "tanh", "sigmoid"]
    np.testing.assert_allclose(sorted_points(activation.collections[0])[:, 0], [0 - 0.125, 1 - 0.125])
    np.testing.assert_allclose(sorted_points(activation.collections[1])[:, 0], [0 + 0.125, 1 + 0.125])
    assert [text.get_text() for text in lr.get_legend().get_texts()] == ["round 1", "round 2", "diverged"]


def test_search_without_spaces_infers_the_scale_or_takes_the_space_given():
    results = two_rounds()
    plain = tune.Results(results.trials)
    figure = xn.plot.search(plain)
    assert [ax.get_xscale() for ax in figure.axes] == ["log", "linear", "linear", "linear"]
    assert [text.get_text() for text in figure.axes[3].get_xticklabels()] == ["tanh", "relu", "sigmoid"]
    given = xn.plot.search(plain, space=SPACE)
    assert given.axes[1].get_xlabel() == "1 - beta1"


def test_search_needs_a_varied_hyperparameter():
    same = tune.Results([trial(0, 0.5, lr=0.1), trial(1, 0.4, lr=0.1)])
    with pytest.raises(ValueError, match="none varies across these 2 trial"):
        xn.plot.search(same)


def test_search_plots_a_real_coarse_to_fine_run(tmp_path):
    X, y = blobs(2, per_class=20)
    problem = tune.Problem(X, y, X, y, loss="binary_cross_entropy", output_dim=1)
    space = {"lr": tune.LogUniform(1e-3, 0.3), "units": tune.IntUniform(2, 8, log=True)}
    results = tune.coarse_to_fine(space, problem, rounds=2, n_trials=4, top_k=2,
                                  base={"epochs": 2, "batch_size": 20})
    figure = results.plot(tmp_path / "coarse_to_fine.png")
    assert_png(tmp_path / "coarse_to_fine.png")
    assert [ax.get_xscale() for ax in figure.axes] == ["log", "log"]
    assert [len(points(collection)) for collection in figure.axes[0].collections] == [4, 4]
