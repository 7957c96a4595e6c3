"""Real workloads (issue 11) against the model: drawn work and a slow query under Poisson
traffic, and the access-log replay.

Each WORKLOAD_CASES case is run K times on the real app (`python -m validation risk --case
NAME`, stored under results/risk/ beside the risk cases). Its freeze odds are
validation.odds.odds_row's: the real app's P(freeze within the run) with its Wilson interval,
the model's paired on each run's send times and over MANY seeds of its own. Beside them, what a
user sees whether the server froze or not, per run: the latency of the 200s (p50, p99), the
share of the requests sent that got a 200, and the longest loop block. Both sides are cut off
where the real run was (its traffic plus CUT_OFF_GRACE, validation.risk): the model otherwise
counts a collapsed server's drain, minutes after the real run stopped. The real app's min /
median / max over its K runs stand beside the model's 5 / 50 / 95 % over its seeds
(validation.processes' spreads); a metric agrees when the real median is inside that range.

The loop's busy share is the model's offered share (sim.queueing.loop_utilisation: rate x
(request CPU + query)); the harness's probe sees blocks over 50 ms, never a share, so on the
real side it is the latency that shows a busy loop. The replay is one fixed schedule, judged
as steady traffic by compare (its Row); the section lists it again with the hold-outs.
Imports the model, as compare does.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.queueing import loop_utilisation
from sim.result import Result, summarize
from sim.risk.replications import replication_seed
from sim.scenario import Scenario
from validation.agreement import OddsRow, Row, freezes
from validation.cases import CUT_OFF_GRACE, WORKLOAD_CASES
from validation.compare import measured_scenario, model_scenario, predict
from validation.odds import odds_row, root_seed
from validation.processes import Spread, quantiles, spread
from validation.report import load_cell, odds_cell, odds_record, pair_cell
from validation.risk import RISK_RESULTS, cases_with_runs

MANY = 200
METRICS = {
    "latency_p50": "p50 latency of the 200s, s",
    "latency_p99": "p99 latency of the 200s, s",
    "served": "share of requests sent that got a 200",
    "longest_block": "longest loop block, s",
}


def cut(result: Result, at: float) -> Result:
    """`result` as a run stopped at `at` would have recorded it: a request that ended later
    never ended, a loop block still under way ends at `at`."""
    requests = tuple(
        r
        if r.completed_at is None or r.completed_at <= at
        else dataclasses.replace(r, completed_at=None, status=None, error="cut off")
        for r in result.requests
    )
    blocks = tuple((a, min(b, at)) for a, b in result.loop_blocked if a < at)
    summary = summarize(requests, blocks, result.params["freeze_threshold"])
    return dataclasses.replace(result, requests=requests, loop_blocked=blocks, summary=summary)


def outcome(result: Result, cut_off: float) -> dict[str, float]:
    """One run's numbers after the cut-off; NaN for a latency without a 200."""
    kept = cut(result, cut_off)
    s = kept.summary
    sent = sum(r.sent_at is not None for r in kept.requests)
    return {
        "latency_p50": math.nan if s.latency_p50 is None else s.latency_p50,
        "latency_p99": math.nan if s.latency_p99 is None else s.latency_p99,
        "served": s.ok / sent if sent else math.nan,
        "longest_block": max((b - a for a, b in kept.loop_blocked), default=0.0),
    }


def _spread(values: Sequence[float], of: Callable[[Sequence[float]], Spread]) -> Spread:
    """`of` over the values that exist (a run with no 200 has no latency)."""
    present = [v for v in values if not math.isnan(v)]
    return of(present) if present else Spread(math.nan, math.nan, math.nan)


def _text(s: Spread) -> str:
    return "-" if math.isnan(s.median) else s.text()


