"""Every fast kernel against the reference function it replaces: one model and a population, with and
without ``out=`` buffers, float64 and float32, NaN and inf passing through as in the reference; then
whole training runs with and without fast paths, and the switch that turns them off."""
import inspect

import numpy as np
import pytest

import xpnet as xn
from xpnet.kernels import OPS, reference, reference_kernels, select_kernels

import cupy_stand_in
import support

FAST = [
    pytest.param(("numpy", "numpy"), id="numpy-out-buffers"),
    pytest.param(("numpy", "numba"), id="numba", marks=support.needs_numba),
    pytest.param(("numpy", "cupy"), id="cupy-kernels-on-numpy"),
    pytest.param(("cupy", "cupy"), id="cupy", marks=support.needs_cupy_gpu),
]


def kernel_sets(backend_name, kernels_name, dtype="float64"):
    """(backend, fast kernels, reference kernels)."""
    be = xn.resolve_backend(backend_name, "cuda" if backend_name == "cupy" else "cpu", dtype)
    if kernels_name == "numpy":
        import numpy

        from xpnet.kernels import fast_kernels
        from xpnet.kernels import numpy as numpy_module

        fast = fast_kernels("numpy", [numpy_module], numpy, be.xp)
    elif (backend_name, kernels_name) == ("numpy", "cupy"):
        fast = cupy_stand_in.cupy_kernels_on_numpy()
    else:
        fast = select_kernels(backend_name, be.xp, fast=True)
    assert fast.name == kernels_name
    return be, fast, reference_kernels(be.xp)


@pytest.fixture(params=FAST)
def pair(request):
    return kernel_sets(*request.param)


def _fast_ops_of(param):
    """The operations a kernel set replaces (the GPU CuPy set replaces what its stand-in does)."""
    backend_name, kernels_name = param.values[0]
    if kernels_name == "numba" and not support.HAS_NUMBA:
        return []
    kernels = kernel_sets("numpy", kernels_name)[1]
    return [op for op in OPS if kernels.is_fast(op)]


#: (kernel set, operation) for every operation a fast path replaces.
FAST_OPS = [pytest.param(param.values[0], op, id=f"{param.id}-{op}", marks=param.marks)
            for param in FAST for op in _fast_ops_of(param)]


