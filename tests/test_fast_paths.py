"""Every fast path against the reference array-API kernels, and the switch that turns them off."""
import importlib.util

import numpy as np
import pytest

import xpnet as xn
from xpnet.fast import select_kernels
from xpnet.kernels import ACTIVATIONS, Kernels

from conftest import HAS_CUPY_GPU, host
from cupy_stand_in import cupy_kernels_on_numpy

HAS_NUMBA = importlib.util.find_spec("numba") is not None
FAST = [
    pytest.param(("numpy", "numpy"), id="numpy-out-buffers"),
    pytest.param(("numpy", "numba"), id="numba",
                 marks=pytest.mark.skipif(not HAS_NUMBA, reason="needs numba (the fast extra)")),
    pytest.param(("numpy", "cupy"), id="cupy-kernels-on-numpy"),
    pytest.param(("cupy", "cupy"), id="cupy",
                 marks=pytest.mark.skipif(not HAS_CUPY_GPU, reason="needs CuPy and a CUDA GPU")),
]


@pytest.fixture(params=FAST)
def pair(request):
    """(backend, fast kernels, reference kernels) for float64 work."""
    backend_name, kernels_name = request.param
    be = xn.resolve_backend(backend_name, "cuda" if backend_name == "cupy" else "cpu", "float64")
    if kernels_name == "numpy":
        from xpnet.fast.numpy import NumpyKernels

        fast = NumpyKernels(be.xp)
    elif (backend_name, kernels_name) == ("numpy", "cupy"):
        fast = cupy_kernels_on_numpy()
    else:
        fast = select_kernels(backend_name, be.xp, fast=True)
    assert fast.name == kernels_name
    return be, fast, Kernels(be.xp)


rng = np.random.default_rng(0)


def close(a, b, rtol=1e-12):
    np.testing.assert_allclose(host(a), host(b), rtol=rtol, atol=1e-14)


def test_dense(pair):
    be, fast, reference = pair
    X, W, b, dZ = (be.asarray(rng.standard_normal(shape)) for shape in ((9, 5), (5, 4), (4,), (9, 4)))
    close(fast.dense_forward(X, W, b, be.zeros((9, 4))), reference.dense_forward(X, W, b))
    grads = {}
    for name, kernels in (("fast", fast), ("reference", reference)):
        dW, db = be.zeros((5, 4)), be.zeros((4,))
        dX = kernels.dense_backward(dZ, X, W, dW, db, True, be.zeros((9, 5)))
        grads[name] = (dX, dW, db)
    for got, want in zip(grads["fast"], grads["reference"]):
        close(got, want)


def test_dense_for_a_population(pair):
    be, fast, reference = pair
    X, W, b, dZ = (be.asarray(rng.standard_normal(shape)) for shape in ((9, 5), (3, 5, 4), (3, 4), (3, 9, 4)))
    close(fast.dense_forward(X, W, b, be.zeros((3, 9, 4))), reference.dense_forward(X, W, b))
    grads = {}
    for name, kernels in (("fast", fast), ("reference", reference)):
        dW, db = be.zeros((3, 5, 4)), be.zeros((3, 4))
        grads[name] = (kernels.dense_backward(dZ, X, W, dW, db, True, be.zeros((3, 9, 5))), dW, db)
    for got, want in zip(grads["fast"], grads["reference"]):
        close(got, want)


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activations(pair, name):
    be, fast, reference = pair
    options = {"alpha": 0.1} if name == "leaky_relu" else {}
    Z, dA = be.asarray(rng.standard_normal((7, 6))), be.asarray(rng.standard_normal((7, 6)))
    A = reference.activation_forward(name, Z, **options)
    close(fast.activation_forward(name, Z, be.zeros((7, 6)), **options), A)
    close(fast.activation_backward(name, dA, Z, A, be.zeros((7, 6)), **options),
          reference.activation_backward(name, dA, Z, A, **options))


def test_dropout(pair):
    be, fast, reference = pair
    A, U, dA = (be.asarray(rng.random((8, 5))) for _ in range(3))
    out, mask = fast.dropout_forward(A, U, 0.7)
    expected_out, expected_mask = reference.dropout_forward(A, U, 0.7)
    close(out, expected_out)
    close(mask, expected_mask)
    close(fast.dropout_backward(dA, mask), reference.dropout_backward(dA, expected_mask))


def test_batchnorm(pair):
    be, fast, reference = pair
    Z, dout = be.asarray(rng.standard_normal((10, 4))), be.asarray(rng.standard_normal((10, 4)))
    gamma, beta = be.asarray(rng.random(4) + 0.5), be.asarray(rng.standard_normal(4))
    mean, var = be.asarray(rng.standard_normal((1, 4))), be.asarray(rng.random((1, 4)) + 0.1)
    for got, want in zip(fast.batchnorm_normalize(Z, mean, var, gamma, beta, 1e-5),
                         reference.batchnorm_normalize(Z, mean, var, gamma, beta, 1e-5)):
        close(got, want)
    Z_hat, inv_std = (Z - mean) / be.xp.sqrt(var + 1e-5), 1.0 / be.xp.sqrt(var + 1e-5)
    for got, want in zip(fast.batchnorm_backward(dout, Z_hat, inv_std, gamma),
                         reference.batchnorm_backward(dout, Z_hat, inv_std, gamma)):
        close(got, want)