@dataclass(frozen=True)
class WorkloadRow:
    odds: OddsRow
    loop_busy: float  # the model's offered share of the loop thread (loop_utilisation)
    measured: dict[str, Spread]
    paired: dict[str, Spread]
    many: dict[str, Spread]

    @property
    def misses(self) -> tuple[str, ...]:
        """The metrics whose real median lies outside the model's many-seed 5-95 % range."""
        return tuple(
            m
            for m, s in self.measured.items()
            if not math.isnan(s.median)
            and not self.many[m].low - 1e-9 <= s.median <= self.many[m].high + 1e-9
        )

    def to_dict(self) -> dict[str, Any]:
        def table(spreads: dict[str, Spread]) -> dict[str, list[float | None]]:
            return {
                m: [None if math.isnan(x) else x for x in (s.low, s.median, s.high)]
                for m, s in spreads.items()
            }

        return {
            **odds_record(self.odds),
            "loop_busy_model": self.loop_busy,
            "metrics_agree": not self.misses,
            "misses": list(self.misses),
            "metrics": {
                "measured": table(self.measured),
                "paired": table(self.paired),
                "many": table(self.many),
            },
        }


def workload_row(
    stack: str,
    case: str,
    what: str,
    runs: Sequence[tuple[Path, Result]],
    many: int = MANY,
    simulate: Callable[[Scenario], Result] = predict,
) -> WorkloadRow:
    """The case's odds and spreads; the model runs each scenario once for both."""
    done: dict[Scenario, Result] = {}

    def once(scenario: Scenario) -> Result:
        if scenario not in done:
            done[scenario] = simulate(scenario)
        return done[scenario]

    odds = odds_row(stack, case, what, runs, many, once, hold_out=True)
    base = measured_scenario(runs[0][1])
    cut_off = base.duration + CUT_OFF_GRACE
    root = root_seed(runs)
    measured = [outcome(r, cut_off) for _, r in runs]
    paired = [outcome(once(model_scenario(r, p)), cut_off) for p, r in runs]
    own = [
        outcome(once(base.replace(seed=replication_seed(root, k))), cut_off) for k in range(many)
    ]
    return WorkloadRow(
        odds=odds,
        loop_busy=loop_utilisation(base.arrival_spec.rate, base),
        measured={m: _spread([o[m] for o in measured], spread) for m in METRICS},
        paired={m: _spread([o[m] for o in paired], spread) for m in METRICS},
        many={m: _spread([o[m] for o in own], quantiles) for m in METRICS},
    )


def workload_rows(
    stacks: Sequence[str], root: Path = RISK_RESULTS, log: Callable[[str], None] = print
) -> list[WorkloadRow]:
    rows = []
    for stack, case, runs in cases_with_runs(stacks, WORKLOAD_CASES, root):
        log(f"{stack}/{case.name}: the model on {len(runs)} runs and {MANY} seeds")
        rows.append(workload_row(stack, case.name, case.what, runs))
    return rows


REPLAY_COLUMNS = ("recovered", "frozen_fraction", "freezes", "ok", "server_errors", "latency_p99")


def _each_freeze(result: Result | None) -> str:
    """Where each freeze began and how long it lasted: which spike a miss is in."""
    if result is None:
        return "-"
    return ", ".join(f"{a:.1f}: {b - a:.1f}" for a, b in freezes(result)) or "none"


def workloads_table(rows: Sequence[WorkloadRow], replays: Sequence[Row] = ()) -> list[str]:
    """REPORT.md's "Real workloads" section: the drawn-work and slow-query cases' odds and
    spreads, then the access-log replay's measured / predicted."""
    if not (rows or replays):
        return []
    return [
        "## Real workloads (hold-outs)",
        "",
        _intro(),
        "",
        *_odds(rows),
        *_replays(replays),
        *_misses(rows, replays),
    ]


def _intro() -> str:
    return (
        "Drawn work, a slow query and an access-log replay (issue 11). **Every case here is a "
        "hold-out**: measured after the model was built, never tuned on. Each odds case run K "
        "times (`python -m validation risk --case NAME`, run k at `replication_seed(root, k)`, "
        "so the real client sends the draws the model's run k takes: the send times, and each "
        "request's work `w` or query `q`, which the app runs as `await asyncio.sleep(w)` and "
        "`SELECT pg_sleep(q)`). P(freeze within the run) with its Wilson 95 % interval, real "
        f"over K runs and the model over {MANY} seeds of its own; inside: the model's inside the "
        "real interval. Model paired: the model on each run's measured send times and the same "
        "draws (runs alike: in how many of the K the model froze iff the app did). Per metric: "
        "the real app's min / median / max over its K runs; the model paired min / median / "
        f"max; the model over its {MANY} seeds 5 / 50 / 95 %; agree: the real median inside the "
        f"model's 5-95 % range. Both sides are cut off {CUT_OFF_GRACE:g} s after the last send, "
        "as the real runs are. Loop busy: the model's offered share of the loop thread, rate x "
        "(request CPU + query); the probe sees only blocks over 50 ms, so on the real side the "
        "latency is what shows it. Load: the 1-minute load before each run, min / median / max."
    )


