"""REPORT.md: bursts per stack, steady traffic in its own table, hand-written findings kept."""

from __future__ import annotations

import dataclasses

from sim.result import RequestRecord, build_result
from validation.agreement import Check, Row, checks, steady_checks
from validation.report import NO_FINDINGS, render_json, render_markdown


def _result(arrival, sends, statuses, blocks, loadavg=0.4):
    rows = [
        RequestRecord(i, s, s, s + 0.1 if st == 200 else s + 1.0, st, None)
        for i, (s, st) in enumerate(zip(sends, statuses, strict=True))
    ]
    params = {"arrival": arrival, "freeze_threshold": 0.5, "harness": {"loadavg": loadavg}}
    return build_result(params, rows, blocks, 0.5)


def _rows():
    burst = _result("burst", [0.0, 0.0], [200, 500], [(0.0, 1.0)])
    steady_m = _result("poisson:2", [0.0, 1.0, 3.0], [200, 500, 200], [(1.0, 2.0)])
    steady_p = _result("trace:x", [0.0, 1.0, 3.0], [200, 500, 500], [(1.0, 2.0), (3.0, 4.0)])
    return [
        Row("modern", "over", "a burst", burst, burst, tuple(checks(burst, burst))),
        Row(
            "modern",
            "steady-near",
            "Poisson near collapse",
            steady_m,
            steady_p,
            tuple(steady_checks(steady_m, steady_p)),
            steady=True,
        ),
    ]


def _section(md: str, heading: str) -> str:
    return md.split(heading, 1)[1].split("\n## ", 1)[0]


def test_steady_rows_get_their_own_table_with_measured_and_predicted():
    md = render_markdown(_rows(), {})
    steady = _section(md, "## Steady traffic")
    line = next(x for x in steady.splitlines() if "steady-near" in x)
    assert "recovered / collapsed ✗" in line
    assert "| 0.40 |" in line  # the load average the run was measured under
    assert line.endswith("| **no** |")
    assert "steady-near" not in _section(md, "## modern")
    assert "| over |" in _section(md, "## modern")


def test_steady_table_shows_throughput_and_error_rate_side_by_side():
    steady = _section(render_markdown(_rows(), {}), "## Steady traffic")
    line = next(x for x in steady.splitlines() if "steady-near" in x)
    assert "| 0.33 / 0.67 |" in line  # error rate: 1 of 3 measured, 2 of 3 predicted


def test_no_steady_table_without_steady_rows():
    assert "## Steady traffic" not in render_markdown(_rows()[:1], {})


def test_findings_replace_the_placeholder():
    md = render_markdown(_rows(), {}, "The model misses X because Y.\n")
    wrong = _section(md, "## What the model gets wrong and why")
    assert "The model misses X because Y." in wrong and NO_FINDINGS not in md
    assert NO_FINDINGS in render_markdown(_rows(), {})


def test_json_marks_steady_rows():
    assert [r["steady"] for r in render_json(_rows(), {})["rows"]] == [False, True]


def test_bursts_show_their_agreement_with_the_burst_at_t0():
    burst, steady = _rows()
    missed = Check("ok", 2, 1, False, "exact")
    rows = [dataclasses.replace(burst, at_zero=(missed,)), steady]
    md = render_markdown(rows, {})
    assert "**1 of 2 case runs agree**: 1 of 1 bursts, 0 of 1 under steady traffic" in md
    assert "with the burst at t=0, 0 of 1 bursts." in md
    assert next(x for x in md.splitlines() if "| over |" in x).endswith("| yes | no |")
    records = render_json(rows, {})
    assert [r["agree_at_zero"] for r in records["rows"]] == [False, None]
    assert records["counts"]["bursts-at-zero"] == {"agree": 0, "of": 1}
