"""Learning-rate schedules match their formulas."""
import math

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
    import numpy as np

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
