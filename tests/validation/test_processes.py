"""validation.processes: the spread of several-process runs, real against the model's."""

from __future__ import annotations

import random

import pytest

from sim.result import ProcessView, RequestRecord, Result, Summary, service_view
from validation.processes import Spread, fit_alpha, outcome, quantiles, spread


def _result(counts: list[int], refused: int, blocks: list[tuple[float, float]]) -> Result:
    """Request i reaches the endpoint at i/100 s; the odd ones are 200s sent 0.1 s later."""
    views, i = [], 0
    for k, n in enumerate(counts):
        views.append(ProcessView(k, tuple(range(i, i + n)), ()))
        i += n
    requests = tuple(
        RequestRecord(j, 0.0, j / 100, j / 100 + 0.1, 200 if j % 2 else 500, None) for j in range(i)
    )
    summary = Summary(0, 0, 0.0, None, 1.0, 0, refused, 0, None, None)
    params = {"pool_size": 5, "max_overflow": 10}
    service = service_view(views, 20, None, refused)
    return Result(params, requests, tuple(blocks), summary, service=service)


def test_a_runs_outcome_is_its_lopsidedness_errors_refusals_and_worst_block():
    result = _result([10, 30], refused=3, blocks=[(0.1, 2.0), (0.2, 8.2)])
    found = outcome(result)
    assert found == {**found, "busier_share": 0.75, "server_errors": 3.0, "refused": 3.0}
    assert found["longest_block"] == pytest.approx(8.0)
    # The busier process reads requests 10-39: its 15th reaches the endpoint at 0.24 s, its
    # first 200 (request 11) is sent at 0.21 s.
    assert found["last_in_pool"] == pytest.approx(0.24)
    assert found["first_return"] == pytest.approx(0.21)


def test_a_process_that_read_fewer_than_its_pool_holds_fills_it_at_its_last_request():
    assert outcome(_result([3, 1], refused=0, blocks=[]))["last_in_pool"] == pytest.approx(0.02)


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


def test_the_metrics_shown_beside_are_never_judged():
    from validation.processes import METRICS, SHOWN, ProcessRow

    inside, outside = Spread(1, 2, 3), Spread(7, 8, 9)
    row = ProcessRow(
        "modern", "c", "what", 4, False,
        measured={m: outside for m in METRICS},
        paired={m: inside for m in METRICS},
        many={m: inside for m in METRICS},
        loadavg=(0.0, 0.0, 0.0),
    )  # fmt: skip
    assert set(row.misses) == set(METRICS) - set(SHOWN) and SHOWN
