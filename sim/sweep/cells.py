"""The aggregated table of a replicated sweep: one row per cell (scenario) from its K runs.

Each cell gets what `sim run --replications K` prints for its run-0 scenario, by the same
`risk_of`: P(freeze within the run) and P(collapse) with Wilson 95 % intervals, the first-freeze
quantiles, the frozen fraction and the error rate. A cell under steady Poisson traffic from an
external client also gets the model's mean time to the first freeze (MTTF), estimated along each
line of cells that differ only in rate, highest rate first:

  - where at least half the cell's runs froze, from those runs: the exponential MLE, exposure
    over freezes, with its chi-square interval (`intervals.exponential_mean`; runs start from an
    empty pool, a bias of at most one hold per run, and censored at the run's duration);
  - else by multilevel splitting (`sim.risk.mttf.splitting`) within `budget` simulated requests
    per cell; what the budget cannot tell is a lower bound (`mttf_s` null, `mttf_lo` the bound),
    unless some of the cell's runs froze: then those runs' estimate, however wide;
  - once a cell's lower end passes the longest horizon asked about (`TOP`, a day), the cells at
    lower rates are not run: a freeze is no likelier with fewer arrivals, so each carries that
    lower end as its own lower bound (method `BOUNDED`).

The estimates of a line are cached under `OUT/mttf/` by everything they depend on (the cells'
rows, the budget, the model's and the estimator's source), so a resumed sweep reuses them.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, fields
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from sim.result import Summary
from sim.risk.intervals import exponential_mean
from sim.risk.mttf import WITHIN, splitting
from sim.risk.replications import QUANTILES, risk_of
from sim.scenario import Scenario, parse_arrival
from sim.sweep.executors import Calls
from sim.sweep.keys import canonical, model_version, sha256
from sim.sweep.progress import Progress
from sim.sweep.rows import CELL, INPUTS, REPLICATION, scenario_columns, scenario_fields, schema
from sim.sweep.store import atomic, results_dataset

TOP = max(WITHIN)  # the longest MTTF contour drawn (a day): no need to look past it
FROM_RUNS = "replications (the cell's runs, exponential)"
SPLITTING = "splitting"
BOUNDED = "bounded by a higher rate"
# The splitting budget per cell (simulated requests) when none is given: enough for one batch of
# a pool of ~10 near a day's MTTF on the 2-core machine of 2026-12 (about 4 s of CPU).
MTTF_BUDGET = 20_000


def _quantile(q: float) -> str:
    return f"first_freeze_q{round(100 * q):02d}"


RISK_COLUMNS = [
    pa.field("replications", pa.int64()),
    *[pa.field(name, pa.float64()) for name in ("p_freeze", "p_freeze_lo", "p_freeze_hi")],
    *[pa.field(name, pa.float64()) for name in ("p_collapse", "p_collapse_lo", "p_collapse_hi")],
    *[pa.field(_quantile(q), pa.float64()) for q in QUANTILES],
    *[pa.field(n, pa.float64()) for n in ("frozen_fraction", "frozen_fraction_lo")],
    *[pa.field(n, pa.float64()) for n in ("frozen_fraction_hi", "error_rate")],
    *[pa.field(n, pa.float64()) for n in ("error_rate_lo", "error_rate_hi")],
]
MTTF_COLUMNS = [
    *[pa.field(name, pa.float64()) for name in ("mttf_s", "mttf_lo", "mttf_hi")],
    pa.field("mttf_method", pa.string()),
    pa.field("mttf_requests", pa.int64()),
    pa.field("mttf_notes", pa.string()),
]


def cells_schema() -> pa.Schema:
    rows = schema()
    scenario = [rows.field(name) for name in scenario_columns()]
    return pa.schema([*scenario, rows.field(CELL), *RISK_COLUMNS, *MTTF_COLUMNS])


@dataclass(frozen=True)
class Cell:
    """What the MTTF of one cell is estimated from: its run-0 scenario and its runs' freezes."""

    cell: str
    inputs: str
    params: dict[str, Any]  # Scenario fields, run 0's seed
    rate: float
    runs: int
    froze: int
    exposure: float  # seconds watched for the first freeze, summed over the runs


def steady(params: dict[str, Any]) -> float | None:
    """The Poisson rate of a cell the MTTF estimators can take (external client), else None."""
    arrival = parse_arrival(params["arrival"])
    if arrival.kind != "poisson" or params["client"] != "external":
        return None
    return arrival.rate


