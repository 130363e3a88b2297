"""Dense + activation fusion: which pairs fuse, and fused stages against the unfused reference, for
the numba kernels and for the CuPy kernels (run on the CPU through the stand-in CuPy)."""
import numpy as np
import pytest

import xpnet as xn
from xpnet.kernels import reference_kernels
from xpnet.nn.fusion import DenseActivation
from xpnet.nn.losses import get_loss

import cupy_stand_in
import support


@pytest.fixture(params=[pytest.param("numba", marks=support.needs_numba), "cupy-kernels-on-numpy"])
def fused_kernels(request, monkeypatch):
    """The kernel set that models made with ``fast=True`` get (NumPy arrays either way)."""
    if request.param == "cupy-kernels-on-numpy":
        monkeypatch.setattr(xn.backend, "select_kernels",
                            lambda name, xp, fast=None: cupy_stand_in.cupy_kernels_on_numpy() if fast
                            else reference_kernels(xp))
    return request.param


class PlainDense(xn.Dense):
    """A subclass, which may override forward or backward: never fused."""


def stage_kinds(layers, fast=True):
    model = xn.Sequential(layers, input_dim=4, fast=fast)
    return [type(stage).__name__ for stage in model.stages]


def test_dense_followed_by_relu_or_leaky_relu_fuses(fused_kernels):
    assert stage_kinds([xn.Dense(3), xn.ReLU(), xn.Dense(3), xn.LeakyReLU(0.1), xn.Dense(2)]) == [
        "DenseActivation", "DenseActivation", "Dense"]


@pytest.mark.parametrize("layers, expected", [
    (lambda: [xn.Dense(3), xn.Tanh(), xn.Dense(2)], ["Dense", "Tanh", "Dense"]),
    (lambda: [xn.Dense(3), xn.Dropout(0.5), xn.ReLU()], ["Dense", "Dropout", "ReLU"]),
    (lambda: [xn.Dense(3), xn.BatchNorm(), xn.ReLU()], ["Dense", "BatchNorm", "ReLU"]),
    (lambda: [PlainDense(3), xn.ReLU()], ["PlainDense", "ReLU"]),
    (lambda: [xn.ReLU(), xn.Dense(3)], ["ReLU", "Dense"]),
], ids=["tanh", "dropout-between", "batchnorm-between", "subclass", "activation-first"])
def test_other_orders_stay_unfused(fused_kernels, layers, expected):
    assert stage_kinds(layers()) == expected


def test_reference_kernels_never_fuse():
    assert stage_kinds([xn.Dense(3), xn.ReLU()], fast=False) == ["Dense", "ReLU"]


def _pair(layers, population=None, dtype="float64"):
    """The same network with fused stages (fast) and with the reference kernels, every parameter
    (biases included, which start at zero) set to the same random values."""
    kwargs = {"input_dim": 5, "dtype": dtype, "seed": [1, 2, 3] if population else 1,
              "population": population}
    fast = xn.Sequential(layers(), fast=True, **kwargs)
    reference = xn.Sequential(layers(), fast=False, **kwargs)
    assert any(isinstance(stage, DenseActivation) for stage in fast.stages)
    rng = np.random.default_rng(9)
    values = {name: rng.standard_normal(value.shape) for name, value in reference.get_weights().items()}
    fast.set_weights(values)
    reference.set_weights(values)
    return fast, reference


NETWORKS = {
    "relu": lambda: [xn.Dense(8), xn.ReLU(), xn.Dense(6), xn.ReLU(), xn.Dense(3)],
    "leaky": lambda: [xn.Dense(8), xn.LeakyReLU(0.2), xn.Dense(3)],
    "no-bias": lambda: [xn.Dense(8, use_bias=False), xn.ReLU(), xn.Dense(3)],
    "last": lambda: [xn.Dense(8), xn.Tanh(), xn.Dense(3), xn.LeakyReLU(0.3)],
}


@pytest.mark.parametrize("population", [None, 3], ids=["single", "population"])
@pytest.mark.parametrize("network", sorted(NETWORKS))
def test_fused_stages_equal_the_reference(fused_kernels, network, population):
    fast, reference = _pair(NETWORKS[network], population)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((11, 5))
    Y = np.eye(3)[rng.integers(0, 3, 11)]
    loss = get_loss("mse")
    outputs, input_grads = {}, {}
    for name, model in (("fast", fast), ("reference", reference)):
        be = model.backend
        logits = model.forward(be.asarray(X), training=True)
        outputs[name] = np.array(logits)
        _, grad = loss.value_and_grad(be.kernels, logits, be.asarray(Y))
        input_grads[name] = np.array(model.backward(grad))
    np.testing.assert_allclose(outputs["fast"], outputs["reference"], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(input_grads["fast"], input_grads["reference"], rtol=1e-12, atol=1e-14)
    for name, value in reference.grads.items():
        np.testing.assert_allclose(fast.grads[name], value, rtol=1e-12, atol=1e-14, err_msg=name)
    np.testing.assert_allclose(fast.forward(X), reference.forward(X), rtol=1e-12, atol=1e-14)


def test_backward_leaves_the_callers_gradient_untouched(fused_kernels):
    fast, _ = _pair(NETWORKS["last"])
    X = np.random.default_rng(2).standard_normal((6, 5))
    fast.forward(X, training=True)
    upstream = np.random.default_rng(3).standard_normal((6, 3))
    kept = upstream.copy()
    fast.backward(upstream)
    np.testing.assert_array_equal(upstream, kept)
