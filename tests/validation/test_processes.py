"""validation.processes: the spread of several-process runs, real against the model's."""

from __future__ import annotations

import random

import pytest

from sim.result import ProcessView, Result, Summary, service_view
from validation.processes import Spread, fit_alpha, outcome, quantiles, spread


def _result(counts: list[int], refused: int, blocks: list[tuple[float, float]]) -> Result:
    views, i = [], 0
    for k, n in enumerate(counts):
        views.append(ProcessView(k, tuple(range(i, i + n)), ()))
        i += n
    summary = Summary(0, 0, 0.0, None, 1.0, 0, refused, 0, None, None)
    return Result({}, (), tuple(blocks), summary, service=service_view(views, 20, None, refused))


def test_a_runs_outcome_is_its_lopsidedness_errors_refusals_and_worst_block():
    result = _result([30, 10], refused=3, blocks=[(0.1, 2.0), (0.2, 8.2)])
    found = outcome(result)
    assert found == {**found, "busier_share": 0.75, "server_errors": 3.0, "refused": 3.0}
    assert found["longest_block"] == pytest.approx(8.0)


def test_spread_and_quantiles():
    assert spread([3, 1, 2]) == Spread(1, 2, 3)
    assert quantiles(list(range(101))) == Spread(5, 50, 95)


def test_fit_alpha_recovers_a_beta_binomial_concentration():
    rng = random.Random(0)
    n, alpha = 40, 2.0
    counts = []
    for _ in range(4000):
        p = rng.betavariate(alpha, alpha)
        counts.append(sum(rng.random() < p for _ in range(n)))
    assert fit_alpha(counts, n) == pytest.approx(alpha, rel=0.15)


def test_fit_alpha_is_none_when_the_split_is_no_wider_than_binomial():
    assert fit_alpha([20, 20, 21, 19], 40) is None
    assert fit_alpha([20], 40) is None


@pytest.mark.parametrize("stack", ["era2020", "modern"])
def test_each_stacks_split_is_the_one_its_stored_burst_runs_give(stack):
    from sim.stacks import STACKS
    from validation.processes import fitted_split

    fitted = fitted_split(stack)
    assert STACKS[stack].split == (fitted or "even")
