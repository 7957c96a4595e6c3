"""The closed forms in sim/analytic.py against the model, over grids: where `exact_for` holds
they must agree; the freeze boundary must agree across the whole default grid."""

from __future__ import annotations

import itertools

import pytest

from sim.analytic import boundary_exact, cpu_slack, exact_for, freezes, predict
from sim.model import simulate
from sim.scenario import Scenario


def _grid(endpoint: str, timeouts: tuple[float, ...] = (2.0,)) -> list[Scenario]:
    return [
        Scenario.create(
            pool_size=p,
            max_overflow=o,
            requests=r,
            pool_timeout=t,
            endpoint=endpoint,
            client="external",
        )
        for p, o, r, t in itertools.product(range(0, 6), (0, 3), range(1, 13), timeouts)
        if p + o > 0 or r <= 4
    ]


def _check(s: Scenario) -> None:
    p = predict(s)
    assert p is not None
    got = simulate(s).summary
    assert (got.freezes > 0) == p.freezes, s
    assert abs(got.frozen_seconds - p.frozen_seconds) <= cpu_slack(s), (s, got)
    for name in ("handled_before_freeze", "ok", "server_errors", "client_errors"):
        claimed = getattr(p, name)
        assert claimed is None or claimed == getattr(got, name), (name, s, got)


@pytest.mark.parametrize("endpoint", ["async-sync-session", "async-session", "sync"])
def test_model_agrees_with_the_closed_form_wherever_it_is_exact(endpoint: str) -> None:
    timeouts = (0.05, 2.0) if endpoint == "async-session" else (2.0,)
    exact = [s for s in _grid(endpoint, timeouts) if exact_for(s)]
    assert len(exact) > 20
    for s in exact:
        _check(s)


def test_freeze_boundary_is_requests_above_capacity() -> None:
    """Across the seed neighbourhood, wherever the boundary's preconditions hold."""
    checked = 0
    for p, o, r in itertools.product(range(1, 21, 3), (0, 10), range(1, 61, 4)):
        s = Scenario.create(pool_size=p, max_overflow=o, requests=r, client="external")
        if boundary_exact(s):
            checked += 1
            assert (simulate(s).summary.freezes > 0) == freezes(s), s
    assert checked > 50


def test_connects_outlasting_async_work_do_not_move_the_boundary() -> None:
    """20 connects cost more loop time than async_work, but they run in the same iteration as
    the 21st checkout: the holders' expired timers cannot run before it blocks."""
    s = Scenario.create(pool_size=10, max_overflow=10, requests=21, client="external", cpus=20)
    assert freezes(s) and boundary_exact(s)
    assert simulate(s).summary.server_errors == 1


def test_no_holders_means_every_request_blocks_in_turn() -> None:
    s = Scenario.create(
        pool_size=0, max_overflow=0, requests=6, pool_timeout=2.0, client="external", cpus=2
    )
    assert exact_for(s)
    assert predict(s).frozen_seconds == 12.0 and predict(s).server_errors == 6


def test_unlimited_overflow_never_freezes() -> None:
    s = Scenario.create(max_overflow=-1, requests=60, client="external")
    assert not freezes(s) and predict(s).server_errors == 0


def test_every_excess_request_of_a_lockstep_burst_blocks_in_turn() -> None:
    """Pool 5 + 0, 7 requests: both excess requests block, 2 x pool_timeout (the real app on
    both stacks, 8 requests: validation/REPORT.md, overflow-0)."""
    s = Scenario.create(pool_size=5, max_overflow=0, requests=7, client="external", cpus=4)
    assert exact_for(s)
    assert simulate(s).summary.server_errors == predict(s).server_errors == 2


@pytest.mark.xfail(
    strict=True,
    raises=AssertionError,
    reason="the real app (pool_timeout 1 s, 3 runs on 2026-12-02, load 0.4-0.9) sent 25, 17 and "
    "23 500s; on those runs' send times the model sends 30, 30, 29 since anyio's first "
    "checkpoint delays each holder's teardown by one iteration (29, 29, 21 without it)",
)
def test_requests_beyond_anyios_tokens_break_the_lockstep() -> None:
    """modern, 60 requests on 40 thread tokens: the last 20 reach `execute` a wave late, after
    the holders returned their connections, so fewer than requests - capacity block."""
    s = Scenario.create(
        stack="modern", pool_size=20, max_overflow=10, requests=60, client="external"
    )
    assert not exact_for(s)
    assert simulate(s).summary.server_errors < s.requests - s.capacity


@pytest.mark.parametrize(
    "changes",
    [
        {"client": "in-process"},
        {"arrival": "poisson:5"},
        {"client_timeout": 5.0},
        {"pool_timeout": 0.5},
        {"async_work": 0.0},
    ],
)
def test_preconditions_exclude_what_the_closed_form_leaves_out(changes: dict) -> None:
    s = Scenario.create(
        **{"pool_size": 2, "max_overflow": 0, "requests": 3, "client": "external", **changes}
    )
    assert not exact_for(s)
