"""Fixtures every test can use: the backend matrix and a seeded random generator."""
from __future__ import annotations

import numpy as np
import pytest

import support


@pytest.fixture(params=support.BACKENDS)
def where(request) -> dict:
    """``{"backend": ..., "device": ...}``, ready to pass to ``xn.Sequential`` or ``resolve_backend``."""
    backend, device = request.param
    return {"backend": backend, "device": device}


@pytest.fixture(params=support.CPU_BACKENDS)
def cpu_where(request) -> dict:
    backend, device = request.param
    return {"backend": backend, "device": device}


@pytest.fixture
def rng() -> np.random.Generator:
    """A NumPy generator seeded the same way in every test, so each test's data is fixed."""
    return np.random.default_rng(0)
