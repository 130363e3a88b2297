"""threads=: the BLAS pool is capped for one call and given back afterwards."""
import sys

import numpy as np
import pytest

import xpnet as xn
from xpnet import threads


def blas_threads() -> list:
    threadpoolctl = pytest.importorskip("threadpoolctl")
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


def test_limit_caps_the_blas_pool_inside_the_block_only():
    before = blas_threads()
    with threads.limit(1):
        assert set(blas_threads()) <= {1}
    assert blas_threads() == before
    with threads.limit(None):
        assert blas_threads() == before


def test_fit_takes_threads_and_checks_it(monkeypatch):
    seen = []
    model = xn.Sequential([xn.Dense(1)], input_dim=2)
    X, y = np.zeros((8, 2)), np.zeros(8)
    original = threads.limit

    def recording(count):
        seen.append(count)
        return original(count)

    monkeypatch.setattr(xn.model, "threads_limit", recording)
    model.fit(X, y, loss="binary_cross_entropy", threads=1)
    assert seen == [1]
    with pytest.raises(ValueError, match="threads must be a positive int, got 0"):
        model.fit(X, y, threads=0)


def test_limit_names_the_setting_and_the_extra_when_threadpoolctl_is_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    with pytest.raises(ImportError, match=r"^threads needs threadpoolctl: pip install 'xpnet\[threads\]'$"):
        threads.limit(1).__enter__()
    with pytest.raises(ImportError, match=r"^--threads needs threadpoolctl"):
        threads.limit(1, "--threads").__enter__()
    with pytest.raises(ValueError, match="--threads must be a positive int, got 0"):
        threads.limit(0, "--threads").__enter__()
