"""The sweep: axes parse like the CLI's flags, rows are the same whoever computes them, a killed
sweep resumes without losing or duplicating a row, bad input is one line and exit 2."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from sim.cli import main
from sim.errors import ScenarioError
from sim.result import Summary
from sim.scenario import COSTS, Scenario
from sim.stacks import STACKS
from sim.sweep import DEFAULT_GRID, Grid, SweepOutcome, grid_from_toml, keys, parse_axis, run_sweep
from sim.sweep.executors import make_executor
from sim.sweep.grid import tomllib
from sim.sweep.keys import Settings, identity
from sim.sweep.progress import Silent
from sim.sweep.rows import HASH, seeded
from sim.sweep.store import read_results

SMALL_TOML = """
[axes]
pool_size = "1:3"
requests = "1:6"
endpoint = "async-sync-session,async-session"
[fixed]
max_overflow = 0
pool_timeout = 2.0
client = "external"
"""
SMALL = Grid.build(*tomllib.loads(SMALL_TOML).values())


def _sweep(out: Path, workers: int = 1, dask: object = None, **kw: object) -> list[dict]:
    run_sweep(SMALL, out, make_executor(workers, dask, Settings()), progress=Silent, **kw)
    return read_results(out / f"results.{kw.get('fmt', 'parquet')}").to_pylist()


def test_axis_forms_parse_like_the_flags() -> None:
    assert parse_axis("requests", "1,5,10:30:10") == (1, 5, 10, 20, 30)
    assert parse_axis("async_work", "0.1:0.3:0.1") == (0.1, 0.2, 0.3)
    assert parse_axis("endpoint", "async-sync-session,sync") == ("async-sync-session", "sync")
    assert parse_axis("client_timeout", "none,5") == (None, 5.0)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("pool_size", "5:1", "--pool-size: empty range"),
        ("pool_size", "-1", "--pool-size must be an integer >= 0"),
        ("requests", "0:3", "--requests must be an integer from 1"),
        ("endpoint", "fast", "--endpoint must be one of"),
        ("colour", "1", "unknown scenario field 'colour'"),
        ("pool_size", "1,,2", "--pool-size: empty value"),
    ],
)
def test_bad_axes_name_the_flag_and_the_allowed_range(name: str, text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match=message):
        parse_axis(name, text)


def test_cli_errors_are_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", "--pool-size", "3:1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--pool-size" in err


def test_default_grid_is_the_seeds_neighbourhood() -> None:
    assert len(DEFAULT_GRID) == 20 * 60 * 2 * 2
    assert DEFAULT_GRID.axes["pool_size"] == tuple(range(1, 21))
    assert DEFAULT_GRID.fixed["pool_timeout"] == 30.0


def test_flags_override_a_saved_grid_and_keep_axis_order(tmp_path: Path) -> None:
    path = tmp_path / "grid.toml"
    path.write_text('[axes]\npool_size = "1:4"\nrequests = [1, 2, 3]\n[fixed]\nendpoint = "sync"\n')
    grid = grid_from_toml(path).override({"pool_size": "2,3", "max_overflow": "0,5"})
    assert list(grid.axes) == ["pool_size", "requests", "max_overflow"]
    assert grid.axes["pool_size"] == (2, 3) and grid.fixed == {"endpoint": "sync"}
    assert len(list(grid.scenarios())) == 2 * 3 * 2


def test_seed_depends_on_the_scenario_not_on_order() -> None:
    a, b = Scenario.create(requests=3), Scenario.create(requests=4)
    assert seeded(a).seed == seeded(a).seed != seeded(b).seed
    assert seeded(a).seed != seeded(a.replace(seed=1)).seed


def test_rows_carry_every_scenario_and_summary_field(tmp_path: Path) -> None:
    rows = _sweep(tmp_path)
    assert len(rows) == len(SMALL)
    row = rows[0]
    for name in [*Scenario.__dataclass_fields__, *Summary.__dataclass_fields__, HASH]:
        assert name in row
    scenario = Scenario.create(**{k: row[k] for k in Scenario.__dataclass_fields__})
    assert row[HASH] == identity(scenario.replace(seed=0), defaulted=COSTS)


def test_results_identical_with_one_two_workers_and_dask(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    one = _sweep(tmp_path / "one", workers=1)
    two = _sweep(tmp_path / "two", workers=2)
    cluster = distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None)
    with cluster, distributed.Client(cluster) as client:
        dask = _sweep(tmp_path / "dask", dask=client)
    assert one == two == dask


def test_csv_format_reads_back_with_the_same_rows(tmp_path: Path) -> None:
    parquet = _sweep(tmp_path / "p")
    csv = _sweep(tmp_path / "c", fmt="csv")
    assert parquet == csv


def test_rerun_skips_finished_rows(tmp_path: Path) -> None:
    first = _sweep(tmp_path, batch_size=5)
    outcome = run_sweep(SMALL, tmp_path, make_executor(1, None, Settings()), progress=Silent)
    assert outcome.computed == 0 and outcome.resumed == len(SMALL)
    assert read_results(outcome.results).to_pylist() == first


def test_rows_of_another_grid_in_the_same_directory_are_left_out(tmp_path: Path) -> None:
    other = Grid.build({"pool_size": "1:4", "requests": "7:8"}, {"client": "external"})
    run_sweep(other, tmp_path, make_executor(1, None, Settings()), progress=Silent)
    outcome = run_sweep(SMALL, tmp_path, make_executor(1, None, Settings()), progress=Silent)
    assert (outcome.rows, outcome.resumed) == (len(SMALL), 0)
    assert read_results(outcome.results).to_pylist() == _sweep(tmp_path / "fresh")


def test_points_that_build_the_same_scenario_give_one_row(tmp_path: Path) -> None:
    grid = Grid.build({"requests": "1:3", "loop": "auto,uvloop"}, {"stack": "era2020"})
    outcome = run_sweep(grid, tmp_path, make_executor(2, None, Settings()), progress=Silent)
    rows = read_results(outcome.results).to_pylist()
    assert outcome.rows == len(rows) == len({r[HASH] for r in rows}) == 3


KILLED = """
import os, signal, sys
from pathlib import Path
import sim.sweep.store as store
from sim.sweep import grid_from_toml, run_sweep
from sim.sweep.executors import make_executor
from sim.sweep.keys import Settings
from sim.sweep.progress import Silent

