"""Access logs to traces: both formats, skipped lines counted, a log with no request an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.accesslog import convert
from sim.cli import main
from sim.errors import ParseError
from sim.scenario import Scenario

UVICORN = """INFO:     Started server process [4242]
2024-05-01 12:00:00,123 INFO:     127.0.0.1:51234 - "GET /?i=0 HTTP/1.1" 200
2024-05-01 12:00:00,373 INFO:     127.0.0.1:51236 - "GET /?i=1 HTTP/1.1" 200
2024-05-01 12:00:01.000 INFO:     127.0.0.1:51238 - "POST /users HTTP/1.1" 500
"""
# nginx writes at the end of a request: 0.250 - 0.120 arrived before 0.300 - 0.050.
NGINX = """1714564800.300 0.050 "GET / HTTP/1.1" 200
1714564800.250 0.120 "GET / HTTP/1.1" 200
2024/05/01 12:00:00 [error] 12#12: upstream timed out
"""


def test_uvicorn_lines_give_their_times_after_the_first_and_skip_the_rest() -> None:
    converted = convert(UVICORN.splitlines(), "uvicorn", "app.log")
    assert converted.trace.times == (0.0, 0.25, 0.877)
    assert (converted.lines, converted.skipped, converted.first_skipped) == (4, 1, 1)


def test_nginx_arrivals_are_msec_less_request_time_in_order() -> None:
    converted = convert(NGINX.splitlines(), "nginx", "access.log")
    assert converted.trace.times == (0.0, 0.12)
    assert (converted.skipped, converted.first_skipped) == (1, 3)


def test_a_log_without_request_lines_is_an_error_naming_it() -> None:
    with pytest.raises(ParseError, match=r"^app.log: no request line in the nginx format \(line 1"):
        convert(UVICORN.splitlines(), "nginx", "app.log")


def test_the_command_writes_a_trace_the_model_replays(tmp_path: Path, capsys) -> None:
    log, out = tmp_path / "app.log", tmp_path / "trace.csv"
    log.write_text(UVICORN)
    assert main(["trace-from-log", str(log), "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert err == "skipped 1 of 4 lines that are not uvicorn request lines (first: line 1)\n"
    assert Scenario.create(arrival=f"trace:{out}").arrival_spec.trace == (0.0, 0.25, 0.877)


def test_an_unreadable_log_is_one_line_exit_2_and_nothing_written(tmp_path: Path, capsys) -> None:
    log, out = tmp_path / "app.log", tmp_path / "trace.csv"
    log.write_text("nothing here\n")
    assert main(["trace-from-log", str(log), "--format", "nginx", "--out", str(out)]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert list(tmp_path.iterdir()) == [log]
    assert main(["trace-from-log", str(tmp_path / "missing.log")]) == 2
    assert "missing.log: cannot read (FileNotFoundError)" in capsys.readouterr().err
