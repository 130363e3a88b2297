"""The ``xpnet`` command: train, predict, tune, bench, info, exit codes, Ctrl-C and closed pipes."""
import csv
import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import xpnet as xn
from xpnet import cli, environment, tabular
from xpnet.cli import main
from xpnet.preparation import infer_task, validation_split

import support

ROOT = Path(__file__).resolve().parents[1]
SPECIES = ("cat", "dog", "emu")


def run_xpnet(*args, cwd=None, **options):
    """``python -m xpnet ARGS`` in a subprocess that imports this checkout's xpnet."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "xpnet", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120, **options)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(path):
    with open(path, newline="") as file:
        return list(csv.reader(file))


@pytest.fixture
def animals(tmp_path):
    """A CSV of 150 rows: three numeric features and the string label ``species``."""
    X, labels = support.clusters(150)
    rows = [[*x.tolist(), SPECIES[label]] for x, label in zip(X, labels)]
    return write_csv(tmp_path / "animals.csv", ["height", "weight", "speed", "species"], rows)


@pytest.fixture
def trained(animals, tmp_path, capsys):
    """A model trained on ``animals`` and saved; the training output."""
    model_path = tmp_path / "animals.npz"
    code = main(["train", "--data", str(animals), "--target", "species", "--epochs", "30",
                 "--batch-size", "16", "--save", str(model_path)])
    assert code == 0
    return model_path, capsys.readouterr().out


def error_line(capsys) -> str:
    """The captured stderr, which must be exactly one ``xpnet: error:`` line."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("xpnet: error: "), err
    return err


# the bundled datasets ----------------------------------------------------------------------------

def test_train_moons_prints_progress_and_accuracy(capsys):
    assert main(["train", "--dataset", "moons", "--epochs", "40", "--batch-size", "32", "--lr", "0.01"]) == 0
    out = capsys.readouterr().out
    assert "epoch   40" in out
    accuracy = float(out.split("test accuracy ")[1].split()[0])
    assert accuracy >= 0.85


def rows_of(X) -> set:
    return {tuple(row) for row in np.asarray(X).tolist()}


