"""validation.sample_log: the committed access log and its trace are what the code makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.accesslog import convert
from sim.traces import write_csv
from validation.sample_log import Traffic, arrivals, lines

WORKLOADS = Path(__file__).parents[2] / "validation" / "workloads"


def test_the_committed_log_is_the_generators():
    assert (WORKLOADS / "access.log").read_text() == "\n".join(lines(Traffic())) + "\n"


def test_the_committed_trace_is_trace_from_logs_reading_of_the_log():
    log = (WORKLOADS / "access.log").read_text().splitlines()
    converted = convert(log, "nginx", "access.log")
    assert (WORKLOADS / "access-trace.csv").read_text() == write_csv(converted.trace)
    assert converted.skipped == 2  # the reload notice and the health check without a time


def test_nginx_lines_give_back_the_drawn_arrivals_to_the_millisecond():
    traffic = Traffic(rate=20.0, duration=5.0, spikes=((1.0, 10, 0.05),), seed=3)
    drawn = arrivals(traffic)
    read = convert(lines(traffic), "nginx", "log").trace.times
    assert len(read) == len(drawn)
    assert [t - drawn[0] for t in drawn] == pytest.approx(list(read), abs=2e-3)
