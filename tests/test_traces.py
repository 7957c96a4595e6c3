"""Trace files: every accepted form, per-request columns, errors naming file and line, and the
model replaying each request's own work, query time and endpoint style."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sim.cli import main
from sim.errors import ParseError, ScenarioError
from sim.model import run_model, simulate
from sim.scenario import COSTS, ENDPOINTS, Scenario
from sim.traces import Trace, TraceRequest, load, write_csv

QUIET = {**dict.fromkeys(COSTS, 0.0), "client": "external", "stack": "modern", "cpus": 2}


def test_csv_and_json_records_read_the_same_requests_in_send_order(tmp_path: Path) -> None:
    csv = tmp_path / "t.csv"
    csv.write_text("sent_at,work,query,endpoint\n0.2,0.05,,sync\n0.0,,0.01,\n0.1,0.3,0.02,\n")
    records = tmp_path / "t.json"
    records.write_text(
        json.dumps(
            [
                {"sent_at": 0.2, "work": 0.05, "endpoint": "sync"},
                {"sent_at": 0.0, "query": 0.01},
                {"sent_at": 0.1, "work": 0.3, "query": 0.02},
            ]
        )
    )
    expected = Trace(
        (
            TraceRequest(0.0, None, 0.01, None),
            TraceRequest(0.1, 0.3, 0.02, None),
            TraceRequest(0.2, 0.05, None, "sync"),
        )
    )
    assert load(str(csv), ENDPOINTS) == expected == load(str(records), ENDPOINTS)
    assert expected.column("work") == (None, 0.3, 0.05)
    assert load(str(csv), ENDPOINTS).column("sent_at") == (0.0, 0.1, 0.2)


def test_write_csv_reads_back_as_the_same_trace(tmp_path: Path) -> None:
    trace = Trace((TraceRequest(0.0), TraceRequest(0.25, work=0.1), TraceRequest(0.5)))
    out = tmp_path / "t.csv"
    out.write_text(write_csv(trace))
    assert out.read_text().splitlines()[:2] == ["sent_at,work", "0.0,"]
    assert load(str(out), ENDPOINTS) == trace


@pytest.mark.parametrize(
    ("name", "content", "why"),
    [
        ("t.csv", "time\n0.1\n", " line 1: the header must name sent_at"),
        ("t.csv", "sent_at,work\n0.1,0.2\n0.2,-1\n", " line 3: work must be a number of seconds"),
        ("t.csv", "sent_at\n0.1\n0.2,9\n", " line 3: more cells than the header has columns"),
        ("t.csv", "sent_at,speed\n0.1,2\n", " line 2: unknown column 'speed'"),
        ("t.csv", "sent_at,endpoint\n0.1,graphql\n", " line 2: endpoint must be one of"),
        ("t.csv", "sent_at,work\n,0.1\n", " line 2: no sent_at"),
        ("t.json", '[{"sent_at": 0}, {"work": 1}]', " record 2: no sent_at"),
        ("t.json", "[\n0.1,\n]", " line 3: not JSON"),
        ("t.json", '"0.1"', ": not a list of send times or of records"),
    ],
)
def test_an_unreadable_record_names_the_file_and_its_line(tmp_path, name, content, why) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(ParseError, match=f"^{path}{why}"):
        load(str(path), ENDPOINTS)


def test_a_bad_trace_is_one_line_naming_the_flag_and_exit_2(capsys, tmp_path: Path) -> None:
    assert main(["run", "--arrival", "trace:/nonexistent.json"]) == 2
    out, err = capsys.readouterr()
    assert (out, err) == (
        "",
        "error: --arrival: /nonexistent.json: cannot read (FileNotFoundError)\n",
    )


def test_a_request_with_its_own_work_and_query_takes_them(tmp_path: Path) -> None:
    """Pool of plenty, no other costs: a latency is the request's query plus its work, and the
    seed's query holds the loop thread: request 2 (sent 0.2) waits out request 1's 0.2 s query
    (0.1 to 0.3), then takes 0.01 + 0.05."""
    trace = tmp_path / "t.csv"
    trace.write_text("sent_at,work,query\n0.0,0.5,\n0.1,,0.2\n0.2,0.05,0.01\n")
    scenario = Scenario.create(**{**QUIET, "async_work": 0.1}, arrival=f"trace:{trace}")
    latencies = [round(r.completed_at - r.sent_at, 6) for r in simulate(scenario).requests]
    assert latencies == [0.5, 0.3, 0.16]


def test_a_trace_without_columns_replays_as_the_scenario_says(tmp_path: Path) -> None:
    times, records = tmp_path / "t.json", tmp_path / "r.csv"
    times.write_text("[0.0, 0.1, 0.2]")
    records.write_text("sent_at,work\n0.0,\n0.1,\n0.2,\n")
    base = {**QUIET, "async_work": "exp:0.1", "pool_size": 1, "max_overflow": 0}
    a = simulate(Scenario.create(**base, arrival=f"trace:{times}")).to_dict()
    b = simulate(Scenario.create(**base, arrival=f"trace:{records}")).to_dict()
    assert (a["requests"], a["summary"]) == (b["requests"], b["summary"])


def test_mixed_endpoints_check_out_of_their_own_engines_pools(tmp_path: Path) -> None:
    """One connection per engine, work 1 s: the sync Session's request and the AsyncSession's
    each get a connection at once; a second sync-Session request would block the loop."""
    trace = tmp_path / "t.csv"
    trace.write_text("sent_at,endpoint\n0.0,async-sync-session\n0.0,async-session\n")
    base = {**QUIET, "async_work": 1.0, "pool_size": 1, "max_overflow": 0, "pool_timeout": 0.5}
    mixed = simulate(Scenario.create(**base, arrival=f"trace:{trace}"))
    assert [r.status for r in mixed.requests] == [200, 200]
    assert mixed.loop_blocked == ()
    trace.write_text("sent_at,endpoint\n0.0,async-sync-session\n0.0,async-sync-session\n")
    same = simulate(Scenario.create(**base, arrival=f"trace:{trace}"))
    assert sorted(r.status for r in same.requests) == [200, 500]
    assert [round(b - a, 6) for a, b in same.loop_blocked] == [0.5]


def test_the_endpoint_column_overrides_the_flag_per_request(tmp_path: Path) -> None:
    trace = tmp_path / "t.csv"
    trace.write_text("sent_at,endpoint\n0.0,sync\n0.0,\n")
    scenario = Scenario.create(**QUIET, endpoint="async-session", arrival=f"trace:{trace}")
    _, seen = run_model(scenario)
    assert seen.max_checkedout == 1  # the async engine's pool: one of the two requests
    with pytest.raises(ScenarioError, match="^--arrival: .* line 2: endpoint must be one of"):
        trace.write_text("sent_at,endpoint\n0.0,def\n")
        Scenario.create(**QUIET, arrival=f"trace:{trace}")
