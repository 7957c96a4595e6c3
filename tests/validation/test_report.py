"""REPORT.md: bursts per stack, steady traffic in its own table, hand-written findings kept."""

from __future__ import annotations

import dataclasses
import math

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


def _odds(agree: bool):
    from sim.result import Summary
    from sim.risk.replications import risk_of
    from validation.agreement import OddsRow

    def risk(froze):
        return risk_of([Summary(0, int(f), 0.0, 2.0 if f else None, 30.0, 0, 0, 0, None, None,
                                recovered=False if f else None) for f in froze])  # fmt: skip

    measured = risk([True] * 8 + [False] * 12)
    model = risk([True] * 8 + [False] * 12) if agree else risk([False] * 200)
    return OddsRow("modern", "risk-edge", "edge", measured, measured, 14, measured, model,
                   (1.2, 2.0, 2.6), 8, (1, 0))  # fmt: skip


def test_freeze_odds_get_their_own_section_with_both_intervals_and_the_verdict():
    odds = _section(
        render_markdown(_rows(), {}, odds=[_odds(True), _odds(False)]), "## Freeze odds"
    )
    rows = [line for line in odds.splitlines() if line.startswith("| risk-edge")]
    assert len(rows) == 2
    cells = [c.strip() for c in rows[0].strip("|").split("|")]
    assert cells[:4] == ["risk-edge", "modern", "20", "0.40 [0.22, 0.61]"]
    assert cells[5] == "14/20"
    assert cells[8] == "0.40 [0.22, 0.61] / 0.40 [0.22, 0.61]"
    assert cells[9] == "> run / > run"  # 8 of 20 froze: the median run did not
    assert cells[10] == "1/20 / 0/20"
    assert cells[11] == "1.2 / 2.0 / 2.6"
    assert cells[-1] == "yes"
    cells = [c.strip() for c in rows[1].strip("|").split("|")]
    assert cells[7] == "0.00 [0.00, 0.02]"
    assert cells[-1] == "**no**"
    assert "200 seeds" in odds


def test_no_risk_runs_no_freeze_odds_section():
    assert "## Freeze odds" not in render_markdown(_rows(), {})
    assert render_json(_rows(), {})["freeze_odds"] == []


def test_freeze_odds_go_into_report_json_with_their_risks():
    [record] = render_json(_rows(), {}, [_odds(False)])["freeze_odds"]
    assert record["agree"] is False and record["agree_paired"] is True
    assert record["measured"]["p_freeze"] == 0.4 and record["many"]["replications"] == 200
    assert record["cut_off"] == 8 and record["loadavg"] == [1.2, 2.0, 2.6]
    assert record["cold_start"] == [1, 0]


def test_freeze_probability_rows_judge_the_models_probability_inside_the_measured_interval():
    row = dataclasses.replace(_odds(False), root=2026, hold_out=True,
                              first_freezes=((0.5, 2.0, 4.0, 9.0), ()))  # fmt: skip
    section = _section(render_markdown(_rows(), {}, odds=[_odds(True), row]),
                       "## Freeze probability")  # fmt: skip
    lines = [line for line in section.splitlines() if line.startswith("| risk-edge")]
    first, second = ([c.strip() for c in line.strip("|").split("|")] for line in lines)
    assert first[3] == "no (tuned on)" and first[-4] == "yes"
    assert second[3:7] == ["yes", "2026", "20", "4"]
    assert second[7:10] == ["0.40 [0.22, 0.61]", "0.00 [0.00, 0.02]", "**no**"]
    assert second[-3] == "1/4 / -"  # the model's many seeds never froze: no share
    assert second[-2] == "0.5/2.0/9.0 / -"
    assert second[-1] == "1.2 / 2.0 / 2.6"


def _long_row():
    from validation.agreement import Exposure, LongRow

    measured = Exposure(3, 1200.0, 2, 600.0, (150.0, 2400.0))
    return LongRow("modern", "long-40", "40 req/s", measured, measured,
                   Exposure(20, 12000.0, 0, math.inf, (3000.0, math.inf)), 900.0, (500.0, None),
                   "splitting (multilevel)", (1, 0), (1.0, 1.5, 2.0))  # fmt: skip


def test_long_runs_show_both_mttfs_and_the_exposure_they_come_from():
    section = _section(render_markdown(_rows(), {}, long=[_long_row()]), "## Freeze probability")
    [line] = [line for line in section.splitlines() if line.startswith("| long-40")]
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[2:6] == ["3", "1200", "2 (1)", "600 [150, 2400]"]
    assert cells[7] == "> 3000 [3000, ∞] (20)"
    assert cells[8] == "900 [500, ∞] (splitting)" and cells[9] == "yes"
    [record] = render_json(_rows(), {}, long=[_long_row()])["long_runs"]
    assert record["inside"] is True and record["measured"]["freezes"] == 2


def test_a_same_seed_row_says_the_model_runs_with_its_jitter_off():
    from validation.agreement import SameSeedRow

    risk = _odds(True).measured
    row = SameSeedRow("modern", "risk-50", 2026, risk, 1.25, risk, (1.0, 1.0, 1.0))
    md = render_markdown(_rows(), {}, same_seed=[row])
    section = _section(md, "## Freeze probability")
    assert "The model runs here with its jitter off" in section
    [line] = [line for line in section.splitlines() if line.startswith("| risk-50")]
    assert "| 1 (froze at 1.25 s) |" in line and line.endswith("| **no** | 1.0 / 1.0 / 1.0 |")


def test_the_workloads_section_comes_after_the_processes_and_before_the_findings():
    md = render_markdown(
        _rows(), {}, "F.", processes=["## Several processes", ""], workloads=["## Real w", ""]
    )
    assert md.index("## Several processes") < md.index("## Real w") < md.index("F.")
    assert render_json(_rows(), {}, workloads=[{"case": "x"}])["workloads"] == [{"case": "x"}]
