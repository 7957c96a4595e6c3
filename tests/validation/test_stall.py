"""validation.stall: loop blocks matched with the app's garbage collections by overlap."""

from __future__ import annotations

import json

from sim.result import build_result
from validation.runner import Run
from validation.stall import stall_report


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
