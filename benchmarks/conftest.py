"""Benchmark options: ``--profile quick`` (the CI smoke test) or ``full``; which devices exist; TF32."""
from __future__ import annotations

import importlib.util

import pytest

PROFILES = {
    "quick": {"batches": (32, 256), "optimizers": ("sgd", "adam"), "rounds": 5, "fit_rows": 6_000,
              "fit_batches": (128,), "populations": {"cpu": (1, 64), "cuda": (1, 64)}},
    "full": {"batches": (32, 64, 128, 256, 512, 1024, 2048, 4096),
             "optimizers": ("sgd", "momentum", "rmsprop", "adam"), "rounds": 30, "fit_rows": 60_000,
             "fit_batches": (128, 1024), "populations": {"cpu": (1, 64), "cuda": (1, 64, 1024, 4096)}},
}


def pytest_addoption(parser):
    parser.addoption("--profile", choices=sorted(PROFILES), default="quick",
                     help="quick: two batch sizes and two optimizers; full: the whole grid")
    parser.addoption("--tf32", action="store_true",
                     help="let float32 matrix products use TF32 on every side (CuPy, nvmath, torch, JAX)")


def cuda_available() -> bool:
    if importlib.util.find_spec("cupy") is None:
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def pytest_generate_tests(metafunc):
    profile = PROFILES[metafunc.config.getoption("--profile")]
    devices = ["cpu"] + (["cuda"] if cuda_available() else [])
    grid = {"batch": profile["batches"], "optimizer": profile["optimizers"], "device": devices,
            "fit_batch": profile["fit_batches"]}
    for name, values in grid.items():
        if name in metafunc.fixturenames:
            metafunc.parametrize(name, values)
    if "population" in metafunc.fixturenames:
        metafunc.parametrize("population", sorted({p for sizes in profile["populations"].values() for p in sizes}))


@pytest.fixture(scope="session")
def profile(request) -> dict:
    return PROFILES[request.config.getoption("--profile")]


@pytest.fixture(scope="session")
def rounds(profile) -> int:
    return profile["rounds"]


@pytest.fixture(scope="session", autouse=True)
def tf32(request):
    """TF32 set the same way for every side (off unless --tf32), recorded in every result."""
    import os

    enabled = request.config.getoption("--tf32")
    os.environ["CUPY_TF32"] = "1" if enabled else "0"
    if importlib.util.find_spec("torch") is not None:
        import torch

        torch.backends.cuda.matmul.allow_tf32 = enabled
    return enabled
