"""Per-step random numbers (dropout masks, shuffles), drawn natively on the model's device.

Random numbers are not part of the array API standard, so each backend gets a small adapter with
two methods, ``uniform(shape, dtype)`` in [0, 1) and ``permutation(n)`` (an int64 index array), and
a state that a checkpoint saves: NumPy's and torch's own generators, and for CuPy and any other
namespace a counter-based SplitMix64 stream whose state is two integers, drawn by the backend's kernels.
Initial weights do not come from here: they are drawn on the host (see :mod:`xpnet.init`) so
that one seed gives the same starting weights on every backend.
"""
from __future__ import annotations

import math

import numpy as np

from xpnet.backend import to_numpy


class RandomSource:
    """Interface: a seeded generator that creates arrays on one device, with a JSON-friendly state
    (``get_state``/``set_state``) so a checkpoint resumes the same random stream."""

    def uniform(self, shape, dtype, out=None, kernels=None):
        """Draws in [0, 1) of ``shape`` and ``dtype``, written into ``out`` when given; a stream drawn
        by kernels uses ``kernels`` (default: the backend's)."""
        raise NotImplementedError

    def permutation(self, n: int):
        raise NotImplementedError

    def get_state(self):
        raise NotImplementedError

    def set_state(self, state) -> None:
        raise NotImplementedError


class NumpyRandom(RandomSource):
    """NumPy's ``Generator`` (PCG64); its state is the bit generator's state dictionary."""

    def __init__(self, seed):
        self.generator = np.random.default_rng(seed)

    def uniform(self, shape, dtype, out=None, kernels=None):
        return self.generator.random(shape, dtype=dtype, out=out)

    def permutation(self, n):
        return self.generator.permutation(n)

    def get_state(self):
        return self.generator.bit_generator.state

    def set_state(self, state) -> None:
        self.generator.bit_generator.state = state


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

    def uniform(self, shape, dtype, out=None, kernels=None):
        import torch

        return torch.rand(shape, generator=self.generator, dtype=dtype, device=self.device, out=out)

    def permutation(self, n):
        import torch

        return torch.randperm(n, generator=self.generator, device=self.device)

    def get_state(self):
        return self.generator.get_state().tolist()

    def set_state(self, state) -> None:
        import torch

        self.generator.set_state(torch.tensor(state, dtype=torch.uint8))


class CounterRandom(RandomSource):
    """SplitMix64 used as a counter-based generator (see :func:`xpnet.kernels.reference.splitmix64`):
    for namespaces without a generator whose state can be saved (CuPy, array-api-strict).

    The whole state is two integers, ``key`` (from the seed) and ``counter`` (draws so far); the
    counter lives on the model's device and the backend's kernels draw and advance it there, so no
    draw reads back to the host and a recorded training step draws fresh numbers at every replay.
    Uniforms are the top 24 bits times 2^-24 (float32) or the top 53 bits times 2^-53 (float64), in
    [0, 1); a permutation sorts fresh 64-bit draws.
    """

    name = "splitmix64"

    def __init__(self, seed, backend):
        self.key = int(np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0])
        self.backend = backend
        self.counter = backend.zeros((), dtype=backend.xp.uint64)

    def uniform(self, shape, dtype, out=None, kernels=None):
        kernels = self.backend.kernels if kernels is None else kernels
        with self.backend.activate():
            out = self.backend.empty(tuple(shape), dtype) if out is None else out
            kernels.random_uniform(self.counter, key=self.key, out=out)
            kernels.increment(self.counter, by=math.prod(shape))
        return out

    def permutation(self, n):
        return self.backend.xp.argsort(self.bits(n))

    def bits(self, n: int):
        """The next ``n`` 64-bit draws, a uint64 vector."""
        with self.backend.activate():
            out = self.backend.empty((n,), self.backend.xp.uint64)
            self.backend.kernels.random_bits(self.counter, key=self.key, out=out)
            self.backend.kernels.increment(self.counter, by=n)
        return out

    def get_state(self):
        return {"generator": self.name, "key": self.key, "counter": int(to_numpy(self.counter))}

    def set_state(self, state) -> None:
        if not (isinstance(state, dict) and state.get("generator") == self.name
                and all(isinstance(state.get(field), int) for field in ("key", "counter"))
                and 0 <= state["counter"] < 2 ** 64):
            raise ValueError(f"state must be a {self.name} state {{'generator', 'key', 'counter'}}, "
                             f"got {state!r}")
        self.key = state["key"]
        self.counter[...] = self.backend.asarray(np.uint64(state["counter"]), dtype=self.backend.xp.uint64)


def make_random_source(backend, seed) -> RandomSource:
    """The native random source for ``backend``, seeded with ``seed`` (None: fresh entropy)."""
    if backend.name == "numpy":
        return NumpyRandom(seed)
    if backend.name == "torch":
        return TorchRandom(seed, backend.device)
    return CounterRandom(seed, backend)