@functools.cache
def estimator_version() -> str:
    """The model's version and a digest of the estimators' source (sim/risk/)."""
    digest = hashlib.sha256()
    for path in sorted((Path(__file__).resolve().parents[1] / "risk").glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{model_version()}+{digest.hexdigest()[:16]}"


def line_mttf(line: list[Cell], budget: int) -> list[dict[str, Any]]:
    """Worker entry point: the MTTF columns of each cell of a line, highest rate first."""
    found = []
    bound: float | None = None
    for cell in sorted(line, key=lambda c: -c.rate):
        requests, notes = 0, ""
        if bound is not None:
            mean, lo, hi, method = None, bound, None, BOUNDED
        elif 2 * cell.froze >= cell.runs:
            mean, (lo, hi) = exponential_mean(cell.exposure, cell.froze)
            method = FROM_RUNS
        else:
            estimate = splitting(Scenario.create(**cell.params), cell.rate, budget=budget)
            mean, (lo, hi) = estimate.mttf_s, estimate.mttf_ci
            method, requests, notes = SPLITTING, estimate.requests, "; ".join(estimate.notes)
            if mean is None and cell.froze:  # the runs saw freezes the budget could not reach
                mean, (lo, hi) = exponential_mean(cell.exposure, cell.froze)
                method, notes = FROM_RUNS, f"splitting ran out of budget; {notes}"
        if lo > TOP and bound is None:
            bound = lo
        found.append(
            {
                "cell": cell.cell,
                "mttf_s": _finite(mean),
                "mttf_lo": lo,
                "mttf_hi": _finite(hi),
                "mttf_method": method,
                "mttf_requests": requests,
                "mttf_notes": notes,
            }
        )
    return found


def _finite(value: float | None) -> float | None:
    """Parquet keeps inf, CSV does not read it back: an unbounded end is stored as null."""
    return None if value is None or math.isinf(value) else value


def _cells(results: Path) -> Iterator[tuple[dict[str, Any], list[Summary]]]:
    """Each cell's run-0 row and its runs' summaries in replication order, in grid order."""
    names = [*scenario_columns(), CELL, INPUTS, REPLICATION, *(f.name for f in fields(Summary))]
    table = results_dataset(results).to_table(columns=names)
    runs: dict[str, list[dict[str, Any]]] = {}
    for row in table.to_pylist():
        runs.setdefault(row[CELL], []).append(row)
    for rows in runs.values():
        rows.sort(key=lambda r: r[REPLICATION])
        yield rows[0], [Summary(**{f.name: r[f.name] for f in fields(Summary)}) for r in rows]


def _risk_columns(summaries: list[Summary]) -> dict[str, Any]:
    risk = risk_of(summaries)
    flat: dict[str, Any] = {"replications": risk.replications}
    for name in ("p_freeze", "p_collapse", "frozen_fraction", "error_rate"):
        flat[name] = getattr(risk, name)
        flat[f"{name}_lo"], flat[f"{name}_hi"] = getattr(risk, f"{name}_ci")
    for q in QUANTILES:
        flat[_quantile(q)] = risk.first_freeze_quantiles[f"{q:g}"]
    return flat


def _lines(cells: list[Cell]) -> list[list[Cell]]:
    """Cells grouped by every Scenario field besides the rate (and the seed), in grid order."""
    lines: dict[str, list[Cell]] = {}
    for cell in cells:
        others = {k: v for k, v in cell.params.items() if k not in ("arrival", "seed")}
        lines.setdefault(canonical(others), []).append(cell)
    return list(lines.values())


class Cache:
    """One JSON file per line under OUT/mttf/, named by the digest of all its inputs."""

    def __init__(self, out: Path, budget: int) -> None:
        self.folder = out / "mttf"
        self.budget = budget

    def path(self, line: list[Cell]) -> Path:
        inputs = [[c.cell, c.inputs, c.runs, c.froze, c.exposure] for c in line]
        key = {"budget": self.budget, "cells": inputs, "estimators": estimator_version()}
        return self.folder / f"{sha256(canonical(key))[:32]}.json"

    def get(self, line: list[Cell]) -> list[dict[str, Any]] | None:
        path = self.path(line)
        return json.loads(path.read_text()) if path.exists() else None

    def put(self, line: list[Cell], found: list[dict[str, Any]]) -> None:
        path = self.path(line)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic(path, lambda tmp: tmp.write_text(json.dumps(found)))


def write_cells(
    results: Path, out: Path, calls: Calls, budget: int, progress: type[Progress]
) -> Path:
    """cells.<format of results> beside the results; `calls(fn, items)` maps `fn` over items in
    the executor's workers (results in order); `budget` 0 estimates no MTTF."""
    rows, cells = [], []
    for first, summaries in _cells(results):
        params = scenario_fields(first)
        rows.append({**{n: first[n] for n in scenario_columns()}, CELL: first[CELL],
                     **_risk_columns(summaries)})  # fmt: skip
        rate = steady(params)
        if budget and rate is not None:
            froze = [s.first_freeze_at for s in summaries if s.first_freeze_at is not None]
            exposure = math.fsum(froze) + (len(summaries) - len(froze)) * params["duration"]
            cells.append(
                Cell(first[CELL], first[INPUTS], params, rate, len(summaries), len(froze), exposure)
            )
    mttf = {}
    lines = _lines(cells)
    cache = Cache(out, budget)
    todo = [line for line in lines if cache.get(line) is None]
    bar = progress(len(lines), unit="MTTF lines")
    bar.skip(len(lines) - len(todo))
    try:
        for line, found in zip(todo, calls(partial(line_mttf, budget=budget), todo), strict=True):
            cache.put(line, found)
            bar.advance(1)
    finally:
        bar.close()
    for line in lines:
        mttf.update({entry["cell"]: entry for entry in cache.get(line) or []})
    for row in rows:
        entry = mttf.get(row[CELL], {})
        row.update({f.name: entry.get(f.name) for f in MTTF_COLUMNS})
    table = pa.Table.from_pylist(rows, schema=cells_schema())
    target = out / f"cells{results.suffix}"
    write = pacsv.write_csv if results.suffix == ".csv" else pq.write_table
    atomic(target, lambda tmp: write(table, tmp))
    return target
