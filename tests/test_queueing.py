"""Queueing theory against the model: Erlang B exactly, the time to the first freeze by bounds."""

import math
import statistics

import pytest

from sim.model import simulate
from sim.queueing import (
    blocked_arrival_interval,
    erlang_b,
    erlang_c,
    mean_time_to_first_freeze,
    offered_load,
    smallest_capacity,
    wait_exceeds,
)
from sim.scenario import Scenario


def test_erlang_b_matches_textbook_values():
    # Tabulated: B(1, 1) = 0.5; B(2, 1) = 0.2; B(10, 5) = 0.018385
    assert erlang_b(1, 1.0) == pytest.approx(0.5)
    assert erlang_b(2, 1.0) == pytest.approx(0.2)
    assert erlang_b(10, 5.0) == pytest.approx(0.018385, abs=1e-6)


def test_erlang_c_is_one_when_load_reaches_servers():
    assert erlang_c(5, 5.0) == 1.0
    assert 0 < erlang_c(5, 4.0) < 1


def test_wait_exceeds_decays_with_the_timeout():
    assert wait_exceeds(12, 100, 0.1, 0.5) < wait_exceeds(12, 100, 0.1, 0.1)


def test_first_passage_is_exact_for_one_connection():
    # c = 1: T_0 = 1/λ, T_1 = 1/λ + (μ/λ)/λ; with λ = 10, h = 0.1 (μ = 10): 0.1 + 0.2 = 0.3 s.
    s = Scenario.create(pool_size=1, max_overflow=0, async_work=0.1, query_time=0.0)
    assert mean_time_to_first_freeze(10.0, s) == pytest.approx(0.3)


def test_unlimited_overflow_never_freezes():
    s = Scenario.create(max_overflow=-1)
    assert math.isinf(mean_time_to_first_freeze(100.0, s))
    assert math.isinf(blocked_arrival_interval(100.0, s))


def test_smallest_capacity_meets_the_target_and_one_less_does_not():
    s = Scenario.create()
    c = smallest_capacity(100.0, s, 86400.0)
    assert blocked_arrival_interval(100.0, s.replace(pool_size=c, max_overflow=0)) >= 86400.0
    assert blocked_arrival_interval(100.0, s.replace(pool_size=c - 1, max_overflow=0)) < 86400.0


@pytest.mark.parametrize(("rate", "connections"), [(50, 5), (100, 10), (100, 14)])
def test_model_share_of_refused_checkouts_is_erlang_b(rate, connections):
    """AsyncSession with a 1 ms pool_timeout is a loss system: its 500s are Erlang B's blocked
    arrivals, whatever the hold-time distribution."""
    s = Scenario.create(
        endpoint="async-session",
        stack="modern",
        client="external",
        arrival=f"poisson:{rate}",
        duration=30,
        pool_size=connections,
        max_overflow=0,
        pool_timeout=0.001,
    )
    summary = simulate(s).summary
    refused = summary.server_errors / (summary.ok + summary.server_errors)
    assert refused == pytest.approx(erlang_b(connections, offered_load(rate, s)), abs=0.03)


def test_model_first_freeze_lies_between_the_two_queueing_estimates():
    """Constant holds reach a full pool sooner than exponential ones (the M/M first passage is
    an upper estimate) but later than the gap between blocked arrivals (a lower bound).
    Opening connections is left out (connect and warm-up 0): on the loop thread it stretches
    every hold of a cold pool, which the loss system does not know about."""
    rate = 100.0
    base = Scenario.create(
        stack="modern",
        client="external",
        arrival=f"poisson:{rate:g}",
        duration=20,
        pool_timeout=1.0,
        freeze_threshold=0.5,
        connect_time=0.0,
        warmup_time=0.0,
    )
    firsts = []
    for seed in range(10):
        first = simulate(base.replace(seed=seed)).summary.first_freeze_at
        assert first is not None
        firsts.append(first)
    model = statistics.mean(firsts)
    assert blocked_arrival_interval(rate, base) < model < mean_time_to_first_freeze(rate, base)
