"""The harness CLI: scenario flags come from sim's SPECS; bad input is one line and exit 2."""

from __future__ import annotations

import pytest

from sim.scenario import SPECS
from validation.cli import build_parser, main


def test_run_accepts_every_scenario_flag():
    run = build_parser()._subparsers._group_actions[0].choices["run"]
    flags = {opt for action in run._actions for opt in action.option_strings}
    assert {spec.flag for spec in SPECS.values()} <= flags


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["run", "--pool-size", "-3"], "--pool-size"),
        (["run", "--pool-timeout", "0"], "--pool-timeout"),
        (["run", "--endpoint", "nope"], "--endpoint"),
        (["run", "--arrival", "poisson:5"], "--arrival"),
        (["run", "--stack", "era2020", "--endpoint", "async-session"], "--endpoint"),
        (["compare", "--cases", "nope"], "--cases"),
    ],
)
def test_bad_input_is_one_line_naming_the_flag_and_exit_2(argv, flag, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert flag in err and "\n" not in err
