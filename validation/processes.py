"""Several server processes: the spread of the real app's runs against the model's, per case.

How a burst splits over `uvicorn --workers 2`, which worker freezes and for how long, differ from
run to run, so one timeline says little. Each PROCESS_CASES case is run K times (`python -m
validation risk`, stored beside the risk cases); here every run's outcome is reduced to a few
numbers and the real app's spread (min / median / max over its K runs) is set beside the
model's: paired (each run's own send times replayed, the model drawing its own split) and over
MANY seeds (its 5 / 50 / 95 % quantiles). A case agrees when every real median lies within the
model's many-seed 5-95 % range. Imports the model, as compare does.

`fit_alpha` turns the measured burst splits into the Dirichlet concentration `--split` takes.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.result import Result
from sim.risk.replications import replication_seed
from validation.cases import PROCESS_CASES
from validation.compare import measured_scenario, model_scenario, predict
from validation.odds import root_seed
from validation.risk import RISK_RESULTS, cases_with_runs, stored_runs

MANY = 200
TUNED = ("procs-burst",)  # the split's concentration was fitted on these; the rest are hold-outs
METRICS = {
    "busier_share": "share of the requests read by the busier process",
    "server_errors": "5xx",
    "refused": "connects PostgreSQL refused",
    "longest_block": "longest loop block of any process, s",
    "last_in_pool": "busier process: request pool_size + max_overflow reaches the endpoint, s "
    "(not judged)",
    "first_return": "busier process: its first 200 sent, s (not judged)",
}
# Why the 5xx and blocks differ: whether the busier process's first holders return before its
# pool's last connection is checked out. Shown beside the judged metrics, never judged.
SHOWN = ("last_in_pool", "first_return")


def outcome(result: Result) -> dict[str, float]:
    """One run's numbers: how lopsided the split was, the 500s, the refusals, the worst block,
    and when the busier process filled its pool against when its first holder returned."""
    service = result.service or {}
    reads = [p["requests"] for p in service.get("processes", [])] or [range(len(result.requests))]
    counts = [len(r) for r in reads]
    blocks = [b - a for a, b in result.loop_blocked]
    busier = [result.requests[i] for i in max(reads, key=len)]
    handled = sorted(r.handled_at for r in busier if r.handled_at is not None)
    returns = [r.completed_at for r in busier if r.status == 200 and r.completed_at is not None]
    capacity = result.params["pool_size"] + result.params["max_overflow"]
    return {
        "busier_share": max(counts) / max(1, sum(counts)),
        "server_errors": float(result.summary.server_errors),
        "refused": float(service.get("refused_connections") or 0),
        "longest_block": max(blocks, default=0.0),
        "last_in_pool": handled[min(capacity, len(handled)) - 1] if handled else math.nan,
        "first_return": min(returns, default=math.nan),
    }


@dataclass(frozen=True)
class Spread:
    low: float
    median: float
    high: float

    def text(self) -> str:
        return f"{self.low:.3g} / {self.median:.3g} / {self.high:.3g}"


def _known(values: Sequence[float]) -> list[float]:
    """NaN, a metric a run did not have (no 200 in its busier process), counts for neither."""
    return [v for v in values if not math.isnan(v)] or [math.nan]


def spread(values: Sequence[float]) -> Spread:
    values = _known(values)
    return Spread(min(values), statistics.median(values), max(values))


def quantiles(values: Sequence[float]) -> Spread:
    """The 5, 50 and 95 % points (nearest rank) of the model's many seeds."""
    ordered = sorted(_known(values))

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]

    return Spread(at(0.05), at(0.5), at(0.95))


@dataclass(frozen=True)
class ProcessRow:
    stack: str
    case: str
    what: str
    runs: int
    tuned: bool
    measured: dict[str, Spread]
    paired: dict[str, Spread]
    many: dict[str, Spread]
    loadavg: tuple[float, float, float]

    @property
    def misses(self) -> tuple[str, ...]:
        """The metrics whose real median falls outside the model's many-seed 5-95 % range."""
        return tuple(
            m
            for m, s in self.measured.items()
            if m not in SHOWN
            and not self.many[m].low - 1e-9 <= s.median <= self.many[m].high + 1e-9
        )

    def to_dict(self) -> dict[str, Any]:
        def table(spreads: dict[str, Spread]) -> dict[str, list[float]]:
            return {m: [s.low, s.median, s.high] for m, s in spreads.items()}

        return {
            "stack": self.stack,
            "case": self.case,
            "what": self.what,
            "runs": self.runs,
            "used_for_tuning": self.tuned,
            "agree": not self.misses,
            "misses": list(self.misses),
            "measured": table(self.measured),
            "paired": table(self.paired),
            "many": table(self.many),
            "loadavg": list(self.loadavg),
        }


