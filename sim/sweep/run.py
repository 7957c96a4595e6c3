"""Run a grid: skip scenarios already on disk, compute the rest in batches, assemble the table."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sim.scenario import Scenario
from sim.sweep.executors import Executor
from sim.sweep.grid import Grid
from sim.sweep.progress import Progress
from sim.sweep.rows import scenario_hash, seeded
from sim.sweep.store import Store


@dataclass(frozen=True)
class SweepOutcome:
    results: Path
    rows: int
    computed: int
    resumed: int
    seconds: float


def _keyed(grid: Grid) -> Iterator[tuple[int, str, Scenario]]:
    """(grid index, hash, seeded scenario) for every point of the grid, in grid order."""
    for index, scenario in enumerate(grid.scenarios()):
        final = seeded(scenario)
        yield index, scenario_hash(final), final


def run_sweep(
    grid: Grid,
    out: Path,
    executor: Executor,
    fmt: str = "parquet",
    batch_size: int = 256,
    progress: type[Progress] = Progress,
) -> SweepOutcome:
    start = time.monotonic()
    store = Store(out)
    done = store.done_hashes()
    wanted = {key for _, key, _ in _keyed(grid)}
    bar = progress(len(wanted), done=len(wanted & done))
    pending = ((i, s.to_params()) for i, key, s in _keyed(grid) if key not in done)
    computed = 0
    try:
        while batch := list(itertools.islice(pending, batch_size)):
            rows = executor.map([params for _, params in batch])
            store.write_batch(batch[0][0], rows)
            computed += len(rows)
            bar.advance(len(rows))
    finally:
        executor.close()
        bar.close()
    results = store.assemble(wanted, fmt)
    return SweepOutcome(
        results=results,
        rows=len(wanted),
        computed=computed,
        resumed=len(wanted) - computed,
        seconds=time.monotonic() - start,
    )
