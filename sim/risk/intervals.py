"""95 % intervals: Wilson for proportions, Student's t for means, chi-square for an exponential
mean from censored observations. Pure functions of counts and samples."""

from __future__ import annotations

import math
from collections.abc import Sequence

from scipy import stats

LEVEL = 0.95
Z = float(stats.norm.ppf(0.5 + LEVEL / 2))


def student_t(df: int) -> float:
    """The two-sided LEVEL quantile of Student's t: Z for a variance estimated from df + 1
    samples, which Z alone makes too narrow when they are few."""
    return float(stats.t.ppf(0.5 + LEVEL / 2, df))


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion: sane at 0 and at n, unlike Wald's."""
    if trials <= 0:
        return (0.0, 1.0)
    p = successes / trials
    centre = (p + Z * Z / (2 * trials)) / (1 + Z * Z / trials)
    half = (
        Z * math.sqrt(p * (1 - p) / trials + Z * Z / (4 * trials * trials)) / (1 + Z * Z / trials)
    )
    return (max(0.0, centre - half), min(1.0, centre + half))


def mean_interval(values: Sequence[float]) -> tuple[float, tuple[float, float]]:
    """The sample mean and its Student-t interval (a point interval for fewer than 2 values)."""
    n = len(values)
    if n == 0:
        return (math.nan, (math.nan, math.nan))
    mean = math.fsum(values) / n
    if n < 2:
        return (mean, (mean, mean))
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = student_t(n - 1) * sd / math.sqrt(n)
    return (mean, (mean - half, mean + half))


def exponential_mean(exposure: float, events: int) -> tuple[float, tuple[float, float]]:
    """Mean time between events from `exposure` seconds watched and `events` seen (runs stopped
    at an event or at their horizon): the exponential MLE and its exact chi-square interval,
    2k+2 degrees of freedom for the lower bound as for time-censored data."""
    alpha = 1 - LEVEL
    lower = 2 * exposure / float(stats.chi2.ppf(1 - alpha / 2, 2 * events + 2))
    upper = 2 * exposure / float(stats.chi2.ppf(alpha / 2, 2 * events)) if events else math.inf
    return (exposure / events if events else math.inf, (lower, upper))


def poisson_upper(count: int) -> float:
    """The exact upper LEVEL bound on a Poisson mean from one `count` (Garwood's chi-square)."""
    return float(stats.chi2.ppf(0.5 + LEVEL / 2, 2 * count + 2)) / 2
