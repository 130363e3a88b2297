"""Per-step random numbers (dropout masks, shuffles), drawn natively on the model's device.

Random numbers are not part of the array API standard, so each backend gets a small adapter with
two methods: ``uniform(shape, dtype)`` in [0, 1) and ``permutation(n)`` (an int64 index array).
Initial weights do not come from here: they are drawn on the host (see :mod:`xpnet.init`) so
that one seed gives the same starting weights on every backend.
"""
from __future__ import annotations

import numpy as np


class RandomSource:
    """Interface: a seeded generator that creates arrays on one device, with a JSON-friendly state
    (``get_state``/``set_state``) so a checkpoint resumes the same random stream."""

    def uniform(self, shape, dtype):
        raise NotImplementedError

    def permutation(self, n: int):
        raise NotImplementedError

    def get_state(self):
        raise NotImplementedError(f"{type(self).__name__} cannot save its random state")

    def set_state(self, state) -> None:
        raise NotImplementedError(f"{type(self).__name__} cannot restore a random state")


class _NumpyState:
    """State of a NumPy ``Generator``: its bit generator's state dictionary."""

    def get_state(self):
        return self.generator.bit_generator.state

    def set_state(self, state) -> None:
        self.generator.bit_generator.state = state


class NumpyRandom(_NumpyState, RandomSource):
    """NumPy's ``Generator`` (PCG64)."""

    def __init__(self, seed):
        self.generator = np.random.default_rng(seed)

    def uniform(self, shape, dtype):
        return self.generator.random(shape, dtype=dtype)

    def permutation(self, n):
        return self.generator.permutation(n)


class CupyRandom(RandomSource):
    """CuPy's ``Generator``, drawing on the GPU the model lives on."""

    def __init__(self, seed, device):
        import cupy

        self.device = device
        with device:
            self.generator = cupy.random.default_rng(seed)

    def uniform(self, shape, dtype):
        with self.device:
            return self.generator.random(shape, dtype=dtype)

    def permutation(self, n):
        import cupy

        with self.device:
            return cupy.argsort(self.generator.random(n))


class TorchRandom(RandomSource):
    """A ``torch.Generator`` bound to the model's device."""

    def __init__(self, seed, device):
        import torch

        self.generator = torch.Generator(device=device)
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))
        self.device = device

    def uniform(self, shape, dtype):
        import torch

        return torch.rand(shape, generator=self.generator, dtype=dtype, device=self.device)

    def permutation(self, n):
        import torch

        return torch.randperm(n, generator=self.generator, device=self.device)

    def get_state(self):
        return self.generator.get_state().tolist()

    def set_state(self, state) -> None:
        import torch

        self.generator.set_state(torch.tensor(state, dtype=torch.uint8))


class HostRandom(_NumpyState, RandomSource):
    """For namespaces without a generator (array-api-strict): draw with NumPy, then move once."""

    def __init__(self, seed, xp, device):
        self.generator = np.random.default_rng(seed)
        self.xp = xp
        self.device = device

    def uniform(self, shape, dtype):
        host_dtype = np.float32 if dtype == self.xp.float32 else np.float64
        return self.xp.asarray(self.generator.random(shape, dtype=host_dtype), device=self.device)

    def permutation(self, n):
        return self.xp.asarray(self.generator.permutation(n), device=self.device)


def make_random_source(backend_name: str, xp, device, seed) -> RandomSource:
    """The native random source for a backend, seeded with ``seed`` (None: fresh entropy)."""
    if backend_name == "numpy":
        return NumpyRandom(seed)
    if backend_name == "cupy":
        return CupyRandom(seed, device)
    if backend_name == "torch":
        return TorchRandom(seed, device)
    return HostRandom(seed, xp, device)
