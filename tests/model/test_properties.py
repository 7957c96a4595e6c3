"""The model's invariants over the whole (small, fast) parameter space (issue 5).

Every property notes its scenario as a `python -m sim run …` line, so a failure prints the shrunk
counterexample ready to paste.
"""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from sim import analytic
from sim.model import run_model, simulate
from sim.result import Result
from sim.scenario import COSTS, Scenario
from tests.strategies import (
    burst_scenarios,
    frozen_burst_scenarios,
    loop_cpu,
    loop_cpu_per_request,
    note_scenario,
    scenarios,
)

EPS = 1e-6


def _requests_expected(scenario, result: Result) -> int:
    if scenario.arrival == "burst":
        return scenario.requests
    return len(result.requests)


@given(scenarios())
def test_every_request_ends_exactly_once_with_an_ordered_timeline(scenario):
    note_scenario(scenario)
    result = simulate(scenario)
    rows = result.requests
    assert [r.i for r in rows] == list(range(_requests_expected(scenario, result)))
    for r in rows:
        # exactly one ending: a server status (200 or 500) or a client error, at one time
        assert r.completed_at is not None, r
        assert (r.status in (200, 500) and r.error is None) or (
            r.status is None and r.error == "ReadTimeout"
        ), r
        assert r.sent_at is not None and r.sent_at <= r.completed_at + EPS, r
        if r.handled_at is not None:
            assert r.sent_at <= r.handled_at + EPS, r
        if r.status is not None:
            # the server answered, so it handled the request (200) before answering; a client
            # that gave up may see the server handle its request later, so no bound for those
            assert (r.handled_at is not None) == (r.status == 200), r
            if r.handled_at is not None:
                assert r.handled_at <= r.completed_at + EPS, r
    s = result.summary
    assert s.ok + s.server_errors + s.client_errors == len(rows)


@given(scenarios())
def test_checked_out_never_exceeds_capacity_and_idle_never_exceeds_pool_size(scenario):
    note_scenario(scenario)
    _, observed = run_model(scenario)
    if scenario.max_overflow != -1:
        assert observed.max_checkedout <= scenario.pool_size + scenario.max_overflow
    if scenario.pool_size > 0:
        assert observed.max_idle <= scenario.pool_size
        assert observed.connections_at_end <= scenario.pool_size


@given(
    burst_scenarios(endpoint="async-sync-session", client_timeout=None).filter(
        lambda s: s.requests <= s.capacity
    )
)
def test_a_burst_within_capacity_never_freezes_the_seeds_endpoint(scenario):
    # Nobody waits on the pool: the loop is held only by the requests' own work on it (connect
    # and query run on the loop thread in this endpoint), so no freeze unless that CPU alone
    # reaches the threshold.
    note_scenario(scenario)
    result = simulate(scenario)
    assert result.summary.server_errors == 0
    assert result.summary.ok == scenario.requests
    budget = loop_cpu(scenario, scenario.requests) + scenario.requests * (
        scenario.connect_time + scenario.query_time
    )
    assert _loop_blocked_total(result) <= budget + EPS
    if budget < scenario.freeze_threshold:
        assert result.summary.freezes == 0


def _loop_blocked_total(result: Result) -> float:
    return sum(b - a for a, b in result.loop_blocked)


@given(scenarios(endpoint="async-session"))
def test_async_session_never_blocks_the_loop_beyond_its_cpu_costs(scenario):
    # All the loop thread ever does for a request is CPU (HTTP, and the in-process client's own
    # work); every pool wait, connect and query is awaited. Blocked time is bounded by that CPU.
    note_scenario(scenario)
    result = simulate(scenario)
    budget = loop_cpu(scenario, len(result.requests))
    assert _loop_blocked_total(result) <= budget + EPS


@given(scenarios(endpoint="sync"))
def test_def_endpoint_never_blocks_the_loop_on_the_pool(scenario):
    # A plain `def` endpoint waits for its connection in a worker thread: the loop only ever
    # spends the requests' CPU, whatever the pool and thread counts.
    note_scenario(scenario)
    result = simulate(scenario)
    budget = loop_cpu(scenario, len(result.requests))
    assert _loop_blocked_total(result) <= budget + EPS