UPDATES = {
    "sgd": (("sgd_update", 0), (0.1,)),
    "momentum": (("momentum_update", 1), (0.1, 0.9, False)),
    "nesterov": (("momentum_update", 1), (0.1, 0.9, True)),
    "rmsprop": (("rmsprop_update", 1), (0.01, 0.9, 1e-8)),
    "adam": (("adam_update", 2), (0.01, 0.9, 0.999, 1e-8, 1 - 0.9 ** 3, (1 - 0.999 ** 3) ** 0.5)),
}


def run_updates(be, kernels_by_name, rule, shape, per_model_scale=None):
    """Three steps of ``rule`` from the same start with each kernel set; returns the final arrays.

    ``per_model_scale`` turns each float hyperparameter into one value per row (a population)."""
    (method, moments), scalars = UPDATES[rule]
    if per_model_scale is not None:
        scalars = [be.asarray(np.reshape(per_model_scale, (-1, 1)) * value) if isinstance(value, float)
                   else value for value in scalars]
    start = [rng.standard_normal(shape) for _ in range(2)] + [rng.random(shape) for _ in range(moments)]
    results = {}
    for name, kernels in kernels_by_name.items():
        arrays = [be.asarray(values.copy()) for values in start]
        for _ in range(3):
            getattr(kernels, method)(*arrays, *scalars)
        results[name] = [host(array) for array in arrays]
    return results


@pytest.mark.parametrize("rule", sorted(UPDATES))
@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-6)])
def test_updates(pair, rule, dtype, rtol):
    be, fast, reference = pair
    results = run_updates(be_with(be, dtype), {"fast": fast, "reference": reference}, rule, (1000,))
    for got, want in zip(results["fast"], results["reference"]):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6 if dtype == "float32" else 1e-14)


@pytest.mark.parametrize("rule", sorted(UPDATES))
def test_updates_for_a_population_with_per_model_hyperparameters(pair, rule):
    be, fast, reference = pair
    results = run_updates(be, {"fast": fast, "reference": reference}, rule, (3, 50), [1.0, 0.5, 0.9])
    for got, want in zip(results["fast"], results["reference"]):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def be_with(be, dtype):
    return xn.resolve_backend(be.name, be.device_name, dtype)


def train(fast, dtype="float64", optimizer=lambda: xn.Adam(0.01)):
    X, y = np.random.default_rng(5).standard_normal((200, 6)), np.arange(200) % 3
    model = xn.Sequential([xn.Dense(16), xn.ReLU(), xn.Dense(16), xn.LeakyReLU(), xn.Dropout(0.2), xn.Dense(3)],
                          input_dim=6, dtype=dtype, seed=0, fast=fast)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=optimizer(), batch_size=32, epochs=3, seed=0)
    return model


@pytest.mark.parametrize("make", [lambda: xn.SGD(0.1), lambda: xn.Momentum(0.1), lambda: xn.RMSprop(0.01),
                                  lambda: xn.Adam(0.01)], ids=["sgd", "momentum", "rmsprop", "adam"])
def test_training_with_and_without_fast_paths_agrees(make):
    fast, reference = train(True, optimizer=make), train(False, optimizer=make)
    assert fast.backend.kernels.name != "reference" and reference.backend.kernels.name == "reference"
    for name, value in reference.get_weights().items():
        np.testing.assert_allclose(fast.get_weights()[name], value, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: xn.Momentum(0.1, nesterov=True), lambda: xn.RMSprop(0.01),
                                  lambda: xn.Adam(0.01)], ids=["nesterov", "rmsprop", "adam"])
def test_training_with_the_cupy_kernels_on_numpy_agrees(monkeypatch, make):
    """The CuPy kernel set (through the stand-in) in whole training runs: dense, batch norm, every
    activation, dropout and the update rules, against the reference kernels."""
    monkeypatch.setattr(xn.backend, "select_kernels",
                        lambda name, xp, fast=None: cupy_kernels_on_numpy() if fast else Kernels(xp))
    X, y = np.random.default_rng(6).standard_normal((120, 5)), np.arange(120) % 3
    params = {}
    for fast in (True, False):
        model = xn.Sequential([xn.Dense(12), xn.BatchNorm(), xn.ReLU(), xn.Dense(10), xn.Tanh(),
                               xn.Dropout(0.25), xn.Dense(8), xn.LeakyReLU(0.05), xn.Dense(6), xn.Sigmoid(),
                               xn.Dense(3)], input_dim=5, dtype="float64", seed=1, fast=fast)
        assert model.backend.kernels.name == ("cupy" if fast else "reference")
        model.fit(X, y, loss="softmax_cross_entropy", optimizer=make(), batch_size=40, epochs=3, seed=0)
        params[fast] = model.get_weights()
    for name, value in params[False].items():
        np.testing.assert_allclose(params[True][name], value, rtol=1e-9, atol=1e-12, err_msg=name)


def test_environment_switch_turns_fast_paths_off(monkeypatch):
    monkeypatch.setenv("XPNET_FAST", "0")
    assert xn.Sequential([xn.Dense(2)], input_dim=2).backend.kernels.name == "reference"
    monkeypatch.setenv("XPNET_FAST", "1")
    assert xn.Sequential([xn.Dense(2)], input_dim=2).backend.kernels.name != "reference"
    assert xn.Sequential([xn.Dense(2)], input_dim=2, fast=False).backend.kernels.name == "reference"


def test_backends_without_a_fast_path_use_the_reference():
    assert xn.Sequential([xn.Dense(2)], input_dim=2, backend="torch").backend.kernels.name == "reference"
