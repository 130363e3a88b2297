"""Per-step random numbers (dropout masks, shuffles), drawn natively on the model's device.

Random numbers are not part of the array API standard, so each backend gets a small adapter with
two methods, ``uniform(shape, dtype)`` in [0, 1) and ``permutation(n)`` (an int64 index array), and
a state that a checkpoint saves: NumPy's and torch's own generators, and for CuPy and any other
namespace a counter-based SplitMix64 stream whose state is two integers.
Initial weights do not come from here: they are drawn on the host (see :mod:`xpnet.init`) so
that one seed gives the same starting weights on every backend.
"""
from __future__ import annotations

import functools
import math

import numpy as np


class RandomSource:
    """Interface: a seeded generator that creates arrays on one device, with a JSON-friendly state
    (``get_state``/``set_state``) so a checkpoint resumes the same random stream."""

    def uniform(self, shape, dtype, out=None):
        """Draws in [0, 1) of ``shape`` and ``dtype``, written into ``out`` when given."""
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

    def uniform(self, shape, dtype, out=None):
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

    def uniform(self, shape, dtype, out=None):
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


_GOLDEN, _MIX1, _MIX2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB

_CUDA_SPLITMIX64 = f"""
__device__ unsigned long long xpnet_splitmix64(unsigned long long key, unsigned long long n) {{
    unsigned long long z = key + (n + 1ull) * {_GOLDEN:#x}ull;
    z = (z ^ (z >> 30)) * {_MIX1:#x}ull;
    z = (z ^ (z >> 27)) * {_MIX2:#x}ull;
    return z ^ (z >> 31);
}}
"""


class CounterRandom(RandomSource):
    """SplitMix64 used as a counter-based generator, in array-API integer arithmetic on the model's
    device (for namespaces without a generator whose state can be saved).

    Draw number ``n`` of the stream (counting from 0 over the stream's whole life) is, mod 2^64,

        z = key + (n + 1) * 0x9E3779B97F4A7C15
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
        z = (z ^ (z >> 27)) * 0x94D049BB133111EB
        z = z ^ (z >> 31)

    so the whole state is two integers, ``key`` (from the seed) and ``counter`` (draws so far), and
    each batch of draws is elementwise work. Uniforms are the top 24 bits times 2^-24 (float32) or the
    top 53 bits times 2^-53 (float64), in [0, 1); a permutation sorts fresh 64-bit draws.
    """

    name = "splitmix64"

    def __init__(self, seed, xp, device):
        self.key = int(np.random.SeedSequence(seed).generate_state(1, dtype=np.uint64)[0])
        self.counter = 0
        self.xp = xp
        self.device = device

    def uniform(self, shape, dtype, out=None):
        xp = self.xp
        z = self.raw(math.prod(shape))
        if dtype == xp.float32:
            values = xp.astype(z >> 40, xp.float32) * 2.0 ** -24
        else:
            values = xp.astype(z >> 11, xp.float64) * 2.0 ** -53
        values = xp.reshape(values, tuple(shape))
        if out is None:
            return values
        out[...] = values
        return out

    def permutation(self, n):
        return self.xp.argsort(self.raw(n))

    def get_state(self):
        return {"generator": self.name, "key": self.key, "counter": self.counter}

    def set_state(self, state) -> None:
        if not (isinstance(state, dict) and state.get("generator") == self.name
                and all(isinstance(state.get(field), int) for field in ("key", "counter"))):
            raise ValueError(f"state must be a {self.name} state {{'generator', 'key', 'counter'}}, "
                             f"got {state!r}")
        self.key, self.counter = state["key"], state["counter"]

    def _advance(self, n: int) -> tuple[int, int]:
        """``(key, counter)`` for the next ``n`` draws, moving the counter past them."""
        start = self.counter
        self.counter = (start + n) % 2 ** 64
        return self.key, start

    def raw(self, n: int):
        """The next ``n`` 64-bit draws as a uint64 vector."""
        xp = self.xp

        def word(value):
            return xp.asarray(value, dtype=xp.uint64, device=self.device)

        key, start = self._advance(n)
        draw_numbers = xp.arange(n, dtype=xp.uint64, device=self.device) + word(start)
        z = (draw_numbers + word(1)) * word(_GOLDEN) + word(key)
        z = (z ^ (z >> 30)) * word(_MIX1)
        z = (z ^ (z >> 27)) * word(_MIX2)
        return z ^ (z >> 31)


@functools.cache
def cupy_kernels():
    """The two CuPy kernels of :class:`CupyRandom`, built on first use."""
    import cupy

    raw = cupy.ElementwiseKernel("uint64 key, uint64 start", "uint64 z",
                                 "z = xpnet_splitmix64(key, start + i)", "xpnet_random_raw",
                                 preamble=_CUDA_SPLITMIX64)
    uniform = cupy.ElementwiseKernel(
        "uint64 key, uint64 start", "T u",
        "unsigned long long z = xpnet_splitmix64(key, start + i);"
        "u = sizeof(T) == 4 ? (T)(z >> 40) * (T)5.9604644775390625e-08"
        " : (T)(z >> 11) * (T)1.1102230246251565404236316680908203125e-16",
        "xpnet_random_uniform", preamble=_CUDA_SPLITMIX64)
    return {"raw": raw, "uniform": uniform}


class CupyRandom(CounterRandom):
    """The same stream as :class:`CounterRandom`, each draw one fused CuPy kernel on the model's GPU."""

    def uniform(self, shape, dtype, out=None):
        import cupy

        with self.device:
            values = cupy.empty(tuple(shape), dtype=dtype) if out is None else out
            self._kernel("uniform", values)
        return values

    def permutation(self, n):
        with self.device:
            return super().permutation(n)

    def raw(self, n):
        import cupy

        with self.device:
            z = cupy.empty(n, dtype=cupy.uint64)
            self._kernel("raw", z)
        return z

    def _kernel(self, name: str, out) -> None:
        key, start = self._advance(out.size)
        cupy_kernels()[name](np.uint64(key), np.uint64(start), out)


def make_random_source(backend_name: str, xp, device, seed) -> RandomSource:
    """The native random source for a backend, seeded with ``seed`` (None: fresh entropy)."""
    if backend_name == "numpy":
        return NumpyRandom(seed)
    if backend_name == "cupy":
        return CupyRandom(seed, xp, device)
    if backend_name == "torch":
        return TorchRandom(seed, device)
    return CounterRandom(seed, xp, device)
