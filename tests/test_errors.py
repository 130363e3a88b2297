"""Bad input gets an error that names the argument, what was seen and what was expected;
nothing already trained is lost."""
import sys

import numpy as np
import pytest

import xpnet as xn
from xpnet.nn.layers import layer_from_config


def trained_model():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 4)), rng.integers(0, 3, 40)
    model = xn.Sequential([xn.Dense(5), xn.ReLU(), xn.Dense(3)], input_dim=4, dtype="float64")
    model.fit(X, y, loss="softmax_cross_entropy", optimizer=xn.SGD(0.1), epochs=2)
    return model, X, y


BAD_FIT_CALLS = [
    (lambda X, y: {"X": X[0], "y": y}, r"X must be 2-D .* got shape \(4,\)"),
    (lambda X, y: {"X": X, "y": y[:-1]}, r"y must have one entry per example of X \(40\), got shape \(39,\)"),
    (lambda X, y: {"X": X[:, :3], "y": y}, r"X has 3 features per example, but the model expects input_dim=4"),
    (lambda X, y: {"X": X, "y": np.where(y == 2, 3, y)}, r"y must hold integer class labels in \[0, 3\), got 3\.0"),
    (lambda X, y: {"X": X, "y": y + 0.5}, r"integer class labels"),
    (lambda X, y: {"X": np.where(X > 1.5, np.nan, X), "y": y}, r"X contains NaN or inf"),
    (lambda X, y: {"X": np.where(X > 1.5, np.inf, X), "y": y}, r"X contains NaN or inf"),
    (lambda X, y: {"X": X, "y": np.where(y == 1, np.nan, y)}, r"y contains NaN or inf"),
    (lambda X, y: {"X": X, "y": y, "batch_size": 0}, r"batch_size must be an int >= 1 or None .* got 0"),
    (lambda X, y: {"X": X, "y": y, "batch_size": 2.5}, r"batch_size must be an int"),
    (lambda X, y: {"X": X, "y": y, "loss": "hinge"}, r"loss must be one of .* got 'hinge'"),
    (lambda X, y: {"X": X, "y": y, "epochs": -1}, r"epochs must be an int >= 0, got -1"),
    (lambda X, y: {"X": X, "y": y, "l2": -0.1}, r"l2 must be a finite number >= 0 \(or one per model\), got -0.1"),
    (lambda X, y: {"X": X, "y": y, "validation_data": X}, r"validation_data must be a tuple"),
    (lambda X, y: {"X": X, "y": y, "optimizer": "adam"}, r"optimizer must be an xpnet optimizer"),
    (lambda X, y: {"X": [["a"] * 4] * 40, "y": y}, r"X must hold numbers"),
    (lambda X, y: {"X": X, "y": y, "graphs": "no"}, r"graphs must be True, False or None, got 'no'"),
    (lambda X, y: {"X": X, "y": y, "graphs": 0}, r"graphs must be True, False or None, got 0"),
    (lambda X, y: {"X": X, "y": y, "seed": -1}, r"seed must be an int >= 0, got -1"),
    (lambda X, y: {"X": X, "y": y, "seed": "a", "validation_split": 0.2}, r"seed must be an int >= 0, got 'a'"),
]


@pytest.mark.parametrize("make_call, message", BAD_FIT_CALLS)
def test_bad_fit_input_raises_and_keeps_the_model(make_call, message):
    model, X, y = trained_model()
    before, epoch = model.get_weights(), model.epoch
    with pytest.raises((ValueError, TypeError), match=message):
        model.fit(**{"loss": "softmax_cross_entropy", **make_call(X, y)})
    for name, value in before.items():
        np.testing.assert_array_equal(model.get_weights()[name], value)
    assert model.epoch == epoch


def test_binary_labels_must_be_zero_or_one():
    model = xn.Sequential([xn.Dense(3), xn.ReLU(), xn.Dense(1)], input_dim=2)
    with pytest.raises(ValueError, match=r"y must hold only 0 and 1 for loss='binary_cross_entropy', got values 2\.0"):
        model.fit(np.zeros((3, 2)), [0, 1, 2], loss="binary_cross_entropy")


