"""Parsing the PSS lines of the server and client logs into a Result's rows."""

from __future__ import annotations

import json

import pytest

from sim.result import RequestRecord
from validation.serverlog import parse_events, records, relative_blocks, service, timeline


def _line(kind: str, **fields) -> str:
    return "PSS " + json.dumps({"kind": kind, **fields})


LOG = [
    "INFO: uvicorn noise",
    _line("ready", python="3.8.18", loop="uvloop", pid=1),
    _line("blocked", start=99.0, end=99.5),  # during startup: before the burst
    _line("burst", t=100.0),
    "Handling 0",
    _line("handled", i=0, t=100.2),
    _line("blocked", start=100.3, end=103.3),
    _line("blocked", start=103.3, end=106.3),
    "PSS {not json",
    _line("request", i=0, sent_at=100.01, completed_at=106.5, status=200, error=None),
    _line("request", i=1, sent_at=100.02, completed_at=103.4, status=500, error=None),
    _line("done", t=106.6),
]


def test_parse_events_ignores_lines_that_are_not_pss_json():
    kinds = [e["kind"] for e in parse_events(LOG)]
    assert kinds == ["ready", "blocked", "burst", "handled", "blocked", "blocked", "request",
                     "request", "done"]  # fmt: skip


def test_timeline_merges_touching_blocks_and_keeps_server_info():
    tl = timeline(parse_events(LOG))
    assert tl.blocks == ((99.0, 99.5), (100.3, 106.3))
    assert tl.info["python"] == "3.8.18"
    assert tl.burst_at == 100.0


def test_records_are_relative_to_the_burst_with_none_where_unseen():
    rows = records(timeline(parse_events(LOG)), 3)
    assert rows[0].handled_at and abs(rows[0].handled_at - 0.2) < 1e-9
    assert rows[1].status == 500 and rows[1].handled_at is None
    assert rows[2] == RequestRecord(2, None, None, None, None, None)


def test_relative_blocks_drop_startup_blocks():
    blocks = relative_blocks(timeline(parse_events(LOG)))
    assert len(blocks) == 1
    assert abs(blocks[0][0] - 0.3) < 1e-9 and abs(blocks[0][1] - 6.3) < 1e-9


def test_records_printed_by_two_threads_into_one_line_are_both_read():
    # The probe thread's print and the loop thread's print interleave between text and newline.
    blocked, served = _line("blocked", start=1.0, end=2.0), _line("served", t=2.1, query="i=3")
    lines = [blocked + served, "", "Handling 3" + _line("handled", i=3, t=2.2), "PSS {bad" + served]
    assert [e["kind"] for e in parse_events(lines)] == ["blocked", "served", "handled", "served"]


def test_the_log_line_that_lost_a_served_record_in_a_real_run():
    line = (
        'PSS {"kind": "blocked", "start": 3378.159187756, "end": 3390.17701883}'
        'PSS {"kind": "served", "t": 3390.183318437, "query": "i=15"}'
    )
    assert [e["kind"] for e in parse_events([line])] == ["blocked", "served"]


def test_a_request_cut_off_before_its_response_keeps_its_send_time():
    log = [
        _line("burst", t=100.0),
        _line("sent", i=0, sent_at=100.1),
        _line("sent", i=1, sent_at=100.2),
        _line("request", i=0, sent_at=100.1, completed_at=100.3, status=200, error=None),
    ]
    rows = records(timeline(parse_events(log)), 2)
    assert rows[0].status == 200 and abs(rows[0].completed_at - 0.3) < 1e-9
    assert abs(rows[1].sent_at - 0.2) < 1e-9
    assert (rows[1].completed_at, rows[1].status) == (None, None)


def test_a_freeze_in_progress_is_reported_so_far_and_merged_into_the_final_block():
    log = [
        _line("burst", t=100.0),
        _line("blocked", start=101.0, end=101.5),  # heartbeats while the ping is unanswered
        _line("blocked", start=101.0, end=102.0),
        _line("blocked", start=101.0, end=102.3),  # the answer
    ]
    assert timeline(parse_events(log)).blocks == ((101.0, 102.3),)


WORKERS_LOG = [
    _line("ready", pid=11),
    _line("ready", pid=12),
    _line("burst", t=100.0),
    _line("blocked", start=100.1, end=102.1, pid=11),
    _line("blocked", start=100.2, end=104.2, pid=12),
    _line("served", t=100.3, query="i=0", pid=12),
    _line("served", t=100.4, query="i=1&w=0.1", pid=11),
    _line("served", t=99.0, query="", pid=11),  # the client's warm-up
    _line(
        "error",
        type="OperationalError",
        message="(psycopg2.OperationalError) connection "
        "to server failed: FATAL:  sorry, too many clients already",
        pid=11,
    ),  # fmt: skip
    _line("error", type="TimeoutError", message="QueuePool limit of size 5 overflow 10", pid=12),
]


def test_each_workers_requests_and_blocks_are_told_apart_by_pid():
    tl = timeline(parse_events(WORKERS_LOG))
    assert tl.pids == (11, 12)
    view = service(tl, max_connections=20)
    assert [(p["pid"], p["requests"]) for p in view["processes"]] == [(11, [1]), (12, [0])]
    assert view["processes"][0]["loop_blocked"] == [[0.1, 2.1]]
    assert relative_blocks(tl, 12) == [(pytest.approx(0.2), pytest.approx(4.2))]
    assert view["refused_connections"] == 1  # the pool's time-out is not a refusal
    assert view["max_connections"] == 20 and view["peak_connections"] is None
