"""How many threads the BLAS library behind NumPy uses, for the length of a block of work.

On a shared machine an unbounded BLAS pool makes epoch times swing (on two shared cores, from 0.01 s
to 0.52 s for the same epoch); ``limit(1)`` keeps a training run on one core. The limit needs
threadpoolctl (the ``threads`` extra) and only affects libraries that threadpoolctl controls.
"""
from __future__ import annotations

import contextlib

from xpnet import checks


@contextlib.contextmanager
def limit(count: int | None, name: str = "threads"):
    """Run the block with at most ``count`` BLAS threads (None: leave the pools as they are).
    ``name`` is the setting as the caller spells it (``--threads`` on the command line), for errors."""
    if count is None:
        yield
        return
    count = checks.positive_int(count, name)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError as error:
        raise ImportError(f"{name} needs threadpoolctl: pip install 'xpnet[threads]'") from error
    with threadpool_limits(limits=count, user_api="blas"):
        yield