def examples(op, rng, lead):
    """``(args, kwargs)`` of host arrays for one call of ``op``; ``lead`` is ``()`` or a population ``(P,)``
    (whose hyperparameters are then one per model, ``(P, 1)``)."""
    def normal(*shape):
        return rng.standard_normal(lead + shape)

    def positive(*shape):
        return rng.random(lead + shape) + 0.1

    def per_model(value):
        return value * (0.8 + 0.2 * rng.random(lead + (1,))) if lead else value

    m, n, k = 9, 5, 4
    shared = {
        "ewa_update": ((normal(m * k), normal(m * k)), {"beta": per_model(0.9)}),
        "dense_forward": ((rng.standard_normal((m, n)), normal(n, k), normal(k)), {}),
        "weight_grad": ((rng.standard_normal((m, n)), normal(m, k)), {}),
        "bias_grad": ((normal(m, k),), {}),
        "input_grad": ((normal(m, k), normal(n, k)), {}),
        "relu": ((normal(m, k),), {}),
        "relu_backward": ((normal(m, k), normal(m, k)), {}),
        "leaky_relu": ((normal(m, k),), {"alpha": 0.1}),
        "leaky_relu_backward": ((normal(m, k), normal(m, k)), {"alpha": 0.1}),
        "tanh": ((normal(m, k),), {}),
        "tanh_backward": ((normal(m, k), np.tanh(normal(m, k))), {}),
        "sigmoid": ((normal(m, k),), {}),
        "sigmoid_backward": ((normal(m, k), rng.random(lead + (m, k))), {}),
        "dense_relu": ((rng.standard_normal((m, n)), normal(n, k), normal(k)), {}),
        "dense_leaky_relu": ((rng.standard_normal((m, n)), normal(n, k), normal(k)), {"alpha": 0.1}),
        "relu_bias_backward": ((normal(m, k), normal(m, k)), {}),
        "leaky_relu_bias_backward": ((normal(m, k), normal(m, k)), {"alpha": 0.1}),
        "dropout_mask": ((rng.random(lead + (m, k)),), {"keep_prob": 0.7}),
        "dropout": ((normal(m, k), normal(m, k)), {}),
        "dropout_forward": ((normal(m, k), rng.random(lead + (m, k))), {"keep_prob": 0.7}),
        "batchnorm_statistics": ((normal(m, k),), {}),
        "batchnorm_forward": ((normal(m, k), normal(1, k), positive(1, k), positive(k), normal(k)),
                              {"eps": 1e-5}),
        "batchnorm_running_update": ((normal(k), positive(k), normal(1, k), positive(1, k)),
                                     {"momentum": 0.9, "m": m}),
        "batchnorm_backward": ((normal(m, k), normal(m, k), positive(1, k), positive(k)), {}),
        "binary_cross_entropy": ((normal(m, 1), (rng.random(lead + (m, 1)) > 0.5) * 1.0), {}),
        "softmax": ((normal(m, k),), {}),
        "softmax_cross_entropy": ((normal(m, k), np.eye(k)[rng.integers(0, k, lead + (m,))]), {}),
        "mean_squared_error": ((normal(m, k), normal(m, k)), {}),
        "binary_correct": ((normal(m, 1), (rng.random(lead + (m, 1)) > 0.5) * 1.0), {}),
        "softmax_correct": ((normal(m, k), np.eye(k)[rng.integers(0, k, lead + (m,))]), {}),
        "l2_penalty": ((normal(40),), {"l2": per_model(0.1) if not lead else 0.1 + rng.random(lead), "m": m}),
        "add_l2_grad": ((normal(40), normal(40)), {"l2": per_model(0.1), "m": m}),
        "sgd_update": ((normal(60), normal(60)), {"lr": per_model(0.1)}),
        "momentum_update": ((normal(60), normal(60), normal(60)),
                            {"lr": per_model(0.1), "beta": per_model(0.9), "nesterov": False}),
        "rmsprop_update": ((normal(60), normal(60), positive(60)),
                           {"lr": per_model(0.01), "beta": per_model(0.9), "eps": per_model(1e-8)}),
        "adam_update": ((normal(60), normal(60), normal(60), positive(60)),
                        {"step": per_model(0.03), "root2": per_model(0.05), "beta1": per_model(0.9),
                         "beta2": per_model(0.999), "eps": per_model(1e-8)}),
        "decay_weights": ((normal(60),), {"lr": per_model(0.1), "weight_decay": per_model(0.01)}),
        "random_bits": ((np.array(2 ** 63 + 5, dtype=np.uint64),),
                        {"key": 2 ** 64 - 3, "out": np.zeros(lead + (7, 5), np.uint64)}),
        "random_uniform": ((np.array(123, dtype=np.uint64),), {"key": 99, "out": np.zeros(lead + (7, 5))}),
        "increment": ((np.array(2 ** 64 - 2, dtype=np.uint64),), {"by": 5}),
        "gather_rows": ((rng.standard_normal((50, k)), rng.permutation(50), np.array(3)),
                        {"stride": 9, "out": np.zeros((9, k))}),
        "select_row": ((rng.standard_normal((6,) + lead + (1,)), np.array(4)), {"out": np.zeros(lead + (1,))}),
        "record_at": ((rng.standard_normal((6,) + lead), np.array(rng.standard_normal(lead)), np.array(5)), {}),
    }
    return shared[op]


def device_copy(be, value):
    """A device copy of a host array, integers kept as they are, floats in the backend's dtype."""
    integer = np.issubdtype(value.dtype, np.integer)
    return be.asarray(np.array(value), dtype=getattr(be.xp, value.dtype.name) if integer else None)


def floating(args) -> bool:
    return all(np.issubdtype(np.asarray(value).dtype, np.floating) for value in args)


def _results(be, kernels, op, args, kwargs, with_out):
    """Run ``op`` on fresh device copies; returns its results followed by every argument afterwards
    (update rules change their arguments in place)."""
    device_args = [device_copy(be, value) for value in args]  # copies: updates work in place
    device_kwargs = {key: device_copy(be, value) if isinstance(value, np.ndarray) else value
                     for key, value in kwargs.items()}
    if with_out and "out" in inspect.signature(getattr(reference, op)).parameters and "out" not in kwargs:
        shapes = getattr(reference_kernels(be.xp), op)(*[be.asarray(a) for a in args], **device_kwargs)
        device_kwargs["out"] = (tuple(be.empty(tuple(r.shape)) for r in shapes) if isinstance(shapes, tuple)
                                else be.empty(tuple(shapes.shape)))
    result = getattr(kernels, op)(*device_args, **device_kwargs)
    results = list(result) if isinstance(result, tuple) else ([] if result is None else [result])
    if "out" in device_kwargs:
        outs = device_kwargs["out"] if isinstance(device_kwargs["out"], tuple) else (device_kwargs["out"],)
        assert all(got is given for got, given in zip(results, outs)), f"{op} did not return its out buffers"
    return [support.host(value) for value in results + device_args]


