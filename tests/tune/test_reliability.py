"""Searches survive what goes wrong: bad trials, racing and dying workers, scripts without a main
guard, checkpoints taken at any moment."""
import multiprocessing
import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import xpnet as xn
from xpnet import tune
from xpnet.tune import trials

ROOT = pathlib.Path(xn.__file__).resolve().parents[1]
X_train, y_train, X_val, y_val = xn.datasets.moons(n_samples=200, noise=0.25, seed=2)
PROBLEM = tune.Problem(X_train, y_train, X_val, y_val, "binary_cross_entropy", 1, dtype="float64")
SPACE = {"lr": tune.LogUniform(1e-3, 0.1)}


def python(code: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter that imports this checkout's xpnet."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=environment, cwd=ROOT)


# babysitting checkpoints -------------------------------------------------------------------------

def sitter(loss="binary_cross_entropy"):
    from xpnet.tune.babysit import Babysitter

    model = xn.Sequential([xn.Dense(6), xn.ReLU(), xn.Dropout(0.2), xn.Dense(1)], input_dim=2, dtype="float64")
    return Babysitter(model, X_train, y_train, loss, xn.Adam(0.01), batch_size=32, validation_data=(X_val, y_val),
                      seed=7)


def test_a_babysitter_with_a_loss_object_checkpoints(tmp_path):
    from xpnet.tune.babysit import Babysitter

    running = sitter(xn.BinaryCrossEntropy())
    running.train(1, verbose=False)
    running.save(tmp_path / "sitter.npz")
    resumed = Babysitter.resume(tmp_path / "sitter.npz", X_train, y_train, (X_val, y_val))
    resumed.train(1, verbose=False)
    running.train(1, verbose=False)
    np.testing.assert_array_equal(resumed.model.predict(X_val), running.model.predict(X_val))


def test_a_checkpoint_taken_before_the_first_round_resumes_exactly(tmp_path):
    from xpnet.tune.babysit import Babysitter

    straight = sitter()
    straight.adjust(batch_size=16)
    straight.train(2, verbose=False)
    early = sitter()
    early.adjust(batch_size=16)
    early.save(tmp_path / "early.npz")
    resumed = Babysitter.resume(tmp_path / "early.npz", X_train, y_train, (X_val, y_val))
    resumed.train(2, verbose=False)
    for name, value in straight.model.get_weights().items():
        np.testing.assert_array_equal(resumed.model.get_weights()[name], value)


def test_resuming_a_plain_model_file_says_what_it_is(tmp_path):
    from xpnet.tune.babysit import Babysitter

    model = xn.Sequential([xn.Dense(1)], input_dim=2)
    model.fit(X_train, y_train, loss="binary_cross_entropy")
    xn.save(model, tmp_path / "plain.npz")
    with pytest.raises(ValueError, match="plain.npz is a model file, not a Babysitter checkpoint"):
        Babysitter.resume(tmp_path / "plain.npz", X_train, y_train)


def test_resuming_a_checkpoint_with_incomplete_settings_names_what_is_missing(tmp_path):
    from xpnet.tune.babysit import Babysitter

    running = sitter()
    running.save(tmp_path / "sitter.npz")
    settings = xn.load(tmp_path / "sitter.npz").metadata["babysitter"]
    del settings["batch_size"], settings["seed"]
    xn.save(running.model, tmp_path / "edited.npz", metadata={"babysitter": settings})
    with pytest.raises(ValueError, match=r"edited.npz is not a complete Babysitter checkpoint: its 'babysitter' "
                                         r"metadata lacks 'batch_size', 'seed'"):
        Babysitter.resume(tmp_path / "edited.npz", X_train, y_train)


@pytest.mark.parametrize("key, value, expected", [
    ("batch_size", "32", "batch_size must be a positive int, got '32'"),
    ("batch_size", 0, "batch_size must be a positive int, got 0"),
    ("l2", -1.0, "l2 must be a finite number >= 0"),
    ("seed", 1.5, "seed must be an int >= 0, got 1.5"),
    ("loss", "hinge", "hinge"),
])
def test_resuming_a_checkpoint_with_a_wrong_setting_names_it(tmp_path, key, value, expected):
    from xpnet.tune.babysit import Babysitter

    running = sitter()
    running.save(tmp_path / "sitter.npz")
    settings = {**xn.load(tmp_path / "sitter.npz").metadata["babysitter"], key: value}
    xn.save(running.model, tmp_path / "edited.npz", metadata={"babysitter": settings})
    with pytest.raises(ValueError, match=f"edited.npz is not a valid Babysitter checkpoint: .*{expected}"):
        Babysitter.resume(tmp_path / "edited.npz", X_train, y_train)


def test_a_babysitter_checks_its_settings_when_built():
    from xpnet.tune.babysit import Babysitter

    model = xn.Sequential([xn.Dense(1)], input_dim=2)
    with pytest.raises(ValueError, match="batch_size must be a positive int, got 2.5"):
        Babysitter(model, X_train, y_train, "binary_cross_entropy", xn.Adam(0.01), batch_size=2.5)


@pytest.mark.parametrize("changes, expected", [
    ({"batch_size": "32"}, "batch_size must be a positive int, got '32'"),
    ({"batch_size": 0}, "batch_size must be a positive int, got 0"),
    ({"l2": float("nan")}, "l2 must be a finite number >= 0"),
    ({"batch_size": 64, "lr": -1.0}, "lr"),
])
def test_adjust_checks_every_value_before_changing_any(changes, expected):
    running = sitter()
    settings, lr = dict(running.settings), running.optimizer.lr
    with pytest.raises(ValueError, match=expected):
        running.adjust(**changes)
    assert running.settings == settings and running.optimizer.lr == lr


def test_a_babysitter_needs_an_optimizer():
    from xpnet.tune.babysit import Babysitter

    model = xn.Sequential([xn.Dense(1)], input_dim=2)
    with pytest.raises(TypeError, match="optimizer must be an xpnet optimizer .*got None"):
        Babysitter(model, X_train, y_train, "binary_cross_entropy", None)


# a trial that raises -----------------------------------------------------------------------------

def test_a_trial_that_raises_is_recorded_as_failed_and_the_search_goes_on():
    m = len(X_train)
    good = [trials.complete({"lr": lr}, {"epochs": 2, "units": 4}) for lr in (0.01, 0.02)]
    single_row_batch = [trials.complete({"lr": lr}, {"epochs": 2, "units": 4, "batchnorm": True,
                                                      "batch_size": m - 1}) for lr in (0.01, 0.03)]
    results = tune.Results(tune.run(PROBLEM, [good[0], single_row_batch[0], good[1], single_row_batch[1]]))
    assert [trial.state for trial in results] == ["complete", "complete", "failed", "failed"]
    assert sorted(trial.number for trial in results if trial.state == "failed") == [1, 3]
    failed = results[2]
    assert "BatchNorm" in failed.error and failed.error.startswith("ValueError")
    with pytest.raises(ValueError, match=r"trial \d kept no model \(failed: ValueError"):
        failed.model()
    assert results.best_model().history.epochs == 2


# worker processes without a main guard ------------------------------------------------------------

def test_worker_processes_need_no_main_guard(tmp_path):
    script = tmp_path / "unguarded.py"
    script.write_text(textwrap.dedent("""
        import xpnet as xn
        from xpnet import tune
        print("script body ran", flush=True)
        X, y, Xv, yv = xn.datasets.moons(n_samples=100, noise=0.2)
        problem = tune.Problem(X, y, Xv, yv, "binary_cross_entropy", 1)
        results = tune.random_search({"lr": tune.LogUniform(1e-3, 0.1), "units": tune.Choice([4, 8])}, problem,
                                     n_trials=4, base={"epochs": 2}, mode="processes", workers=2)
        print("trials", len(results), results.best.state)
    """))
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    finished = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                              env=environment, cwd=tmp_path)
    assert finished.returncode == 0, finished.stderr[-2000:]
    assert finished.stdout.count("script body ran") == 1
    assert "trials 4 complete" in finished.stdout


