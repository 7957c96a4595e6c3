"""A burst case measured again and again: the real app's spread of outcomes beside the model's.

Where one run sits on a boundary the real app crosses by chance (the modern uvloop burst), its
REPORT row is one sample. Sets of repeated runs of a burst case are stored under
`results/<stack>/<case>-runs/<set>/` (K Results `0.json`, `1.json`, ...; `python -m validation
run --repeat K --out DIR` keeps them); a set measured on another machine than the committed
calibration keeps that machine's `profile.json` (`python -m validation calibrate --out`) beside
its runs. Each run is replayed in the model on its own send times (as `compare` does), with the
committed costs and, where the set has one, with its own machine's, and reduced to the counts
the REPORT judges exactly: handled before the first freeze, 200s, 5xx. Imports the model.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.result import Result
from validation.cases import BURST_CASES
from validation.compare import load_measured, model_scenario, predict

RESULTS = Path(__file__).parent / "results"
PROFILE = "profile.json"

Counts = tuple[int, int, int]  # handled before the first freeze, 200s, 5xx


def counts(result: Result) -> Counts:
    s = result.summary
    return (s.handled_before_freeze, s.ok, s.server_errors)


@dataclass(frozen=True)
class RepeatRow:
    """One stored set of runs of a burst case, and the model paired on each run."""

    stack: str
    case: str
    runs: str  # the set's folder under results/<stack>/<case>-runs/
    measured: tuple[Counts, ...]
    committed: tuple[Counts, ...]  # the model on the committed calibration
    own: tuple[Counts, ...] | None  # the model on the set's own machine's, if stored
    loadavg: tuple[float, float, float]

    def same(self, predicted: Sequence[Counts]) -> int:
        """Runs whose counts the model paired on them gives exactly."""
        return sum(m == p for m, p in zip(self.measured, predicted, strict=True))


def _tally(outcomes: Sequence[Counts]) -> str:
    return ", ".join(
        f"{h} / {ok} / {err}: {n}" for (h, ok, err), n in sorted(Counter(outcomes).items())
    )


def repeat_row(stack: str, case: str, folder: Path) -> RepeatRow:
    paths = sorted(folder.glob("[0-9]*.json"), key=lambda p: int(p.stem))
    profile = folder / PROFILE
    costs = json.loads(profile.read_text())["costs"] if profile.is_file() else None
    measured, committed, own, loads = [], [], [], []
    for path in paths:
        result = load_measured(path)
        scenario = model_scenario(result, path)
        measured.append(counts(result))
        committed.append(counts(predict(scenario)))
        if costs is not None:
            own.append(counts(predict(scenario.replace(**costs))))
        loads.append(result.params.get("harness", {}).get("loadavg") or 0.0)
    loads.sort()
    return RepeatRow(
        stack,
        case,
        folder.name,
        tuple(measured),
        tuple(committed),
        None if costs is None else tuple(own),
        (loads[0], loads[len(loads) // 2], loads[-1]),
    )


def repeat_rows(
    stacks: Sequence[str], root: Path = RESULTS, log: Callable[[str], None] = print
) -> list[RepeatRow]:
    rows = []
    for stack in stacks:
        for case in BURST_CASES:
            folder = root / stack / f"{case.name}-runs"
            sets = sorted(p for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
            for runs in sets:
                if any(runs.glob("[0-9]*.json")):
                    log(f"{stack}/{case.name}: the model on the runs of {runs.name}")
                    rows.append(repeat_row(stack, case.name, runs))
    return rows


def repeats_table(rows: Sequence[RepeatRow]) -> list[str]:
    """REPORT.md's "Repeated bursts" section."""
    if not rows:
        return []
    lines = [
        "## Repeated bursts",
        "",
        "Burst cases measured K times (`validation/results/<stack>/<case>-runs/<set>/`, "
        "`python -m validation run --repeat K --out DIR`), each run's counts (handled before "
        "the first freeze / 200 / 5xx: how many runs) beside the model's, paired on each run's "
        "send times: on the committed calibration, and on the calibration of the machine the "
        "set was measured on where the set stores one (`profile.json`; - where it does not). "
        "Same: runs whose three counts the paired model gives exactly. Load: the 1-minute "
        "load average before each run, min / median / max, on 2 cores shared with other work.",
        "",
        "| case | stack | set | K | real | model, committed costs | same | model, the set's "
        "machine's costs | same | load |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        k = len(row.measured)
        own = "-" if row.own is None else _tally(row.own)
        own_same = "-" if row.own is None else f"{row.same(row.own)}/{k}"
        lines.append(
            f"| {row.case} | {row.stack} | {row.runs} | {k} | {_tally(row.measured)} "
            f"| {_tally(row.committed)} | {row.same(row.committed)}/{k} | {own} | {own_same} "
            f"| {' / '.join(f'{x:.1f}' for x in row.loadavg)} |"
        )
    return [*lines, ""]


def repeat_record(row: RepeatRow) -> dict[str, object]:
    """REPORT.json's entry for a set."""
    return {
        "stack": row.stack,
        "case": row.case,
        "runs": row.runs,
        "measured": [list(c) for c in row.measured],
        "model_committed": [list(c) for c in row.committed],
        "model_own": None if row.own is None else [list(c) for c in row.own],
        "same_committed": row.same(row.committed),
        "same_own": None if row.own is None else row.same(row.own),
        "loadavg": list(row.loadavg),
    }