def process_row(
    stack: str,
    case: str,
    what: str,
    runs: Sequence[tuple[Path, Result]],
    many: int = MANY,
    simulate: Callable[..., Result] = predict,
) -> ProcessRow:
    measured = [outcome(r) for _, r in runs]
    paired = [outcome(simulate(model_scenario(r, p))) for p, r in runs]
    root = root_seed(runs)
    base = measured_scenario(runs[0][1])
    own = [outcome(simulate(base.replace(seed=replication_seed(root, k)))) for k in range(many)]
    loads = [r.params.get("harness", {}).get("loadavg") for _, r in runs]
    loads = [x for x in loads if x is not None] or [float("nan")]
    return ProcessRow(
        stack=stack,
        case=case,
        what=what,
        runs=len(runs),
        tuned=case in TUNED,
        measured={m: spread([o[m] for o in measured]) for m in METRICS},
        paired={m: spread([o[m] for o in paired]) for m in METRICS},
        many={m: quantiles([o[m] for o in own]) for m in METRICS},
        loadavg=(min(loads), statistics.median(loads), max(loads)),
    )


def process_rows(
    stacks: Sequence[str], root: Path = RISK_RESULTS, log: Callable[[str], None] = print
) -> list[ProcessRow]:
    rows = []
    for stack, case, runs in cases_with_runs(stacks, PROCESS_CASES, root):
        log(f"{stack}/{case.name}: the model on {len(runs)} runs and {MANY} seeds")
        rows.append(process_row(stack, case.name, case.what, runs))
    return rows


def fit_alpha(counts: Sequence[int], n: int) -> float | None:
    """The symmetric Dirichlet (Beta for two processes) concentration whose beta-binomial
    spread matches the measured counts of one process out of `n` (method of moments about the
    symmetric model's own mean n/2, so a lean towards one worker counts as spread):
    E[(X - n/2)²] = n/4 (2a + n)/(2a + 1). None when the counts spread no wider than a
    binomial's (`even` then fits: no run-to-run variation beyond each connection's own draw)."""
    if len(counts) < 2:
        return None
    ratio = 4 * statistics.fmean((c - n / 2) ** 2 for c in counts) / n
    if ratio <= 1:
        return None
    return (n - ratio) / (2 * (ratio - 1))


def fitted_split(stack: str, root: Path = RISK_RESULTS) -> str | None:
    """The `--split` the stack's stored TUNED runs give (`dirichlet:ALPHA`, 2 significant
    figures; `even` when they spread no wider than a binomial); None without runs. What
    StackProfile.split holds, checked by the tests against the stored runs."""
    counts, n = [], None
    for case in TUNED:
        for _, result in stored_runs(stack, case, root):
            service = result.service or {}
            read = [len(p["requests"]) for p in service.get("processes", [])]
            if len(read) == 2:
                counts.append(read[0])
                n = sum(read)
    if n is None:
        return None
    alpha = fit_alpha(counts, n)
    return "even" if alpha is None else f"dirichlet:{float(f'{alpha:.2g}'):g}"


def processes_table(rows: Sequence[ProcessRow]) -> list[str]:
    """REPORT.md's "Several processes" section."""
    if not rows:
        return []
    lines = [
        "## Several processes",
        "",
        "`uvicorn --workers 2` behind one socket, each case run K times (`python -m validation "
        "risk --case NAME`). Per metric: the real app's min / median / max over its K runs; "
        "the model paired (each run's measured send times replayed; the model draws its own "
        f"split) min / median / max; the model over {MANY} seeds, 5 / 50 / 95 %. Agree: every "
        "real median inside the model's 5-95 % range. Tuning: the split's Dirichlet "
        "concentration (`--split`) was fitted on the cases marked so; the others are hold-outs. "
        "Load: the 1-minute load average before each run, min / median / max.",
        "",
        "| case | stack | K | tuning | metric | real | model paired | model 5/50/95 % | load "
        "| agree |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        for k, (metric, label) in enumerate(METRICS.items()):
            first = k == 0
            lines.append(
                f"| {row.case if first else ''} | {row.stack if first else ''} "
                f"| {row.runs if first else ''} "
                f"| {('used for tuning' if row.tuned else 'hold-out') if first else ''} "
                f"| {label} | {row.measured[metric].text()} | {row.paired[metric].text()} "
                f"| {row.many[metric].text()} "
                f"| {' / '.join(f'{x:.1f}' for x in row.loadavg) if first else ''} "
                f"| {'' if metric in SHOWN else ('no' if metric in row.misses else 'yes')} |"
            )
    return [*lines, ""]