@pytest.mark.parametrize("val_split, validation", [(None, 48), ("0.25", 60), ("0", 0)])
def test_a_bundled_dataset_validates_on_its_training_rows_and_tests_once(monkeypatch, capsys, val_split,
                                                                         validation):
    """The validation rows are a stratified part of the training split (never the test rows), and
    the test split is scored once, at the end."""
    X_train, y_train, X_test, _ = xn.datasets.load("moons", seed=0)
    fitted = {}
    fit, evaluate = xn.Sequential.fit, xn.Sequential.evaluate

    def spy_fit(model, X, y, **options):
        fitted.update(X=X, validation=options["validation_data"])
        return fit(model, X, y, **options)

    def spy_evaluate(model, X, y, **options):
        fitted.setdefault("tested", []).append(rows_of(X) == rows_of(X_test))
        return evaluate(model, X, y, **options)

    monkeypatch.setattr(xn.Sequential, "fit", spy_fit)
    monkeypatch.setattr(xn.Sequential, "evaluate", spy_evaluate)
    option = [] if val_split is None else ["--val-split", val_split]
    assert main(["train", "--dataset", "moons", "--epochs", "2", *option]) == 0
    out = capsys.readouterr().out
    assert f"moons: {240 - validation} train / {validation} validation / 60 test rows;" in out
    assert out.count("test accuracy") == 1 and fitted["tested"].count(True) == 1
    if not validation:
        assert fitted["validation"] is None and "val_loss" not in out
        return
    X_val, y_val = fitted["validation"]
    assert len(X_val) == validation and len(fitted["X"]) == 240 - validation
    assert rows_of(X_val) | rows_of(fitted["X"]) == rows_of(X_train)
    assert not rows_of(X_val) & (rows_of(fitted["X"]) | rows_of(X_test))
    assert np.bincount(y_val.astype(int)).tolist() == [validation // 2] * 2  # stratified
    assert "val_loss" in out


def test_train_digits_quietly(capsys):
    assert main(["train", "--dataset", "digits", "--epochs", "20", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "epoch" not in out
    assert float(out.split("test accuracy ")[1].split()[0]) >= 0.95


@pytest.mark.parametrize("data", ["--dataset", "--data"])
def test_quiet_prints_only_the_final_result(animals, capsys, data):
    source = ["--dataset", "circles"] if data == "--dataset" else ["--data", str(animals), "--target", "species"]
    assert main(["train", *source, "--epochs", "2", "--quiet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("test accuracy" if data == "--dataset" else "validation accuracy")


def test_bad_device_is_reported_not_raised(capsys):
    assert main(["train", "--dataset", "circles", "--device", "tpu", "--epochs", "1"]) == 2
    assert "device must be 'cpu'" in error_line(capsys)


def test_console_script_is_installed():
    command = shutil.which("xpnet")
    assert command is not None, "the xpnet command is not on PATH; install the package with pip"
    result = subprocess.run([command, "train", "--dataset", "circles", "--epochs", "30", "--quiet"],
                            capture_output=True, text=True, check=True)
    assert "test accuracy" in result.stdout


@pytest.mark.parametrize("optimizer, lr, reason", [
    ("sgd", "1e4", "the cost became NaN or inf"),
    ("adam", "100", "the cost grew above"),  # finite: a mini-batch cost near 4e9 in epoch 1
])
def test_divergence_exits_4_with_one_line(capsys, optimizer, lr, reason):
    code = main(["train", "--dataset", "digits", "--optimizer", optimizer, "--lr", lr, "--epochs", "2",
                 "--quiet"])
    assert code == 4
    line = error_line(capsys)
    assert line.startswith("xpnet: error: training diverged: ") and reason in line


def test_a_converging_run_is_not_called_diverged(animals, capsys):
    """Adam at lr 0.03 fits the clusters exactly; from then on the loss (near 1e-4) jumps up and down
    more than tenfold between epochs. That is no divergence: it runs to the end."""
    assert main(["train", "--data", str(animals), "--target", "species", "--lr", "0.03", "--batch-size", "16",
                 "--epochs", "100", "--quiet"]) == 0
    assert float(capsys.readouterr().out.split("validation accuracy ")[1].split()[0]) >= 0.95


def prices(path, m=300):
    """A regression CSV: ``price`` is linear in ``a`` and ``b`` plus noise."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(m, 2))
    y = 5000.0 + 300.0 * X[:, 0] - 200.0 * X[:, 1] + rng.normal(scale=10.0, size=m)
    return write_csv(path, ["a", "b", "price"], np.column_stack([X, y]).tolist()), X, y


def test_a_diverged_run_saves_what_its_finite_epochs_trained(tmp_path, capsys):
    """Full-batch SGD at lr 0.5: epoch 1 is finite, epoch 2 blows up. Exit 4, and --save and --plot
    hold the model as epoch 1 left it, exactly as a one-epoch run saves it."""
    pytest.importorskip("matplotlib")
    data, _, _ = prices(tmp_path / "prices.csv")
    settings = ["train", "--data", str(data), "--target", "price", "--optimizer", "sgd", "--lr", "0.5",
                "--batch-size", "1000", "--quiet"]
    kept, curves, one_epoch = tmp_path / "kept.npz", tmp_path / "curves.png", tmp_path / "one_epoch.npz"
    assert main([*settings, "--epochs", "10", "--save", str(kept), "--plot", str(curves)]) == 4
    line = error_line(capsys)
    assert "training diverged: the cost grew above" in line and "at epoch 2, iteration 1 of 1" in line
    assert line.endswith(f"Saved the model to {kept} and the training curves to {curves}, as trained "
                         "through epoch 1.\n")
    assert curves.read_bytes().startswith(b"\x89PNG")
    assert main([*settings, "--epochs", "1", "--save", str(one_epoch)]) == 0
    model, expected = xn.load(kept), xn.load(one_epoch)
    assert model.epoch == 1 and len(model.history["loss"]) == 1
    assert all(np.array_equal(model.get_weights()[name], weights)
               for name, weights in expected.get_weights().items())
    assert model.metadata["encoding"] == expected.metadata["encoding"]


def test_a_run_diverging_in_its_first_epoch_saves_nothing(tmp_path, capsys):
    model_path = tmp_path / "model.npz"
    assert main(["train", "--dataset", "digits", "--lr", "100", "--quiet", "--save", str(model_path)]) == 4
    assert error_line(capsys).endswith(" Nothing was saved: no epoch completed.\n")
    assert not model_path.exists()


# train and predict on files ----------------------------------------------------------------------

def test_train_csv_saves_labels_features_and_standardization(trained, animals):
    model_path, out = trained
    assert "3 classes (cat, dog, emu)" in out and "120 train / 30 validation rows" in out
    assert float(out.split("validation accuracy ")[1].split()[0]) >= 0.9
    model = xn.load(model_path)
    encoding = model.metadata["encoding"]
    assert encoding["classes"] == list(SPECIES)
    assert encoding["features"] == ["height", "weight", "speed"]
    assert model.loss.name == "softmax_cross_entropy" and model.output_dim == 3
    X, _ = support.clusters(150)
    assert np.allclose(encoding["mean"], X.mean(axis=0), rtol=0.05, atol=0.2)  # from 120 of the rows
    assert not np.allclose(encoding["mean"], X.mean(axis=0), rtol=1e-9, atol=0)


def test_predict_writes_original_labels_and_probabilities(trained, animals, tmp_path, capsys):
    model_path, _ = trained
    output = tmp_path / "predictions.csv"
    assert main(["predict", str(model_path), str(animals), "--output", str(output)]) == 0
    summary = capsys.readouterr().out
    rows = read_csv(output)
    assert rows[0] == ["species", "p(cat)", "p(dog)", "p(emu)"]
    truth = [row[-1] for row in read_csv(animals)[1:]]
    predicted = [row[0] for row in rows[1:]]
    assert len(predicted) == 150 and set(predicted) <= set(SPECIES)
    accuracy = np.mean([p == t for p, t in zip(predicted, truth)])
    assert accuracy >= 0.9
    assert f"accuracy {accuracy:.4f}" in summary  # the target column was present: scored
    probabilities = np.array([[float(p) for p in row[1:]] for row in rows[1:]])
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [SPECIES[i] for i in probabilities.argmax(axis=1)] == predicted


def test_predict_to_stdout_matches_the_file_and_reports_on_stderr(trained, animals, tmp_path, capsys):
    model_path, _ = trained
    output = tmp_path / "predictions.csv"
    main(["predict", str(model_path), str(animals), "--output", str(output)])
    capsys.readouterr()
    assert main(["predict", str(model_path), str(animals)]) == 0
    captured = capsys.readouterr()
    assert captured.out == output.read_text()
    assert "150 predictions; accuracy" in captured.err


def test_predict_applies_the_saved_standardization_by_column_name(trained, tmp_path, capsys):
    """Columns in another order, an extra column and no target: the same probabilities as the model
    applied by hand to ``(X - mean) / std``."""
    model_path, _ = trained
    X, _ = support.clusters(20, seed=1)
    shuffled = write_csv(tmp_path / "new.csv", ["speed", "id", "height", "weight"],
                         [[x[2], i, x[0], x[1]] for i, x in enumerate(X)])
    assert main(["predict", str(model_path), str(shuffled)]) == 0
    captured = capsys.readouterr()
    assert "accuracy" not in captured.err
    probabilities = np.array([[float(p) for p in row[1:]] for row in list(csv.reader(captured.out.splitlines()))[1:]])
    model = xn.load(model_path)
    encoding = model.metadata["encoding"]
    expected = model.predict((X - np.array(encoding["mean"])) / np.array(encoding["std"]))
    assert np.allclose(probabilities, expected, atol=1e-5)


def test_npz_labels_one_and_two_train_one_sigmoid_output(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 4))
    y = np.where(X[:, 0] + X[:, 1] > 0, 2, 1)
    data = tmp_path / "pairs.npz"
    np.savez(data, X=X, y=y)
    model_path, output = tmp_path / "model.npz", tmp_path / "out.csv"
    assert main(["train", "--data", str(data), "--epochs", "40", "--batch-size", "16", "--quiet",
                 "--save", str(model_path)]) == 0
    model = xn.load(model_path)
    assert model.output_dim == 1 and model.loss.name == "binary_cross_entropy"
    assert model.metadata["encoding"]["classes"] == [1, 2]
    assert main(["predict", str(model_path), str(data), "--output", str(output)]) == 0
    rows = read_csv(output)
    assert rows[0] == ["y", "p(1)", "p(2)"]
    predicted = np.array([int(row[0]) for row in rows[1:]])
    assert np.mean(predicted == y) >= 0.9


def test_features_names_the_npz_array_to_read(tmp_path, capsys):
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(120, 3))
    data = tmp_path / "named.npz"
    np.savez(data, inputs=inputs, X=np.zeros((120, 5)), y=(inputs[:, 0] > 0).astype(int))
    model_path, output = tmp_path / "model.npz", tmp_path / "out.csv"
    assert main(["train", "--data", str(data), "--features", "inputs", "--epochs", "20", "--quiet",
                 "--save", str(model_path)]) == 0
    assert xn.load(model_path).input_dim == 3
    assert main(["predict", str(model_path), str(data), "--features", "inputs", "--output", str(output)]) == 0
    given = read_csv(output)
    assert main(["predict", str(model_path), str(data), "--output", str(output)]) == 0  # the saved name
    assert read_csv(output) == given
    assert main(["predict", str(model_path), str(data), "--features", "X", "--output", str(output)]) == 3
    assert "reads 3 features, the file has 5 columns" in error_line(capsys)


@pytest.mark.parametrize("command", ["train", "tune", "predict"])
def test_features_with_a_file_that_is_not_npz_is_refused(animals, trained, monkeypatch, capsys, command):
    monkeypatch.setattr(xn.Sequential, "fit", lambda *args, **kwargs: pytest.fail("training started"))
    monkeypatch.setattr(xn.Sequential, "predict", lambda *args, **kwargs: pytest.fail("prediction started"))
    arguments = {"train": ["train", "--data", str(animals), "--target", "species"],
                 "tune": ["tune", "--data", str(animals), "--target", "species", "--trials", "2"],
                 "predict": ["predict", str(trained[0]), str(animals)]}[command]
    assert main([*arguments, "--features", "X"]) == 2
    assert "--features names the features array of an .npz file" in error_line(capsys)


@pytest.mark.parametrize("command, clash", [
    ("train --data {data} --target species --save {data}", "--save {data} would overwrite --data {data}"),
    ("train --data {data} --target species --save {dir}/s.png --plot {dir}/s.png",
     "--plot {dir}/s.png would overwrite --save {dir}/s.png"),
    ("train --data {data} --target species --save {dir}/curves.png --plot {dir}/curves",
     "--plot {dir}/curves.png would overwrite --save {dir}/curves.png"),
    ("predict {model} {data} --output {model}", "--output {model} would overwrite MODEL {model}"),
    ("predict {model} {data} --output {data}", "--output {data} would overwrite FILE {data}"),
    ("tune --data {data} --target species --trials 2 --output {data}", "--output {data} would overwrite --data {data}"),
])
def test_an_output_that_would_overwrite_an_input_or_output_is_refused_first(animals, trained, monkeypatch, capsys,
                                                                             command, clash):
    monkeypatch.setattr(xn.Sequential, "fit", lambda *args, **kwargs: pytest.fail("training started"))
    names = {"data": animals, "model": trained[0], "dir": animals.parent}
    before = {path: path.read_bytes() for path in (animals, trained[0])}
    assert main(command.format(**names).split()) == 2
    assert clash.format(**names) in error_line(capsys)
    assert {path: path.read_bytes() for path in before} == before


@pytest.mark.parametrize("option, value, code, message", [
    ("--save", "{dir}", 3, "cannot write --save {dir}: it is a folder"),
    ("--plot", "{dir}/curves.xyz", 2, "cannot save a figure as '{dir}/curves.xyz': matplotlib writes"),
])
def test_unwritable_outputs_are_refused_before_training(animals, tmp_path, monkeypatch, capsys, option, value, code,
                                                        message):
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(xn.Sequential, "fit", lambda *args, **kwargs: pytest.fail("training started"))
    value, message = value.format(dir=tmp_path), message.format(dir=tmp_path)
    assert main(["train", "--data", str(animals), "--target", "species", option, value]) == code
    assert message in error_line(capsys)


def test_an_npz_target_as_a_column_vector_trains_and_one_of_another_length_is_named(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    y = (X[:, 0] > 0).astype(int)
    np.savez(tmp_path / "column.npz", X=X, y=y[:, None])
    assert main(["train", "--data", str(tmp_path / "column.npz"), "--epochs", "1", "--quiet"]) == 0
    np.savez(tmp_path / "short.npz", X=X, y=y[:50], labels=y[:50])
    for target in ([], ["--target", "labels"]):
        assert main(["train", "--data", str(tmp_path / "short.npz"), *target, "--epochs", "1"]) == 3
        name = target[-1] if target else "y"
        assert (f"array '{name}' has shape (50,), not (60,): one value per row of 'X', so it cannot be the target"
                in error_line(capsys))


def test_a_target_the_untrained_model_already_fits_trains_without_a_divergence_limit(tmp_path, capsys):
    """Constant features and target: the untrained loss is 0, which gives the limit no scale."""
    data = write_csv(tmp_path / "flat.csv", ["a", "t"], [[1, 5]] * 30)
    assert main(["train", "--data", str(data), "--target", "t", "--task", "regress", "--epochs", "2"]) == 0
    assert "validation rmse 0 " in capsys.readouterr().out


@pytest.mark.parametrize("dataset", ["moons", "circles"])
def test_the_small_bundled_datasets_train_past_chance_with_their_preset_epochs(capsys, dataset):
    """30 epochs of their few mini-batches left both at chance (0.55 and 0.50); the preset is 300."""
    assert main(["train", "--dataset", dataset, "--quiet"]) == 0
    assert float(capsys.readouterr().out.split("test accuracy ")[1].split()[0]) >= 0.9


def test_a_bundled_dataset_model_predicts_raw_features(tmp_path, capsys):
    """The model keeps the training split's standardization, so predict takes the data as sklearn
    gives it (it read raw pixels as standardized ones: accuracy 0.69 instead of 0.99)."""
    from sklearn.datasets import load_digits

    model_path = tmp_path / "digits.npz"
    assert main(["train", "--dataset", "digits", "--quiet", "--save", str(model_path)]) == 0
    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "raw.npz", X=X, y=y)
    capsys.readouterr()
    assert main(["predict", str(model_path), str(tmp_path / "raw.npz"), "--output", str(tmp_path / "p.csv")]) == 0
    accuracy = float(capsys.readouterr().out.split("accuracy ")[1].split()[0])
    assert accuracy >= 0.95
    predicted = np.array([int(row[0]) for row in read_csv(tmp_path / "p.csv")[1:]])
    assert np.mean(predicted == y) == pytest.approx(accuracy, abs=1e-4)


def test_regression_on_csv_predicts_in_the_targets_units(tmp_path, capsys):
    data, X, y = prices(tmp_path / "prices.csv")
    model_path, output = tmp_path / "model.npz", tmp_path / "out.csv"
    assert main(["train", "--data", str(data), "--target", "price", "--epochs", "60", "--batch-size", "16",
                 "--save", str(model_path)]) == 0
    assert "regression on 'price'" in capsys.readouterr().out
    assert xn.load(model_path).loss.name == "mse"
    assert main(["predict", str(model_path), str(data), "--output", str(output)]) == 0
    summary = capsys.readouterr().out
    predicted = np.array([float(row[0]) for row in read_csv(output)[1:]])
    rmse = np.sqrt(np.mean((predicted - y) ** 2))
    assert rmse < 0.15 * y.std()
    assert float(summary.split("rmse ")[1].split()[0]) == pytest.approx(rmse, rel=1e-3)


def test_npy_target_by_index_and_prediction_without_the_target_column(tmp_path, capsys):
    X, labels = support.clusters(150)
    data = tmp_path / "animals.npy"
    np.save(data, np.column_stack([labels + 10, X]))  # the target first: labels 10, 11, 12
    model_path = tmp_path / "model.npz"
    assert main(["train", "--data", str(data), "--target", "0", "--epochs", "30", "--batch-size", "16",
                 "--quiet", "--save", str(model_path)]) == 0
    assert xn.load(model_path).metadata["encoding"]["features"] == ["1", "2", "3"]
    features_only = tmp_path / "features.npy"
    np.save(features_only, X)
    capsys.readouterr()
    assert main(["predict", str(model_path), str(features_only)]) == 0
    predicted = [int(row[0]) for row in list(csv.reader(capsys.readouterr().out.splitlines()))[1:]]
    assert np.mean(np.array(predicted) == labels + 10) >= 0.9


def test_predict_with_a_model_saved_from_python(tmp_path, capsys):
    """No metadata: every column is a feature, taken as is; labels are the class indices."""
    X, labels = support.clusters(150)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = xn.Sequential([xn.Dense(16), xn.ReLU(), xn.Dense(3)], input_dim=3, seed=0)
    model.fit(X, labels, loss="softmax_cross_entropy", optimizer=xn.Adam(lr=0.01), epochs=20)
    xn.save(model, tmp_path / "model.npz")
    np.save(tmp_path / "X.npy", X)
    assert main(["predict", str(tmp_path / "model.npz"), str(tmp_path / "X.npy")]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert rows[0] == ["label", "p(0)", "p(1)", "p(2)"]
    assert [int(row[0]) for row in rows[1:]] == model.predict_classes(X).tolist()


def test_parquet_round_trip(tmp_path, capsys):
    pyarrow = pytest.importorskip("pyarrow")
    parquet = pytest.importorskip("pyarrow.parquet")

    X, labels = support.clusters(150)
    table = pyarrow.table({"height": X[:, 0], "weight": X[:, 1], "speed": X[:, 2],
                           "species": [SPECIES[label] for label in labels]})
    data = tmp_path / "animals.parquet"
    parquet.write_table(table, data)
    model_path = tmp_path / "model.npz"
    assert main(["train", "--data", str(data), "--target", "species", "--epochs", "30",
                 "--batch-size", "16", "--quiet", "--save", str(model_path)]) == 0
    capsys.readouterr()
    assert main(["predict", str(model_path), str(data)]) == 0
    predicted = [row[0] for row in list(csv.reader(capsys.readouterr().out.splitlines()))[1:]]
    assert np.mean([p == SPECIES[label] for p, label in zip(predicted, labels)]) >= 0.9


def test_plot_saves_the_training_curves(animals, tmp_path):
    pytest.importorskip("xpnet.plot")
    curves = tmp_path / "curves.png"
    assert main(["train", "--data", str(animals), "--target", "species", "--epochs", "3", "--quiet",
                 "--plot", str(curves)]) == 0
    assert curves.read_bytes().startswith(b"\x89PNG")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["animals.csv", "curves.png"]


def test_plot_without_a_suffix_is_saved_as_png_and_named(animals, tmp_path, capsys):
    """The name gets matplotlib's default suffix, as ``Figure.savefig`` gives it, and the CLI says so."""
    pytest.importorskip("xpnet.plot")
    assert main(["train", "--data", str(animals), "--target", "species", "--epochs", "3",
                 "--plot", str(tmp_path / "curves")]) == 0
    assert f"saved the training curves to {tmp_path / 'curves.png'}" in capsys.readouterr().out
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["animals.csv", "curves.png"]


def test_plot_without_matplotlib_fails_before_training(animals, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    monkeypatch.setattr(xn.Sequential, "fit", lambda *args, **kwargs: pytest.fail("training started"))
    assert main(["train", "--data", str(animals), "--target", "species", "--plot", str(tmp_path / "c.png")]) == 5
    assert error_line(capsys) == "xpnet: error: --plot needs matplotlib: pip install 'xpnet[plot]'\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["animals.csv"]


# choosing the task and the validation rows -------------------------------------------------------

def test_task_is_inferred_from_the_target():
    assert infer_task(np.array(["a", "b", "a", "b"])) == "classify"
    assert infer_task(np.array([1.0, 2.0] * 20)) == "classify"
    assert infer_task(np.arange(200.0) % 50) == "regress"  # 50 distinct integers: a count, not classes
    assert infer_task(np.linspace(0, 1, 40)) == "regress"


def test_task_override(animals, tmp_path, capsys):
    data = write_csv(tmp_path / "counts.csv", ["x", "n"], [[i, i % 3] for i in range(60)])
    assert main(["train", "--data", str(data), "--target", "n", "--task", "regress", "--epochs", "1"]) == 0
    assert "regression on 'n'" in capsys.readouterr().out
    assert main(["train", "--data", str(animals), "--target", "species", "--task", "regress"]) == 3
    assert "not numeric" in error_line(capsys)


def test_validation_split_is_seeded_and_stratified():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 19 + [3])
    train, held = validation_split(100, 0.2, seed=5, strata=labels)
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(100))
    assert [int(np.sum(labels[held] == c)) for c in range(4)] == [10, 6, 4, 0]  # the lone 3 trains
    again, _ = validation_split(100, 0.2, seed=5, strata=labels)
    other, _ = validation_split(100, 0.2, seed=6, strata=labels)
    assert np.array_equal(train, again) and not np.array_equal(train, other)
    assert len(validation_split(10, 0.0, seed=0)[1]) == 0


# errors and exit codes ---------------------------------------------------------------------------

@pytest.mark.parametrize("contents, arguments, message", [
    (None, ["--target", "species"], "no such file"),
    ("a,b\n1,2\n", ["--target", "species"], "no column 'species'"),
    ("a,b,y\n1,x,0\n2,y,1\n", ["--target", "y"], "column 'b' is not numeric (row 1 holds 'x')"),
    ("a,b,y\n1,2,0\n2,,1\n", ["--target", "y"], "column 'b' has a missing or infinite value at row 2"),
    ("a,b,y\n1,2\n", ["--target", "y"], "row 1 has 2 fields"),
    ("a,b,y\n1,2,0\n2,3,0\n", ["--target", "y"], "single value"),
    ("a,b,y\n" + "".join(f"{i},{i},{i / 7}\n" for i in range(30)), ["--target", "y", "--task", "classify"],
     "--val-split=0.2 leaves no validation examples out of 30 (30 classes, the largest with 1; stratified"),
    ("a,b,y\n1,2,1.5\n2,3,2.5\n3,4,NA\n", ["--target", "y"], "column 'y' has a missing or infinite value at row 3"),
    ("a,b,y\n1,2,cat\n2,3,nan\n3,4,dog\n", ["--target", "y"], "column 'y' has a missing or infinite value at row 2"),
    ("a,b,y\n1,2,cat\n2,3, N/A \n3,4,dog\n", ["--target", "y"], "column 'y' has a missing or infinite value at row 2"),
])
def test_bad_data_exits_3_with_one_line(tmp_path, capsys, contents, arguments, message):
    data = tmp_path / "data.csv"
    if contents is not None:
        data.write_text(contents)
    assert main(["train", "--data", str(data), *arguments, "--epochs", "1"]) == 3
    assert message in error_line(capsys)


def test_unknown_file_type_and_bad_model_file_exit_3(animals, tmp_path, capsys):
    assert main(["train", "--data", str(tmp_path / "data.txt"), "--target", "y"]) == 3
    assert "unknown file type '.txt'" in error_line(capsys)
    assert main(["predict", str(animals), str(animals)]) == 3
    assert "not a model file" in error_line(capsys)


def test_predict_needs_the_trained_columns_and_labels(trained, tmp_path, capsys):
    model_path, _ = trained
    lacking = write_csv(tmp_path / "lacking.csv", ["height", "speed"], [[1, 2]])
    assert main(["predict", str(model_path), str(lacking)]) == 3
    assert "no column(s) ['weight']" in error_line(capsys)


def test_predict_writes_its_predictions_and_reports_a_target_it_cannot_score(trained, tmp_path, capsys):
    """The predictions do not need the target column: one the model cannot score is reported, not fatal."""
    model_path, _ = trained
    unseen = write_csv(tmp_path / "unseen.csv", ["height", "weight", "speed", "species"],
                       [[1, 2, 3, "yak"], [1, 2, 3, ""]])
    output = tmp_path / "out.csv"
    assert main(["predict", str(model_path), str(unseen), "--output", str(output)]) == 0
    summary = capsys.readouterr().out
    assert summary.startswith(f"2 predictions written to {output}; not scored: ")
    assert "missing" in summary and len(read_csv(output)) == 3
    unseen = write_csv(tmp_path / "unseen.csv", ["height", "weight", "speed", "species"], [[1, 2, 3, "yak"]])
    assert main(["predict", str(model_path), str(unseen), "--output", str(output)]) == 0
    summary = capsys.readouterr().out
    assert "not scored: " in summary and "['yak'] that the model was not trained on" in summary


def test_csv_cells_are_stripped_as_the_header_is(tmp_path, capsys):
    rows = [[i % 3, (i * 7) % 5, ("cat", "dog")[i % 2]] for i in range(40)]
    spaced = tmp_path / "spaced.csv"
    spaced.write_text("a, b, pet\n" + "".join(f"{a}, {b}, {pet}\n" for a, b, pet in rows))
    table = tabular.read(spaced)
    assert table.column("pet").tolist() == [row[2] for row in rows]
    assert table.column("a").tolist() == [float(row[0]) for row in rows]


@pytest.mark.parametrize("arguments", [
    ["train", "--val-split", "1.5"],
    ["train", "--no-such-option"],
    ["train", "--hidden", "16", "0"],
    ["train", "--seed", "-1"],
    ["train", "--lr", "0"],
    ["train", "--lr", "nan"],
    ["train", "--l2", "-1"],
    ["frobnicate"],
])
def test_usage_errors_exit_2_with_one_line(capsys, arguments):
    assert main(arguments) == 2
    error_line(capsys)


@pytest.mark.parametrize("option, value", [("--target", "y"), ("--task", "regress"), ("--features", "X")])
@pytest.mark.parametrize("dataset", [["--dataset", "moons"], []])
def test_file_options_with_a_bundled_dataset_are_refused(monkeypatch, capsys, option, value, dataset):
    monkeypatch.setattr(xn.Sequential, "fit", lambda *args, **kwargs: pytest.fail("training started"))
    assert main(["train", *dataset, option, value]) == 2
    assert f"{option} describes a --data file" in error_line(capsys)


def test_an_unexpected_failure_exits_1_with_one_line(monkeypatch, capsys):
    def broken(args):
        raise RuntimeError("something\nunforeseen")

    monkeypatch.setattr(cli, "command_info", broken)
    assert main(["info"]) == 1
    assert error_line(capsys) == "xpnet: error: RuntimeError: something unforeseen\n"


def test_missing_optional_packages_exit_5(animals, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    assert main(["train", "--data", str(tmp_path / "data.parquet"), "--target", "y"]) == 5
    assert "pip install 'xpnet[parquet]'" in error_line(capsys)
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    assert main(["info", "--threads", "1"]) == 5
    assert error_line(capsys) == "xpnet: error: --threads needs threadpoolctl: pip install 'xpnet[threads]'\n"


def test_threads_limits_the_blas_pools(capsys):
    pytest.importorskip("threadpoolctl")
    assert main(["info", "--threads", "1"]) == 0
    blas = capsys.readouterr().out.split("BLAS: ")[1]
    assert blas.count("threads") >= 1 and all(part.strip().endswith(", 1 threads") for part in blas.split(";"))


# tune --------------------------------------------------------------------------------------------

def test_tune_with_a_space_file(animals, tmp_path, capsys):
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"lr": {"log_uniform": [1e-3, 1e-1]}, "units": {"int_uniform": [4, 16]},
                                 "activation": {"choice": ["relu", "tanh"]}, "epochs": 2}))
    output = tmp_path / "trials.csv"
    assert main(["tune", "--data", str(animals), "--target", "species", "--trials", "3", "--space",
                 str(space), "--output", str(output), "--quiet"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:3] == ["number", "val_loss", "best_val_loss"] and len(table) == 4
    rows = read_csv(output)
    columns = {name: [row[i] for row in rows[1:]] for i, name in enumerate(rows[0])}
    assert len(rows) == 4 and sorted(columns["number"]) == ["0", "1", "2"]
    assert all(1e-3 <= float(lr) <= 1e-1 for lr in columns["lr"])
    assert all(4 <= int(units) <= 16 for units in columns["units"])
    assert set(columns["activation"]) <= {"relu", "tanh"} and set(columns["epochs"]) == {"2"}


def test_tune_refuses_a_space_file_that_contradicts_an_option(animals, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(xn.Sequential, "fit", lambda *args, **kwargs: pytest.fail("training started"))
    space = tmp_path / "space.json"
    space.write_text(json.dumps({"lr": {"log_uniform": [1e-3, 1e-1]}, "epochs": 3, "batch_size": 16}))
    assert main(["tune", "--data", str(animals), "--target", "species", "--space", str(space), "--epochs", "7",
                 "--batch-size", "16"]) == 2
    assert f"--space {space} fixes epochs at 3 where --epochs gives 7: set each value once" in error_line(capsys)


def test_tune_default_space(animals, capsys):
    assert main(["tune", "--data", str(animals), "--target", "species", "--trials", "2", "--epochs", "1",
                 "--quiet"]) == 0
    header = capsys.readouterr().out.splitlines()[0].split()
    assert {"lr", "l2", "units", "layers"} <= set(header)


@pytest.mark.parametrize("text, message", [
    ('{"lr": ', "not valid JSON"),
    ('{"lr": {"gauss": [0, 1]}}', "KIND one of"),
    ('{"lr": {"log_uniform": [0, 1]}}', "LogUniform needs low > 0"),
    ('{"lr": {"uniform": [0, 1, 2]}}', "takes a list [low, high]"),
    ('["lr"]', "expected a JSON object"),
    ('{"lr": {"log_uniform": [1e-3, 1]}, "epochs": "5"}', "epochs must be a positive int, got '5'"),
    ('{"lr": {"log_uniform": [1e-3, 1]}, "l2": "0.1"}', "l2 must be a finite number >= 0"),
    ('{"units": {"choice": [16, "32"]}}', "units must be a positive int, got '32'"),
    ('{"lr": {"uniform": [-1, 1]}}', "lr must be a positive finite number"),
    ('{"dropout": {"uniform": [0.5, 1.5]}}', "Dropout rate must be in [0, 1)"),
    ('{"lr": {"log_uniform": [1e-3, 1]}, "width": 3}', "unknown hyperparameter(s) ['width']"),
])
def test_tune_bad_space_exits_2_with_one_line(animals, tmp_path, monkeypatch, capsys, text, message):
    """Every value the search could use passes the library's checks before a trial trains."""
    monkeypatch.setattr(xn.Sequential, "fit", lambda *args, **kwargs: pytest.fail("training started"))
    space = tmp_path / "space.json"
    space.write_text(text)
    assert main(["tune", "--data", str(animals), "--target", "species", "--space", str(space)]) == 2
    assert message in error_line(capsys)


# info, version, bench ----------------------------------------------------------------------------

def test_info_lists_versions_and_backends(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"xpnet {xn.__version__}\nPython ")
    assert f"NumPy {np.__version__}" in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.startswith("  ")}
    assert lines["numpy"].endswith(" cpu")
    assert set(lines) >= {"numpy", "torch", "cupy", "array_api_strict", "numba"}


@pytest.mark.parametrize("driver, extra", [(None, "cuda13"), ((13, 0), "cuda13"), ((12, 4), "cuda12")])
def test_info_suggests_the_cuda_extra_for_the_driver(monkeypatch, capsys, driver, extra):
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setattr(environment, "cuda_driver_version", lambda: driver)
    assert main(["info"]) == 0
    cupy = [line for line in capsys.readouterr().out.splitlines() if line.startswith("  cupy  ")]
    assert len(cupy) == 1 and cupy[0].endswith(f"not installed (pip install 'xpnet[{extra}]')")


def test_the_cuda_driver_version_is_read_from_the_driver_library(monkeypatch):
    class Driver:
        def cuDriverGetVersion(self, pointer):  # CUDA 12.4 reports 12040
            pointer.contents.value = 12040
            return 0

    monkeypatch.setattr(ctypes, "CDLL", lambda name: Driver())
    assert environment.cuda_driver_version() == (12, 4)

    def no_library(name):
        raise OSError(f"{name}: cannot open shared object file")

    monkeypatch.setattr(ctypes, "CDLL", no_library)
    assert environment.cuda_driver_version() is None


def test_version_and_python_dash_m(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"xpnet {xn.__version__}\n"
    result = run_xpnet("--help")
    assert result.returncode == 0 and "exit codes:" in result.stdout
    assert all(f"  {code:>3}  " in result.stdout for code in cli.EXIT_CODES)


def test_bench_outside_a_checkout_exits_5(tmp_path):
    result = run_xpnet("bench", cwd=tmp_path)
    assert result.returncode == 5
    assert result.stderr.startswith("xpnet: error: xpnet bench runs the benchmarks/ folder")
    assert result.stderr.count("\n") == 1


def test_bench_runs_the_checkouts_suite_and_prints_the_report(tmp_path):
    pytest.importorskip("pytest_benchmark")
    suite = tmp_path / "benchmarks"
    suite.mkdir()
    (suite / "__init__.py").write_text("")
    (suite / "conftest.py").write_text(textwrap.dedent("""
        def pytest_addoption(parser):
            parser.addoption("--profile", default="quick")
        """))
    (suite / "test_tiny.py").write_text(textwrap.dedent("""
        def test_sum(benchmark, request):
            benchmark.extra_info["profile"] = request.config.getoption("--profile")
            benchmark.pedantic(sum, args=(range(10),), rounds=1)
        """))
    (suite / "report.py").write_text(textwrap.dedent("""
        import json, sys
        entries = json.load(open(sys.argv[1]))["benchmarks"]
        print("REPORT", len(entries), entries[0]["extra_info"]["profile"])
        """))
    result = run_xpnet("bench", "--profile", "full", cwd=tmp_path / "benchmarks")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("REPORT 1 full")


# interruptions -----------------------------------------------------------------------------------

def test_ctrl_c_exits_130_and_leaves_no_file(tmp_path):
    """Ten points, each carrying the labels 0, 1 and 2 equally often: the loss cannot fall far below
    log 3, so nothing but the signal ends the run, however late it arrives."""
    X = np.repeat(np.random.default_rng(0).normal(size=(10, 3)), 300, axis=0)
    labels = np.tile(np.arange(3), 1000)
    np.savez(tmp_path / "data.npz", X=X, y=labels)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "xpnet", "train", "--data", "data.npz", "--epochs", "100000", "--save",
         "model.npz"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not process.stdout.readline().startswith("epoch"):
            assert process.poll() is None, process.stderr.read()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err == "xpnet: interrupted\n"
    assert [path.name for path in tmp_path.iterdir()] == ["data.npz"]


def test_an_interrupted_csv_write_leaves_no_file(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def rows():
        yield ["a"]
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        tabular.save_csv(target, ["column"], rows())
    assert target.read_text() == "old\n"
    assert [path.name for path in tmp_path.iterdir()] == ["out.csv"]


def test_closed_stdout_stops_quietly(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20000, 2))
    np.savez(tmp_path / "data.npz", X=X, y=(X[:, 0] > 0).astype(int))
    assert main(["train", "--data", str(tmp_path / "data.npz"), "--epochs", "1", "--quiet", "--save",
                 str(tmp_path / "model.npz")]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "xpnet", "predict", "model.npz", "data.npz"],
                               cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout.readline() == b"y,p(0),p(1)\n"
        process.stdout.close()  # like `| head -1`: 20000 rows do not fit in the pipe
        err = process.stderr.read()
        process.wait(timeout=60)
    finally:
        process.kill()
    assert err == b""
    assert process.returncode == 141
