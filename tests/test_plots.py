"""Pictures are written from saved results and from one run; bad plot requests exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.cli import main
from sim.model import simulate
from sim.plots import gantt
from sim.scenario import Scenario

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sweep")
    argv = [
        "sweep",
        "--pool-size",
        "1:4",
        "--requests",
        "1:8",
        "--max-overflow",
        "0,2",
        "--endpoint",
        "async-sync-session",
        "--pool-timeout",
        "2",
        "--out",
        str(out),
        "--workers",
        "1",
        "--quiet",
    ]
    assert main(argv) == 0
    return out / "results.parquet"


def test_sweep_draws_one_heatmap_pair_per_combination(results: Path) -> None:
    pictures = sorted(p.name for p in results.parent.glob("heatmap-*.png"))
    assert pictures == [
        f"heatmap-{z}-max_overflow={o}.png"
        for z in ("frozen-seconds", "handled-before-freeze")
        for o in (0, 2)
    ]


def test_plot_redraws_from_saved_results(results: Path, tmp_path: Path) -> None:
    out = tmp_path / "errors.png"
    argv = [
        "plot",
        str(results),
        "--z",
        "server_errors",
        "--where",
        "max_overflow=2",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    assert out.read_bytes()[:4] == PNG


@pytest.mark.parametrize(
    "extra", [["--where", "max_overflow=7"], ["--z", "colour"], ["--where", "nonsense"]]
)
def test_bad_plot_requests_exit_2(results: Path, tmp_path: Path, extra: list[str]) -> None:
    assert main(["plot", str(results), "--out", str(tmp_path / "x.png"), *extra]) == 2


def test_run_plot_draws_the_gantt_timeline(tmp_path: Path) -> None:
    out = tmp_path / "timeline.png"
    argv = [
        "run",
        "--requests",
        "8",
        "--pool-size",
        "2",
        "--max-overflow",
        "0",
        "--pool-timeout",
        "2",
        "--client",
        "external",
        "--plot",
        str(out),
    ]
    assert main(argv) == 0
    assert out.read_bytes()[:4] == PNG


def test_gantt_handles_client_timeouts(tmp_path: Path) -> None:
    s = Scenario.create(requests=6, pool_size=1, max_overflow=0, pool_timeout=2, client_timeout=1)
    assert gantt(simulate(s), tmp_path / "t.png").read_bytes()[:4] == PNG


def test_first_freeze_vs_rate_draws_a_png(tmp_path):
    from sim.plots import first_freeze_vs_rate

    base = Scenario.create(stack="modern", pool_size=2, max_overflow=0, pool_timeout=0.5)
    out = first_freeze_vs_rate(base, [5.0, 20.0], seeds=1, out=tmp_path / "mttf.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob(".*partial"))


def test_a_sweep_over_poisson_rates_plots_rate_as_a_numeric_axis(tmp_path):
    out = tmp_path / "sweep"
    args = ["--pool-size", "1,2", "--requests", "20", "--max-overflow", "0"]
    args += ["--endpoint", "async-sync-session", "--arrival", "poisson:2,poisson:4"]
    args += ["--duration", "3", "--client", "external", "--pool-timeout", "0.5"]
    assert main(["sweep", *args, "--out", str(out), "--quiet", "--workers", "1"]) == 0
    png = tmp_path / "collapse.png"
    plot = ["plot", str(out / "results.parquet"), "--x", "arrival", "--y", "pool_size"]
    assert main([*plot, "--z", "frozen_fraction", "--out", str(png)]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_plot_refuses_to_draw_several_rows_into_one_cell(tmp_path, capsys):
    out = tmp_path / "sweep"
    args = ["--pool-size", "1,2", "--requests", "3,4", "--endpoint", "async-sync-session"]
    args += ["--max-overflow", "0", "--pool-timeout", "0.5", "--client", "external"]
    assert main(["sweep", *args, "--out", str(out), "--quiet", "--workers", "1"]) == 0
    plot = ["plot", str(out / "results.parquet"), "--x", "pool_size", "--y", "max_overflow"]
    assert main([*plot, "--z", "frozen_seconds", "--out", str(tmp_path / "x.png")]) == 2
    assert "fix requests with --where" in capsys.readouterr().err
