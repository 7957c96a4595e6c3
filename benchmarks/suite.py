"""Run every benchmark at one size (full or --quick) and collect the Results for the report."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks import gaps
from benchmarks.analytic import fast_path
from benchmarks.machine import describe
from benchmarks.model import growth, profile, throughput
from benchmarks.report import (
    Results,
    fast_path_section,
    growth_section,
    memory_section,
    profile_section,
    risk_section,
    scaling_section,
    throughput_section,
)
from benchmarks.risk import CROSS_EPISODES, cross_check, interval_figures, risk_runs, widest
from benchmarks.sweep import dask_cluster, memory, scaling, startup
from sim.risk.mttf import BUDGET
from sim.sweep import DEFAULT_GRID, Grid


@dataclass(frozen=True)
class Size:
    """How much work each benchmark does: the full run fits in ~10 minutes, quick in ~2."""

    requests: int
    repeat: int
    growth: tuple[int, ...]
    grid: Grid
    memory: tuple[int, int]
    risk_budget: int
    cross_episodes: int


FULL = Size(
    requests=10_000,
    repeat=3,
    growth=(100, 300, 1_000, 3_000, 10_000, 30_000, 100_000),
    grid=DEFAULT_GRID,
    memory=(1_000, 100_000),
    risk_budget=BUDGET,
    cross_episodes=CROSS_EPISODES,
)
QUICK = Size(
    requests=2_000,
    repeat=3,
    growth=(100, 300, 1_000, 3_000, 10_000),
    grid=DEFAULT_GRID.override({"pool_size": "1:10", "requests": "1:30"}),
    memory=(1_000, 10_000),
    risk_budget=BUDGET // 10,
    cross_episodes=3,
)


def run(size: Size, command: str) -> Results:
    machine = describe()
    t = throughput(size.requests, size.repeat)
    p = profile(size.requests)
    g = growth(size.growth, size.repeat)
    s = scaling(size.grid)
    up = startup(per_scenario=s.seconds[1] / s.scenarios)
    dask = dask_cluster(size.grid, local_seconds=s.seconds[2])
    m = memory(*size.memory)
    f = fast_path(size.grid, size.repeat)
    r = risk_runs(budget=size.risk_budget)
    check = cross_check(r, episodes=size.cross_episodes)
    return Results(
        machine=machine,
        command=command,
        figures=(
            t.requests,
            t.events,
            s.figure,
            *([dask] if dask is not None else []),
            up,
            g.figure,
            m.figure,
            f.predict,
            f.rows,
            *interval_figures(r),
        ),
        sections=(
            throughput_section(t),
            profile_section(p),
            scaling_section(s, up, machine.cores, dask),
            growth_section(g),
            memory_section(m),
            fast_path_section(f),
            risk_section(r, size.risk_budget, check),
        ),
        gaps={
            t.requests.name: gaps.model_speed(t),
            s.figure.name: gaps.sweep_scaling(s, machine.cores),
            m.figure.name: gaps.sweep_memory(m),
            g.figure.name: gaps.growth_slope(g),
            **{
                f.name: gaps.risk_interval(run)
                for f, run in zip(interval_figures(r), widest(r), strict=True)
            },
        },
    )
