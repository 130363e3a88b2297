"""Optuna bridge (the ``tune`` extra): xpnet spaces as Optuna suggestions, trials asked and told in
population-sized groups, and a study that lives in Optuna's storage.

The default storage is a SQLite file; any database URL Optuna accepts (``postgresql://...``) lets
many processes or machines join one study: each runs :func:`work` with the same storage and study
name, asks for trials, trains them as a population and tells Optuna the results.

Reliability: the storage's tables and the study are created with retries, so workers started
together on a fresh database do not trip over each other; every running trial sends a heartbeat,
so the trials of a worker that died are failed by the next worker that asks and run again (Optuna's
heartbeat and retry callback); a trial whose training raises is told as failed, with its error in
the ``error`` user attribute, and the others go on. With ``prune=True`` every trial reports its
validation loss after each epoch and stops when the study's pruner says so (told as pruned).
"""
from __future__ import annotations

import contextlib
import math
import random
import threading
import time
import warnings
from typing import Any

import numpy as np

from xpnet import checks
from xpnet.tune import pruning, runner, spaces, trials
from xpnet.tune.results import Results

DEFAULT_STORAGE = "sqlite:///xpnet-study.db"
HEARTBEAT_INTERVAL = 10  # seconds between a running trial's heartbeats
GRACE_PERIOD = 60  # seconds without a heartbeat after which a trial counts as dead
MAX_RETRY = 3  # times a dead worker's trial is run again
ATTEMPTS = 8  # tries at creating the storage or the study


def _optuna():
    try:
        import optuna
    except ImportError as error:
        raise ImportError("the Optuna bridge needs optuna: pip install 'xpnet[tune]'") from error
    return optuna


def suggest(trial, space: dict) -> dict:
    """Draw one configuration from ``space`` through an Optuna trial (its sampler decides)."""
    params = {}
    for name, distribution in spaces.check_space(space).items():
        if isinstance(distribution, spaces.OneMinusLogUniform):
            gap = trial.suggest_float(f"1-{name}", 1 - distribution.high, 1 - distribution.low, log=True)
            params[name] = 1.0 - gap
        elif isinstance(distribution, spaces.LogUniform):
            params[name] = trial.suggest_float(name, distribution.low, distribution.high, log=True)
        elif isinstance(distribution, spaces.Uniform):
            params[name] = trial.suggest_float(name, distribution.low, distribution.high)
        elif isinstance(distribution, spaces.IntUniform):
            params[name] = trial.suggest_int(name, distribution.low, distribution.high, log=distribution.log)
        elif isinstance(distribution, spaces.Choice):
            params[name] = trial.suggest_categorical(name, distribution.options)
        else:
            raise TypeError(f"no Optuna equivalent for space[{name!r}] = {distribution!r}")
    return params


def _with_retries(action, what: str):
    """``action()``, tried again after a short random pause when a database error (another worker
    creating the same tables or study at the same moment) interrupts it."""
    for attempt in range(ATTEMPTS):
        try:
            return action()
        except Exception as error:  # sqlalchemy's OperationalError, IntegrityError, ...
            if attempt == ATTEMPTS - 1:
                raise RuntimeError(f"could not {what} after {ATTEMPTS} attempts: {error}") from error
            time.sleep(random.uniform(0.05, 0.2) * 2 ** attempt)
    raise AssertionError("unreachable")


def open_storage(url: str = DEFAULT_STORAGE, heartbeat_interval: int | None = HEARTBEAT_INTERVAL,
            grace_period: int | None = GRACE_PERIOD, max_retry: int = MAX_RETRY):
    """An Optuna RDB storage for ``url`` with heartbeats: a trial silent for ``grace_period`` seconds
    is failed and run again, up to ``max_retry`` times (``heartbeat_interval=None``: no heartbeats)."""
    optuna = _optuna()
    retry = getattr(optuna.storages, "RetryHeartbeatStaleTrialCallback", None) or \
        optuna.storages.RetryFailedTrialCallback
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        options = {}
        if heartbeat_interval is not None:
            callback = "heartbeat_stale_trial_callback" if hasattr(
                optuna.storages.RDBStorage, "get_heartbeat_stale_trial_callback") else "failed_trial_callback"
            options = {"heartbeat_interval": heartbeat_interval, "grace_period": grace_period,
                       callback: retry(max_retry=max_retry)}
        return _with_retries(lambda: optuna.storages.RDBStorage(url, **options), f"open the storage {url}")


def create_study(storage=DEFAULT_STORAGE, study_name: str = "xpnet", sampler=None, pruner=None):
    """Create, or join if it exists, a study minimizing the validation loss in ``storage`` (a URL, which
    gets an :func:`open_storage` with heartbeats, or an Optuna storage)."""
    optuna = _optuna()
    backing = open_storage(storage) if isinstance(storage, str) else storage
    return _with_retries(lambda: optuna.create_study(storage=backing, study_name=study_name, direction="minimize",
                                                     sampler=sampler, pruner=pruner, load_if_exists=True),
                         f"create or load the study {study_name!r}")


