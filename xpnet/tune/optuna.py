"""Optuna bridge (the ``tune`` extra): xpnet spaces as Optuna suggestions, trials asked and told in
population-sized groups, and a study that lives in Optuna's storage.

The default storage is a SQLite file; any database URL Optuna accepts (``postgresql://...``) lets
many processes or machines join one study: each runs :func:`work` with the same storage and study
name, asks for trials, trains them as a population and tells Optuna the results.
"""
from __future__ import annotations

import math

from xpnet.tune import runner, spaces, trials
from xpnet.tune.results import Results

DEFAULT_STORAGE = "sqlite:///xpnet-study.db"


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


def create_study(storage: str = DEFAULT_STORAGE, study_name: str = "xpnet", sampler=None):
    """Create, or join if it exists, a study minimizing the best validation loss."""
    optuna = _optuna()
    return optuna.create_study(storage=storage, study_name=study_name, direction="minimize",
                               sampler=sampler, load_if_exists=True)


def optimize(study, space: dict, problem, n_trials: int, population_size: int = 8, base: dict | None = None,
             **run_options) -> Results:
    """Ask ``n_trials`` trials in groups of ``population_size``, train each group together, tell the
    study every result (a diverged trial is told as failed). Returns this caller's trials."""
    optuna = _optuna()
    found: list = []
    while len(found) < n_trials:
        asked = [study.ask() for _ in range(min(population_size, n_trials - len(found)))]
        sampled = [suggest(trial, space) for trial in asked]
        configs = [trials.complete(params, base) for params in sampled]
        results = runner.run(problem, configs, **run_options)
        for trial, result, params in zip(asked, results, sampled):
            result.number, result.params = trial.number, params
            trial.set_user_attr("val_accuracy", result.best_val_accuracy)
            trial.set_user_attr("epochs", result.epochs)
            trial.set_user_attr("seconds", result.seconds)
            if result.diverged or math.isnan(result.best_val_loss):
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            else:
                study.tell(trial, result.best_val_loss)
        found += results
    return Results(found)


def work(storage: str, study_name: str, space: dict, problem, n_trials: int, population_size: int = 8,
         base: dict | None = None, sampler_seed: int | None = None) -> list:
    """One worker's share of a shared study (a process or machine entry point); returns the numbers
    of the trials it ran."""
    optuna = _optuna()
    sampler = optuna.samplers.TPESampler(seed=sampler_seed) if sampler_seed is not None else None
    study = create_study(storage, study_name, sampler)
    results = optimize(study, space, problem, n_trials, population_size, base)
    return [result.number for result in results]
