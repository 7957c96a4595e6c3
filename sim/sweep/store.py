"""Sweep output on disk: batch files written to a temp name then renamed, so a kill at any moment
leaves only whole files; the final table is assembled the same way.

Layout: OUT/parts/part-<first grid index>-<pid>-<n>.parquet, one per finished batch, and
OUT/results.parquet (or .csv) assembled from them in part order, one row per scenario hash.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from sim.sweep.digests import Digests, Latest, digests, first_new
from sim.sweep.rows import HASH, INPUTS, KEY, REPLICATION, schema

# Rows per row group of results.parquet: a writer holds every group's metadata until it closes,
# so one group per 256-row part grew with the sweep; much larger groups cost their own buffers.
ROW_GROUP = 2048


@dataclass(frozen=True)
class Earlier:
    """What earlier runs left: the resume keys of their rows (a row is reused under its own key
    only) and the inputs each scenario was last computed with (to say why it is recomputed)."""

    keys: Digests
    latest: Latest


class Store:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts = out / "parts"
        self.parts.mkdir(parents=True, exist_ok=True)
        for stale in self.parts.glob("*.tmp"):  # a batch cut short by a kill: never read
            stale.unlink()
        self.earlier = frozenset(self.part_files())
        # Each run numbers its parts from 1 and none is ever deleted, so counting on from the
        # number already there never reuses an earlier part's name, even in the same process.
        self._written = len(self.earlier)

    def part_files(self) -> list[Path]:
        return sorted(self.parts.glob("part-*.parquet"))

    def done(self) -> Earlier:
        """The rows finished by earlier runs, whatever grid they belonged to."""
        keys, scenarios, codes = [], [], []
        inputs: dict[str, int] = {}
        for path in sorted(self.earlier):
            columns = [HASH, INPUTS, KEY, REPLICATION]
            table = _keyed(pq.read_table(path, columns=columns, schema=schema()))
            keys.append(digests(table.column(KEY).to_pylist()))
            scenarios.append(digests(table.column(HASH).to_pylist()))
            encoded = table.column(INPUTS).combine_chunks().dictionary_encode()
            distinct = [inputs.setdefault(v, len(inputs)) for v in encoded.dictionary.to_pylist()]
            codes.append(np.array(distinct, dtype=np.uint32)[encoded.indices.to_numpy()])
        if not keys:
            return Earlier(Digests(), Latest(digests([]), np.empty(0, np.uint32), []))
        latest = Latest(np.concatenate(scenarios), np.concatenate(codes), list(inputs))
        return Earlier(Digests(np.concatenate(keys)), latest)

    def write_batch(self, first_index: int, rows: list[dict[str, Any]]) -> None:
        table = pa.Table.from_pylist(rows, schema=schema())
        self._written += 1
        name = f"part-{first_index:09d}-{os.getpid()}-{self._written:06d}.parquet"
        atomic(self.parts / name, lambda tmp: pq.write_table(table, tmp))

    def batches(self, kept: Digests) -> Iterator[pa.Table]:
        """Each part's rows that belong to this grid, each scenario once, in part order: every
        row this run wrote, and the rows of earlier parts whose resume key is in `kept`."""
        seen = Digests()
        for path in self.part_files():
            table = pq.read_table(path, schema=schema())
            if path in self.earlier:
                table = _keyed(table)
            scenarios = digests(table.column(HASH).to_pylist())
            keep = first_new(scenarios, seen)
            if path in self.earlier:
                keep &= kept.contains(digests(table.column(KEY).to_pylist()))
            seen.add(scenarios[keep])
            if keep.any():
                yield table.filter(pa.array(keep))

    def assemble(self, kept: Digests, fmt: str) -> tuple[Path, int]:
        """Write results.<fmt> from the parts, streaming one part at a time, atomically; the
        path and the number of rows written."""
        target = self.out / f"results.{fmt}"
        counted = _Counted(self.batches(kept))
        atomic(target, lambda tmp: _write_all(tmp, counted, fmt))
        return target, counted.rows


class _Counted:
    """Tables passing through, counting their rows on the way to the writer."""

    def __init__(self, tables: Iterable[pa.Table]) -> None:
        self.tables = tables
        self.rows = 0

    def __iter__(self) -> Iterator[pa.Table]:
        for table in self.tables:
            self.rows += table.num_rows
            yield table


def _keyed(table: pa.Table) -> pa.Table:
    """The rows that carry a resume key and a replication index: a part written before rows
    recorded their inputs (or their replication) cannot say what it was computed as, so none
    of its rows is reused."""
    keyed = pc.and_(pc.is_valid(table.column(KEY)), pc.is_valid(table.column(REPLICATION)))
    return table.filter(keyed)


def _write_all(path: Path, tables: Iterable[pa.Table], fmt: str) -> None:
    if fmt == "parquet":
        with pq.ParquetWriter(path, schema()) as writer:
            for table in _regrouped(tables, ROW_GROUP):
                writer.write_table(table)
    else:
        with pacsv.CSVWriter(path, schema()) as writer:
            for table in tables:
                writer.write_table(table)


def _regrouped(tables: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """The tables joined into runs of at least `rows` rows (the last may be short)."""
    held: list[pa.Table] = []
    count = 0
    for table in tables:
        held.append(table)
        count += table.num_rows
        if count >= rows:
            yield pa.concat_tables(held)
            held, count = [], 0
    if held:
        yield pa.concat_tables(held)


def atomic(target: Path, write: Any) -> None:
    tmp = target.with_name(target.name + ".tmp")
    write(tmp)
    with open(tmp, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, target)


def results_dataset(path: str | Path, types: pa.Schema | None = None) -> ds.Dataset:
    """A results file from `sweep`, parquet or CSV, with the sweep's column types (or `types`,
    for the cells table), scanned lazily: readers take the columns and rows they need, never
    the whole table at once."""
    path = Path(path)
    if path.suffix == ".csv":
        types = types or schema()
        options = pacsv.ConvertOptions(column_types=types)
        return ds.dataset(path, schema=types, format=ds.CsvFileFormat(convert_options=options))
    return ds.dataset(path, format="parquet")


def read_results(
    path: str | Path,
    columns: list[str] | None = None,
    where: dict[str, Any] | None = None,
    types: pa.Schema | None = None,
) -> pa.Table:
    """The rows equal to `where` (None matching an empty cell), only `columns` if given."""
    match = None
    for name, value in (where or {}).items():
        term = ds.field(name).is_null() if value is None else ds.field(name) == value
        match = term if match is None else match & term
    return results_dataset(path, types).to_table(columns=columns, filter=match)
