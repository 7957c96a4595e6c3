"""Sweep output on disk: batch files written to a temp name then renamed, so a kill at any moment
leaves only whole files; the final table is assembled the same way.

Layout: OUT/parts/part-<first grid index>-<pid>-<n>.parquet, one per finished batch, and
OUT/results.parquet (or .csv) assembled from them in part order, one row per scenario hash.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sim.sweep.rows import HASH, schema


class Store:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts = out / "parts"
        self.parts.mkdir(parents=True, exist_ok=True)
        self._written = 0
        for stale in self.parts.glob("*.tmp"):  # a batch cut short by a kill: never read
            stale.unlink()

    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet"))

    def done_hashes(self) -> set[str]:
        done: set[str] = set()
        for path in self.part_files():
            done.update(pq.read_table(path, columns=[HASH]).column(HASH).to_pylist())
        return done

    def write_batch(self, first_index: int, rows: list[dict[str, Any]]) -> None:
        table = pa.Table.from_pylist(rows, schema=schema())
        self._written += 1
        name = f"part-{first_index:09d}-{os.getpid()}-{self._written:06d}.parquet"
        _atomic(self.parts / name, lambda tmp: pq.write_table(table, tmp))

    def batches(self, wanted: set[str]) -> Iterator[pa.Table]:
        """Each part's rows that belong to this grid, each scenario once, in part order."""
        seen: set[str] = set()
        for path in self.part_files():
            table = pq.read_table(path, schema=schema())
            hashes = table.column(HASH).to_pylist()
            keep = [h in wanted and h not in seen for h in hashes]
            seen.update(h for h, k in zip(hashes, keep, strict=True) if k)
            if any(keep):
                yield table.filter(pa.array(keep))

    def assemble(self, wanted: set[str], fmt: str) -> Path:
        """Write results.<fmt> from the parts, streaming one part at a time, atomically."""
        target = self.out / f"results.{fmt}"
        _atomic(target, lambda tmp: _write_all(tmp, self.batches(wanted), fmt))
        return target


def _write_all(path: Path, tables: Iterable[pa.Table], fmt: str) -> None:
    if fmt == "parquet":
        with pq.ParquetWriter(path, schema()) as writer:
            for table in tables:
                writer.write_table(table)
    else:
        with pacsv.CSVWriter(path, schema()) as writer:
            for table in tables:
                writer.write_table(table)


def _atomic(target: Path, write: Any) -> None:
    tmp = target.with_name(target.name + ".tmp")
    write(tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def read_results(path: str | Path) -> pa.Table:
    """A results file from `sweep`, parquet or CSV, with the sweep's column types."""
    path = Path(path)
    if path.suffix == ".csv":
        names = schema().names
        options = pacsv.ConvertOptions(column_types=schema(), include_columns=names)
        return pacsv.read_csv(path, convert_options=options)
    return pq.read_table(path)
