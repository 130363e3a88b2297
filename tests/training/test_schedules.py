"""Learning-rate schedules match their formulas."""
import math

import numpy as np
import pytest

import xpnet as xn
from xpnet.training import schedules as S


def test_inverse_time_decay():
    schedule = S.InverseTimeDecay(0.2, decay_rate=1.0)
    assert [schedule(t) for t in (0, 1, 2, 3)] == pytest.approx([0.2, 0.1, 0.2 / 3, 0.05])


def test_staircase_inverse_time_decay_boundaries():
    schedule = S.InverseTimeDecay(0.1, decay_rate=0.5, interval=10)
    assert [schedule(t) for t in (0, 9, 10, 19, 20, 35)] == pytest.approx(
        [0.1, 0.1, 0.1 / 1.5, 0.1 / 1.5, 0.1 / 2.0, 0.1 / 2.5])


def test_exponential_decay():
    schedule = S.ExponentialDecay(0.5, k=0.95)
    assert [schedule(t) for t in (0, 1, 10)] == pytest.approx([0.5, 0.475, 0.5 * 0.95 ** 10])


def test_inverse_sqrt_decay():
    schedule = S.InverseSqrtDecay(0.3, k=2.0)
    assert [schedule(t) for t in (0, 3, 8)] == pytest.approx([0.6, 0.3, 0.2])


def test_piecewise_constant_boundaries():
    schedule = S.PiecewiseConstant([5, 10], [0.1, 0.01, 0.001])
    assert [schedule(t) for t in (0, 4, 5, 9, 10, 100)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    with pytest.raises(ValueError, match="len\\(values\\) == len\\(boundaries\\) \\+ 1"):
        S.PiecewiseConstant([5], [0.1])


def test_cosine_with_warmup():
    schedule = S.CosineWithWarmup(1.0, total=110, warmup=10, min_lr=0.1)
    assert schedule(0) == pytest.approx(0.1) and schedule(9) == pytest.approx(1.0)
    assert schedule(10) == pytest.approx(1.0)
    assert schedule(60) == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert schedule(110) == pytest.approx(0.1) and schedule(500) == pytest.approx(0.1)


def test_history_records_the_rate_of_each_epoch_and_callables_work():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 2)), rng.integers(0, 2, 20)
    model = xn.Sequential([xn.Dense(1)], input_dim=2)
    model.fit(X, y, loss="binary_cross_entropy", optimizer=xn.SGD(lambda epoch: 0.1 / (epoch + 1)), epochs=3)
    assert model.history["lr"] == pytest.approx([0.1, 0.05, 0.1 / 3])
    model = xn.Sequential([xn.Dense(1)], input_dim=2)
    optimizer = xn.SGD(S.per_step(lambda step: 0.1 * 0.5 ** step))
    model.fit(X, y, loss="binary_cross_entropy", optimizer=optimizer, epochs=2, batch_size=10)
    assert model.history["lr"] == pytest.approx([0.1, 0.1 * 0.5 ** 2])


def test_bad_learning_rate():
    expected = r"lr must be a positive finite number \(or one per model\) or a schedule, got -1"
    with pytest.raises(ValueError, match=expected):
        xn.Adam(lr=-1)


def data(m=36):
    rng = np.random.default_rng(0)
    return rng.standard_normal((m, 3)), rng.integers(0, 2, m)


def test_cosine_with_warmup_counts_epochs_like_every_schedule():
    """18 updates an epoch: the rate follows the epochs, not the updates (it used to reach 0 at update 10)."""
    X, y = data()
    schedule = S.CosineWithWarmup(0.1, 10, warmup=2)
    model = xn.Sequential([xn.Dense(1)], input_dim=3)
    model.fit(X, y, loss="binary_cross_entropy", optimizer=xn.SGD(schedule), batch_size=2, epochs=10)
    assert model.optimizer.t == 180
    assert model.history["lr"] == pytest.approx([schedule(epoch) for epoch in range(10)])
    assert model.history["lr"][:3] == pytest.approx([0.05, 0.1, 0.1]) and min(model.history["lr"]) > 0.003


@pytest.mark.parametrize("rate, shown", [(lambda epoch: 0.1 if epoch < 3 else -0.05, "got -0.05"),
                                         (lambda epoch: 0.1 if epoch < 3 else 0.0, "got 0.0"),
                                         (lambda epoch: 0.1 if epoch < 3 else float("nan"), "got nan"),
                                         (lambda epoch: 0.1 if epoch < 3 else "fast", "got 'fast'")],
                         ids=["negative", "zero", "nan", "text"])
def test_a_schedule_giving_a_bad_rate_stops_training_before_that_epoch(rate, shown):
    X, y = data()
    model = xn.Sequential([xn.Dense(1)], input_dim=3, dtype="float64")
    model.fit(X, y, loss="binary_cross_entropy", optimizer=xn.SGD(rate), epochs=3)
    after_three = model.get_weights()
    with pytest.raises(ValueError, match=rf"the learning rate that .*<lambda> gave at epoch 3, counting from 0, must "
                                         rf"be a finite number > 0 \(or one per model\), {shown}"):
        model.fit(X, y, epochs=5)
    assert model.epoch == 3 and model.history.epochs == 3
    for name, value in after_three.items():
        np.testing.assert_array_equal(model.get_weights()[name], value)