def test_cross_entropy_after_a_final_activation_is_refused():
    model = xn.Sequential([xn.Dense(1), xn.Sigmoid()], input_dim=2)
    with pytest.raises(ValueError, match="logits.*ends in Sigmoid"):
        model.fit(np.zeros((3, 2)), [0, 1, 1], loss="binary_cross_entropy")


@pytest.mark.parametrize("kwargs, error, message", [
    ({"device": "tpu"}, ValueError, r"device must be 'cpu' for the numpy backend, got 'tpu'"),
    ({"backend": "jax"}, ValueError, r"backend must be one of .* got 'jax'"),
    ({"dtype": "float16"}, ValueError, r"dtype must be one of \('float32', 'float64'\), got 'float16'"),
    ({"device": "cuda:x", "backend": "torch"}, ValueError, r"'cuda' or 'cuda:N'"),
    ({"device": "cpu", "backend": "cupy"}, ValueError,
     r"the cupy backend runs on a CUDA GPU: device must be 'cuda' or 'cuda:N' for a GPU, got 'cpu'"),
    ({"input_dim": 0}, ValueError, r"input_dim must be a positive int, got 0"),
    ({"fast": "no"}, TypeError, r"fast must be True, False or None, got 'no'"),
    ({"fast": 0}, TypeError, r"fast must be True, False or None, got 0"),
])
def test_bad_model_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        xn.Sequential([xn.Dense(2)], **{"input_dim": 3, **kwargs})


def test_fast_takes_bools_of_numpy_too_and_none_follows_the_environment(monkeypatch):
    assert xn.Sequential([xn.Dense(2)], input_dim=3, fast=np.bool_(False)).backend.kernels.name == "reference"
    monkeypatch.setenv("XPNET_FAST", "0")
    assert xn.Sequential([xn.Dense(2)], input_dim=3, fast=None).backend.kernels.name == "reference"
    with pytest.raises(TypeError, match="fast must be True, False or None, got 'yes'"):
        xn.resolve_backend(fast="yes")


def test_forward_takes_training_as_a_bool():
    """``training="no"`` would run a training pass: dropout on, batch statistics updated."""
    model = xn.Sequential([xn.Dense(2), xn.BatchNorm(), xn.Dropout(0.5), xn.Dense(1)], input_dim=3)
    before = model.get_weights()
    with pytest.raises(TypeError, match="training must be True or False, got 'no'"):
        model.forward(np.ones((4, 3)), training="no")
    for name, value in before.items():
        np.testing.assert_array_equal(model.get_weights()[name], value)


def test_unknown_activation_or_layer_is_refused():
    with pytest.raises(TypeError, match=r"layers\[1\] must be an xpnet layer .* got 'relu'"):
        xn.Sequential([xn.Dense(2), "relu"], input_dim=3)
    with pytest.raises(ValueError, match=r"unknown layer 'Swish'"):
        layer_from_config("Swish", {})
    with pytest.raises(ValueError, match=r"init must be one of .* got 'orthogonal'"):
        xn.Dense(3, init="orthogonal")


def test_cuda_without_cupy_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)
    monkeypatch.setitem(sys.modules, "array_api_compat.cupy", None)
    hint = r"device='cuda' needs CuPy.*pip install 'xpnet\[cuda13\]' or 'xpnet\[cuda12\]'"
    with pytest.raises(ImportError, match=hint):
        xn.Sequential([xn.Dense(2)], input_dim=3, device="cuda")


def test_dropout_as_last_layer_is_an_error():
    with pytest.raises(ValueError, match="Dropout cannot be the model's last layer"):
        xn.Sequential([xn.Dense(2), xn.Dropout(0.5)], input_dim=3)


def test_predict_before_fit_says_what_is_missing():
    model = xn.Sequential([xn.Dense(2)], input_dim=3)
    with pytest.raises(ValueError, match=r"predict needs the model's loss, .*: pass loss= to Sequential .*, or train "
                                         r"with fit\(\.\.\., loss=\.\.\.\) first$"):
        model.predict(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"evaluate needs the model's loss, .*, or pass loss= to evaluate$"):
        model.evaluate(np.zeros((1, 3)), [0])


def test_set_weights_takes_a_dict_as_get_weights_gives():
    model = xn.Sequential([xn.Dense(2)], input_dim=3)
    with pytest.raises(TypeError, match=r"set_weights takes a dict name -> array, as get_weights returns \(names "
                                        r"'0\.W', '0\.b'\), got list"):
        model.set_weights([np.zeros((3, 2)), np.zeros(2)])


