"""Pictures show what the rows say: cells carry the rows' values, the freeze boundary runs where
bursts start to freeze, the seed is starred where it belongs, each request's bar ends in its
outcome; bad plot requests exit 2."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from matplotlib.contour import ContourSet
from matplotlib.figure import Figure

from sim import plots
from sim.cli import main
from sim.model import simulate
from sim.plots import (
    CLOSED_FORM_FREEZE,
    LABELS,
    MODEL_FREEZE,
    SEED_LABEL,
    first_freeze_figure,
    gantt_figure,
    heatmap_figure,
)
from sim.queueing import blocked_arrival_interval, mean_time_to_first_freeze
from sim.result import Result
from sim.scenario import Scenario
from sim.sweep import Grid, run_sweep
from sim.sweep.executors import make_executor
from sim.sweep.keys import Settings
from sim.sweep.progress import Silent
from sim.sweep.store import read_results

PNG = b"\x89PNG\r\n\x1a\n"
BURSTS = ["--endpoint", "async-sync-session", "--pool-timeout", "2", "--client", "external"]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep")
    argv = ["sweep", "--pool-size", "1:4", "--requests", "1:8", "--max-overflow", "0,2", *BURSTS]
    assert main([*argv, "--out", str(out), "--workers", "1", "--quiet"]) == 0
    return out / "results.parquet"


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[Figure]:
    """Every figure the code under test writes, still written to its file."""
    figures: list[Figure] = []
    save = plots._save

    def keep(fig: Figure, out: Path) -> Path:
        figures.append(fig)
        return save(fig, out)

    monkeypatch.setattr(plots, "_save", keep)
    return figures


def _cells(fig: Figure, shape: tuple[int, int]) -> np.ndarray:
    """The heatmap's cell values, rows of y by columns of x."""
    return np.asarray(fig.axes[0].collections[0].get_array()).reshape(shape)


def _boundary(fig: Figure, label: str) -> np.ndarray:
    """Every vertex of the contour drawn under `label`."""
    (contour,) = [c for c in fig.axes[0].collections if c.get_gid() == label]
    assert isinstance(contour, ContourSet)
    return np.concatenate([path.vertices for path in contour.get_paths()])


def test_sweep_draws_one_heatmap_pair_per_combination(results: Path) -> None:
    pictures = sorted(p.name for p in results.parent.glob("heatmap-*.png"))
    assert pictures == [
        f"heatmap-{z}-max_overflow={o}.png"
        for z in ("frozen-seconds", "handled-before-freeze")
        for o in (0, 2)
    ]
    assert all(p.read_bytes()[:8] == PNG for p in results.parent.glob("heatmap-*.png"))


def test_heatmap_labels_its_axes_and_colour_bar(results: Path) -> None:
    fig = heatmap_figure(read_results(results), "pool_size", "requests", "ok", {"max_overflow": 0})
    ax, bar = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == (LABELS["pool_size"], LABELS["requests"])
    assert bar.get_ylabel() == LABELS["ok"] and "max_overflow=0" in ax.get_title()


@pytest.mark.parametrize("overflow", [0, 2])
def test_heatmap_cells_are_the_rows_values(results: Path, overflow: int) -> None:
    table = read_results(results)
    fig = heatmap_figure(
        table, "pool_size", "requests", "frozen_seconds", {"max_overflow": overflow}
    )
    cells = _cells(fig, (8, 4))
    rows = read_results(results, where={"max_overflow": overflow}).to_pylist()
    assert len(rows) == cells.size
    for row in rows:
        assert cells[row["requests"] - 1, row["pool_size"] - 1] == row["frozen_seconds"]


