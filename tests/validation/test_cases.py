"""The case set covers what the validation issue asks for, and every case is a valid Scenario."""

from __future__ import annotations

import pytest

from sim.errors import ScenarioError
from validation.cases import cases_for
from validation.compare import scenario_for


@pytest.mark.parametrize("stack", ["era2020", "modern"])
def test_each_stack_has_at_least_twelve_valid_cases(stack):
    scenarios = [scenario_for(stack, c) for c in cases_for(stack)]
    assert len(scenarios) >= 12
    assert {s.client for s in scenarios} == {"external", "in-process"}
    assert any(s.requests < s.capacity for s in scenarios)
    assert any(s.requests > s.capacity for s in scenarios)
    assert any(s.max_overflow == 0 for s in scenarios)
    assert any(s.pool_size == 1 for s in scenarios)
    assert any(s.client_timeout is not None for s in scenarios)
    assert all(1.0 <= s.pool_timeout <= 3.0 for s in scenarios)


def test_era2020_covers_both_loops_and_sync_endpoints_around_the_thread_pool():
    scenarios = [scenario_for("era2020", c) for c in cases_for("era2020")]
    assert {s.loop for s in scenarios} == {"asyncio", "uvloop"}
    sync = [s for s in scenarios if s.endpoint == "sync"]
    assert any(s.requests == s.threads for s in sync) and any(s.requests > s.threads for s in sync)


def test_modern_covers_async_session():
    assert any(scenario_for("modern", c).endpoint == "async-session" for c in cases_for("modern"))


def test_unknown_case_is_a_one_line_error():
    with pytest.raises(ScenarioError, match="--cases"):
        cases_for("modern", "nope")


@pytest.mark.parametrize("stack", ["era2020", "modern"])
def test_steady_cases_span_recovery_and_collapse_at_three_rates_or_more(stack):
    steady = cases_for(stack, "steady")
    rates = {
        scenario_for(stack, c).arrival_spec.rate
        for c in steady
        if scenario_for(stack, c).arrival.startswith("poisson:")
    }
    assert len(rates) >= 3
    assert all(scenario_for(stack, c).client == "external" for c in steady)
    assert {c.name for c in steady} < {c.name for c in cases_for(stack)}
