"""Sweep benchmarks: 1 vs 2 workers on the default grid, the same grid on a Dask cluster, a
worker's start-up cost, and the peak memory of a small against a large sweep.

Memory, start-up and the Dask cluster are measured in fresh child processes: the peak RSS of a
process never goes down, a worker forked from this process would inherit modules the CLI has not
imported yet, and a cluster's processes end with the child that started them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.figures import Figure, best_time
from sim.sweep import DEFAULT_GRID, Grid, run_sweep
from sim.sweep.executors import make_executor
from sim.sweep.keys import Settings, build
from sim.sweep.progress import Silent
from sim.sweep.rows import seeded

SCALING = "sweep speed-up, 2 workers over 1"
DASK = "sweep on a Dask cluster over local processes"
STARTUP = "worker start-up"
MEMORY = "sweep peak memory, large over small"

# One request per scenario on the seed's endpoint: the closed form is exact for every point, so
# with --fast the large sweep measures the sweep's own bookkeeping, not the model.
CHEAP = {"requests": "1", "endpoint": "async-sync-session"}


def memory_axes(scenarios: int) -> dict[str, str]:
    """pool_size x max_overflow x pool_timeout with `scenarios` points (a multiple of 10)."""
    side = int(round((scenarios / 10) ** 0.5))
    return {
        **CHEAP,
        "pool_size": f"1:{side}",
        "max_overflow": f"0:{side - 1}",
        "pool_timeout": "1:10",
    }


@dataclass(frozen=True)
class Scaling:
    """The speed-up, and what bounds it: CPU used per run, the load average from before to
    after (other tenants), and the time one serial pass over the grid (build, seed, hash) takes
    in the parent, which no worker can share."""

    figure: Figure
    seconds: dict[int, float]
    cpu_seconds: dict[int, tuple[float, float]]
    scenarios: int
    load: tuple[float, float]
    grid_pass_seconds: float

    @property
    def idle_bound(self) -> float:
        """The speed-up two idle cores would give with the CPU this run used: the parent's
        serial part plus the workers' CPU split evenly, against the 1-worker wall time."""
        parent, workers = self.cpu_seconds[2]
        return self.seconds[1] / (parent + workers / 2)


def _sweep_seconds(
    grid: Grid, workers: int, fast: bool = False, dask: str | None = None
) -> tuple[float, tuple[float, float]]:
    """Wall seconds of one sweep into a fresh directory, and CPU seconds of this process and of
    its (reaped) workers: in the 2-worker run the parent's share is the serial part."""
    with tempfile.TemporaryDirectory() as out:
        before = os.times()
        start = time.perf_counter()
        run_sweep(
            grid, Path(out), make_executor(workers, dask, Settings(fast=fast)), progress=Silent
        )
        wall = time.perf_counter() - start
        after = os.times()
    parent = after.user + after.system - before.user - before.system
    workers_cpu = (
        after.children_user + after.children_system - before.children_user - before.children_system
    )
    return wall, (parent, max(0.0, workers_cpu))  # float noise when no child ran


def scaling(grid: Grid) -> Scaling:
    """The same grid on 1 and then 2 worker processes, wall clock (the work spreads over
    processes, so the CPU clock cannot time it); the load average says how much of the machine
    was ours."""
    load_before = os.getloadavg()[0]
    one, one_cpu = _sweep_seconds(grid, 1)
    two, two_cpu = _sweep_seconds(grid, 2)
    load = (load_before, os.getloadavg()[0])
    grid_pass = best_time(lambda: [_keyed_and_seeded(p) for p in grid.points()], 1)
    figure = Figure(
        name=SCALING,
        value=1 / two,
        reference=1 / one,
        unit="sweeps/s",
        reference_name="the same sweep on 1 worker",
        target=1.7,
        note=f"{len(grid)} scenarios: {one:.1f} s on 1 worker, {two:.1f} s on 2 (wall)",
    )
    return Scaling(figure, {1: one, 2: two}, {1: one_cpu, 2: two_cpu}, len(grid), load, grid_pass)


def _keyed_and_seeded(point: dict[str, object]) -> str:
    """What a worker does to a point before it runs the model (and the parent on a resume)."""
    scenario, key = build(point, Settings())
    seeded(scenario)
    return key.resume