@pytest.mark.parametrize("lead", [(), (3,)], ids=["single", "population"])
@pytest.mark.parametrize("with_out", [True, False], ids=["out", "allocating"])
@pytest.mark.parametrize("kernel_set, op", FAST_OPS)
def test_every_fast_kernel_equals_the_reference(kernel_set, op, lead, with_out):
    be, fast, ref = kernel_sets(*kernel_set)
    args, kwargs = examples(op, np.random.default_rng(len(op)), lead)
    for got, want in zip(_results(be, fast, op, args, kwargs, with_out),
                         _results(be, ref, op, args, kwargs, with_out)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14, err_msg=op)


@pytest.mark.parametrize("nesterov", [False, True])
def test_momentum_with_and_without_nesterov(pair, nesterov):
    be, fast, ref = pair
    args, kwargs = examples("momentum_update", np.random.default_rng(1), ())
    kwargs["nesterov"] = nesterov
    for got, want in zip(_results(be, fast, "momentum_update", args, kwargs, False),
                         _results(be, ref, "momentum_update", args, kwargs, False)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("kernel_set, op", FAST_OPS)
def test_float32_kernels_agree_with_the_reference(kernel_set, op):
    be, fast, ref = kernel_sets(*kernel_set, dtype="float32")
    args, kwargs = examples(op, np.random.default_rng(len(op)), ())
    args = [value.astype(np.float32) if np.issubdtype(value.dtype, np.floating) else value for value in args]
    if "out" in kwargs and np.issubdtype(kwargs["out"].dtype, np.floating):
        kwargs["out"] = kwargs["out"].astype(np.float32)
    for got, want in zip(_results(be, fast, op, args, kwargs, True), _results(be, ref, op, args, kwargs, True)):
        np.testing.assert_allclose(got, want, rtol=2e-5, atol=1e-5, err_msg=op)


@pytest.mark.parametrize("kernel_set, op", FAST_OPS)
def test_nan_and_inf_pass_through_as_in_the_reference(kernel_set, op):
    be, fast, ref = kernel_sets(*kernel_set)
    args, kwargs = examples(op, np.random.default_rng(len(op)), ())
    if not floating(args[:1]):
        pytest.skip(f"{op} takes no floating-point data first")
    poisoned = [np.array(value) for value in args]
    flat = poisoned[0].reshape(-1)
    for positions, value in (([0, 3], np.nan), ([1, 4], np.inf), ([2, 5], -np.inf)):
        flat[np.array(positions) % flat.size] = value
    with np.errstate(all="ignore"):
        for got, want in zip(_results(be, fast, op, poisoned, kwargs, True),
                             _results(be, ref, op, poisoned, kwargs, True)):
            np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=f"{op}: NaN positions")
            finite = np.isfinite(want)
            np.testing.assert_allclose(got[finite], want[finite], rtol=1e-12, atol=1e-14, err_msg=op)


def test_fast_kernels_take_the_reference_signatures(pair):
    _, fast, _ = pair
    for op in OPS:
        function = getattr(fast, op).func
        assert inspect.signature(function) == inspect.signature(getattr(reference, op)), op


def test_the_table_in_the_kernels_module_is_what_each_set_uses():
    """``x``: the set's own module supplies the operation; ``n``: the NumPy fast path's; blank: the reference."""
    import xpnet.kernels

    lines = xpnet.kernels.__doc__.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("=====")]
    header, rows = lines[rules[0] + 1], lines[rules[1] + 1:rules[2]]
    columns = {name: header.index(name) for name in ("reference", "numpy", "numba", "cupy")}
    table = {row.split()[0]: {name: row[at:at + 1] for name, at in columns.items()} for row in rows}
    assert list(table) == list(OPS)
    assert all(marks["reference"] == "x" for marks in table.values())
    sets = {"numpy": kernel_sets("numpy", "numpy")[1], "cupy": cupy_stand_in.cupy_kernels_on_numpy()}
    if support.HAS_NUMBA:
        sets["numba"] = kernel_sets("numpy", "numba")[1]
    for name, kernels in sets.items():
        for op, marks in table.items():
            expected = {"x": name, "n": "numpy"}.get(marks[name].strip(), "reference")
            assert kernels.source[op] == expected, f"{name} set, {op}: the table says {marks[name]!r}"