write, batches = store.Store.write_batch, []
def write_then_die(self, first, rows):
    write(self, first, rows)
    batches.append(first)
    if len(batches) == 3:
        os.kill(os.getpid(), signal.SIGKILL)
store.Store.write_batch = write_then_die
grid, executor = grid_from_toml(sys.argv[2]), make_executor(1, None, Settings())
run_sweep(grid, Path(sys.argv[1]), executor, batch_size=5, progress=Silent)
"""


def test_killed_sweep_resumes_without_losing_or_duplicating_rows(tmp_path: Path) -> None:
    out, grid = tmp_path / "out", tmp_path / "grid.toml"
    grid.write_text(SMALL_TOML)
    died = subprocess.run([sys.executable, "-c", KILLED, str(out), str(grid)], check=False)
    assert died.returncode == -signal.SIGKILL
    parts = sorted((out / "parts").iterdir())
    assert len(parts) == 3 and not (out / "results.parquet").exists()
    assert all(pq.read_table(p).num_rows == 5 for p in parts)
    outcome = run_sweep(
        SMALL, out, make_executor(1, None, Settings()), batch_size=5, progress=Silent
    )
    assert (outcome.resumed, outcome.computed) == (15, len(SMALL) - 15)
    rows = read_results(outcome.results).to_pylist()
    assert rows == _sweep(tmp_path / "fresh")
    assert len({r[HASH] for r in rows}) == len(rows) == len(SMALL)


def test_half_written_batch_is_never_read(tmp_path: Path) -> None:
    _sweep(tmp_path)
    (tmp_path / "parts" / "part-000000099-1-000001.parquet.tmp").write_bytes(b"PAR1 garbage")
    assert len(_sweep(tmp_path)) == len(SMALL)
    assert not list((tmp_path / "parts").glob("*.tmp"))


def test_sweep_command_writes_results_heatmaps_and_report(tmp_path: Path) -> None:
    out = tmp_path / "o"
    argv = [
        "sweep",
        "--pool-size",
        "1:3",
        "--requests",
        "1:5",
        "--max-overflow",
        "0",
        "--endpoint",
        "async-sync-session",
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
    ]
    assert main(argv) == 0
    names = {p.name for p in out.iterdir()}
    assert {"results.parquet", "report.md"} <= names
    assert "heatmap-frozen-seconds.png" in names and "heatmap-handled-before-freeze.png" in names
    assert "disagree on freeze/no freeze: 0" in (out / "report.md").read_text()


def test_fast_rows_match_the_model_where_exact(tmp_path: Path) -> None:
    fast = {r[HASH]: r for r in _sweep_fast(tmp_path / "fast")}
    model = {r[HASH]: r for r in _sweep(tmp_path / "model")}
    analytic = [h for h, r in fast.items() if r["source"] == "analytic"]
    assert analytic
    for key in analytic:
        for name in ("freezes", "server_errors", "ok", "handled_before_freeze"):
            assert fast[key][name] == model[key][name], (name, model[key])


def _sweep_fast(out: Path) -> list[dict]:
    run_sweep(SMALL, out, make_executor(1, None, Settings(fast=True)), progress=Silent)
    return read_results(out / "results.parquet").to_pylist()


def test_no_workers_is_an_error() -> None:
    with pytest.raises(ScenarioError, match="--workers"):
        make_executor(0, None, Settings())


# Resume reuses a row only under the same key: the scenario and every input that shapes its row.

EXACT = Grid.build(
    {"pool_size": "1:3", "requests": "4,6"}, {"max_overflow": 0, "client": "external"}
)


def _run(grid: Grid, out: Path, fast: bool = False) -> tuple[SweepOutcome, list[dict]]:
    outcome = run_sweep(grid, out, make_executor(1, None, Settings(fast=fast)), progress=Silent)
    return outcome, read_results(outcome.results).to_pylist()


def test_dropping_fast_recomputes_the_closed_form_rows_with_the_model(tmp_path: Path) -> None:
    _, fast = _run(EXACT, tmp_path, fast=True)
    assert {r["source"] for r in fast} == {"analytic"}
    outcome, rows = _run(EXACT, tmp_path)
    assert (outcome.computed, outcome.resumed) == (len(EXACT), 0)
    assert outcome.recomputed == ((("--fast changed",), len(EXACT)),)
    assert rows == _run(EXACT, tmp_path / "fresh")[1]
    assert {r["source"] for r in rows} == {"model"} and None not in {r["makespan"] for r in rows}


def test_an_edited_trace_file_recomputes_the_rows_that_replay_it(tmp_path: Path) -> None:
    trace = tmp_path / "sends.json"
    trace.write_text("[0, 0, 0]")
    grid = Grid.build(
        {"pool_size": "1"},
        {"max_overflow": 0, "pool_timeout": 0.5, "client": "external", "arrival": f"trace:{trace}"},
    )
    _, before = _run(grid, tmp_path / "out")
    trace.write_text("[0, 0, 0, 0, 0, 0]")
    outcome, after = _run(grid, tmp_path / "out")
    assert outcome.recomputed == ((("file read by --arrival changed",), 1),)
    assert (before[0]["server_errors"], after[0]["server_errors"]) == (2, 5)
    assert after == _run(grid, tmp_path / "fresh")[1]


def test_recalibrated_costs_recompute_the_rows_left_to_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, before = _run(EXACT, tmp_path)
    costs = STACKS["era2020"].costs
    monkeypatch.setitem(costs, "query_time", costs["query_time"] * 2)
    outcome, after = _run(EXACT, tmp_path)
    assert outcome.recomputed == ((("calibrated costs changed",), len(EXACT)),)
    assert {r["query_time"] for r in after} == {costs["query_time"]}
    assert after == _run(EXACT, tmp_path / "fresh")[1] != before


def test_costs_set_by_an_axis_are_the_scenario_not_an_input(tmp_path: Path) -> None:
    _run(EXACT.override({"query_time": "0.001"}), tmp_path)
    outcome, _ = _run(EXACT.override({"query_time": "0.002"}), tmp_path)
    assert (outcome.computed, outcome.recomputed) == (len(EXACT), ())


def test_another_model_version_recomputes_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _run(EXACT, tmp_path)
    monkeypatch.setattr(keys, "model_version", lambda: "0.1.0+other-model")
    outcome, _ = _run(EXACT, tmp_path)
    assert outcome.recomputed == ((("model version changed",), len(EXACT)),)
    assert outcome.tally == (
        f"{len(EXACT)} rows ({len(EXACT)} computed, 0 resumed; "
        f"{len(EXACT)} recomputed: model version changed ({len(EXACT)}))"
    )


def test_model_version_follows_the_model_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    today = keys.model_version()
    stacks = tmp_path / "sim" / "stacks.py"
    (tmp_path / "sim" / "model").mkdir(parents=True)
    (tmp_path / "sim" / "sweep").mkdir()
    for path in (Path(keys.__file__).parents[1] / "model").glob("*.py"):
        (tmp_path / "sim" / "model" / path.name).write_bytes(path.read_bytes())
    stacks.write_bytes((Path(keys.__file__).parents[1] / "stacks.py").read_bytes())
    monkeypatch.setattr(keys, "__file__", str(tmp_path / "sim" / "sweep" / "keys.py"))
    keys.model_version.cache_clear()
    copied = keys.model_version()
    stacks.write_text(stacks.read_text() + "\n# recalibrated\n")
    keys.model_version.cache_clear()
    edited = keys.model_version()
    keys.model_version.cache_clear()
    assert today == copied != edited and edited.startswith(today.split("+")[0] + "+")


def test_rows_from_a_sweep_that_recorded_no_inputs_are_recomputed(tmp_path: Path) -> None:
    _run(EXACT, tmp_path)
    for part in (tmp_path / "parts").iterdir():
        pq.write_table(pq.read_table(part).drop_columns(["inputs", "resume_key"]), part)
    outcome, rows = _run(EXACT, tmp_path)
    assert (outcome.computed, outcome.resumed) == (len(EXACT), 0)
    assert rows == _run(EXACT, tmp_path / "fresh")[1]


def test_sweep_takes_a_profiles_stack_and_costs_and_a_changed_profile_recomputes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "profile.json"
    recorded = {"stack": "modern", "machine": {"loop": "uvloop"}}
    costs = {"query_time": 0.003, "connect_time": 0.002}
    profile.write_text(json.dumps({**recorded, "costs": costs}))
    argv = ["sweep", "--profile", str(profile), "--pool-size", "1,2", "--requests", "3"]
    argv += ["--client", "external", "--out", str(tmp_path / "o"), "--workers", "1", "--quiet"]
    assert main(argv) == 0
    rows = read_results(tmp_path / "o" / "results.parquet").to_pylist()
    assert {(r["stack"], r["loop"], r["query_time"], r["connect_time"]) for r in rows} == {
        ("modern", "uvloop", 0.003, 0.002)
    }
    assert rows[0]["request_cpu"] == STACKS["modern"].costs["request_cpu"]
    capsys.readouterr()
    profile.write_text(json.dumps({**recorded, "costs": {**costs, "query_time": 0.004}}))
    assert main(argv) == 0
    n = len(rows)
    assert f"{n} recomputed: calibrated costs changed ({n}))" in capsys.readouterr().out


def test_a_distribution_axis_keeps_a_float_column_of_means_and_the_form_beside_it(
    tmp_path: Path,
) -> None:
    grid = EXACT.override({"async_work": "0.1,exp:0.1,lognormal:0.2,0.5", "requests": "4"})
    _, rows = _run(grid, tmp_path)
    columns = {(r["async_work"], r["async_work_form"]) for r in rows}
    assert columns == {(0.1, "0.1"), (0.1, "exp:0.1"), (0.2, "lognormal:0.2,0.5")}
    assert {type(r["query_time"]) for r in rows} == {float}
    assert pq.read_schema(tmp_path / "results.parquet").field("async_work").type == "double"


def test_a_changed_empirical_file_recomputes_the_rows_that_read_it(tmp_path: Path) -> None:
    samples = tmp_path / "work.txt"
    samples.write_text("0.1\n0.2\n")
    grid = EXACT.override({"async_work": f"0.1,empirical:{samples}", "requests": "4"})
    _run(grid, tmp_path / "out")
    samples.write_text("0.1\n2.5\n")
    outcome, rows = _run(grid, tmp_path / "out")
    assert outcome.recomputed == ((("file read by --async-work changed",), 3),)
    assert {r["async_work"] for r in rows} == {0.1, 1.3}


def test_a_sweep_over_forms_of_one_mean_reports_each_form_apart(tmp_path: Path) -> None:
    argv = ["sweep", "--pool-size", "1:2", "--requests", "1:3", "--max-overflow", "0"]
    argv += ["--async-work", "0.1,exp:0.1", "--client", "external", "--pool-timeout", "1"]
    argv += ["--endpoint", "async-sync-session"]
    assert main([*argv, "--out", str(tmp_path), "--quiet", "--workers", "1"]) == 0
    report = (tmp_path / "report.md").read_text()
    assert "### async_work_form=0.1" in report
    assert "### async_work_form=exp:0.1" in report


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_counts_resumed_rows_as_done_but_not_in_the_rate() -> None:
    from sim.sweep.progress import Progress

    stream = _Terminal()
    bar = Progress(100, stream=stream)
    bar.skip(50)
    bar.advance(10)
    shown = bar._bar.format_dict
    assert (shown["n"], shown["initial"], bar.done) == (60, 50, 60)
    bar._bar.refresh()
    assert "60/100" in stream.getvalue()
    bar.close()


def test_progress_draws_nothing_where_stderr_is_not_a_terminal() -> None:
    from sim.sweep.progress import Progress

    stream = io.StringIO()
    bar = Progress(10, stream=stream)
    bar.advance(10)
    bar.close()
    assert stream.getvalue() == ""