def _odds(rows: Sequence[WorkloadRow]) -> list[str]:
    if not rows:
        return []
    lines = [
        "| case | stack | K | real P(freeze) | model paired (runs alike) | model P(freeze) "
        "| inside | loop busy (model) | metric | real | model paired | model 5/50/95 % | agree "
        "| load |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        o = row.odds
        for k, (metric, label) in enumerate(METRICS.items()):
            head = (
                f"| {o.case} | {o.stack} | {o.measured.replications} | {odds_cell(o.measured)} "
                f"| {odds_cell(o.paired)} ({o.paired_same}/{o.measured.replications}) "
                f"| {odds_cell(o.many)} | {'yes' if o.inside else '**no**'} "
                f"| {row.loop_busy:.0%} "
                if k == 0
                else "| | | | | | | | "
            )
            lines.append(
                f"{head}| {label} | {_text(row.measured[metric])} "
                f"| {_text(row.paired[metric])} | {_text(row.many[metric])} "
                f"| {'**no**' if metric in row.misses else 'yes'} "
                f"| {load_cell(o.loadavg) if k == 0 else ''} |"
            )
    return [*lines, ""]


def _replays(replays: Sequence[Row]) -> list[str]:
    if not replays:
        return []
    lines = [
        "The access log (`validation/workloads/access.log`: nginx lines made by "
        "`python -m validation.sample_log`, its arrivals drawn, not recorded) turned into a "
        "trace by `python -m sim trace-from-log --format nginx` and replayed once on each stack "
        "(`--arrival trace:validation/workloads/access-trace.csv`), judged as steady traffic "
        "above: recovered exact, frozen fraction within 20 % (or 0.02). Cells are measured / "
        "predicted, the model on the measured send times; each freeze: its start and length in "
        "seconds (a probe may split one freeze in two).",
        "",
        "| case | stack | recovered | frozen fraction | freezes | 200 | 5xx | p99 latency s "
        "| each freeze: start, s long | agree | load |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in replays:
        load = r.measured.params.get("harness", {}).get("loadavg") if r.measured else None
        verdict = ("yes" if r.ok else "**no**") if r.checks else f"n/a: {r.note}"
        lines.append(
            f"| {r.case} | {r.stack} | "
            + " | ".join(pair_cell(r, m) for m in REPLAY_COLUMNS)
            + f" | {_each_freeze(r.measured)} / {_each_freeze(r.predicted)}"
            + f" | {verdict} | {'-' if load is None else f'{load:.2f}'} |"
        )
    return [*lines, ""]


def _misses(rows: Sequence[WorkloadRow], replays: Sequence[Row]) -> list[str]:
    """Each miss in figures, for FINDINGS.md's reasons to point at."""
    found = []
    for row in rows:
        o = row.odds
        if not o.inside:
            lo, hi = o.measured.p_freeze_ci
            found.append(
                f"{o.stack} {o.case}: the model's P(freeze) {o.many.p_freeze:.2f} outside the "
                f"real interval [{lo:.2f}, {hi:.2f}]"
            )
        for m in row.misses:
            many = row.many[m]
            found.append(
                f"{o.stack} {o.case}, {METRICS[m]}: real median {row.measured[m].median:.3g} "
                f"outside the model's 5-95 % range {many.low:.3g}-{many.high:.3g}"
            )
    for r in replays:
        for c in r.checks:
            if not c.ok:
                found.append(
                    f"{r.stack} {r.case}, {c.metric}: real {_fmt(c.measured)}, "
                    f"model {_fmt(c.predicted)} ({c.rule})"
                )
    if not found:
        return []
    return [
        "Misses, in figures (the reasons: FINDINGS.md, below):",
        "",
        *(f"- {x}" for x in found),
        "",
    ]


def _fmt(value: object) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
