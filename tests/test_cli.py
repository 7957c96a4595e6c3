"""`python -m sim run`: bad input is one line on stderr and exit 2; same seed, same JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sim.cli import main
from sim.result import Result

FAST = ["--client", "external", "--pool-timeout", "0.2", "--requests", "6", "--pool-size", "2"]


@pytest.mark.parametrize(
    ("argv", "flag", "allowed"),
    [
        (["--pool-size", "-1"], "--pool-size", ">= 0"),
        (["--max-overflow", "-2"], "--max-overflow", ">= -1"),
        (["--pool-timeout", "0"], "--pool-timeout", "> 0"),
        (["--pool-timeout", "-3"], "--pool-timeout", "> 0"),
        (["--requests", "0"], "--requests", "from 1 to 1000000"),
        (["--requests", "ten"], "--requests", "from 1 to 1000000"),
        (["--pool-size", "2.5"], "--pool-size", ">= 0"),
        (["--pool-timeout", "abc"], "--pool-timeout", "> 0"),
        (["--pool-timeout", "nan"], "--pool-timeout", "> 0"),
        (["--async-work", "-0.1"], "--async-work", ">= 0"),
        (["--query-time", "x"], "--query-time", ">= 0"),
        (["--connect-time", "-1"], "--connect-time", ">= 0"),
        (["--endpoint", "graphql"], "--endpoint", "async-sync-session, sync, async-session"),
        (
            [
                "--stack",
                "era1999",
                *[
                    "--" + c + "=0"
                    for c in (
                        "query-time",
                        "connect-time",
                        "request-cpu",
                        "thread-handoff",
                        "client-setup-cpu",
                        "client-request-cpu",
                    )
                ],
            ],
            "--stack",
            "era2020, modern",
        ),
        (["--loop", "trio"], "--loop", "auto, asyncio, uvloop"),
        (["--client", "browser"], "--client", "in-process, external"),
        (["--arrival", "poisson:0"], "--arrival", "poisson:RATE (RATE > 0)"),
        (["--arrival", "closed:0"], "--arrival", "closed:USERS (USERS >= 1)"),
        (["--client-timeout", "0"], "--client-timeout", "> 0, or none"),
        (["--cpus", "0"], "--cpus", "from 1 to 1024"),
        (["--seed", "-1"], "--seed", "from 0 to 2**63-1"),
        (["--duration", "0"], "--duration", "> 0"),
        (["--think-time", "-1"], "--think-time", ">= 0"),
        (["--freeze-threshold", "0"], "--freeze-threshold", "> 0"),
        (["--processes", "0"], "--processes", "from 1 to 64"),
        (["--client-connections", "-3"], "--client-connections", "keep-alive, new or a number"),
        (["--max-connections", "0"], "--max-connections", "from 1 to 1000000"),
    ],
)
def test_bad_value_exits_2_with_one_line_naming_flag_and_range(capsys, argv, flag, allowed):
    assert main(["run", *argv]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1
    assert err.startswith(f"error: {flag} must be ")
    assert allowed in err
    assert "Traceback" not in err


def test_unknown_stack_alone_names_the_stack_flag(capsys):
    assert main(["run", "--stack", "era1999"]) == 2
    _, err = capsys.readouterr()
    assert err.startswith("error: --stack must be one of era2020, modern")


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (["run", "--bogus"], "--bogus"),
        (["run", "--pool-size"], "--pool-size"),
        (["frobnicate"], "frobnicate"),
        ([], "command"),
    ],
)
def test_unknown_flag_or_command_exits_2_with_one_line(capsys, argv, names):
    assert main(argv) == 2
    _, err = capsys.readouterr()
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert names in err


def test_run_json_prints_the_result_schema(capsys):
    assert main(["run", *FAST, "--json"]) == 0
    out, _ = capsys.readouterr()
    data = json.loads(out)
    assert set(data) == {"params", "requests", "loop_blocked", "summary"}
    assert len(data["requests"]) == 6
    assert Result.from_json(out).params["pool_size"] == 2


def test_run_prints_summary_and_timeline(capsys):
    assert main(["run", *FAST]) == 0
    out, _ = capsys.readouterr()
    assert "handled before first freeze" in out
    assert "legend:" in out


def test_bad_input_in_a_real_process_is_one_line_and_exit_2():
    done = subprocess.run(
        [sys.executable, "-m", "sim", "run", "--max-overflow", "-5"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "error: --max-overflow must be an integer >= -1 (-1 = unlimited), got '-5'\n"
    )


def test_same_seed_same_json_byte_for_byte_across_processes():
    # era2020 in-process: the client's start order is drawn from the seed.
    argv = [sys.executable, "-m", "sim", "run", "--json", "--seed", "7", "--pool-timeout", "0.3"]
    runs = [subprocess.run(argv, capture_output=True, timeout=60, check=True) for _ in range(2)]
    assert runs[0].stdout == runs[1].stdout
    assert len(runs[0].stdout) > 100


PROFILES = Path(__file__).parents[1] / "validation" / "profiles"


def test_a_profile_runs_on_its_own_stack_loop_and_costs(capsys):
    recorded = json.loads((PROFILES / "modern.json").read_text())
    assert main(["run", *FAST, "--profile", str(PROFILES / "modern.json"), "--json"]) == 0
    params = json.loads(capsys.readouterr().out)["params"]
    assert (params["stack"], params["loop"]) == ("modern", recorded["machine"]["loop"])
    assert {name: params[name] for name in recorded["costs"]} == recorded["costs"]


def test_flags_override_a_profiles_stack_loop_and_costs(capsys):
    argv = ["--profile", str(PROFILES / "modern.json"), "--stack", "era2020", "--loop", "uvloop"]
    assert main(["run", *FAST, *argv, "--query-time", "0.01", "--json"]) == 0
    params = json.loads(capsys.readouterr().out)["params"]
    assert (params["stack"], params["loop"], params["query_time"]) == ("era2020", "uvloop", 0.01)


def test_a_profile_with_a_bad_value_names_the_profile_and_the_flag(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"stack": "modern", "costs": {"query_time": -1}}))
    assert main(["run", "--profile", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"error: --profile {bad}: --query-time must")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["risk", "--rate", "x"], "--rate must be a number > 0, got 'x'"),
        (["risk", "--rate", "5", "--method", "foo"], "--method must be one of auto, replications"),
        (["risk", "--rate", "5", "--budget", "5"], "--budget must be an integer from 1000"),
        (["risk", "--rate", "5", "--arrival", "poisson:3"], "--arrival is not taken by `risk`"),
        (["risk", "--rate", "5", "--client", "in-process"], "--client must be external"),
        (["run", "--replications", "0"], "--replications must be an integer from 1 to 100000"),
        (["run", "--replications", "3", "--workers", "0"], "--workers must be an integer >= 1"),
        (
            ["run", "--replications", "3", "--max-seconds", "0"],
            "--max-seconds must be a number > 0",
        ),
        (["run", "--split", "weights:1/x"], "--split: weights must be numbers, got '1/x'"),
        (["run", "--split", "dirichlet:0"], "--split: dirichlet:ALPHA needs ALPHA > 0"),
        (
            ["run", "--client", "external", "--processes", "2", "--split", "weights:1/1/1"],
            "--split weights:... needs one weight per process (2)",
        ),
        (["run", "--processes", "2"], "--processes > 1 and --client-connections need --client"),
        (
            ["risk", "--rate", "5", "--client", "external", "--processes", "2"],
            "--processes: the risk estimators follow",
        ),
    ],
)
def test_risk_and_replications_reject_bad_input_in_one_line(argv, message, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {message}")


def test_risk_json_has_the_documented_keys(capsys):
    argv = ["risk", "--rate", "15", "--pool-size", "2", "--max-overflow", "1", "--stack",
            "modern", "--pool-timeout", "1", "--json"]  # fmt: skip
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"mttf_s", "mttf_ci", "p_within", "method", "replications"} <= set(data)
    assert set(data["p_within"]) == {"60", "3600", "86400"}


def test_risk_help_states_the_default_budget(capsys):
    from sim.risk.mttf import BUDGET

    with pytest.raises(SystemExit):
        main(["risk", "--help"])
    assert f"default {BUDGET}," in " ".join(capsys.readouterr().out.split())


def test_replications_longer_than_max_seconds_ask_for_it_and_print_nothing(capsys):
    # One 30 s run at 55 req/s takes ~0.2 s of CPU: 100000 of them are hours on one worker.
    argv = ["run", "--replications", "100000", "--workers", "1", "--arrival", "poisson:55",
            "--duration", "30", "--client", "external", "--pool-timeout", "1"]  # fmt: skip
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert err.startswith("error: --replications 100000 would take about ")
    assert "pass --max-seconds " in err and "1 at once" in err


def test_readme_states_the_defaults_the_code_has():
    from sim.cli import MAX_SECONDS
    from sim.risk.mttf import BUDGET

    readme = " ".join((Path(__file__).parents[1] / "README.md").read_text().split())
    assert f"`--max-seconds` (default {MAX_SECONDS:g})" in readme
    assert f"(`--budget`, default {BUDGET})" in readme
