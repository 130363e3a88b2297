"""Callbacks: the protocol, early stopping (also per model of a population), checkpoints that resume
bit-exactly, learning-rate reduction on plateaus, CSV and TensorBoard logs, divergence beyond NaN."""
import csv

import numpy as np
import pytest

import xpnet as xn
from xpnet.data import Standardizer
from xpnet.training.callbacks import Run

import support

callbacks = xn.callbacks


def overfitting_problem(seed=0):
    """Few noisy examples and a wide network: the validation loss falls, then rises."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((60, 4))
    y = (X[:, 0] + 0.8 * rng.standard_normal(60) > 0).astype(int)
    X_val = rng.standard_normal((200, 4))
    y_val = (X_val[:, 0] > 0).astype(int)
    return X, y, X_val, y_val


def wide(population=None, seed=0):
    return xn.Sequential([xn.Dense(64), xn.ReLU(), xn.Dense(64), xn.ReLU(), xn.Dense(2)], input_dim=4,
                         dtype="float64", seed=seed if population is None else [seed + i for i in range(population)],
                         population=population)


class WeightsEachEpoch(callbacks.Callback):
    """Keeps a copy of the weights after every epoch."""

    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, run, record):
        self.weights[record["epoch"]] = run.model.get_weights()


def assert_weights_equal(actual: dict, expected: dict, index=None):
    for name, value in expected.items():
        got = actual[name] if index is None else actual[name][index]
        np.testing.assert_array_equal(got, value if index is None else value[index], err_msg=name)


# Early stopping -------------------------------------------------------------------------------------

def test_early_stopping_restores_exactly_the_best_epoch():
    X, y, X_val, y_val = overfitting_problem()
    model = wide()
    recorder = WeightsEachEpoch()
    stopper = callbacks.EarlyStopping(patience=3, restore_best_weights=True)
    history = model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), epochs=200, batch_size=20,
                        validation_data=(X_val, y_val), callbacks=[recorder, stopper], seed=0)
    val_loss = history["val_loss"]
    best = int(np.argmin(val_loss)) + 1
    assert history.epochs == best + 3 < 200  # stopped after 3 epochs without improvement
    assert stopper.best_epoch == best and stopper.stopped_epoch == best + 3
    assert_weights_equal(model.get_weights(), recorder.weights[best])
    assert model.evaluate(X_val, y_val)["loss"] == min(val_loss)


def test_without_restoring_the_last_weights_stay():
    X, y, X_val, y_val = overfitting_problem()
    model = wide()
    recorder = WeightsEachEpoch()
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), epochs=200, batch_size=20,
              validation_data=(X_val, y_val), callbacks=[recorder, callbacks.EarlyStopping(patience=2)])
    assert_weights_equal(model.get_weights(), recorder.weights[model.epoch])


def test_min_delta_and_accuracy_mode():
    stopper = callbacks.EarlyStopping(monitor="val_accuracy", patience=1, min_delta=0.05)
    model = wide()
    run = Run(model, xn.SGD(0.1), 10, ("loss", "val_accuracy"))
    stopper.on_train_begin(run)
    for epoch, accuracy in enumerate([0.5, 0.6, 0.64, 0.7], start=1):  # 0.64 beats 0.6 by less than 0.05
        stopper.on_epoch_end(run, {"epoch": epoch, "val_accuracy": accuracy})
        assert run.stopped == (epoch == 3)
        if run.stopped:
            break
    assert stopper.best_epoch == 2


def test_each_model_of_a_population_stops_on_its_own_with_its_best_weights():
    X, y, X_val, y_val = overfitting_problem()
    population = wide(population=3)
    recorder = WeightsEachEpoch()
    stopper = callbacks.EarlyStopping(patience=2, restore_best_weights=True)
    history = population.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam([0.03, 0.01, 0.002]),
                             epochs=60, batch_size=20, validation_data=(X_val, y_val), callbacks=[recorder, stopper])
    stopped = stopper.stopped_epoch
    assert len(set(stopped.tolist())) > 1  # the models stopped at different epochs
    final = population.get_weights()
    for member, single in enumerate(history.members()):
        best = int(np.nanargmin(single["val_loss"])) + 1
        assert stopper.best_epoch[member] == best
        assert_weights_equal(final, recorder.weights[best], index=member)
        if stopped[member]:
            for later in range(stopped[member] + 1, population.epoch + 1):  # frozen, with its best weights
                assert_weights_equal(recorder.weights[later], recorder.weights[best], index=member)
    assert population.epoch == max(stopped) or population.epoch == 60
    np.testing.assert_array_equal(population.evaluate(X_val, y_val)["loss"],
                                  [np.nanmin(single["val_loss"]) for single in history.members()])


def test_a_monitor_that_is_not_recorded_is_refused_before_training():
    X, y, _, _ = overfitting_problem()
    model = wide()
    with pytest.raises(ValueError, match=r"EarlyStopping monitors 'val_loss', which this fit does not record "
                                         r"\(pass validation_data= or validation_split=\); it records loss"):
        model.fit(X, y, loss="softmax_cross_entropy", callbacks=[callbacks.EarlyStopping()])
    assert model.epoch == 0


@pytest.mark.parametrize("make, name", [
    (lambda value: callbacks.EarlyStopping(restore_best_weights=value), "restore_best_weights"),
    (lambda value: callbacks.ModelCheckpoint("model.npz", save_best_only=value), "save_best_only"),
    (lambda value: callbacks.CSVLogger("log.csv", append=value), "append"),
])
def test_switches_of_callbacks_must_be_bools(make, name):
    """``"no"`` would be true and ``None`` false: both are refused, naming the switch."""
    for value in ("no", None, 1):
        with pytest.raises(TypeError, match=f"{name} must be True or False, got {value!r}"):
            make(value)
    assert getattr(make(np.bool_(True)), name) is True


# Checkpoints ------------------------------------------------------------------------------------------

def dropout_model(where):
    return xn.Sequential([xn.Dense(16), xn.ReLU(), xn.Dropout(0.3), xn.Dense(2)], input_dim=4, seed=1,
                         dtype="float64", **where)


def test_a_checkpoint_resumes_bit_exactly(tmp_path, cpu_where):
    X, y, X_val, y_val = overfitting_problem()
    settings = {"batch_size": 16, "validation_data": (X_val, y_val)}
    uninterrupted = dropout_model(cpu_where)
    uninterrupted.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(xn.schedules.ExponentialDecay(0.01, 0.9)),
                      epochs=6, seed=2, **settings)
    interrupted = dropout_model(cpu_where)
    checkpoint = callbacks.ModelCheckpoint(tmp_path / "run-{epoch:02d}.npz", every=3)
    interrupted.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(xn.schedules.ExponentialDecay(0.01, 0.9)),
                    epochs=4, seed=2, callbacks=[checkpoint], **settings)
    assert [path.rsplit("/", 1)[-1] for path in checkpoint.saved] == ["run-03.npz"]
    resumed = xn.load(tmp_path / "run-03.npz")
    assert resumed.epoch == 3
    resumed.fit(X, y, epochs=3, **settings)
    assert_weights_equal(resumed.get_weights(), uninterrupted.get_weights())
    assert resumed.history.to_dict() == uninterrupted.history.to_dict()
    assert resumed.optimizer.t == uninterrupted.optimizer.t


def test_save_best_only_writes_when_the_monitor_improves(tmp_path):
    X, y, X_val, y_val = overfitting_problem()
    model = wide()
    recorder = WeightsEachEpoch()
    checkpoint = callbacks.ModelCheckpoint(tmp_path / "best.npz", save_best_only=True)
    history = model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), epochs=25, batch_size=20,
                        validation_data=(X_val, y_val), callbacks=[recorder, checkpoint])
    val_loss = np.array(history["val_loss"])
    improvements = int(np.sum(val_loss < np.minimum.accumulate(np.concatenate([[np.inf], val_loss[:-1]]))))
    assert len(checkpoint.saved) == improvements < 25
    best = xn.load(tmp_path / "best.npz")
    assert best.epoch == int(np.argmin(val_loss)) + 1
    assert_weights_equal(best.get_weights(), recorder.weights[best.epoch])


def test_a_population_checkpoint_holds_each_models_best_weights(tmp_path):
    X, y, X_val, y_val = overfitting_problem()
    population = wide(population=2)
    recorder = WeightsEachEpoch()
    checkpoint = callbacks.ModelCheckpoint(tmp_path / "best.npz", save_best_only=True)
    history = population.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam([0.02, 0.003]), epochs=20,
                             batch_size=20, validation_data=(X_val, y_val), callbacks=[recorder, checkpoint])
    saved = xn.load(tmp_path / "best.npz").get_weights()
    for member, single in enumerate(history.members()):
        assert_weights_equal(saved, recorder.weights[int(np.argmin(single["val_loss"])) + 1], index=member)
    assert_weights_equal(population.get_weights(), recorder.weights[20])  # training itself is untouched


# Learning rate on plateaus ----------------------------------------------------------------------------

def plateau_run(population=None, lr=0.1):
    model = wide(population)
    optimizer = xn.SGD(lr)
    optimizer.init(model.param_buffer)
    return Run(model, optimizer, 100, ("loss", "val_loss"))


def test_reduce_lr_on_plateau_changes_the_rate_when_and_only_when_it_should():
    run = plateau_run()
    reducer = callbacks.ReduceLROnPlateau(factor=0.5, patience=2, min_delta=0.01, cooldown=1, min_lr=0.02)
    reducer.on_train_begin(run)
    val_loss = [1.0, 0.9, 0.895, 0.899, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    # improvements at epochs 1, 2 and 5 (0.895 is within min_delta of 0.9); two epochs without
    # improvement give a reduction (4, 7), then one epoch of cooldown (8) before counting again (9, 10).
    expected = [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02]
    rates = []
    for epoch, value in enumerate(val_loss, start=1):
        reducer.on_epoch_end(run, {"epoch": epoch, "val_loss": value})
        rates.append(run.optimizer.lr)
    assert rates == pytest.approx(expected, rel=1e-12)


def test_reduce_lr_on_plateau_per_model_of_a_population():
    run = plateau_run(population=2, lr=[0.1, 0.2])
    reducer = callbacks.ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.0)
    reducer.on_train_begin(run)
    for epoch, values in enumerate([[1.0, 1.0], [1.1, 0.9], [1.2, 0.8]], start=1):
        reducer.on_epoch_end(run, {"epoch": epoch, "val_loss": np.array(values)})
    assert run.optimizer.lr == pytest.approx([0.025, 0.2])


def test_reduce_lr_on_plateau_shows_in_the_history_and_refuses_schedules():
    X, y, X_val, y_val = overfitting_problem()
    model = wide()
    history = model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), epochs=30, batch_size=20,
                        validation_data=(X_val, y_val),
                        callbacks=[callbacks.ReduceLROnPlateau(factor=0.5, patience=1, min_delta=0.0)])
    lr, val_loss = np.array(history["lr"]), np.array(history["val_loss"])
    for epoch in range(1, 30):
        best_before = np.min(val_loss[:epoch - 1]) if epoch > 1 else np.inf
        if lr[epoch] != lr[epoch - 1]:
            assert val_loss[epoch - 1] >= best_before and lr[epoch] == lr[epoch - 1] / 2
    assert lr[-1] < lr[0]
    optimizer, t = model.optimizer, model.optimizer.t
    with pytest.raises(TypeError, match="ReduceLROnPlateau needs a constant learning rate"):
        model.fit(X, y, optimizer=xn.Adam(xn.schedules.ExponentialDecay(0.01, 0.9)), validation_data=(X_val, y_val),
                  callbacks=[callbacks.ReduceLROnPlateau()])
    assert model.optimizer is optimizer and model.optimizer.t == t and model.epoch == 30  # nothing lost


# Logs -------------------------------------------------------------------------------------------------

def test_csv_logger_writes_the_history(tmp_path):
    X, y, X_val, y_val = overfitting_problem()
    path = tmp_path / "log.csv"
    model = wide()
    history = model.fit(X, y, loss="softmax_cross_entropy", epochs=3, validation_data=(X_val, y_val),
                        callbacks=[callbacks.CSVLogger(path)])
    model.fit(X, y, epochs=2, callbacks=[callbacks.CSVLogger(path, append=True)])
    rows = list(csv.DictReader(path.open()))
    assert [row["epoch"] for row in rows] == ["1", "2", "3", "4", "5"]
    assert [float(row["loss"]) for row in rows] == history["loss"]
    assert [float(row["val_loss"]) for row in rows[:3]] == history["val_loss"][:3] and rows[4]["val_loss"] == ""


def test_csv_logger_writes_a_row_per_model_of_a_population(tmp_path):
    X, y, _, _ = overfitting_problem()
    population = wide(population=3)
    history = population.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.SGD([0.1, 0.2, 0.3]), epochs=2,
                             callbacks=[callbacks.CSVLogger(tmp_path / "log.csv")])
    rows = list(csv.DictReader((tmp_path / "log.csv").open()))
    assert [(row["epoch"], row["member"]) for row in rows] == [(e, m) for e in "12" for m in "012"]
    assert [float(row["lr"]) for row in rows[:3]] == [0.1, 0.2, 0.3]
    assert float(rows[4]["loss"]) == history.member(1)["loss"][1]


@pytest.mark.parametrize("make", [callbacks.CSVLogger, callbacks.ModelCheckpoint], ids=["csv", "checkpoint"])
def test_a_file_in_a_missing_folder_is_refused_before_training(tmp_path, make):
    X, y, _, _ = overfitting_problem()
    model = wide()
    with pytest.raises(FileNotFoundError, match=r"cannot write '.*missing/out': there is no folder '.*missing'"):
        model.fit(X, y, loss="softmax_cross_entropy", epochs=2, callbacks=[make(tmp_path / "missing" / "out")])
    assert model.epoch == 0 and model.loss is None and list(tmp_path.iterdir()) == []


def test_a_checkpoint_folder_named_by_format_fields_is_checked_when_saving(tmp_path):
    X, y, _, _ = overfitting_problem()
    (tmp_path / "run-1").mkdir()
    model = wide()
    with pytest.raises(FileNotFoundError, match=r"there is no folder '.*run-2'"):
        model.fit(X, y, loss="softmax_cross_entropy", epochs=2,
                  callbacks=[callbacks.ModelCheckpoint(tmp_path / "run-{epoch}" / "model.npz")])
    assert model.epoch == 2 and (tmp_path / "run-1" / "model.npz").exists()


def test_tensorboard_writes_event_files(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    X, y, X_val, y_val = overfitting_problem()
    population = wide(population=2)
    history = population.fit(X, y, loss="softmax_cross_entropy", epochs=3, validation_data=(X_val, y_val),
                             callbacks=[callbacks.TensorBoard(tmp_path / "logs")])
    for member in range(2):
        events = EventAccumulator(str(tmp_path / "logs" / f"member_{member}"))
        events.Reload()
        assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr"} <= set(events.Tags()["tensors"])
        steps = [(event.step, float(make_ndarray(event.tensor_proto))) for event in events.Tensors("val_loss")]
        assert [step for step, _ in steps] == [1, 2, 3]
        np.testing.assert_allclose([value for _, value in steps], history.member(member)["val_loss"], rtol=1e-6)


def test_tensorboard_without_the_package_says_which_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "tensorboard", None)
    monkeypatch.setitem(sys.modules, "tensorboard.summary", None)
    with pytest.raises(ImportError, match=r"pip install 'xpnet\[tensorboard\]'"):
        callbacks.TensorBoard("logs")


# Divergence -------------------------------------------------------------------------------------------

def digits_model(**options):
    return xn.Sequential([xn.Dense(64), xn.ReLU(), xn.Dense(10)], input_dim=64, seed=0, **options)


def test_a_huge_learning_rate_stops_at_the_first_epoch_even_without_nan():
    X_train, y_train, _, _ = xn.datasets.digits()
    model = digits_model()
    before = model.get_weights()
    with pytest.raises(xn.DivergenceError, match=r"training diverged: the cost grew above both 10 times the lowest "
                                                 r"loss so far and the starting loss at epoch 1, iteration \d+ of 23 "
                                                 r"\(learning rate 100\)"):
        model.fit(X_train, y_train, loss="softmax_cross_entropy", optimizer=xn.Adam(100.0), batch_size=64, epochs=30,
                  callbacks=[callbacks.TerminateOnDivergence()])
    assert_weights_equal(model.get_weights(), before)
    assert model.epoch == 0 and model.history.epochs == 0


def test_without_the_callback_that_run_goes_on():
    X_train, y_train, _, _ = xn.datasets.digits()
    with np.errstate(all="ignore"):
        history = digits_model().fit(X_train, y_train, loss="softmax_cross_entropy", optimizer=xn.Adam(100.0),
                                     batch_size=64, epochs=2)
    assert np.all(np.isfinite(history["loss"])) and history["loss"][0] > 1000


def test_healthy_training_is_not_stopped():
    X_train, y_train, X_test, y_test = xn.datasets.digits()
    model = digits_model()
    model.fit(X_train, y_train, loss="softmax_cross_entropy", optimizer=xn.Adam(0.003), batch_size=64, epochs=15,
              callbacks=[callbacks.TerminateOnDivergence()])
    model.fit(X_train, y_train, epochs=5, callbacks=[callbacks.TerminateOnDivergence()])  # from a low loss
    assert model.epoch == 20 and model.evaluate(X_test, y_test)["accuracy"] > 0.95


def judged(epochs: list, population=None) -> list:
    """The epochs (per-iteration costs, ``(iterations,) + lead``) a fresh model's TerminateOnDivergence
    calls diverged (per model of a population)."""
    model = xn.Sequential([xn.Dense(1)], input_dim=1, population=population)
    stop = callbacks.TerminateOnDivergence()
    stop.on_train_begin(Run(model, None, len(epochs), ("loss",)))
    return [stop(costs, costs.mean(axis=0)).any(axis=0).tolist() for costs in map(np.array, epochs)]


def test_a_tiny_loss_may_jump_many_times_its_lowest_but_not_past_the_start():
    epochs = [[0.8, 0.4], [0.1, 0.05], [1e-4, 1e-4], [2.5e-3, 2.5e-3], [0.05, 0.05], [0.9, 0.9]]
    assert judged(epochs) == [False, False, False, False, False, True]
    assert judged([[1.0, 30.0]]) == [True]  # in the first epoch: over 10 times the first mini-batch's cost


def test_each_model_of_a_population_is_judged_by_its_own_start_and_lowest():
    epochs = [[[0.8, 0.01], [0.4, 0.005]], [[1e-4, 1e-4], [1e-4, 1e-4]], [[0.03, 0.03], [0.03, 0.03]]]
    assert judged(epochs, population=2) == [[False, False], [False, False], [False, True]]


def test_a_converged_fit_whose_tiny_loss_jumps_is_not_stopped():
    """Near a perfect fit the loss (about 1e-4) jumps more than tenfold between epochs: not a divergence."""
    X, labels = support.clusters(3000)
    X_train, y_train, X_val, y_val = xn.split_validation(X, labels, 0.2, seed=0)
    scaler = Standardizer().fit(X_train)
    model = xn.Sequential([xn.Dense(64), xn.ReLU(), xn.Dense(64), xn.ReLU(), xn.Dense(3)], input_dim=3, seed=0)
    history = model.fit(scaler.transform(X_train), y_train, loss="softmax_cross_entropy", batch_size=64, epochs=300,
                        seed=0, validation_data=(scaler.transform(X_val), y_val),
                        callbacks=[callbacks.TerminateOnDivergence()])
    losses = np.array(history["loss"])
    assert model.epoch == 300 and np.max(losses[1:] / np.minimum.accumulate(losses)[:-1]) > 10
    assert losses.max() < history.iteration_cost[0]
    assert model.evaluate(scaler.transform(X_val), y_val)["accuracy"] > 0.99


def test_a_threshold_on_the_iteration_cost():
    X, y, _, _ = overfitting_problem()
    with pytest.raises(xn.DivergenceError, match=r"the cost grew above 0\.5 at epoch 1, iteration 1 of"):
        wide().fit(X, y, loss="softmax_cross_entropy", callbacks=[callbacks.TerminateOnDivergence(None, 0.5)])


def test_a_diverging_model_of_a_population_is_frozen_and_the_rest_go_on():
    X_train, y_train, _, _ = xn.datasets.digits()
    population = digits_model(population=3)
    with np.errstate(all="ignore"):
        history = population.fit(X_train, y_train, loss="softmax_cross_entropy",
                                 optimizer=xn.Adam([0.003, 100.0, 0.01]), batch_size=64, epochs=3,
                                 callbacks=[callbacks.TerminateOnDivergence()])
    assert population.alive.tolist() == [True, False, True] and history.epochs == 3
    assert np.isnan(history["loss"][0][1]) and np.all(np.isfinite(np.array(history["loss"])[:, [0, 2]]))


def test_a_population_whose_every_model_diverges_raises():
    rng = np.random.default_rng(0)
    X, targets = rng.standard_normal((120, 6)) * 1e3, rng.standard_normal((120, 1))
    population = xn.Sequential([xn.Dense(10), xn.ReLU(), xn.Dense(1)], input_dim=6, dtype="float64",
                               seed=[0, 1], population=2)
    before = population.get_weights()
    with np.errstate(all="ignore"), pytest.raises(xn.DivergenceError, match=r"every model of the population "
                                                                            r"diverged; the last the cost became NaN"):
        population.fit(X, targets, loss="mse", optimizer=xn.SGD([10.0, 20.0]), epochs=3, batch_size=20)
    assert_weights_equal(population.get_weights(), before)
    assert population.alive.tolist() == [False, False] and population.epoch == 0


# The protocol -------------------------------------------------------------------------------------------

class StopAfter:
    """A callback that is not a Callback subclass: only the hooks it needs."""

    def __init__(self, epochs):
        self.epochs, self.seen, self.ended_with = epochs, [], "not called"

    def on_epoch_end(self, run, record):
        self.seen.append(record["epoch"])
        if len(self.seen) % self.epochs == 0:
            run.stop()

    def on_train_end(self, run):
        self.ended_with = run.error


def test_any_object_with_hooks_can_stop_training():
    X, y, _, _ = overfitting_problem()
    stopper = StopAfter(2)
    model = wide()
    model.fit(X, y, loss="softmax_cross_entropy", epochs=10, callbacks=[stopper])
    model.fit(X, y, epochs=10, callbacks=stopper)  # a single callback is fine too
    assert stopper.seen == [1, 2, 3, 4] and model.epoch == 4 and stopper.ended_with is None


def test_train_end_hears_of_the_error_that_ended_training():
    X, y, _, _ = overfitting_problem()
    stopper = StopAfter(5)
    with pytest.raises(xn.DivergenceError):
        wide().fit(X, y, loss="softmax_cross_entropy", epochs=5,
                   callbacks=[callbacks.TerminateOnDivergence(threshold=1e-9), stopper])
    assert isinstance(stopper.ended_with, xn.DivergenceError)


class FreezeFirstAfter(callbacks.Callback):
    def __init__(self, epoch):
        self.epoch, self.weights = epoch, None

    def on_epoch_end(self, run, record):
        if record["epoch"] == self.epoch:
            run.stop_members([True, False])
            self.weights = run.model.get_weights()


def test_a_frozen_model_keeps_its_batchnorm_statistics_too():
    X, y, _, _ = overfitting_problem()
    population = xn.Sequential([xn.Dense(8), xn.BatchNorm(), xn.ReLU(), xn.Dropout(0.2), xn.Dense(2)], input_dim=4,
                               dtype="float64", seed=[0, 1], population=2)
    freezer = FreezeFirstAfter(2)
    population.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.Adam(0.01), epochs=5, batch_size=16,
                   callbacks=[freezer])
    final = population.get_weights()
    assert any("running" in name for name in final)
    assert_weights_equal(final, freezer.weights, index=0)
    assert not np.array_equal(final["0.W"][1], freezer.weights["0.W"][1])  # the other went on