@pytest.mark.parametrize("overflow", [0, 2])
@pytest.mark.parametrize("line", [MODEL_FREEZE, CLOSED_FORM_FREEZE], ids=["model", "closed-form"])
def test_freeze_boundary_runs_between_the_last_calm_and_the_first_frozen_burst(
    results: Path, overflow: int, line: plots.Boundary
) -> None:
    # A burst freezes once it exceeds pool_size + max_overflow: on each pool_size column the
    # 0.5 contour crosses halfway between requests = capacity and capacity + 1.
    fig = heatmap_figure(
        read_results(results), "pool_size", "requests", "frozen_seconds", {"max_overflow": overflow}
    )
    points = _boundary(fig, line.label)
    on_columns = points[np.isclose(points[:, 0], np.round(points[:, 0]))]
    assert sorted(set(np.round(on_columns[:, 0]))) == [1, 2, 3, 4]
    assert np.allclose(on_columns[:, 1], on_columns[:, 0] + overflow + 0.5)
    assert line.label in [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_the_seed_is_starred_only_where_the_picture_holds_its_settings(
    results: Path, tmp_path: Path
) -> None:
    grid = Grid.build(
        {"pool_size": "4:6", "requests": "19:21"},
        {"max_overflow": 10, "pool_timeout": 1.0, "client": "external"},
    )
    run_sweep(grid, tmp_path, make_executor(1, None, Settings()), progress=Silent)
    around = heatmap_figure(
        read_results(tmp_path / "results.parquet"), "pool_size", "requests", "frozen_seconds", {}
    )
    stars = [line for line in around.axes[0].lines if line.get_gid() == SEED_LABEL]
    assert [line.get_xydata().tolist() for line in stars] == [[[5.0, 20.0]]]
    elsewhere = heatmap_figure(
        read_results(results), "pool_size", "requests", "frozen_seconds", {"max_overflow": 2}
    )
    assert not [line for line in elsewhere.axes[0].lines if line.get_gid() == SEED_LABEL]


def test_plot_redraws_from_saved_results(
    results: Path, tmp_path: Path, drawn: list[Figure]
) -> None:
    out = tmp_path / "errors.png"
    argv = ["plot", str(results), "--z", "server_errors", "--where", "max_overflow=2"]
    assert main([*argv, "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == PNG
    (fig,) = drawn
    assert fig.axes[1].get_ylabel() == LABELS["server_errors"]
    cells = _cells(fig, (8, 4))
    for row in read_results(results, where={"max_overflow": 2}).to_pylist():
        assert cells[row["requests"] - 1, row["pool_size"] - 1] == row["server_errors"]


@pytest.mark.parametrize(
    "extra", [["--where", "max_overflow=7"], ["--z", "colour"], ["--where", "nonsense"]]
)
def test_bad_plot_requests_exit_2(results: Path, tmp_path: Path, extra: list[str]) -> None:
    assert main(["plot", str(results), "--out", str(tmp_path / "x.png"), *extra]) == 2


def _ends(fig: Figure, outcome: str) -> list[tuple[float, float]]:
    """Where the Gantt chart marks requests ending in `outcome`: (seconds, request number)."""
    ax = fig.axes[0]
    return sorted(tuple(line.get_xydata()[0]) for line in ax.lines if line.get_gid() == outcome)


def _ended(result: Result, outcome: str) -> list[tuple[float, float]]:
    status = {"HTTP 500": 500, "done (200)": 200, "client time-out": None}[outcome]
    return sorted((r.completed_at, r.i) for r in result.requests if r.status == status)


def test_run_plot_draws_each_request_its_outcome_and_the_freezes(
    tmp_path: Path, drawn: list[Figure], capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "timeline.png"
    argv = ["run", "--requests", "8", "--pool-size", "2", "--max-overflow", "0", *BURSTS]
    assert main([*argv, "--plot", str(out), "--json"]) == 0
    assert out.read_bytes()[:8] == PNG
    (fig,) = drawn
    result = Result.from_json(capsys.readouterr().out)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "seconds since the burst was fired"
    assert _ends(fig, "HTTP 500") == _ended(result, "HTTP 500") and len(_ended(result, "HTTP 500"))
    assert _ends(fig, "done (200)") == _ended(result, "done (200)")
    frozen = [p for p in ax.patches if p.get_gid() == "loop frozen"]
    assert len(frozen) == result.summary.freezes > 0
    assert len(ax.patches) - len(frozen) == 2 * len(result.requests)  # waiting, then holding


def test_gantt_marks_client_timeouts(tmp_path: Path) -> None:
    s = Scenario.create(requests=6, pool_size=1, max_overflow=0, pool_timeout=2, client_timeout=1)
    result = simulate(s)
    timed_out = _ends(gantt_figure(result), "client time-out")
    assert len(timed_out) == result.summary.client_errors > 0
    assert [i for _, i in timed_out] == [i for _, i in _ended(result, "client time-out")]


def test_first_freeze_vs_rate_draws_the_model_between_the_queueing_estimates(tmp_path: Path):
    base = Scenario.create(stack="modern", pool_size=2, max_overflow=0, pool_timeout=0.5)
    rates = [5.0, 20.0]
    out = plots.first_freeze_vs_rate(base, rates, seeds=1, out=tmp_path / "mttf.png")
    assert out.read_bytes()[:8] == PNG and not list(tmp_path.glob(".*partial"))
    ax = first_freeze_figure(base, rates, seeds=1).axes[0]
    lines = {line.get_label(): line for line in ax.lines}
    upper = lines["M/M/c/c first passage (upper estimate)"].get_ydata()
    lower = lines["1 / (rate x Erlang B) (lower bound)"].get_ydata()
    assert list(upper) == [mean_time_to_first_freeze(r, base) for r in rates]
    assert list(lower) == [blocked_arrival_interval(r, base) for r in rates]
    assert all(lo <= up for lo, up in zip(lower, upper, strict=True))
    model = [line.get_xydata()[0] for line in ax.lines if line.get_gid() == "model"]
    assert [x for x, _ in model] == rates and all(0 < y <= 30 for _, y in model)
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "mean time to the first freeze (s)"


def test_a_sweep_over_poisson_rates_plots_rate_as_a_numeric_axis(tmp_path, drawn):
    out = tmp_path / "sweep"
    args = ["--pool-size", "1,2", "--requests", "20", "--max-overflow", "0"]
    args += ["--endpoint", "async-sync-session", "--arrival", "poisson:2,poisson:4"]
    args += ["--duration", "3", "--client", "external", "--pool-timeout", "0.5"]
    assert main(["sweep", *args, "--out", str(out), "--quiet", "--workers", "1"]) == 0
    png = tmp_path / "collapse.png"
    plot = ["plot", str(out / "results.parquet"), "--x", "arrival", "--y", "pool_size"]
    drawn.clear()
    assert main([*plot, "--z", "frozen_fraction", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == PNG
    (fig,) = drawn
    ax = fig.axes[0]
    assert ax.get_xlabel() == LABELS["arrival"]
    corners = ax.collections[0].get_coordinates()
    assert corners[0, :, 0].tolist() == [1.0, 3.0, 5.0]  # cells centred on rates 2 and 4


def test_plot_refuses_to_draw_several_rows_into_one_cell(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["--pool-size", "1,2", "--requests", "3,4", "--endpoint", "async-sync-session"]
    args += ["--max-overflow", "0", "--pool-timeout", "0.5", "--client", "external"]
    assert main(["sweep", *args, "--out", str(out), "--quiet", "--workers", "1"]) == 0
    plot = ["plot", str(out / "results.parquet"), "--x", "pool_size", "--y", "max_overflow"]
    assert main([*plot, "--z", "frozen_seconds", "--out", str(tmp_path / "x.png")]) == 2
    assert "fix requests with --where" in capsys.readouterr().err
