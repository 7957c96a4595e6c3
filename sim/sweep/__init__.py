"""The sweep: a grid of Scenarios in, one row per Scenario out, streamed to disk and resumable.

The model never knows it is being swept (desmod's rule): the grid builds Scenarios, an executor
maps `rows.run_row` over them, the store writes batches atomically.
"""

from sim.sweep.grid import DEFAULT_GRID, Grid, grid_from_toml, parse_axis
from sim.sweep.run import SweepOutcome, run_sweep

__all__ = [
    "DEFAULT_GRID",
    "Grid",
    "SweepOutcome",
    "grid_from_toml",
    "parse_axis",
    "run_sweep",
]