# lazily imported submodules -----------------------------------------------------------------------

def test_tune_babysit_and_tune_optuna_work_as_the_readme_names_them():
    finished = python("import xpnet as xn\nprint(xn.tune.babysit.Babysitter.__name__, xn.tune.optuna.work.__name__)")
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["Babysitter", "work"]
    assert "optuna" not in python("import sys, xpnet\nprint(sorted(sys.modules))").stdout.split("'")


# Optuna workers ---------------------------------------------------------------------------------

def create_after(barrier, storage, results):
    from xpnet.tune import optuna as bridge

    barrier.wait()
    try:
        bridge.create_study(storage, "race")
        results.put("ok")
    except Exception as error:  # reported to the test, which shows it
        results.put(f"{type(error).__name__}: {error}")


def test_workers_started_together_on_a_fresh_sqlite_database_all_start(tmp_path):
    pytest.importorskip("optuna")
    context = multiprocessing.get_context("spawn")
    outcomes = []
    for start in range(6):
        barrier, results = context.Barrier(2), context.Queue()
        storage = f"sqlite:///{tmp_path / f'fresh{start}.db'}"
        workers = [context.Process(target=create_after, args=(barrier, storage, results)) for _ in range(2)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        outcomes += [results.get(timeout=10) for _ in workers]
    assert outcomes == ["ok"] * 12, [outcome for outcome in outcomes if outcome != "ok"]


@pytest.mark.parametrize("n_trials, population_size", [(0, 2), (2, 0), ("3", 2)])
def test_a_worker_checks_its_counts_before_creating_the_study(tmp_path, n_trials, population_size):
    pytest.importorskip("optuna")
    from xpnet.tune import optuna as bridge

    database = tmp_path / "study.db"
    with pytest.raises(ValueError, match="n_trials|population_size"):
        bridge.work(f"sqlite:///{database}", "early", SPACE, PROBLEM, n_trials, population_size)
    assert not database.exists()


def test_a_dead_workers_trials_are_failed_and_run_again(tmp_path):
    optuna = pytest.importorskip("optuna")
    from xpnet.tune import optuna as bridge

    storage = f"sqlite:///{tmp_path / 'dying.db'}"
    bridge.create_study(storage, "dying")
    context = multiprocessing.get_context("spawn")
    slow = {"epochs": 5000, "units": 4, "batch_size": 16}
    doomed = context.Process(target=bridge.work, args=(storage, "dying", SPACE, PROBLEM, 2, 2, slow),
                             kwargs={"heartbeat_interval": 1, "grace_period": 3})
    doomed.start()
    deadline = time.monotonic() + 120
    study = optuna.load_study(study_name="dying", storage=storage)
    while len(study.get_trials(states=[optuna.trial.TrialState.RUNNING])) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # training, with heartbeats sent
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.join()
    killed = sorted(t.number for t in study.get_trials(states=[optuna.trial.TrialState.RUNNING]))
    assert len(killed) == 2
    time.sleep(4)  # past the grace period
    numbers = bridge.work(storage, "dying", SPACE, PROBLEM, 2, 2, {"epochs": 2, "units": 4},
                          heartbeat_interval=1, grace_period=3)
    trials_ = study.get_trials()
    assert not [t for t in trials_ if t.state == optuna.trial.TrialState.RUNNING]
    assert sorted(t.number for t in trials_ if t.state == optuna.trial.TrialState.FAIL) == killed
    retried = {t.system_attrs["failed_trial"]: t for t in trials_ if t.number in numbers}
    assert sorted(retried) == killed
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in retried.values())
    originals = {t.number: t.params for t in trials_}
    assert all(t.params == originals[number] for number, t in retried.items())


def test_optuna_is_told_a_raising_trial_failed_with_its_error(tmp_path):
    optuna = pytest.importorskip("optuna")
    from xpnet.tune import optuna as bridge

    study = bridge.create_study(f"sqlite:///{tmp_path / 'raising.db'}", "raising")
    broken = {"epochs": 2, "units": 4, "batchnorm": True, "batch_size": len(X_train) - 1}
    results = bridge.optimize(study, SPACE, PROBLEM, n_trials=2, population_size=2, base=broken)
    bridge.optimize(study, SPACE, PROBLEM, n_trials=2, population_size=2, base={"epochs": 2, "units": 4})
    assert [r.state for r in results] == ["failed", "failed"]
    states = [t.state for t in study.trials]
    assert states == [optuna.trial.TrialState.FAIL] * 2 + [optuna.trial.TrialState.COMPLETE] * 2
    assert "BatchNorm" in study.trials[0].user_attrs["error"]
