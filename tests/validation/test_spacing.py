"""validation.spacing: a burst's handled-to-handled spacing and a traced run's step timings."""

from __future__ import annotations

import json

import pytest

from sim.result import RequestRecord, build_result
from validation.spacing import main, spacing_of, steps, trace_text


def test_spacing_is_the_mean_gap_over_the_requests_that_open_a_connection():
    # request 0 takes the start-up connection (30 ms in), then one every 4 ms, one late 500
    handled = [0.030 + 0.004 * i for i in range(15)] + [None]
    rows = [
        RequestRecord(i, 0.0, h, 0.2 if h else 2.1, 200 if h else 500, None)
        for i, h in enumerate(handled)
    ]
    result = build_result({"freeze_threshold": 1.0}, rows, [(0.09, 2.09)], 1.0)
    found = spacing_of(result)
    assert (found.ok, found.server_errors) == (15, 1)
    assert found.first_handled == pytest.approx(0.030)
    assert found.spacing == pytest.approx(0.004)


def _trace(step: str, t: float, cpu: float, q: str | None, thread: str = "MainThread") -> dict:
    return {"kind": "trace", "step": step, "t": t, "cpu": cpu, "thread": thread, "q": q}


EVENTS = [
    _trace("connect", 0.0, 0.0, None),  # start-up's create_all: not a request's
    _trace("connected", 0.003, 0.001, None),
    _trace("app", 1.000, 1.000, "i=0"),
    _trace("get_db", 1.001, 0.000, "i=0", thread="AnyIO worker thread"),  # not the loop's
    _trace("connection_made", 1.016, 1.016, None),  # the first app step held 16 ms of CPU
    _trace("app", 1.017, 1.016, "i=1"),
    _trace("execute", 1.0172, 1.0162, "i=1"),  # 0.2 ms
    _trace("connect", 1.018, 1.017, "i=1"),
    _trace("connected", 1.0205, 1.0173, "i=1"),  # 2.5 ms wall, 0.3 ms CPU
    _trace("query", 1.021, 1.018, "i=1"),
    _trace("queried", 1.0215, 1.0181, "i=1"),
]


def test_steps_time_the_connect_the_query_and_the_first_app_step_apart():
    found = steps(EVENTS)
    assert found["connect wall"] == [pytest.approx(0.0025)]
    assert found["connect cpu"] == [pytest.approx(0.0003)]
    assert found["query wall"] == [pytest.approx(0.0005)]
    assert found["first app step cpu"] == [pytest.approx(0.016)]
    assert found["app step cpu"] == [pytest.approx(0.0002)]


def test_a_kept_traced_run_prints_its_medians(tmp_path):
    (tmp_path / "server.log").write_text("".join("PSS " + json.dumps(e) + "\n" for e in EVENTS))
    text = trace_text(tmp_path)
    assert "connect wall           2.50 [  2.50,   2.50] n=1" in text
    assert "first app step cpu    16.00" in text


def test_a_missing_file_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path / "nothing.json")])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("error: ")
