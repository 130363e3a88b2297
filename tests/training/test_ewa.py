"""Exponentially weighted averages."""
import numpy as np
import pytest

import xpnet as xn


def test_temperature_example_uncorrected():
    ewa = xn.EWA(0.9, bias_correction=False)
    assert ewa.average([40, 49, 45]) == pytest.approx([4.0, 8.5, 12.15])


def test_bias_correction_gives_the_plain_mean_at_the_first_step():
    ewa = xn.EWA(0.9)
    assert ewa.update(40) == pytest.approx(40.0)
    corrected = ewa.update(49)
    assert corrected == pytest.approx((0.9 * 4.0 + 4.9) / (1 - 0.81))


@pytest.mark.parametrize("beta, span", [(0.9, 10), (0.98, 50), (0.5, 2)])
def test_beta_averages_over_about_one_over_one_minus_beta_values(beta, span):
    """After a step from 0 to 1, the uncorrected average reaches 1 - 1/e after about 1/(1-beta) steps."""
    ewa = xn.EWA(beta, bias_correction=False)
    values = ewa.average(np.ones(500))
    steps = 1 + int(np.argmax(np.array(values) >= 1 - np.exp(-1)))
    assert abs(steps - span) <= max(1, 0.05 * span)


def test_history_smooths_the_cost():
    history = xn.History()
    history.iteration_cost = [40.0, 49.0, 45.0]
    assert history.smoothed_cost(0.9, bias_correction=False) == pytest.approx([4.0, 8.5, 12.15])
    assert history.smoothed_cost(0.9)[0] == pytest.approx(40.0)


def test_a_population_history_smooths_each_models_cost():
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    model = xn.Sequential([xn.Dense(4), xn.ReLU(), xn.Dense(1)], input_dim=3, seed=[0, 1], population=2)
    history = model.fit(X, y, loss="binary_cross_entropy", optimizer=xn.SGD([0.1, 0.5]), batch_size=10, epochs=2)
    smoothed = history.smoothed_cost(0.5)
    assert len(smoothed) == len(history.iteration_cost) == 8 and all(len(values) == 2 for values in smoothed)
    for index in range(2):
        costs = [values[index] for values in history.iteration_cost]
        np.testing.assert_allclose([values[index] for values in smoothed], xn.EWA(0.5).average(costs))
    assert smoothed[-1][0] != smoothed[-1][1]


def test_history_names_a_bad_key_or_member():
    history = xn.History()
    history.append_epoch({"loss": [0.5, 0.6]}, [[0.7, 0.8]])
    assert history.member(1)["loss"] == [0.6]
    for index in (2, -1, 1.0, True):
        with pytest.raises(IndexError, match=rf"member index must be an int in \[0, 2\) .* got {index!r}"):
            history.member(index)
    with pytest.raises(KeyError, match="History has no 'los'; its per-epoch keys are"):
        history["los"]


def _record(**changes):
    epochs = {key: [0.5] for key in xn.training.history.EPOCH_KEYS}
    return {"history": {**epochs, **changes.pop("history", {})}, "iteration_cost": [0.7], **changes}


@pytest.mark.parametrize("data, message", [
    (None, r"history must be \{'history'"),
    ([1, 2], r"history must be \{'history'"),
    ({"history": {}}, r"history must be \{'history'"),
    (_record(history={"loss": "abc"}), "per-epoch entries must be lists of one length"),
    (_record(history={"lr": [0.1, 0.2]}), "per-epoch entries must be lists of one length"),
    (_record(iteration_cost="xyz"), r"history\['iteration_cost'\] must be a list of numbers or nulls"),
    (_record(history={"loss": [[1, 2]], "lr": [[1, 2, 3]]}), r"history\['lr'\] must be a list .* lists of 2"),
    (_record(iteration_cost=[None, "a"]), r"history\['iteration_cost'\] must be a list of numbers"),
])
def test_history_from_dict_refuses_what_to_dict_never_writes(data, message):
    with pytest.raises(ValueError, match=message):
        xn.History.from_dict(data)


def test_history_from_dict_round_trips_one_model_and_a_population():
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = (X[:, 0] > 0).astype(int)
    for population, seed in ((None, 0), (2, [0, 1])):
        model = xn.Sequential([xn.Dense(1)], input_dim=3, seed=seed, population=population)
        history = model.fit(X, y, loss="binary_cross_entropy", batch_size=10, epochs=2)
        again = xn.History.from_dict(history.to_dict())
        assert again.to_dict() == history.to_dict()
    shared_first = xn.History.from_dict(_record(iteration_cost=[1.0, [2.0, 3.0]]))  # a shared value, then one each
    assert shared_first.smoothed_cost(0.5, bias_correction=False) == [[0.5, 0.5], [1.25, 1.75]]


@pytest.mark.parametrize("bias_correction", ["no", 0, None])
def test_bias_correction_must_be_a_bool(bias_correction):
    with pytest.raises(TypeError, match=f"bias_correction must be True or False, got {bias_correction!r}"):
        xn.EWA(0.9, bias_correction)
    history = xn.History()
    history.iteration_cost = [40.0, 49.0]
    with pytest.raises(TypeError, match="bias_correction must be True or False"):
        history.smoothed_cost(0.9, bias_correction=bias_correction)


@pytest.mark.parametrize("beta", [[0.9, 0.5], (0.9,), np.array([0.9, 0.99]), 1.0, -0.1, float("nan"), "0.9", True])
def test_beta_must_be_one_number_in_zero_one(beta):
    """One stream of numbers has one average: a list of betas is refused, not broadcast."""
    with pytest.raises(ValueError, match=r"EWA beta must be in \[0.0, 1.0\) \(a single number\), got"):
        xn.EWA(beta)
