"""After a sweep: one heatmap pair per categorical combination, and report.md describing it all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from sim.analytic import freezes
from sim.plots import Facet, coordinate, heatmap, risk_map
from sim.risk.text import duration
from sim.scenario import Scenario
from sim.sweep.grid import Grid
from sim.sweep.rows import REPLICATION, scenario_columns, scenario_fields
from sim.sweep.run import SweepOutcome
from sim.sweep.store import read_results, results_dataset

PICTURES = ("frozen_seconds", "handled_before_freeze")
# What a facet's boundary and pictures read: the other summary fields and the hashes stay on disk.
COLUMNS = scenario_columns() + ["freezes", *PICTURES]


@dataclass(frozen=True)
class Boundary:
    """Per facet: for each x, the smallest y at which the loop froze, model vs closed form."""

    facet: Facet
    model: dict[float, float | None]
    analytic: dict[float, float | None]
    disagreements: int


def boundary(rows: pa.Table, x: str, y: str, facet: Facet) -> Boundary:
    """`rows` are the facet's own rows."""
    model: dict[float, float | None] = {}
    analytic: dict[float, float | None] = {}
    disagreements = 0
    for row in sorted(rows.to_pylist(), key=lambda r: r[y]):
        predicted = freezes(Scenario.create(**scenario_fields(row)))
        froze = (row["freezes"] or 0) > 0
        disagreements += predicted != froze
        model.setdefault(row[x], None)
        analytic.setdefault(row[x], None)
        if froze and model[row[x]] is None:
            model[row[x]] = row[y]
        if predicted and analytic[row[x]] is None:
            analytic[row[x]] = row[y]
    return Boundary(facet, model, analytic, disagreements)


def facets(results: Path, x: str, y: str, types: pa.Schema | None = None) -> list[Facet]:
    """`sim.plots.facets` over the results file, one record batch at a time: only the distinct
    combinations of the other Scenario columns are kept, never the rows."""
    names = [n for n in scenario_columns() if n not in (x, y, "seed")]
    combos: set[tuple[Any, ...]] = set()
    for batch in results_dataset(results, types).to_batches(columns=names):
        distinct = pa.Table.from_batches([batch]).group_by(names).aggregate([])
        combos.update(tuple(row[n] for n in names) for row in distinct.to_pylist())
    varying = [i for i in range(len(names)) if len({c[i] for c in combos}) > 1]
    chosen = sorted({tuple(c[i] for i in varying) for c in combos})
    return [Facet({names[i]: v for i, v in zip(varying, c, strict=True)}) for c in chosen or [()]]


def _fmt(edge: dict[float, float | None]) -> str:
    return ", ".join(f"{k}:{'-' if v is None else v}" for k, v in sorted(edge.items()))


def write_report(grid: Grid, outcome: SweepOutcome, out: Path, workers: str) -> Path:
    """Heatmaps over the grid's first two axes, and report.md linking them; the results are
    read one facet at a time, so the report's memory follows a facet, not the sweep."""
    lines = [
        "# Sweep report",
        "",
        f"{outcome.tally} in {outcome.seconds:.1f} s on {workers}; resumed rows are kept from an "
        "earlier run with the same scenario, settings, files, costs and model version.",
        f"Results: [{outcome.results.name}]({outcome.results.name}), one row per scenario.",
        "",
        "## What was swept",
        *[f"- {line}" for line in grid.describe()],
        "- everything else at the Scenario defaults; each row's seed is derived from the root "
        "seed and the scenario",
    ]
    if grid.fixed.get("client") == "external":
        lines.append(
            "- client=external: the seed's in-process client spends client_setup_cpu per request "
            "on the server's loop before sending (an SSL context per httpx.AsyncClient), a freeze "
            "of its own once requests x client_setup_cpu >= freeze_threshold, whatever the pool"
        )
    axes = list(grid.axes)
    if len(axes) < 2:
        lines += ["", "Fewer than two axes: no heatmaps."]
    else:
        x, y = axes[0], axes[1]
        bursts = "arrival" not in grid.axes and grid.fixed.get("arrival", "burst") == "burst"
        lines += [
            "",
            "## Freeze boundary",
            f"For each {x}, the smallest {y} at which the loop froze ('-': never in range). "
            "The closed form is sim/analytic.py's `freezes`: requests > pool_size + "
            "max_overflow on the seed's endpoint, never on the others."
            if bursts
            else "Not drawn: the closed form speaks of bursts only, and this grid's traffic "
            "is steady (the pictures show each cell's run 0).",
        ]
        pictures: list[str] = []
        if grid.replications > 1:
            lines.append(
                f"Drawn from each cell's run 0 (the run at the cell's seed); the odds over all "
                f"{grid.replications} runs are in the next section."
            )
        for facet in facets(outcome.results, x, y):
            rows = read_results(outcome.results, COLUMNS, {**facet.where, REPLICATION: 0})
            if bursts:
                edge = boundary(rows, x, y, facet)
                lines += [
                    "",
                    f"### {facet.title() or 'all rows'}",
                    f"- model:       {_fmt(edge.model)}",
                    f"- closed form: {_fmt(edge.analytic)}",
                    f"- cells where they disagree on freeze/no freeze: {edge.disagreements}",
                ]
            for z in PICTURES:
                name = f"heatmap-{z.replace('_', '-')}{facet.slug()}.png"
                heatmap(rows, x, y, z, facet.where, out / name)
                pictures.append(f"- [{name}]({name})")
        if outcome.cells is not None:
            risk_lines, risk_pictures = _risk_section(outcome.cells, x, y, out)
            lines += risk_lines
            pictures += risk_pictures
        lines += ["", "## Pictures", *pictures]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report


