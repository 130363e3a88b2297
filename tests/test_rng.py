"""The counter-based random stream (SplitMix64) used where a namespace has no savable generator:
known values, uniformity, resuming from a saved state, and the same stream on every device."""
import dataclasses

import numpy as np
import pytest
from array_api_compat import numpy as compat_numpy

import xpnet as xn
from xpnet.rng import CounterRandom

import cupy_stand_in
import support

#: the first outputs of the reference SplitMix64 generator started from state 0
SPLITMIX64_FROM_ZERO = [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def strict_source(seed, device="device1"):
    return CounterRandom(seed, xn.resolve_backend("array_api_strict", device, "float64"))


def numpy_source(seed, fast=False):
    return CounterRandom(seed, xn.resolve_backend("numpy", "cpu", "float64", fast=fast))


def test_reference_values():
    source = numpy_source(0)
    source.set_state({"generator": "splitmix64", "key": 0, "counter": 0})
    assert [int(value) for value in source.bits(3)] == SPLITMIX64_FROM_ZERO


def test_the_stream_does_not_depend_on_how_draws_are_split():
    whole, pieces = numpy_source(4), numpy_source(4)
    expected = whole.bits(12)
    np.testing.assert_array_equal(np.concatenate([pieces.bits(5), pieces.bits(7)]), expected)
    assert pieces.get_state() == whole.get_state() == {"generator": "splitmix64", "key": whole.key, "counter": 12}


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniforms_are_uniform_on_the_unit_interval(dtype):
    values = np.sort(numpy_source(7).uniform((200, 100), getattr(compat_numpy, dtype)).reshape(-1))
    assert values.dtype == dtype and values.min() >= 0.0 and values.max() < 1.0
    n = values.size
    ks_statistic = max(np.max(np.arange(1, n + 1) / n - values), np.max(values - np.arange(n) / n))
    assert ks_statistic < 1.63 / np.sqrt(n)  # Kolmogorov-Smirnov, 1% level
    assert abs(values.mean() - 0.5) < 0.005 and abs(values.var() - 1 / 12) < 0.002


def test_top_bits_become_the_float():
    source = numpy_source(0)
    source.set_state({"generator": "splitmix64", "key": 0, "counter": 0})
    single, double = source.uniform((1,), compat_numpy.float32), source.uniform((1,), compat_numpy.float64)
    assert single[0] == np.float32((SPLITMIX64_FROM_ZERO[0] >> 40) / 2 ** 24)
    assert double[0] == (SPLITMIX64_FROM_ZERO[1] >> 11) / 2 ** 53


def test_permutation_is_a_permutation():
    order = numpy_source(1).permutation(1000)
    assert order.dtype == np.int64
    np.testing.assert_array_equal(np.sort(order), np.arange(1000))
    assert not np.array_equal(order, np.arange(1000))


def test_seeds_give_distinct_streams_and_repeat_exactly():
    a, b, c = numpy_source(1), numpy_source(1), numpy_source(2)
    first = a.uniform((50,), compat_numpy.float64)
    np.testing.assert_array_equal(first, b.uniform((50,), compat_numpy.float64))
    assert not np.array_equal(first, c.uniform((50,), compat_numpy.float64))


def test_a_saved_state_resumes_the_stream():
    import array_api_strict

    source = strict_source(3)
    source.uniform((4, 5), array_api_strict.float32)
    saved = source.get_state()
    expected = support.host(source.permutation(9)), support.host(source.bits(6))
    resumed = strict_source(None)
    resumed.set_state(saved)
    np.testing.assert_array_equal(support.host(resumed.permutation(9)), expected[0])
    np.testing.assert_array_equal(support.host(resumed.bits(6)), expected[1])


def test_same_stream_on_another_namespace_and_device():
    import array_api_strict

    on_device = strict_source(11)
    values = on_device.uniform((3, 4), array_api_strict.float64)
    assert values.device == array_api_strict.Device("device1")
    np.testing.assert_array_equal(support.host(values), numpy_source(11).uniform((3, 4), compat_numpy.float64))


@pytest.mark.parametrize("state", [None, {"key": 1, "counter": 0}, {"generator": "pcg64", "key": 1, "counter": 0},
                                   {"generator": "splitmix64", "key": "1", "counter": 0}])
def test_a_foreign_state_is_refused(state):
    source = numpy_source(0)
    with pytest.raises(ValueError, match="state must be a splitmix64 state"):
        source.set_state(state)
    assert source.get_state()["counter"] == 0


def test_the_cupy_kernels_draw_the_same_stream_on_the_cpu():
    """The stream drawn by the CuPy kernel set (its kernels evaluated with NumPy through the stand-in)
    equals the reference stream; the CUDA compilation itself is checked by the next test on a GPU."""
    reference_backend = xn.resolve_backend("numpy", "cpu", "float64", fast=False)
    stand_in = dataclasses.replace(reference_backend, kernels=cupy_stand_in.cupy_kernels_on_numpy(), seed=None)
    gpu, cpu = CounterRandom(9, stand_in), numpy_source(9)
    for dtype in (np.float32, np.float64):
        np.testing.assert_array_equal(gpu.uniform((4, 6, 3), dtype), cpu.uniform((4, 6, 3), dtype))
    np.testing.assert_array_equal(gpu.permutation(50), cpu.permutation(50))
    np.testing.assert_array_equal(gpu.bits(7), cpu.bits(7))
    assert gpu.get_state() == cpu.get_state()


@pytest.mark.skipif(not support.HAS_CUPY_GPU, reason="needs CuPy and a CUDA GPU")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cupy_kernels_draw_the_same_stream(dtype):
    import cupy

    gpu, cpu = CounterRandom(5, xn.resolve_backend("cupy", "cuda", dtype)), numpy_source(5)
    np.testing.assert_array_equal(cupy.asnumpy(gpu.uniform((300, 7), getattr(cupy, dtype))),
                                  cpu.uniform((300, 7), getattr(compat_numpy, dtype)))
    np.testing.assert_array_equal(cupy.asnumpy(gpu.permutation(1000)), cpu.permutation(1000))
    np.testing.assert_array_equal(cupy.asnumpy(gpu.bits(33)), cpu.bits(33))
    assert gpu.get_state() == cpu.get_state()
