"""validation risk: stored runs of a risk case, read back in order and summed up by risk_of."""

from __future__ import annotations

import pytest

from sim.result import RequestRecord, build_result
from sim.risk.replications import replication_seed
from validation.cases import CUT_OFF_GRACE, RISK_CASES, risk_case
from validation.cli import main
from validation.risk import measured_risk, odds_text, run_path, stored_runs


def stored_run(root, k, *, froze_at=None, recovered=True, root_seed=7, stack="modern"):
    """A run of risk-edge stored as `validation risk` stores it: sends every 0.5 s for 4 s; a
    freeze at `froze_at` of 1 s, after which the server serves again or never does."""
    rows = []
    for i in range(8):
        sent = 0.5 * i
        late = froze_at is not None and sent >= froze_at
        status = 500 if late and not recovered and sent < froze_at + 1.0 else 200
        status = None if late and not recovered and sent >= froze_at + 1.0 else status
        rows.append(
            RequestRecord(i, sent, sent, None if status is None else sent + 0.1, status, None)
        )
    blocks = [] if froze_at is None else [(froze_at, froze_at + (1.0 if recovered else 3.5))]
    params = {
        **risk_case("risk-edge").overrides,
        "stack": stack,
        "seed": replication_seed(root_seed, k),
        "harness": {"loadavg": 1.5 + k},
    }
    result = build_result(params, rows, blocks, 0.5)
    path = run_path(stack, "risk-edge", k, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result.to_json())
    return path


def test_stored_runs_come_back_in_replication_order_not_name_order(tmp_path):
    for k in (10, 2, 0, 1):
        stored_run(tmp_path, k)
    assert [p.stem for p, _ in stored_runs("modern", "risk-edge", tmp_path)] == [
        "0",
        "1",
        "2",
        "10",
    ]


def test_no_stored_runs_is_an_empty_list(tmp_path):
    assert stored_runs("modern", "risk-edge", tmp_path) == []


def test_measured_odds_count_freezes_and_collapses_over_the_stored_runs(tmp_path):
    stored_run(tmp_path, 0)
    stored_run(tmp_path, 1, froze_at=1.0, recovered=True)
    stored_run(tmp_path, 2, froze_at=2.0, recovered=False)
    stored_run(tmp_path, 3, froze_at=0.5, recovered=False)
    risk = measured_risk([r for _, r in stored_runs("modern", "risk-edge", tmp_path)])
    assert risk.replications == 4
    assert risk.p_freeze == 0.75 and risk.p_collapse == 0.5
    lo, hi = risk.p_freeze_ci
    assert lo < 0.75 < hi
    # nearest rank over 4 runs, the one that never froze counted last: 0.5, 1.0, 2.0, never
    assert risk.first_freeze_quantiles == {"0.1": 0.5, "0.5": 1.0, "0.9": None}


def test_the_odds_text_gives_both_intervals_and_says_where_a_quantile_is_past_the_run(tmp_path):
    stored_run(tmp_path, 0)
    stored_run(tmp_path, 1, froze_at=1.0, recovered=False)
    text = odds_text(measured_risk([r for _, r in stored_runs("modern", "risk-edge", tmp_path)]), 4)
    assert "P(freeze within the run): 50% [9.45%, 90.5%]" in text
    assert "P(collapse, no recovery while traffic lasts): 50% [9.45%, 90.5%]" in text
    assert "10% by 1.000 s, 50% by 1.000 s, 90% not in 4 s" in text
    assert "frozen fraction" not in text


def test_stored_summaries_are_derived_again_from_the_timeline(tmp_path):
    path = stored_run(tmp_path, 0, froze_at=1.0)
    path.write_text(path.read_text().replace('"freezes": 1', '"freezes": 9'))
    [(_, result)] = stored_runs("modern", "risk-edge", tmp_path)
    assert result.summary.freezes == 1


def test_risk_cases_stay_out_of_compares_set_and_all_but_one_share_the_seeds_pool():
    from validation.cases import CASES, FREEZE_CASES, LONG_CASES

    every = FREEZE_CASES + LONG_CASES
    assert not {c.name for c in RISK_CASES + LONG_CASES} & {c.name for c in CASES}
    pools = {c.name: (c.overrides["pool_size"], c.overrides["max_overflow"]) for c in every}
    assert {name for name, pool in pools.items() if pool != (5, 10)} == {"risk-small"}
    assert pools["risk-small"] == (2, 3)
    for case in every:
        o = case.overrides
        assert o["client"] == "external"
        assert o["freeze_threshold"] < o["pool_timeout"]
        assert o["pool_timeout"] + o["async_work"] < CUT_OFF_GRACE


def test_process_cases_run_several_processes_and_their_cut_off_outlasts_the_worst_drain():
    from validation.cases import PROCESS_CASES
    from validation.compare import scenario_for

    for case in PROCESS_CASES:
        scenario = scenario_for("modern", case)
        assert scenario.processes == 2 and scenario.client == "external"
        assert scenario.freeze_threshold < scenario.pool_timeout
        if scenario.arrival == "burst":  # every request timing out in turn on one process
            worst = (scenario.requests - scenario.capacity) * scenario.pool_timeout
            assert scenario.duration + CUT_OFF_GRACE > worst


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["risk", "--stack", "modern", "--case", "nope", "--replications", "3"], "--case"),
        (["risk", "--stack", "modern", "--case", "steady-near", "--replications", "3"], "--case"),
        (
            ["risk", "--stack", "modern", "--case", "risk-edge", "--replications", "0"],
            "--replications",
        ),  # fmt: skip
        (
            ["risk", "--stack", "modern", "--case", "risk-edge", "--replications", "-2"],
            "--replications",
        ),  # fmt: skip
        (
            [
                "risk",
                "--stack",
                "modern",
                "--case",
                "risk-50",
                "--replications",
                "2",
                "--first",
                "-1",
            ],
            "--first",
        ),  # fmt: skip
        (["risk", "--stack", "era2020", "--case", "long-40", "--replications", "1"], "--stack"),
    ],
)
def test_bad_risk_input_is_one_line_naming_the_flag_and_exit_2(argv, flag, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert flag in err and "\n" not in err
