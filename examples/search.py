"""Hyperparameter search on the digits: random vs grid search, coarse to fine on log scales, and 64
configurations trained at once as one population.

Every trial trains a 64-64-64-10 ReLU network with Adam (batches of 64) on the same mini-batches and
is ranked by its validation loss after the last epoch: the loss of the weights it ends with, on a
fifth of the digits' training rows held out for validation. The test rows are never used: a choice
made by looking at them would make their score an optimistic estimate.

1. Random vs grid search with the same budget over the learning rate (log-uniform in 1e-4..1) and
   Adam's beta1 (1 - beta1 log-uniform in 1e-3..0.5): a grid of 4 x 4 tries only 4 learning rates,
   random search tries 16.
2. Coarse to fine: three rounds of 16 trials; after each, the space shrinks around the 4 best so far,
   in each distribution's own (log) scale.
3. 64 random configurations of the per-model hyperparameters (learning rate, beta1, L2) trained as
   one population (``mode="population"``) and, for the timing, one after another.

Figures: search_random.png, search_grid.png, search_coarse_to_fine.png, search_population.png and
search_best_history.png (the curves of the population's best trial).
"""
import time

import common

import xpnet as xn
from xpnet import tune

SPACE = {"lr": tune.LogUniform(1e-4, 1), "beta1": tune.OneMinusLogUniform(0.5, 0.999)}
POPULATION_SPACE = {**SPACE, "l2": tune.LogUniform(1e-4, 10)}


def timed(search, *arguments, **options):
    """``(results, seconds)`` of one search call."""
    started = time.perf_counter()
    results = search(*arguments, **options)
    return results, time.perf_counter() - started


def tuning_problem() -> tune.Problem:
    """The digits' training rows: 80% to train each trial, 20% (stratified) to score it."""
    X, y, _, _ = xn.datasets.digits()  # the test rows stay unused
    X_train, y_train, X_val, y_val = xn.split_validation(X, y, 0.2, seed=0)
    return tune.Problem(X_train, y_train, X_val, y_val, loss="softmax_cross_entropy", output_dim=10)


def summary(name: str, results, seconds: float) -> None:
    """One line: the trials, and the winner by what the results rank by, its last-epoch scores."""
    best = results.best
    distinct = len({trial.params["lr"] for trial in results})
    print(f"{name}: {len(results)} trials ({distinct} distinct learning rates) in {seconds:.1f} s, ranked by "
          f"the last epoch's validation loss; the best: {best.val_loss:.4f} (accuracy {best.val_accuracy:.3f}) "
          "with " + ", ".join(f"{key} {value:.4g}" for key, value in best.params.items() if key != "round"))


def main():
    args = common.options(__doc__)
    common.warm_up()
    problem = tuning_problem()
    base = {"layers": 2, "units": 64, "batch_size": 64, "epochs": 1 if args.smoke else 8}
    side, rounds, per_round, population = (2, 2, 4, 8) if args.smoke else (4, 3, 16, 64)

    random, seconds = timed(tune.random_search, SPACE, problem, n_trials=side * side, base=base)
    summary("random search", random, seconds)
    common.save(random.plot(space=SPACE), args, "search_random.png")
    grid, seconds = timed(tune.grid_search, SPACE, problem, points=side, base=base)
    summary("grid search", grid, seconds)
    common.save(grid.plot(space=SPACE), args, "search_grid.png")

    fine, seconds = timed(tune.coarse_to_fine, SPACE, problem, rounds=rounds, n_trials=per_round, top_k=4,
                          base=base)
    summary("coarse to fine", fine, seconds)
    for index, space in enumerate(fine.spaces):
        print(f"  round {index + 1}: lr {space['lr'].low:.3g}..{space['lr'].high:.3g}, "
              f"beta1 {space['beta1'].low:.4g}..{space['beta1'].high:.4g}")
    common.save(fine.plot(), args, "search_coarse_to_fine.png")

    together, seconds = timed(tune.random_search, POPULATION_SPACE, problem, n_trials=population, base=base,
                              mode="population")
    summary(f"{population} configurations as one population", together, seconds)
    _, one_by_one = timed(tune.random_search, POPULATION_SPACE, problem, n_trials=population, base=base,
                          mode="sequential")
    print(f"  the same {population} one after another: {one_by_one:.1f} s ({one_by_one / seconds:.2f}x the "
          f"population's time)")
    print(together.table(limit=5))
    common.save(together.plot(space=POPULATION_SPACE), args, "search_population.png")
    common.save(together.best.history.plot(), args, "search_best_history.png")


if __name__ == "__main__":
    main()
