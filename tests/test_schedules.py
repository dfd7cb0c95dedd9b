"""Learning-rate schedules and exponentially weighted averages."""
import math

import numpy as np
import pytest

import fastnn
from fastnn import schedules as S


def test_course_formulas():
    lr0 = 0.2
    for epoch in range(0, 30, 7):
        assert S.InverseTimeDecay(lr0, 1.5)(epoch) == pytest.approx(lr0 / (1 + 1.5 * epoch))
        assert S.ExponentialDecay(lr0, 0.95)(epoch) == pytest.approx(0.95 ** epoch * lr0)
        assert S.InverseSqrtDecay(lr0, k=2.0)(epoch) == pytest.approx(2.0 / math.sqrt(epoch + 1) * lr0)
        assert S.Constant(lr0)(epoch) == lr0
        assert S.schedule_lr_decay(lr0, epoch, 1.0, time_interval=10) == \
            pytest.approx(lr0 / (1 + 1.0 * math.floor(epoch / 10)))


def test_course_schedule_lr_decay_example():
    # the course notebook's check: lr0 = 0.5, epoch 100, decay 1, interval 1000 -> 0.5;
    # at epoch 10 with interval 2 (5 intervals) -> 0.5 / 6
    assert S.schedule_lr_decay(0.5, 100, 1) == 0.5
    assert S.schedule_lr_decay(0.5, 10, 1, time_interval=2) == pytest.approx(0.5 / 6)


def test_keras_compatible_staircase_and_piecewise():
    e = S.ExponentialDecay(1.0, 0.5, decay_steps=10, staircase=True, per="step")
    assert [e(t) for t in (0, 9, 10, 25)] == [1.0, 1.0, 0.5, 0.25]
    assert S.ExponentialDecay(1.0, 0.5, decay_steps=10)(5) == pytest.approx(0.5 ** 0.5)
    it = S.InverseTimeDecay(1.0, 1.0, decay_steps=4, staircase=True)
    assert [it(t) for t in (0, 3, 4, 8)] == [1.0, 1.0, 0.5, 1 / 3]
    pc = S.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001])
    assert [pc(t) for t in (0, 10, 11, 20, 21, 99)] == [0.1, 0.1, 0.01, 0.01, 0.001, 0.001]
    assert e.per == "step" and pc.per == "epoch"


def test_schedule_errors():
    with pytest.raises(ValueError, match="per must be one of"):
        S.Constant(0.1, per="batch")
    with pytest.raises(ValueError, match=r"values must have len\(boundaries\) \+ 1"):
        S.PiecewiseConstantDecay([1, 2], [0.1])
    with pytest.raises(ValueError, match="strictly increasing"):
        S.PiecewiseConstantDecay([2, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="t must be >= 0"):
        S.Constant(0.1)(-1)
    with pytest.raises(TypeError, match="t must be an int"):
        S.Constant(0.1)(1.5)
    with pytest.raises(ValueError, match="decay_rate must be >= 0"):
        S.InverseTimeDecay(0.1, -1)


def test_exponential_average_bias_correction():
    # a constant signal: the corrected average is exact from the first value,
    # the raw one starts at (1 - beta) * c and approaches c
    c = 7.0
    raw = fastnn.exponential_average([c] * 20, 0.9)
    corrected = fastnn.exponential_average([c] * 20, 0.9, bias_correction=True)
    np.testing.assert_allclose(corrected, c, rtol=1e-14)
    np.testing.assert_allclose(raw, c * (1 - 0.9 ** np.arange(1, 21)), rtol=1e-14)
    # a step signal: the average lags by about 1 / (1 - beta) values
    step = fastnn.exponential_average([0.0] * 50 + [1.0] * 50, 0.9)
    assert step[49] == 0 and 0.6 < step[59] < 0.7          # 1 - 0.9^10 = 0.651
    ema = fastnn.ExponentialAverage(0.5)
    ema.update(np.array([2.0, 4.0]))
    np.testing.assert_allclose(ema.update(np.array([2.0, 4.0])), [1.5, 3.0])
    with pytest.raises(ValueError, match="no values averaged yet"):
        _ = fastnn.ExponentialAverage(0.9).value


def test_running_stats_are_an_exponential_average():
    """Batch norm's running mean is an EWA with beta = 1 - momentum."""
    rng = np.random.default_rng(0)
    rm, rv = np.zeros(1), np.ones(1)
    ema = fastnn.ExponentialAverage(0.9)
    for _ in range(15):
        x = rng.standard_normal((8, 1)) + 3
        fastnn.batchnorm_forward(x, np.ones(1), np.zeros(1), rm, rv, training=True, momentum=0.1)
        ema.update(x.mean())
    assert rm[0] == pytest.approx(ema.value, rel=1e-12)
