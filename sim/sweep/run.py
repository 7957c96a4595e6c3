"""Run a grid: skip rows already on disk under the same key, compute the rest in batches,
assemble the table.

The parent walks the grid once, lazily, and keeps no per-scenario state for a fresh sweep; a
resumed one also holds the digests of the rows found on disk (`store.Earlier`). Workers build,
key and seed each scenario themselves, so the parent's serial share stays small next to theirs.
A scenario on disk under other inputs is recomputed, and the outcome says which inputs moved.
"""

from __future__ import annotations

import itertools
import time
from collections import Counter, deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.sweep.cells import MTTF_BUDGET, write_cells
from sim.sweep.digests import Digests, digests
from sim.sweep.executors import Executor, Pending
from sim.sweep.grid import Grid
from sim.sweep.keys import Settings, build, changes
from sim.sweep.progress import Progress
from sim.sweep.store import Earlier, Store

Batch = list[tuple[int, dict[str, Any]]]  # (grid index, point)

# Batches submitted ahead of the one being written: enough that every worker has queued work
# while the parent waits on, then writes, the oldest.
AHEAD = 3


@dataclass(frozen=True)
class SweepOutcome:
    results: Path
    rows: int
    computed: int
    resumed: int
    seconds: float
    recomputed: tuple[tuple[tuple[str, ...], int], ...] = ()  # (what changed, rows), most first
    cells: Path | None = None  # the aggregated table, for a grid with replications

    @property
    def tally(self) -> str:
        """The rows and where they came from, for the summary line and the report."""
        text = f"{self.rows} rows ({self.computed} computed, {self.resumed} resumed"
        if self.recomputed:
            stale = sum(rows for _, rows in self.recomputed)
            why = ", ".join(f"{' and '.join(what)} ({rows})" for what, rows in self.recomputed)
            text += f"; {stale} recomputed: {why}"
        return text + ")"


def _batches(grid: Grid, size: int) -> Iterator[Batch]:
    indexed = enumerate(grid.jobs())
    while batch := list(itertools.islice(indexed, size)):
        yield batch


def _pending(
    grid: Grid,
    size: int,
    settings: Settings,
    earlier: Earlier,
    kept: Digests,
    stale: Counter[tuple[str, ...]],
    bar: Progress,
) -> Iterator[Batch]:
    """The grid's batches less the rows an earlier run left under the same key, which go into
    `kept`; a scenario stored under other inputs is computed again and counted in `stale`."""
    for batch in _batches(grid, size):
        if not len(earlier.keys):
            yield batch
            continue
        keys = [build(point, settings)[1] for _, point in batch]
        resume = digests(key.resume for key in keys)
        found = earlier.keys.contains(resume)
        kept.add(resume[found])
        bar.skip(int(found.sum()))
        missed = [key for key, hit in zip(keys, found, strict=True) if not hit]
        stored = earlier.latest.lookup(digests(key.identity for key in missed))
        stale.update(
            changes(old, key.inputs) for key, old in zip(missed, stored, strict=True) if old
        )
        todo = [entry for entry, hit in zip(batch, found, strict=True) if not hit]
        if todo:
            yield todo


def _compute(executor: Executor, batches: Iterator[Batch], store: Store, bar: Progress) -> None:
    """Submit batches up to `AHEAD` beyond the one being written; write each in grid order."""
    queue: deque[tuple[int, Pending]] = deque()
    for batch in batches:
        queue.append((batch[0][0], executor.submit([point for _, point in batch])))
        if len(queue) > AHEAD:
            _write(*queue.popleft(), store, bar)
    while queue:
        _write(*queue.popleft(), store, bar)


def _write(first: int, pending: Pending, store: Store, bar: Progress) -> None:
    rows = pending.result()
    store.write_batch(first, rows)
    bar.advance(len(rows))


def run_sweep(
    grid: Grid,
    out: Path,
    executor: Executor,
    fmt: str = "parquet",
    batch_size: int = 256,
    progress: type[Progress] = Progress,
    mttf_budget: int = MTTF_BUDGET,
) -> SweepOutcome:
    """With replications, also the aggregated table (`sweep.cells`), its MTTF estimates
    computed by the same executor within `mttf_budget` simulated requests per cell."""
    start = time.monotonic()
    store = Store(out)
    earlier, kept, stale = store.done(), Digests(), Counter[tuple[str, ...]]()
    cells = None
    try:
        bar = progress(grid.rows)
        try:
            batches = _pending(grid, batch_size, executor.settings, earlier, kept, stale, bar)
            _compute(executor, batches, store, bar)
        finally:
            bar.close()
        results, rows = store.assemble(kept, fmt)
        if grid.replications > 1:
            cells = write_cells(results, out, executor.calls, mttf_budget, progress)
    finally:
        executor.close()
    return SweepOutcome(
        results=results,
        rows=rows,
        computed=rows - len(kept),
        resumed=len(kept),
        seconds=time.monotonic() - start,
        recomputed=tuple(stale.most_common()),
        cells=cells,
    )