def optimize(study, space: dict, problem, n_trials: int, population_size: int = 8, base: dict | None = None,
             prune: bool = False, **run_options) -> Results:
    """Ask ``n_trials`` trials in groups of ``population_size``, train each group together, tell the
    study every result: complete (its kept weights' validation loss), pruned, or failed (diverged, or
    raised: its error goes in the ``error`` user attribute). With ``prune`` the study's pruner sees
    every epoch's validation loss. Returns this caller's trials."""
    optuna = _optuna()
    n_trials = checks.positive_int(n_trials, "n_trials")
    population_size = checks.positive_int(population_size, "population_size")
    prune = checks.flag(prune, "prune")
    if prune and run_options.get("mode") == "processes":
        raise ValueError("prune=True reports to Optuna from this process: use mode='population' or 'sequential'")
    found: list = []
    while len(found) < n_trials:
        _fail_dead_trials(study)
        with warnings.catch_warnings():  # heartbeats are sent by _heartbeats below, not by Study.optimize
            warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
            asked = [study.ask() for _ in range(min(population_size, n_trials - len(found)))]
        sampled = [suggest(trial, space) for trial in asked]
        configs = [trials.complete(params, base) for params in sampled]
        options = {**run_options, "pruner": OptunaPruner(asked)} if prune else run_options
        with _heartbeats(study, asked):
            results = runner.run(problem, configs, **options)
        for trial, result, params in zip(asked, results, sampled):
            result.number, result.params = trial.number, params
            _tell(optuna, study, trial, result)
        found += results
    return Results(found)


def _tell(optuna, study, trial, result) -> None:
    trial.set_user_attr("val_accuracy", result.val_accuracy)
    trial.set_user_attr("epochs", result.epochs)
    trial.set_user_attr("seconds", result.seconds)
    if result.error is not None:
        trial.set_user_attr("error", result.error)
    states = optuna.trial.TrialState
    if result.state == "pruned":
        study.tell(trial, state=states.PRUNED)
    elif result.state != "complete" or math.isnan(result.val_loss):
        study.tell(trial, state=states.FAIL)
    else:
        study.tell(trial, result.val_loss)


def _fail_dead_trials(study) -> None:
    """Fail the running trials whose worker stopped sending heartbeats (their retries are queued)."""
    optuna = _optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)


@contextlib.contextmanager
def _heartbeats(study, asked: list):
    """While the block runs, a thread records a heartbeat for each of the ``asked`` trials every
    heartbeat interval (when the storage keeps heartbeats)."""
    backing: Any = getattr(study, "_storage", None)  # Optuna keeps heartbeats in the study's storage
    interval = backing.get_heartbeat_interval() if hasattr(backing, "get_heartbeat_interval") else None
    if not interval:
        yield
        return
    stop = threading.Event()

    def beat():
        while True:
            for trial in asked:
                backing.record_heartbeat(trial._trial_id)  # Optuna's trial id: what its storage keys on
            if stop.wait(interval):
                return

    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


class OptunaPruner(pruning.Pruner):
    """The study's pruner, through the asked trials: each running trial reports its validation loss
    after every epoch and stops when ``trial.should_prune()`` says so."""

    def __init__(self, asked: list):
        self.asked = asked

    def checkpoints(self, epochs):
        return list(range(1, epochs))

    def prune(self, numbers, val_losses, epoch):
        stop = np.zeros(len(numbers), dtype=bool)
        for position, (number, loss) in enumerate(zip(numbers, val_losses)):
            trial = self.asked[number]
            trial.report(float(loss), epoch)
            stop[position] = trial.should_prune()
        return stop


def work(storage: str, study_name: str, space: dict, problem, n_trials: int, population_size: int = 8,
         base: dict | None = None, sampler_seed: int | None = None, pruner=None,
         heartbeat_interval: int | None = HEARTBEAT_INTERVAL, grace_period: int | None = GRACE_PERIOD) -> list:
    """One worker's share of a shared study (a process or machine entry point); returns the numbers
    of the trials it ran. ``pruner`` (an Optuna pruner) turns on pruning; ``heartbeat_interval`` and
    ``grace_period`` are :func:`open_storage`'s."""
    optuna = _optuna()
    n_trials = checks.positive_int(n_trials, "n_trials")  # before the storage and study exist
    population_size = checks.positive_int(population_size, "population_size")
    sampler = optuna.samplers.TPESampler(seed=sampler_seed) if sampler_seed is not None else None
    study = create_study(open_storage(storage, heartbeat_interval, grace_period), study_name, sampler, pruner)
    results = optimize(study, space, problem, n_trials, population_size, base, prune=pruner is not None)
    return [result.number for result in results]
