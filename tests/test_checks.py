"""Argument normalizers: one rule for each kind of argument, the same wherever it is used."""
import numpy as np
import pytest

import xpnet as xn
from xpnet import checks


@pytest.mark.parametrize("value", [8, np.int64(8), np.int32(8)])
def test_integer_arguments_accept_python_and_numpy_ints_alike(value):
    assert checks.positive_int(value, "units") == 8
    assert xn.Dense(value).units == 8
    model = xn.Sequential([xn.Dense(value)], input_dim=value, population=np.int64(2), seed=[0, 1])
    assert model.input_dim == 8 and model.population == 2
    history = model.fit(np.zeros((4, 8)), np.zeros((4, 8)), loss="mse", epochs=np.int64(1), batch_size=value)
    assert history.epochs == 1


@pytest.mark.parametrize("value", [0, -3, 2.0, True, "8", None])
def test_integer_arguments_refuse_everything_else_the_same_way(value):
    with pytest.raises(ValueError, match=r"Dense units must be a positive int, got"):
        xn.Dense(value)
    with pytest.raises(ValueError, match=r"input_dim must be a positive int, got"):
        xn.Sequential([xn.Dense(2)], input_dim=value)


def test_one_value_per_model_is_checked_against_the_population():
    assert checks.per_model_numbers([0.1, 0.2], "lr", lambda v: v > 0, "> 0", lead=(2,)) == [0.1, 0.2]
    with pytest.raises(ValueError, match="lr has 3 values; a population of 2 models needs one each"):
        checks.per_model_numbers([0.1, 0.2, 0.3], "lr", lambda v: v > 0, "> 0", lead=(2,))
    with pytest.raises(ValueError, match="lr has 2 values, one per model, which needs a population model"):
        checks.per_model_numbers([0.1, 0.2], "lr", lambda v: v > 0, "> 0", lead=())
    assert checks.one_per_model(7, "seed", (3,)) == [7, 7, 7]


@pytest.mark.parametrize("value", [np.nan, np.inf, -1.0, [0.1, np.nan]])
def test_hyperparameters_must_be_finite_and_in_range(value):
    with pytest.raises(ValueError, match="must be"):
        checks.positive(value, "eps")


@pytest.mark.parametrize("value", [True, "0.1", [0.1, "0.2"], [], [[0.1]], None, {"lr": 0.1}])
def test_numbers_must_be_real_numbers_not_look_alikes(value):
    with pytest.raises(ValueError, match=r"eps must be a finite number > 0 \(or one per model\), got"):
        checks.positive(value, "eps")


def test_a_single_number_setting_refuses_one_per_model():
    assert checks.positive(np.float32(0.5), "alpha", per_model=False) == 0.5
    with pytest.raises(ValueError, match=r"alpha must be a finite number > 0 \(a single number\), got \[0.5, 0.5\]"):
        checks.positive([0.5, 0.5], "alpha", per_model=False)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), np.bool_(False)])
def test_flags_accept_python_and_numpy_bools(value):
    assert checks.flag(value, "switch") is bool(value)
    assert checks.optional_flag(value, "switch") is bool(value)


@pytest.mark.parametrize("value", ["no", "False", 0, 1, 1.0, [True], np.array([True])])
def test_flags_refuse_what_merely_looks_true_or_false(value):
    with pytest.raises(TypeError, match=r"switch must be True or False, got "):
        checks.flag(value, "switch")
    with pytest.raises(TypeError, match=r"switch must be True, False or None, got "):
        checks.optional_flag(value, "switch")


def test_an_optional_flag_may_be_none_and_a_flag_may_not():
    assert checks.optional_flag(None, "switch") is None
    with pytest.raises(TypeError, match="switch must be True or False, got None"):
        checks.flag(None, "switch")