def _one_request_on_the_loop(scenario) -> float:
    """The loop CPU of one request in the seed's endpoint: how much a freeze's length may shift
    when one more or one fewer request's work happens to fall inside it."""
    return (
        loop_cpu_per_request(scenario)
        + scenario.connect_time
        + scenario.query_time
        + scenario.thread_handoff
    )


@given(frozen_burst_scenarios(), st.integers(min_value=1, max_value=10))
def test_frozen_seconds_never_decrease_as_requests_grow(scenario, more):
    # Up to one request's loop CPU of jitter: which CPU slices a freeze spans moves with the
    # request count (17 -> 18 requests can shorten a 1.208 s freeze by 0.5 ms); pool waits never
    # go away.
    bigger = scenario.replace(requests=scenario.requests + more)
    note_scenario(scenario)
    note_scenario(bigger)
    slack = _one_request_on_the_loop(scenario)
    assert (
        simulate(bigger).summary.frozen_seconds
        >= simulate(scenario).summary.frozen_seconds - slack - EPS
    )


def _frozen_with_more_capacity(scenario, field, more):
    bigger = scenario.replace(**{field: getattr(scenario, field) + more})
    note_scenario(scenario)
    note_scenario(bigger)
    slack = _one_request_on_the_loop(scenario)
    assert (
        simulate(bigger).summary.frozen_seconds
        <= simulate(scenario).summary.frozen_seconds + slack + EPS
    )


CAPACITY_STEPS = (
    st.sampled_from(["pool_size", "max_overflow"]),
    st.integers(min_value=1, max_value=5),
)


@given(
    frozen_burst_scenarios().map(lambda s: s.replace(async_work=s.requests * s.pool_timeout)),
    *CAPACITY_STEPS,
)
def test_frozen_seconds_never_increase_as_capacity_grows_while_holders_outlast_the_freeze(
    scenario, field, more
):
    # Holders park in `await` at least as long as every excess request could block in turn.
    _frozen_with_more_capacity(scenario, field, more)


def test_frozen_seconds_never_increase_as_capacity_grows_even_when_holders_finish_mid_freeze():
    # Holders finish inside the freeze (async_work 0.01 s against pool_timeout 0.1 s), and
    # era2020's default executor on 1 CPU has 5 threads: the 8 requests run in two batches.
    zero = dict.fromkeys(COSTS, 0.0)
    small = Scenario.create(
        stack="era2020",
        cpus=1,
        pool_size=3,
        max_overflow=0,
        pool_timeout=0.1,
        requests=8,
        async_work=0.01,
        client="external",
        freeze_threshold=0.1,
        **zero,
    )
    _frozen_with_more_capacity(small, "pool_size", 2)


@given(scenarios())
def test_same_seed_same_result(scenario):
    note_scenario(scenario)
    first, second = simulate(scenario), simulate(scenario)
    assert first == second
    assert first.to_json() == second.to_json()


@given(scenarios())
def test_result_survives_a_json_round_trip_unchanged(scenario):
    note_scenario(scenario)
    result = simulate(scenario)
    again = Result.from_json(result.to_json())
    assert again == result
    assert not any(
        isinstance(v, float) and not math.isfinite(v) for v in result.to_dict()["summary"].values()
    )


@given(burst_scenarios(client="external", client_timeout=None).filter(analytic.exact_for))
def test_model_agrees_with_the_analytic_closed_form_where_it_claims_to_be_exact(scenario):
    note_scenario(scenario)
    predicted = analytic.predict(scenario)
    s = simulate(scenario).summary
    assert (s.freezes > 0) == predicted.freezes
    assert abs(s.frozen_seconds - predicted.frozen_seconds) <= analytic.cpu_slack(scenario) + EPS
    for name in ("handled_before_freeze", "ok", "server_errors", "client_errors"):
        claim = getattr(predicted, name)
        if claim is not None:
            assert getattr(s, name) == claim, name