def test_a_per_step_schedule_turning_negative_mid_epoch_rolls_the_epoch_back():
    X, y = data()
    model = xn.Sequential([xn.Dense(1)], input_dim=3, dtype="float64")
    model.fit(X, y, loss="binary_cross_entropy", optimizer=xn.SGD(S.per_step(lambda step: 0.1 - 0.015 * step)),
              batch_size=6, epochs=1)
    after_one = model.get_weights()
    with pytest.raises(ValueError, match=r"per_step\(.*<lambda>\) gave at step 7 \(epoch 1\), counting from 0, must "
                                         r"be a finite number > 0"):
        model.fit(X, y, batch_size=6, epochs=1)
    assert model.epoch == 1 and model.optimizer.t == 6
    for name, value in after_one.items():
        np.testing.assert_array_equal(model.get_weights()[name], value)


def test_a_schedule_giving_one_rate_per_model_is_checked_per_model():
    X, y = data()
    model = xn.Sequential([xn.Dense(1)], input_dim=3, population=3, seed=[0, 1, 2])
    model.fit(X, y, loss="binary_cross_entropy", optimizer=xn.SGD(lambda epoch: [0.1, 0.2 - 0.1 * epoch, 0.3]),
              epochs=2)
    with pytest.raises(ValueError, match=r"gave at epoch 2, counting from 0, must be a finite number > 0 \(or one per "
                                         r"model\), got \[0.1, 0.0, 0.3\]"):
        model.fit(X, y, epochs=1)
    with pytest.raises(ValueError, match=r"gave at epoch 2, counting from 0, has 2 values; a population of 3 models "
                                         r"needs one each"):
        model.fit(X, y, optimizer=xn.SGD(lambda epoch: [0.1, 0.2]), epochs=1)
    with pytest.raises(ValueError, match=r"ExponentialDecay lr0 has 2 values; a population of 3 models needs one each"):
        model.fit(X, y, optimizer=xn.SGD(S.ExponentialDecay([0.1, 0.2], 0.9)), epochs=1)
    assert model.epoch == 2


@pytest.mark.parametrize("make, message", [
    (lambda: S.ExponentialDecay(0.1, k=-1.0), r"ExponentialDecay k must be a finite number > 0"),
    (lambda: S.ExponentialDecay(-0.1, k=0.9), r"ExponentialDecay lr0 must be a finite number > 0"),
    (lambda: S.InverseTimeDecay(0.1, decay_rate=-2.0), r"InverseTimeDecay decay_rate must be a finite number >= 0"),
    (lambda: S.InverseTimeDecay(0.1, 1.0, interval=0), r"InverseTimeDecay interval must be a positive int, got 0"),
    (lambda: S.InverseSqrtDecay(float("nan")), r"InverseSqrtDecay lr0 must be a finite number > 0"),
    (lambda: S.PiecewiseConstant([2], [0.1, -0.1]), r"PiecewiseConstant value must be a finite number > 0"),
    (lambda: S.PiecewiseConstant([2.5], [0.1, 0.01]), r"PiecewiseConstant boundary must be an int >= 0, got 2.5"),
    (lambda: S.PiecewiseConstant(5, [0.1]), r"PiecewiseConstant needs lists of boundaries and values"),
    (lambda: S.CosineWithWarmup(0.1, 10, warmup="a"), r"CosineWithWarmup warmup must be an int >= 0, got 'a'"),
    (lambda: S.CosineWithWarmup(0.1, 10.5), r"CosineWithWarmup total must be a positive int, got 10.5"),
    (lambda: S.CosineWithWarmup(0.1, 10, min_lr=-0.01), r"CosineWithWarmup min_lr must be a finite number >= 0"),
])
def test_schedule_arguments_are_checked(make, message):
    with pytest.raises((ValueError, TypeError), match=message):
        make()


def test_every_schedule_takes_one_value_per_model():
    assert S.InverseSqrtDecay([0.1, 0.2], k=2.0)(3) == pytest.approx([0.1, 0.2])
    assert S.CosineWithWarmup([0.1, 0.2], 10, min_lr=[0.0, 0.1])(5) == pytest.approx([0.05, 0.15])
    assert S.PiecewiseConstant([2], [[0.1, 0.2], 0.01])(0) == [0.1, 0.2]


def test_an_unknown_saved_schedule_is_a_clear_error():
    with pytest.raises(ValueError, match=r"unknown learning-rate schedule 'Nope'; expected one of \['Cosine"):
        S.from_config({"schedule": "Nope", "lr0": 0.1})


def test_per_step_needs_a_function():
    with pytest.raises(TypeError, match=r"per_step needs a function of the update step, got 0.1"):
        S.per_step(0.1)
