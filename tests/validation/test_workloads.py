"""validation.workloads: the real-workload hold-outs, real against the model, cut off alike."""

from __future__ import annotations

import math

import pytest

from sim.result import RequestRecord, build_result
from sim.risk.replications import replication_seed
from validation.agreement import Check, Row
from validation.cases import CUT_OFF_GRACE, REPLAY_CASES, WORKLOAD_CASES, risk_case
from validation.compare import scenario_for
from validation.risk import run_path, stored_runs
from validation.runner import request_params
from validation.workloads import METRICS, cut, outcome, workload_row, workloads_table

CASE = "query-20ms-30"
DURATION = risk_case(CASE).overrides["duration"]


def _result(latencies, blocks=(), seed=0, late=0):
    """Requests sent every 0.1 s, each answered 200 after its latency; `late` more answered
    only after the cut-off (duration + CUT_OFF_GRACE)."""
    rows = [
        RequestRecord(i, 0.1 * i, 0.1 * i, 0.1 * i + t, 200, None) for i, t in enumerate(latencies)
    ]
    end = DURATION + CUT_OFF_GRACE + 5.0
    n = len(rows)
    rows += [RequestRecord(n + j, 1.0, 1.0, end, 200, None) for j in range(late)]
    params = {**scenario_for("modern", risk_case(CASE)).to_params(), "seed": seed, "harness": {}}
    return build_result(params, rows, list(blocks), 0.5)


def test_a_cut_leaves_what_ended_after_it_unfinished_and_clips_a_block_under_way():
    result = _result([0.1, 0.2], blocks=[(1.0, 2.0), (5.0, 60.0)], late=2)
    kept = cut(result, 23.0)
    assert [r.status for r in kept.requests] == [200, 200, None, None]
    assert kept.loop_blocked == ((1.0, 2.0), (5.0, 23.0))
    assert kept.summary.ok == 2 and kept.summary.client_errors == 2


def test_a_runs_outcome_is_its_latencies_served_share_and_longest_block_after_the_cut():
    result = _result([0.1] * 98 + [0.5, 0.9], blocks=[(1.0, 1.2), (5.0, 60.0)], late=100)
    found = outcome(result, DURATION + CUT_OFF_GRACE)
    assert found["latency_p50"] == pytest.approx(0.1)
    assert found["latency_p99"] == pytest.approx(0.5)
    assert found["served"] == pytest.approx(0.5)  # the 100 late ones did not end in the run
    assert found["longest_block"] == pytest.approx(DURATION + CUT_OFF_GRACE - 5.0)


def test_a_run_without_a_200_has_no_latency_rather_than_zero():
    found = outcome(_result([], late=3), DURATION + CUT_OFF_GRACE)
    assert math.isnan(found["latency_p50"]) and found["served"] == 0.0


class FakeModel:
    """Every request answered in 0.1 s on even seeds, 0.3 s on odd ones; counts its runs."""

    def __init__(self):
        self.calls = 0

    def __call__(self, scenario):
        self.calls += 1
        return _result([0.1 if scenario.seed % 2 == 0 else 0.3] * 20, seed=scenario.seed)


def _store(tmp_path, latencies):
    for k, t in enumerate(latencies):
        path = run_path("modern", CASE, k, tmp_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_result([t] * 20, seed=replication_seed(7, k)).to_json())
    return stored_runs("modern", CASE, tmp_path)


def test_the_model_runs_each_scenario_once_for_the_odds_and_the_spreads(tmp_path):
    runs = _store(tmp_path, [0.1, 0.1, 0.2])
    model = FakeModel()
    row = workload_row("modern", CASE, "what", runs, many=10, simulate=model)
    assert model.calls == 3 + 10  # paired on each run, then its own seeds: each once
    assert row.odds.hold_out and row.odds.measured.replications == 3
    assert row.measured["latency_p50"].median == pytest.approx(0.1)
    assert row.many["latency_p50"].low == pytest.approx(0.1)
    assert row.many["latency_p50"].high == pytest.approx(0.3)
    assert row.loop_busy == pytest.approx(
        30 * (0.02 + scenario_for("modern", risk_case(CASE)).request_cpu)
    )
    assert row.misses == ()


def test_a_real_median_outside_the_models_range_is_a_miss(tmp_path):
    runs = _store(tmp_path, [0.9, 0.9, 0.9])
    row = workload_row("modern", CASE, "what", runs, many=10, simulate=FakeModel())
    assert set(row.misses) == {"latency_p50", "latency_p99"}
    assert row.to_dict()["metrics_agree"] is False


def test_the_section_says_hold_out_and_gives_a_line_per_metric(tmp_path):
    row = workload_row("modern", CASE, "what", _store(tmp_path, [0.9] * 3), 10, FakeModel())
    lines = workloads_table([row])
    assert lines[0] == "## Real workloads (hold-outs)"
    assert "**Every case here is a hold-out**" in lines[2]
    body = [line for line in lines if line.startswith("| ")][1:]
    assert len(body) == len(METRICS)
    assert body[0].startswith(f"| {CASE} | modern | 3 | ")
    assert sum("**no**" in line for line in body) == 2  # p50 and p99 miss
    assert workloads_table([]) == []


def test_the_replay_is_listed_measured_over_predicted():
    measured = _result([0.1] * 5, blocks=[(1.0, 2.0)])
    predicted = _result([0.1] * 4, blocks=[])
    ok = Check("recovered", True, None, False, "exact")
    row = Row("modern", "access-log-replay", "w", measured, predicted, (ok,), steady=True)
    lines = workloads_table([], [row])
    line = next(x for x in lines if x.startswith("| access-log-replay"))
    assert "| 5 / 4 |" in line and "| **no** |" in line
    assert "| 1.0: 1.0 / none |" in line  # the measured freeze and the model's none
    assert not any(x.startswith("| case | stack | K |") for x in lines)  # no odds without runs


def test_every_workload_case_is_a_hold_out():
    assert all(c.hold_out for c in WORKLOAD_CASES + REPLAY_CASES)


def test_the_slow_query_is_sent_to_the_app_per_request():
    """A plain number would run the seed's SELECT in the app, not pg_sleep."""
    for case in WORKLOAD_CASES:
        if "query_time" in case.overrides:
            scenario = scenario_for("modern", case)
            assert request_params(scenario, 2) == [{"q": 0.02}, {"q": 0.02}]


def test_each_miss_is_listed_with_its_figures(tmp_path):
    row = workload_row("modern", CASE, "what", _store(tmp_path, [0.9] * 3), 10, FakeModel())
    listed = [x for x in workloads_table([row]) if x.startswith("- ")]
    assert listed == [
        f"- modern {CASE}, {METRICS['latency_p50']}: real median 0.9 outside the model's 5-95 % "
        "range 0.1-0.3",
        f"- modern {CASE}, {METRICS['latency_p99']}: real median 0.9 outside the model's 5-95 % "
        "range 0.1-0.3",
    ]
