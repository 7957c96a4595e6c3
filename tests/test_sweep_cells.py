"""Replicated sweeps: one row per (scenario, replication) keyed on the replication, the cells
table agrees with `sim run --replications` and carries Wilson intervals, the same seed gives
the same cells, and the risk map draws what the cells and Erlang B say."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from matplotlib.contour import ContourSet

from sim.cli import main
from sim.model import simulate
from sim.plots import ERLANG_DAY, risk_figure
from sim.queueing import blocked_arrival_interval
from sim.risk.intervals import wilson
from sim.risk.replications import replicate
from sim.scenario import Scenario
from sim.sweep import Grid, grid_from_toml, run_sweep
from sim.sweep.cells import BOUNDED, FROM_RUNS, SPLITTING, cells_schema
from sim.sweep.executors import make_executor
from sim.sweep.keys import Settings
from sim.sweep.progress import Silent
from sim.sweep.rows import CELL, HASH, REPLICATION, scenario_fields
from sim.sweep.store import read_results

FIXED = {"max_overflow": 0, "stack": "modern", "client": "external", "pool_timeout": 1.0}
RISK = Grid.build(
    {"arrival": "poisson:4,poisson:16", "pool_size": "2,4"}, {**FIXED, "duration": 2.0}, 4
)
BUDGET = 3000


def _sweep(grid: Grid, out: Path, workers: int = 1):
    executor = make_executor(workers, None, Settings())
    return run_sweep(grid, out, executor, progress=Silent, mttf_budget=BUDGET)


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory):
    return _sweep(RISK, tmp_path_factory.mktemp("risk"))


def test_each_cell_has_one_row_per_replication_keyed_apart(swept) -> None:
    rows = read_results(swept.results).to_pylist()
    assert len(rows) == len(RISK) * 4
    assert len({r[HASH] for r in rows}) == len(rows)
    by_cell: dict[str, list[int]] = {}
    for r in rows:
        by_cell.setdefault(r[CELL], []).append(r[REPLICATION])
    assert len(by_cell) == len(RISK)
    assert all(sorted(k) == [0, 1, 2, 3] for k in by_cell.values())
    # replication 0's identity is the scenario's own, as in a sweep without replications
    assert all(r[HASH] == r[CELL] for r in rows if r[REPLICATION] == 0)


def test_cells_are_what_run_replications_prints_for_run_0s_scenario(swept) -> None:
    rows = read_results(swept.results, where={REPLICATION: 0}).to_pylist()
    cells = {c[CELL]: c for c in read_results(swept.cells).to_pylist()}
    for row in rows:
        _, risk = replicate(Scenario.create(**scenario_fields(row)), 4, simulate)
        cell = cells[row[CELL]]
        assert cell["replications"] == 4
        assert (cell["p_freeze"], (cell["p_freeze_lo"], cell["p_freeze_hi"])) == (
            risk.p_freeze,
            risk.p_freeze_ci,
        )
        assert (cell["p_collapse"], (cell["p_collapse_lo"], cell["p_collapse_hi"])) == (
            risk.p_collapse,
            risk.p_collapse_ci,
        )


def test_cells_carry_wilson_intervals_of_their_runs(swept) -> None:
    rows = read_results(swept.results).to_pylist()
    for cell in read_results(swept.cells).to_pylist():
        runs = [r for r in rows if r[CELL] == cell[CELL]]
        froze = sum(r["first_freeze_at"] is not None for r in runs)
        lo, hi = wilson(froze, len(runs))
        assert cell["p_freeze"] == froze / len(runs)
        assert (cell["p_freeze_lo"], cell["p_freeze_hi"]) == pytest.approx((lo, hi), abs=1e-6)


def test_every_steady_cell_gets_the_models_mttf_by_a_named_method(swept) -> None:
    for cell in read_results(swept.cells).to_pylist():
        assert cell["mttf_method"] in (FROM_RUNS, SPLITTING, BOUNDED)
        assert cell["mttf_lo"] is not None
        if cell["mttf_method"] == FROM_RUNS:
            assert 2 * cell["p_freeze"] >= 1 and cell["mttf_requests"] == 0
        if cell["mttf_s"] is not None:
            assert cell["mttf_lo"] <= cell["mttf_s"] <= (cell["mttf_hi"] or math.inf)


def test_same_seed_same_cells_whatever_the_workers(swept, tmp_path: Path) -> None:
    again = _sweep(RISK, tmp_path / "again", workers=2)
    assert read_results(again.cells).equals(read_results(swept.cells))


def test_another_root_seed_moves_the_runs(swept, tmp_path: Path) -> None:
    other = _sweep(RISK.override({"seed": 1}), tmp_path / "seed1")
    times = [read_results(o.results).column("first_freeze_at").to_pylist() for o in (swept, other)]
    assert times[0] != times[1]


def test_raising_replications_reuses_the_runs_done(swept, tmp_path: Path) -> None:
    out = tmp_path / "grow"
    _sweep(RISK.replicated(2), out)
    grown = _sweep(RISK, out)
    assert (grown.resumed, grown.computed) == (len(RISK) * 2, len(RISK) * 2)
    assert read_results(grown.cells).equals(read_results(swept.cells))
    fewer = _sweep(RISK.replicated(2), out)
    assert (fewer.rows, fewer.computed) == (len(RISK) * 2, 0)


def test_the_mttf_estimates_are_cached_by_their_inputs(swept, tmp_path: Path) -> None:
    out = tmp_path / "cache"
    _sweep(RISK, out)
    cached = sorted((out / "mttf").glob("*.json"))
    assert len(cached) == 2  # one per line of rates: pool_size 2 and 4
    stamps = [p.stat().st_mtime_ns for p in cached]
    _sweep(RISK, out)
    assert [p.stat().st_mtime_ns for p in cached] == stamps


def test_replications_come_from_a_toml_grid_and_bad_counts_exit_2(tmp_path: Path, capsys) -> None:
    toml = tmp_path / "g.toml"
    toml.write_text('replications = 7\n[axes]\npool_size = "1:2"\n')
    assert grid_from_toml(toml).replications == 7
    for bad in ("0", "1.5", "x", "100001"):
        assert main(["sweep", "--pool-size", "1:2", "--replications", bad, "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert err == [f"error: --replications must be an integer from 1 to 100000, got {bad!r}"]
    assert main(["sweep", "--pool-size", "1:2", "--mttf-budget", "-1", "--quiet"]) == 2
    assert "--mttf-budget must be an integer from 0" in capsys.readouterr().err


def _synthetic(mttf: dict[tuple[float, int], float | None], lo: float = 1e7) -> pa.Table:
    """A cells table over rates x pool sizes with the given MTTFs (None: '> lo')."""
    base = {c.name: None for c in cells_schema()}
    rows = []
    for (rate, pool), value in mttf.items():
        scenario = Scenario.create(**FIXED, pool_size=pool, arrival=f"poisson:{rate:g}")
        rows.append(
            {
                **base,
                **{k: v for k, v in vars(scenario).items()},
                "async_work_form": "0.1",
                "query_time_form": repr(scenario.query_time),
                "replications": 20,
                "p_freeze": 1 - math.exp(-10 / value) if value else 0.0,
                "mttf_s": value,
                "mttf_lo": value / 2 if value else lo,
                "mttf_method": SPLITTING,
            }
        )
    return pa.Table.from_pylist(rows, schema=cells_schema())


def _vertices(fig, gid: str) -> np.ndarray:
    (drawn,) = [c for c in fig.axes[0].get_children() if c.get_gid() == gid]
    if isinstance(drawn, ContourSet):
        return np.concatenate([path.vertices for path in drawn.get_paths()])
    return np.asarray(drawn.get_xydata())


def test_risk_map_draws_the_probability_and_mttf_levels_where_the_cells_cross_them() -> None:
    # MTTF falls a hundredfold per rate step (1e6 s at 1 req/s to 1 s at 8 req/s) on each row.
    rates = (1.0, 2.0, 4.0, 8.0)
    table = _synthetic({(r, p): 10.0 ** (6 - 2 * i) for i, r in enumerate(rates) for p in (2, 4)})
    fig = risk_figure(table, "arrival", "pool_size", "p_freeze", {})
    gids = {c.get_gid() for c in fig.axes[0].get_children()}
    wanted = {"p_freeze = 0.05", "p_freeze = 0.5", "p_freeze = 0.95", ERLANG_DAY}
    assert wanted | {f"model MTTF = {t}" for t in ("1 min", "1 h", "1 day")} <= gids
    # contours interpolate log10(MTTF) between cell centres: 1 h (3.556) lies between 1e4 s at
    # rate 2 and 1e2 s at rate 4, a day (4.937) between 1e6 s at rate 1 and 1e4 s at rate 2
    for label, x in (
        ("1 h", 2 + 2 * (4 - math.log10(3600)) / 2),
        ("1 day", 1 + (6 - math.log10(86400)) / 2),
    ):
        line = _vertices(fig, f"model MTTF = {label}")
        assert line[:, 0] == pytest.approx(x, rel=1e-6)
        assert sorted(set(line[:, 1])) == [2.0, 4.0]


def test_an_mttf_level_above_a_cells_lower_bound_is_not_drawn_through_it() -> None:
    # pool 4 is only known as > 1e3 s at every rate: no 1-day line can be placed on it
    mttf = {(r, 2): 10 ** (6 - i) for i, r in enumerate((1.0, 2.0, 4.0, 8.0))}
    mttf.update({(r, 4): None for r in (1.0, 2.0, 4.0, 8.0)})
    fig = risk_figure(_synthetic(mttf, lo=1e3), "arrival", "pool_size", "p_freeze", {})
    day = _vertices(fig, "model MTTF = 1 day")
    assert np.all(day[:, 1] < 4)


def test_erlang_b_day_line_is_where_erlang_b_puts_a_day() -> None:
    table = _synthetic({(r, p): 100.0 for r in (1.0, 30.0) for p in (2, 8)})
    fig = risk_figure(table, "arrival", "pool_size", "p_freeze", {})
    line = _vertices(fig, ERLANG_DAY)
    assert [int(c) for c in line[:, 1]] == list(range(2, 9))
    base = Scenario.create(**FIXED)
    for rate, pool in line:
        gap = blocked_arrival_interval(rate, base.replace(pool_size=int(pool)))
        assert gap == pytest.approx(86400, rel=1e-6)


def test_plot_draws_a_cells_table_and_asks_for_a_replication_on_the_rows(
    swept, tmp_path: Path, capsys
) -> None:
    out = tmp_path / "p.png"
    argv = ["plot", str(swept.cells), "--x", "pool_size", "--y", "arrival", "--z", "p_freeze"]
    assert main([*argv, "--out", str(out)]) == 0 and out.exists()
    rows = ["plot", str(swept.results), "--x", "arrival", "--y", "pool_size", "--out", str(out)]
    assert main(rows) == 2
    assert "fix replication with --where" in capsys.readouterr().err
    assert main([*rows, "--where", "replication=0"]) == 0
