import math

import pytest

from sim.risk.intervals import exponential_mean, mean_interval, wilson


@pytest.mark.parametrize(
    ("k", "n", "lo", "hi"),
    # Wilson score intervals at 95 %, as tabulated by Newcombe (1998), Table I.
    [
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (81, 263, 0.2553, 0.3662),
        (10, 10, 0.7225, 1.0),
    ],
)
def test_wilson_matches_newcombes_table(k, n, lo, hi):
    got = wilson(k, n)
    assert got == pytest.approx((lo, hi), abs=1e-4)


def test_mean_interval_is_students_t():
    mean, (lo, hi) = mean_interval([1.0, 2.0, 3.0, 4.0])
    # sd = 1.29099, t(0.975, 3) = 3.18245: half-width 3.18245 * 1.29099 / 2
    assert mean == 2.5 and hi - mean == pytest.approx(2.05426, abs=1e-4) and lo < mean


def test_exponential_mean_interval_is_the_chi_square_one():
    mean, (lo, hi) = exponential_mean(100.0, 4)
    # 2T / chi2(0.975; 10) = 200 / 20.483 and 2T / chi2(0.025; 8) = 200 / 2.180
    assert mean == 25.0
    assert lo == pytest.approx(200 / 20.4832, rel=1e-4) and hi == pytest.approx(
        200 / 2.17973, rel=1e-4
    )


def test_no_event_seen_gives_a_lower_bound_only():
    mean, (lo, hi) = exponential_mean(60.0, 0)
    assert math.isinf(mean) and math.isinf(hi) and lo == pytest.approx(120 / 7.3778, rel=1e-4)
