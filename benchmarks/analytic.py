"""The closed form (`sim.analytic.predict`) against the model on the scenarios of a grid where
`exact_for` holds: the only ones where `--fast` may replace the model."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks.figures import Figure, best_times
from sim.analytic import exact_for, predict
from sim.model import simulate
from sim.sweep import Grid
from sim.sweep.keys import Settings
from sim.sweep.rows import run_row, seeded

FAST_PATH = "analytic fast path over the model"
FAST_ROWS = "sweep rows with --fast over without"


@dataclass(frozen=True)
class FastPath:
    predict: Figure
    rows: Figure


def fast_path(grid: Grid, repeat: int) -> FastPath:
    """Per exact scenario: `predict` vs `simulate`, and the sweep's `run_row` with and without
    `fast` (which adds building the Scenario and hashing it to both sides)."""
    scenarios = [s for s in map(seeded, grid.scenarios()) if exact_for(s)]
    params = [s.to_params() for s in scenarios]
    analytic_s, model_s, fast_rows_s, model_rows_s = best_times(
        lambda: [predict(s) for s in scenarios],
        lambda: [simulate(s) for s in scenarios],
        lambda: [run_row(p, Settings(fast=True)) for p in params],
        lambda: [run_row(p, Settings()) for p in params],
        repeat=repeat,
    )
    n = len(scenarios)
    share = f"{n} of {len(grid)} grid scenarios are exact"
    return FastPath(
        predict=Figure(
            name=FAST_PATH,
            value=n / analytic_s,
            reference=n / model_s,
            unit="scenarios/s",
            reference_name="sim.model.simulate on the same scenarios",
            target=100,
            note=share,
        ),
        rows=Figure(
            name=FAST_ROWS,
            value=n / fast_rows_s,
            reference=n / model_rows_s,
            unit="rows/s",
            reference_name="run_row without fast on the same scenarios",
            note=f"{share}; {fast_rows_s / n * 1e6:.0f} us per --fast row, of which "
            f"{analytic_s / n * 1e6:.1f} us is the closed form",
        ),
    )
