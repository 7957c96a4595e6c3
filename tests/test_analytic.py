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


def test_boundary_moves_when_connects_outlast_the_holders() -> None:
    """20 connects cost more loop time than async_work: the first holders are done before
    the 21st request checks out, so no freeze although requests > capacity."""
    s = Scenario.create(pool_size=10, max_overflow=10, requests=21, client="external")
    assert freezes(s) and not boundary_exact(s)
    assert simulate(s).summary.freezes == 0


def test_no_holders_means_every_request_blocks_in_turn() -> None:
    s = Scenario.create(
        pool_size=0, max_overflow=0, requests=7, pool_timeout=2.0, client="external"
    )
    assert exact_for(s)
    assert predict(s).frozen_seconds == 14.0 and predict(s).server_errors == 7


def test_unlimited_overflow_never_freezes() -> None:
    s = Scenario.create(max_overflow=-1, requests=60, client="external")
    assert not freezes(s) and predict(s).server_errors == 0


def test_beyond_one_excess_request_the_closed_form_claims_nothing() -> None:
    """Holders woken after the first block return connections that later requests reuse, so
    (requests - capacity) x pool_timeout overcounts (pool 5 + 0, 7 requests: 1 blocks, not 2)."""
    s = Scenario.create(pool_size=5, max_overflow=0, requests=7, client="external")
    assert not exact_for(s) and predict(s) is None
    assert simulate(s).summary.server_errors == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"client": "in-process"},
        {"arrival": "poisson:5"},
        {"client_timeout": 5.0},
        {"pool_timeout": 0.5},
        {"async_work": 0.001},
    ],
)
def test_preconditions_exclude_what_the_closed_form_leaves_out(changes: dict) -> None:
    s = Scenario.create(
        **{"pool_size": 2, "max_overflow": 0, "requests": 3, "client": "external", **changes}
    )
    assert not exact_for(s)
