"""The Result schema shared by model and harness: summary derivation and the JSON round trip."""

from __future__ import annotations

import json

import pytest

from sim.result import BLOCK_MIN, RequestRecord, Result, build_result


def row(i, sent, handled, completed, status=200, error=None):
    return RequestRecord(i, sent, handled, completed, status, error)


def make(rows, blocks, threshold=1.0):
    return build_result({"freeze_threshold": threshold}, rows, blocks, threshold)


def test_summary_counts_statuses_and_client_errors():
    result = make(
        [
            row(0, 0.0, 0.1, 0.2),
            row(1, 0.0, None, 1.0, 500),
            row(2, 0.0, None, 2.0, None, "ReadTimeout"),
        ],
        [],
    )
    s = result.summary
    assert (s.ok, s.server_errors, s.client_errors, s.makespan) == (1, 1, 1, 2.0)


def test_a_freeze_is_a_block_at_least_the_threshold_and_shorter_blocks_are_not():
    result = make([row(0, 0.0, 0.1, 5.0)], [(0.0, 0.5), (1.0, 2.0), (3.0, 4.5)], threshold=1.0)
    s = result.summary
    assert s.freezes == 2
    assert s.frozen_seconds == pytest.approx(2.5)
    assert s.first_freeze_at == 1.0


def test_blocks_no_longer_than_block_min_are_dropped():
    result = make([row(0, 0.0, 0.0, 1.0)], [(0.0, BLOCK_MIN), (1.0, 1.0 + 2 * BLOCK_MIN)])
    assert result.loop_blocked == ((1.0, 1.1),)


def test_handled_before_freeze_counts_requests_handled_before_the_first_freeze_ends():
    # The freeze (0.05-3.05) began with the iteration that handled request 1 before blocking.
    rows = [row(0, 0.0, 0.01, 3.1), row(1, 0.0, 0.06, 3.1), row(2, 0.0, None, 3.05, 500)]
    rows.append(row(3, 0.0, 3.2, 3.3))
    assert make(rows, [(0.05, 3.05)]).summary.handled_before_freeze == 2


def test_latency_quantiles_are_nearest_rank_over_200s_only():
    rows = [row(i, 0.0, 0.0, float(i + 1)) for i in range(10)]
    rows.append(row(10, 0.0, None, 99.0, 500))
    s = make(rows, []).summary
    assert s.latency_p50 == 5.0  # ceil(0.5 * 10) = 5th smallest
    assert s.latency_p99 == 10.0


def test_times_are_rounded_to_the_microsecond_and_rows_sorted_by_index():
    result = make([row(1, 0.1234567, None, 1.0, 500), row(0, 0.0, 0.2, 0.3)], [])
    assert [r.i for r in result.requests] == [0, 1]
    assert result.requests[1].sent_at == 0.123457


def test_json_round_trip_is_exact_and_keeps_the_documented_keys():
    result = make(
        [row(0, 0.0, 0.1, 2.0), row(1, 0.0, None, 2.0, None, "ReadTimeout")], [(0.0, 1.5)]
    )
    text = result.to_json()
    data = json.loads(text)
    assert set(data) == {"params", "requests", "loop_blocked", "summary"}
    assert set(data["requests"][0]) == {
        "i",
        "sent_at",
        "handled_at",
        "completed_at",
        "status",
        "error",
    }
    assert data["loop_blocked"] == [[0.0, 1.5]]
    for key in (
        "handled_before_freeze",
        "freezes",
        "frozen_seconds",
        "first_freeze_at",
        "makespan",
        "ok",
        "server_errors",
        "client_errors",
        "latency_p50",
        "latency_p99",
    ):
        assert key in data["summary"]
    assert Result.from_json(text) == result
    assert Result.from_json(text).to_json() == text


def test_model_json_survives_a_round_trip_byte_for_byte():
    from sim.model import simulate
    from sim.scenario import COSTS, Scenario

    costs = dict.fromkeys((*COSTS, "async_work"), 0.0)
    scenario = Scenario.create(
        stack="era2020",
        cpus=1,
        pool_size=0,
        max_overflow=0,
        pool_timeout=0.1,
        requests=1,
        loop="asyncio",
        client="external",
        arrival="closed:1",
        duration=0.1,
        think_time=0.01,
        **costs,
    )
    text = simulate(scenario).to_json()
    assert Result.from_json(text).to_json() == text
