"""Search strategies: random (the default), grid (for comparison), and coarse to fine."""
from __future__ import annotations

from xpnet import checks
from xpnet.tune import runner, spaces, trials
from xpnet.tune.results import Results


def random_search(space: dict, problem, n_trials: int = 20, base: dict | None = None, seed: int = 0,
                  refit: bool = False, **run_options) -> Results:
    """``n_trials`` configurations drawn from ``space`` (reproducible for ``seed``), completed by
    ``base``; ``run_options`` go to :func:`xpnet.tune.runner.run` (``mode``, ``workers``, ``devices``,
    ``pad``, ``pruner``, ``threads``). ``refit=True`` trains the best configuration again on the
    training and validation data together: ``results.best_model()`` is then that model."""
    n_trials = checks.positive_int(n_trials, "n_trials")
    return _evaluate(spaces.sample(space, n_trials, seed), problem, base, refit, run_options)


def grid_search(space: dict, problem, points: int = 3, base: dict | None = None, refit: bool = False,
                **run_options) -> Results:
    """Every combination of ``points`` values per axis: mostly to show why random search wins (a grid
    tries only ``points`` values of each hyperparameter, however many trials it spends)."""
    points = checks.positive_int(points, "points")
    return _evaluate(spaces.grid(space, points), problem, base, refit, run_options)


def coarse_to_fine(space: dict, problem, rounds: int = 3, n_trials: int = 16, top_k: int = 4,
                   margin: float = 0.25, base: dict | None = None, seed: int = 0, refit: bool = False,
                   **run_options) -> Results:
    """Random search in rounds; after each, zoom the space around the ``top_k`` best trials so far
    (in each distribution's own scale) and sample again, more densely there. ``results.spaces``
    lists the space of every round."""
    refit = checks.flag(refit, "refit")
    rounds, n_trials, top_k = (checks.positive_int(value, name) for value, name in
                               ((rounds, "rounds"), (n_trials, "n_trials"), (top_k, "top_k")))
    everything: list = []
    used_spaces: list = []
    for round_index in range(rounds):
        used_spaces.append(space)
        sampled = spaces.sample(space, n_trials, seed + round_index)
        configs = [trials.complete(params, base) for params in sampled]
        found = runner.run(problem, configs, first_number=len(everything), **run_options)
        for result, params in zip(found, sampled):
            result.params = {**params, "round": round_index}
        everything += found
        best = Results(everything).trials[:top_k]
        space = spaces.zoom(space, [{k: v for k, v in t.params.items() if k in space} for t in best], margin)
    return _finish(Results(everything, used_spaces), problem, refit, run_options)


def _evaluate(sampled: list, problem, base, refit: bool, run_options) -> Results:
    refit = checks.flag(refit, "refit")  # before the search, not after it
    configs = [trials.complete(params, base) for params in sampled]
    found = runner.run(problem, configs, **run_options)
    for result, params in zip(found, sampled):
        result.params = dict(params)
    return _finish(Results(found), problem, refit, run_options)


def _finish(results: Results, problem, refit: bool, run_options: dict) -> Results:
    """With ``refit``, the best completed configuration trained again on all the data."""
    if refit:
        if not results.trials or results.best.state != "complete":
            raise ValueError("refit=True: no trial completed, so there is no configuration to refit")
        results.refitted = runner.refit(problem, results.best.config, run_options.get("threads"))
    return results
