"""Run a grid: skip scenarios already on disk, compute the rest in batches, assemble the table.

The parent walks the grid once, lazily, and keeps no per-scenario state for a fresh sweep; a
resumed one also holds the 8-byte digests of the rows found on disk. Workers build, seed and
hash each scenario themselves, so the parent's serial share stays small next to theirs.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.scenario import Scenario
from sim.sweep.digests import Digests, digests
from sim.sweep.executors import Executor, Pending
from sim.sweep.grid import Grid
from sim.sweep.progress import Progress
from sim.sweep.rows import scenario_hash, seeded
from sim.sweep.store import Store

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


def _batches(grid: Grid, size: int) -> Iterator[Batch]:
    indexed = enumerate(grid.points())
    while batch := list(itertools.islice(indexed, size)):
        yield batch


def _keys(batch: Batch) -> Any:
    """The digest of each point's seeded scenario: what an earlier run stored it under."""
    return digests(scenario_hash(seeded(Scenario.create(**point))) for _, point in batch)


def _pending(grid: Grid, size: int, done: Digests, kept: Digests, bar: Progress) -> Iterator[Batch]:
    """The grid's batches less the points an earlier run finished, which go into `kept`."""
    for batch in _batches(grid, size):
        if not len(done):
            yield batch
            continue
        keys = _keys(batch)
        found = done.contains(keys)
        kept.add(keys[found])
        bar.skip(int(found.sum()))
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
) -> SweepOutcome:
    start = time.monotonic()
    store = Store(out)
    done, kept = store.done(), Digests()
    bar = progress(len(grid))
    try:
        _compute(executor, _pending(grid, batch_size, done, kept, bar), store, bar)
    finally:
        executor.close()
        bar.close()
    results, rows = store.assemble(kept, fmt)
    return SweepOutcome(
        results=results,
        rows=rows,
        computed=rows - len(kept),
        resumed=len(kept),
        seconds=time.monotonic() - start,
    )
