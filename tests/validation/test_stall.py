"""validation.stall: loop blocks matched with the app's garbage collections by overlap."""

from __future__ import annotations

import json

from sim.result import build_result
from validation.runner import Run
from validation.stall import SUMMARY, run_summary, stack_summary, stall_report, summarise


def _line(**event: object) -> str:
    return "PSS " + json.dumps(event)


def test_a_block_is_matched_with_the_collection_inside_it_and_counts_served_before():
    server = "\n".join(
        [
            _line(kind="served", t=100.2),
            _line(kind="gc", generation=2, start=100.5, end=100.6, collected=3, survivors=9000),
            _line(kind="gc", generation=1, start=101.5, end=101.501, collected=0, survivors=None),
            _line(kind="served", t=100.9),
        ]
    )
    client = _line(kind="burst", t=100.0)
    result = build_result({}, [], [(0.45, 0.62), (2.0, 2.1)], freeze_threshold=1.0)
    report = stall_report(Run(result, server, client))
    assert report["served"] == 2
    full = report["collections"][0]
    assert (full["start"], full["seconds"], full["served_before"]) == (0.5, 0.1, 1)
    assert report["blocks"][0]["gc"] == [(2, 0.1)]
    assert report["blocks"][1]["gc"] == []


def _report(rate: float, served_before: list[int], seconds: float = 0.05) -> dict:
    """A stored run at `rate` whose full collections come after `served_before` requests (the
    requests served at a steady `rate`, so each starts at served / rate seconds)."""
    full = [
        {
            "generation": 2,
            "start": n / rate,
            "seconds": seconds,
            "collected": 0,
            "survivors": 96000,
            "served_before": n,
        }
        for n in served_before
    ]
    young = {
        "generation": 1,
        "start": 1.0,
        "seconds": 0.001,
        "collected": 0,
        "survivors": None,
        "served_before": 10,
    }
    params = {
        "stack": "modern",
        "arrival": f"poisson:{rate:g}",
        "duration": 120.0,
        "seed": 7,
        "harness": {"loadavg": 0.5, "loadavg_after": 0.7},
    }
    return {
        "params": params,
        "served": int(rate * 120),
        "collections": [young, *full],
        "blocks": [],
    }


def test_a_run_summary_counts_the_intervals_in_requests_and_seconds_and_drops_the_shutdown():
    summary = run_summary(_report(60.0, [390, 3070, 5750, 7200]))  # 7200 / 60 = 120 s: shutdown
    assert summary["full_collections"] == 3
    assert (summary["first_requests"], summary["first_seconds"]) == (390, 6.5)
    assert summary["every_requests"] == [2680, 2680]
    assert summary["every_seconds"] == [44.6667, 44.6667]
    assert summary["seconds"] == [0.05, 0.05, 0.05]
    assert summary["young_between"] == [0, 0]  # the one generation-1 collection came first
    assert (summary["open_requests"], summary["open_seconds"]) == (7200 - 5750, 24.1667)


def test_a_period_fixed_in_requests_moves_in_seconds_with_the_rate():
    runs = [run_summary(_report(rate, [100, 1100, 2100])) for rate in (20.0, 60.0)]
    summary = stack_summary(runs)
    assert [r["arrival"] for r in summary["rates"]] == ["poisson:20", "poisson:60"]
    assert summary["every_requests_range"] == 0.0
    assert summary["every_seconds_range"] == 1.0  # 50 s and 16.7 s about their median 33.3 s
    assert summary["rates"][0]["every_seconds"]["median"] == 50.0


def test_the_stored_summary_is_what_the_stored_runs_give():
    assert json.loads(SUMMARY.read_text()) == summarise()