def _mttf(row: dict[str, Any]) -> str:
    """A cell's MTTF as the report prints it: the estimate, or '>' its lower bound."""
    if row["mttf_method"] is None:
        return ""
    if row["mttf_s"] is None:
        return f"> {duration(row['mttf_lo'])}"
    return duration(row["mttf_s"])


def _risk_section(cells: Path, x: str, y: str, out: Path) -> tuple[list[str], list[str]]:
    """The odds per cell: risk maps of P(freeze) and P(collapse) per facet, and for steady
    traffic a table of the model's MTTF per cell, rate across."""
    from sim.sweep.cells import BOUNDED, FROM_RUNS, SPLITTING, cells_schema

    types = cells_schema()
    if y == "arrival":
        x, y = y, x
    lines = [
        "",
        "## Freeze odds per cell",
        f"[{cells.name}]({cells.name}): one row per cell, P(freeze within the run) and "
        "P(collapse) with Wilson 95 % intervals, first-freeze quantiles, frozen fraction and "
        "error rate (what `sim run --replications K` prints for the cell's run-0 scenario), and "
        "under steady traffic the model's mean time to the first freeze (MTTF) with its 95 % "
        f"interval. MTTF methods: `{FROM_RUNS}` where at least half the runs froze (exposure "
        f"over freezes; runs start from an empty pool), `{SPLITTING}` (sim/risk/mttf.py) within "
        "the budget per cell, else a lower bound ('>'); "
        f"`{BOUNDED}`: once a cell's lower end passes a day, the cells at lower rates carry it.",
    ]
    pictures = []
    for facet in facets(cells, x, y, types):
        rows = read_results(cells, where=facet.where, types=types)
        records = rows.to_pylist()
        if records and records[0]["mttf_method"] is not None:
            spent = sum(r["mttf_requests"] or 0 for r in records)
            rates = sorted({r[x] for r in records}, key=lambda v: coordinate(x, v))
            ys = sorted({r[y] for r in records})
            by = {(r[x], r[y]): r for r in records}
            lines += [
                "",
                f"### MTTF, {facet.title() or 'all cells'} ({spent} requests of splitting)",
                "",
                f"| {y} \\ {x} | " + " | ".join(str(r) for r in rates) + " |",
                "|---" * (len(rates) + 1) + "|",
                *[
                    f"| {v} | "
                    + " | ".join(_mttf(by[(r, v)]) if (r, v) in by else "" for r in rates)
                    + " |"  # fmt: skip
                    for v in ys
                ],
            ]
        for z in ("p_freeze", "p_collapse"):
            name = f"risk-{z.replace('_', '-')}{facet.slug()}.png"
            risk_map(rows, x, y, z, {}, out / name)
            pictures.append(f"- [{name}]({name})")
    return lines, pictures
