"""One measured figure and its reference: the unit every benchmark returns and the report prints.

A figure is only ever reported as a ratio to a reference timed in the same process and run, so a
busy or slow machine moves both sides and the ratio stays comparable between runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

Direction = Literal["min", "max"]


@dataclass(frozen=True)
class Figure:
    """`value` against `reference`; `target` bounds `ratio` from below ("min") or above ("max")."""

    name: str
    value: float
    reference: float
    unit: str
    reference_name: str
    target: float | None = None
    direction: Direction = "min"
    note: str = ""

    @property
    def ratio(self) -> float:
        return self.value / self.reference

    @property
    def met(self) -> bool | None:
        if self.target is None:
            return None
        return self.ratio >= self.target if self.direction == "min" else self.ratio <= self.target


def best_times(
    *runs: Callable[[], object], repeat: int, clock: Callable[[], float] = time.process_time
) -> tuple[float, ...]:
    """The fastest of `repeat` timings of each run, the runs interleaved round by round so that a
    noisy spell on a shared machine hits the figure and its reference alike (noise only ever adds
    time, so the minimum is the estimate).

    In-process runs are timed on this process's CPU clock, which other tenants of a shared
    machine do not advance; on an idle machine it equals wall time for this single-threaded work.
    Anything that spreads over worker processes must pass `time.perf_counter`.
    """
    best = [float("inf")] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            start = clock()
            run()
            best[i] = min(best[i], clock() - start)
    return tuple(best)


def best_time(
    run: Callable[[], object], repeat: int, clock: Callable[[], float] = time.process_time
) -> float:
    return best_times(run, repeat=repeat, clock=clock)[0]
