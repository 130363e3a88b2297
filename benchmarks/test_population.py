"""Configurations trained per hour: a population of 64 trained in one pass against the same 64
trained one after another, on the same device with the same epochs and mini-batches."""
import numpy as np
import pytest

from xpnet import tune
from xpnet.tune import trials

SIZE = 64
SPACE = {"lr": tune.LogUniform(1e-3, 0.1), "beta1": tune.OneMinusLogUniform(0.8, 0.99),
         "l2": tune.LogUniform(1e-4, 0.1), "init_scale": tune.Uniform(0.5, 1.5), "seed": tune.IntUniform(0, 10**6)}


def narrow_problem(device):
    """2-5-2-1 on moons (300 points, noise 0.2), mini-batches of 64."""
    from xpnet import datasets

    X_train, y_train, X_val, y_val = datasets.moons(n_samples=300, noise=0.2)
    problem = tune.Problem(X_train, y_train, X_val, y_val, "binary_cross_entropy", 1, device=device)
    return problem, {"layers": 2, "units_1": 5, "units_2": 2, "batch_size": 64, "epochs": 20}


def wide_problem(device):
    """40-100-100-10 on 2000 synthetic examples (10 classes), mini-batches of 100."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2400, 40)).astype(np.float32)
    y = np.argmax(X[:, :10] + 0.5 * rng.standard_normal((2400, 10)), axis=1)
    problem = tune.Problem(X[:2000], y[:2000], X[2000:], y[2000:], "softmax_cross_entropy", 10, device=device)
    return problem, {"layers": 2, "units": 100, "batch_size": 100, "epochs": 3}


SETUPS = {"2-5-2-1 moons b64": narrow_problem, "40-100-100-10 b100": wide_problem}


@pytest.mark.parametrize("setup", sorted(SETUPS))
@pytest.mark.parametrize("mode", ["population", "sequential"])
def test_configurations_per_hour(benchmark, device, setup, mode):
    problem, base = SETUPS[setup](device)
    configs = [trials.complete(params, base) for params in tune.sample(SPACE, SIZE, seed=0)]
    tune.run(problem, configs[:2], mode=mode)  # warm-up: compile kernels, fill caches
    benchmark.group = f"{device} population {setup}"
    benchmark.extra_info.update({"device": device, "peer": mode, "setup": setup, "configurations": SIZE})
    benchmark.pedantic(tune.run, args=(problem, configs), kwargs={"mode": mode}, rounds=3, iterations=1)
