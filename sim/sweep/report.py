"""After a sweep: one heatmap pair per categorical combination, and report.md describing it all."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

from sim.analytic import freezes
from sim.plots import Facet, heatmap
from sim.scenario import Scenario
from sim.sweep.grid import Grid
from sim.sweep.rows import scenario_columns, scenario_fields
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


def facets(results: Path, x: str, y: str) -> list[Facet]:
    """`sim.plots.facets` over the results file, one record batch at a time: only the distinct
    combinations of the other Scenario columns are kept, never the rows."""
    names = [n for n in scenario_columns() if n not in (x, y, "seed")]
    combos: set[tuple[Any, ...]] = set()
    for batch in results_dataset(results).to_batches(columns=names):
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
        lines += [
            "",
            "## Freeze boundary",
            f"For each {x}, the smallest {y} at which the loop froze ('-': never in range). "
            "The closed form is sim/analytic.py's `freezes`: requests > pool_size + "
            "max_overflow on the seed's endpoint, never on the others.",
        ]
        pictures: list[str] = []
        for facet in facets(outcome.results, x, y):
            rows = read_results(outcome.results, COLUMNS, facet.where)
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
        lines += ["", "## Pictures", *pictures]
    report = out / "report.md"
    report.write_text("\n".join(lines) + "\n")
    return report