@pytest.mark.parametrize("stream, kind", [
    (lambda X, y: lambda: iter([(X, y)]), "function"),
    (lambda X, y: (chunk for chunk in [(X, y)]), "generator"),
])
def test_a_stream_with_y_is_told_to_pass_y_none(stream, kind):
    model, X, y = trained_model()
    with pytest.raises(ValueError, match=rf"X is a stream of chunks \({kind}\), which carries its own targets: "
                                         r"pass y=None"):
        model.fit(stream(X, y), y)


@pytest.mark.parametrize("dtype, name", [(np.float64, "float64"), (np.float32, "float32"),
                                         (np.dtype("float32"), "float32"), (np.dtype("float64"), "float64")])
def test_numpy_dtypes_work_where_dtype_names_do(dtype, name):
    model = xn.Sequential([xn.Dense(2)], input_dim=3, dtype=dtype)
    assert model.dtype == name and model.params["0.W"].dtype == np.dtype(name)
    assert model.clone(dtype=dtype).dtype == name and xn.resolve_backend(dtype=dtype).dtype_name == name


def test_set_params_checks_names_and_shapes():
    model = xn.Sequential([xn.Dense(2)], input_dim=3)
    with pytest.raises(KeyError, match="unknown parameter '0.V'"):
        model.set_weights({"0.V": np.zeros((3, 2))})
    with pytest.raises(ValueError, match=r"set_weights\['0.W'\] must have shape \(3, 2\), got \(2, 3\)"):
        model.set_weights({"0.W": np.zeros((2, 3))})


@pytest.mark.parametrize("make, error, message", [
    (lambda: xn.Dense(3, init="normal", scale=float("nan")), ValueError, r"Dense scale must be a finite number > 0 "
                                                                          r"\(a single number\), got nan"),
    (lambda: xn.Dense(3, scale=[1.0, 2.0]), ValueError, r"Dense scale must be .* \(a single number\), got \[1.0"),
    (lambda: xn.Dense(3, use_bias="no"), TypeError, r"Dense use_bias must be True or False, got 'no'"),
    (lambda: xn.Dense(3, init=["he"]), ValueError, r"init must be one of .* got \['he'\]"),
    (lambda: xn.BatchNorm(momentum=[0.9, 0.5]), ValueError, r"BatchNorm momentum .* \(a single number\)"),
    (lambda: xn.BatchNorm(eps=[1e-5, 1e-3]), ValueError, r"BatchNorm eps must be .* \(a single number\)"),
    (lambda: xn.LeakyReLU([0.1, 0.2]), ValueError, r"LeakyReLU alpha must be in \[0.0, 1.0\] \(a single number\)"),
    (lambda: xn.Dropout("0.5"), ValueError, r"Dropout rate must be in \[0, 1\)"),
])
def test_layer_arguments_are_checked(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("init, message", [
    (lambda rng, shape, scale: np.full(shape, np.nan), r"Dense init=.* \(scale=None\) gave NaN or inf weights"),
    (lambda rng, shape, scale: np.zeros(3), r"Dense init=.* must give weights of shape \(2, 4\), got shape \(3,\)"),
])
def test_initial_weights_must_be_finite_and_of_the_right_shape(init, message):
    with pytest.raises(ValueError, match=message):
        xn.Sequential([xn.Dense(4, init=init)], input_dim=2)


@pytest.mark.parametrize("layer, init_scale", [(xn.Dense(4, init="normal", scale=1e300), 1.0),
                                               (xn.Dense(4), 1e300)], ids=["Dense scale", "init_scale"])
def test_initial_weights_must_fit_the_dtype(layer, init_scale):
    with pytest.raises(ValueError, match=r"the initial values of 0.W exceed the largest float32 \(3.403e\+38\); the "
                                         r"init scale \(Dense scale or init_scale\) is too large"):
        xn.Sequential([layer], input_dim=2, init_scale=init_scale)
    assert np.all(np.isfinite(xn.Sequential([layer], input_dim=2, dtype="float64", init_scale=init_scale)
                              .get_weights()["0.W"]))