# Whole training runs ------------------------------------------------------------------------------

def train(fast, dtype="float64", optimizer=lambda: xn.Adam(0.01)):
    X, y = np.random.default_rng(5).standard_normal((200, 6)), np.arange(200) % 3
    model = xn.Sequential([xn.Dense(16), xn.ReLU(), xn.Dense(16), xn.LeakyReLU(), xn.Dropout(0.2), xn.Dense(3)],
                          input_dim=6, dtype=dtype, seed=0, fast=fast)
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=optimizer(), batch_size=32, epochs=3, seed=0)
    return model


OPTIMIZERS = {"sgd": lambda: xn.SGD(0.1), "momentum": lambda: xn.Momentum(0.1), "rmsprop": lambda: xn.RMSprop(0.01),
              "adam": lambda: xn.Adam(0.01), "adamw": lambda: xn.AdamW(0.01)}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_training_with_and_without_fast_paths_agrees(name):
    fast, reference_model = train(True, optimizer=OPTIMIZERS[name]), train(False, optimizer=OPTIMIZERS[name])
    assert fast.backend.kernels.name != "reference" and reference_model.backend.kernels.name == "reference"
    for key, value in reference_model.get_weights().items():
        np.testing.assert_allclose(fast.get_weights()[key], value, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("make", [lambda: xn.Momentum(0.1, nesterov=True), lambda: xn.RMSprop(0.01),
                                  lambda: xn.Adam(0.01)], ids=["nesterov", "rmsprop", "adam"])
def test_training_with_the_cupy_kernels_on_numpy_agrees(monkeypatch, make):
    """The CuPy kernel set (through the stand-in) in whole training runs: dense, batch norm, every
    activation, dropout and the update rules, against the reference kernels."""
    monkeypatch.setattr(xn.backend, "select_kernels",
                        lambda name, xp, fast=None: cupy_stand_in.cupy_kernels_on_numpy() if fast
                        else reference_kernels(xp))
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


# The numba bias sums: spans of whole rows (at least 64 values) folded to columns, for widths that
# divide the span, leave a partial last span, or are wider than one span; float32 summed in float64.

SHAPES = [(1, 1, 1), (1, 7, 5), (3, 64, 1), (3, 100, 2), (2, 13, 5), (1, 65, 63), (2, 9, 64), (1, 33, 65),
          (2, 5, 130)]


@pytest.fixture
def numba_kernels():
    pytest.importorskip("numba")
    return kernel_sets("numpy", "numba")[1]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("alpha", [0.0, 0.1])
def test_activation_and_bias_gradient_for_every_width(numba_kernels, shape, alpha):
    rng = np.random.default_rng(sum(shape))
    dA, A = rng.standard_normal(shape), rng.standard_normal(shape)
    dZ, db = numba_kernels.leaky_relu_bias_backward(dA, A, alpha=alpha,
                                                    out=(np.empty(shape), np.empty((shape[0], shape[2]))))
    expected = np.where(A > 0, dA, alpha * dA)
    np.testing.assert_array_equal(dZ, expected)
    np.testing.assert_allclose(db, expected.sum(axis=1), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_bias_gradient_for_every_width(numba_kernels, shape):
    dZ = np.random.default_rng(sum(shape)).standard_normal(shape)
    db = numba_kernels.bias_grad(dZ, out=np.empty((shape[0], shape[2])))
    np.testing.assert_allclose(db, dZ.sum(axis=1), rtol=1e-12, atol=1e-13)
    single = numba_kernels.bias_grad(dZ[0], out=np.empty(shape[2]))
    np.testing.assert_allclose(single, dZ[0].sum(axis=0), rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("op", ["bias_grad", "relu_bias_backward"])
def test_float32_bias_gradient_is_summed_in_float64(numba_kernels, op):
    """100,000 rows of float32 0.1: a float32 running sum drifts by about 1e-3; summed in float64 the
    bias gradient is the exact sum rounded once to float32."""
    dZ = np.full((100_000, 3), 0.1, dtype=np.float32)
    db = np.zeros(3, dtype=np.float32)
    if op == "bias_grad":
        numba_kernels.bias_grad(dZ, out=db)
    else:
        numba_kernels.relu_bias_backward(dZ, np.ones_like(dZ), out=(np.empty_like(dZ), db))
    np.testing.assert_allclose(db, 100_000 * np.float64(np.float32(0.1)), rtol=1e-7)