def dask_cluster(grid: Grid, local_seconds: float, workers: int = 2) -> Figure | None:
    """The same sweep through `--dask ADDRESS` on a LocalCluster of `workers` single-threaded
    processes (started, but not timed, in a fresh child), against `workers` local processes;
    None without dask.distributed."""
    measured = _child("dask", {"axes": dict(grid.axes), "fixed": grid.fixed, "workers": workers})
    if measured is None:
        return None
    return Figure(
        name=DASK,
        value=1 / measured["seconds"],
        reference=1 / local_seconds,
        unit="sweeps/s",
        reference_name=f"the same sweep on {workers} local worker processes",
        note=f"{len(grid)} scenarios: {measured['seconds']:.1f} s on a LocalCluster of {workers} "
        f"worker processes reached by its address, {local_seconds:.1f} s on {workers} local "
        "processes (wall)",
    )


def startup(per_scenario: float, workers: int = 2) -> Figure:
    """Seconds from creating a worker pool to its first rows, less the same rows on warm workers,
    in a fresh process that has imported only what `python -m sim sweep` imports."""
    measured = _child("startup", {"workers": workers})
    cost = measured["cold"] - measured["warm"]
    return Figure(
        name=STARTUP,
        value=cost,
        reference=per_scenario,
        unit="s",
        reference_name="one default-grid scenario on 1 worker (mean)",
        note=f"{workers} workers start in parallel; each pays this once "
        f"(cold first rows {measured['cold']:.3f} s, warm {measured['warm']:.3f} s)",
    )


@dataclass(frozen=True)
class Memory:
    figure: Figure
    seconds: dict[int, float]
    peak_kb: dict[int, int]


def memory(small: int, large: int) -> Memory:
    """Peak RSS of a fresh child process running `run_sweep` (--fast, one worker, in that
    process) over each size."""
    peaks, seconds = {}, {}
    for size in (small, large):
        measured = _child("sweep", {"axes": memory_axes(size), "fast": True})
        peaks[size], seconds[size] = measured["maxrss_kb"], measured["seconds"]
    figure = Figure(
        name=MEMORY,
        value=peaks[large] / 1024,
        reference=peaks[small] / 1024,
        unit="MB",
        reference_name=f"the same sweep over {small} scenarios",
        target=1.2,
        direction="max",
        note=f"{small} vs {large} scenarios, --fast (analytic, exact for all: one request each), "
        f"1 worker, run_sweep only (the CLI's report stage is not included); "
        f"{seconds[small]:.1f} s vs {seconds[large]:.1f} s",
    )
    return Memory(figure, seconds, peaks)


def _child(task: str, args: dict[str, Any]) -> dict[str, Any]:
    """Run `_child_main(task, args)` in a fresh interpreter and return its JSON line."""
    code = "import sys; from benchmarks.sweep import _child_main; _child_main(*sys.argv[1:])"
    done = subprocess.run(
        [sys.executable, "-c", code, task, json.dumps(args)],
        stdout=subprocess.PIPE,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    return json.loads(done.stdout)


def _peak_rss_kb() -> int:
    """This process's peak resident set: VmHWM on Linux, which starts afresh at exec. The child's
    ru_maxrss would not do: Linux carries the forking parent's high-water mark over the exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _child_main(task: str, args_json: str) -> None:
    args = json.loads(args_json)
    if task == "startup":
        print(json.dumps(_startup_in_child(args["workers"])))
    elif task == "dask":
        grid = Grid(axes={k: tuple(v) for k, v in args["axes"].items()}, fixed=args["fixed"])
        print(json.dumps(_dask_in_child(grid, args["workers"])))
    else:
        grid = DEFAULT_GRID.override(args["axes"])
        wall, _ = _sweep_seconds(grid, 1, fast=args["fast"])
        print(json.dumps({"seconds": wall, "maxrss_kb": _peak_rss_kb()}))


def _startup_in_child(workers: int) -> dict[str, float]:
    from sim.sweep.executors import LocalProcesses

    tiny = [{**DEFAULT_GRID.fixed, "requests": 1}] * workers
    start = time.perf_counter()
    pool = LocalProcesses(workers, Settings())
    pool.map(tiny)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    pool.map(tiny)
    warm = time.perf_counter() - start
    pool.close()
    return {"cold": cold, "warm": warm}


def _dask_in_child(grid: Grid, workers: int) -> dict[str, float] | None:
    try:
        from distributed import LocalCluster
    except ImportError:
        return None
    with LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        wall, _ = _sweep_seconds(grid, 1, dask=cluster.scheduler_address)
    return {"seconds": wall}
