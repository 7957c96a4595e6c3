"""The freeze odds of the real app against the model's, for compare's "Freeze odds" section.

Imports the model (as compare does). Two predictions per risk case, both from the stored runs'
own Scenario:
- paired: the model on each measured run's own send times (`trace:`), run by run, so the only
  difference left is what the app and the model do with the same arrivals;
- the model's own odds, as `sim run --replications` draws them (run k at
  `replication_seed(root, k)`), without trace replay: over the same K seeds (the same Poisson
  schedules, drawn by the model) and over MANY seeds.

Agreement is judged in validation.agreement (OddsRow). Two more kinds of row: one schedule
replayed K times (`validation risk --same-seed`) against the model on that schedule, and long
runs below the edge, stopped at their first freeze, against `sim risk`'s mean time to it.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from sim.result import Result, Summary
from sim.risk.intervals import exponential_mean
from sim.risk.replications import replication_seed, risk_of
from validation.agreement import Exposure, LongRow, OddsRow, SameSeedRow
from validation.cases import COLD_START, LONG_CASES, RISK_CASES
from validation.compare import measured_scenario, model_scenario, predict
from validation.risk import RISK_RESULTS, SAME_SEED_RESULTS, cases_with_runs

MANY = 200
LONG_MANY = 20  # the model's cold-started long runs: ~5 s of CPU each at 600 s


def froze(summary: Summary) -> bool:
    return summary.first_freeze_at is not None


def cold(summaries: Sequence[Summary]) -> int:
    """How many first froze within the cold start."""
    return sum(froze(s) and s.first_freeze_at < COLD_START for s in summaries)


def first_freezes(summaries: Sequence[Summary]) -> tuple[float, ...]:
    return tuple(sorted(s.first_freeze_at for s in summaries if froze(s)))


def loadavg(results: Sequence[Result]) -> tuple[float, float, float]:
    """Min, median, max of the 1-minute load before each run."""
    loads = [r.params.get("harness", {}).get("loadavg") for r in results]
    loads = [x for x in loads if x is not None] or [float("nan")]
    return (min(loads), statistics.median(loads), max(loads))


def root_seed(runs: Sequence[tuple[Path, Result]]) -> int:
    """The seed replication 0 ran at, checked against every stored run's own seed."""
    first_path, first = runs[0]
    if first_path.stem != "0":
        raise ValueError(f"{first_path.parent}: run 0 is missing, the root seed is unknown")
    root = first.params["seed"]
    for path, result in runs:
        if result.params["seed"] != replication_seed(root, int(path.stem)):
            raise ValueError(f"{path}: seed {result.params['seed']} is not replication {path.stem}")
    return root


def odds_row(
    stack: str,
    case: str,
    what: str,
    runs: Sequence[tuple[Path, Result]],
    many: int = MANY,
    simulate: Callable = predict,
    hold_out: bool = False,
) -> OddsRow:
    measured = [r for _, r in runs]
    paired = [simulate(model_scenario(r, p)).summary for p, r in runs]
    root = root_seed(runs)
    base = measured_scenario(measured[0])
    own = [simulate(base.replace(seed=replication_seed(root, k))).summary for k in range(many)]
    k = len(runs)
    return OddsRow(
        stack=stack,
        case=case,
        what=what,
        measured=risk_of([r.summary for r in measured]),
        paired=risk_of(paired),
        paired_same=sum(
            froze(m.summary) == froze(p) for m, p in zip(measured, paired, strict=True)
        ),
        same_seeds=risk_of(own[:k]),
        many=risk_of(own),
        loadavg=loadavg(measured),
        cut_off=sum("cut_off_at" in r.params.get("harness", {}) for r in measured),
        cold_start=(cold([r.summary for r in measured]), cold(own)),
        root=root,
        hold_out=hold_out,
        first_freezes=(first_freezes([r.summary for r in measured]), first_freezes(own)),
    )


def odds_rows(
    stacks: Sequence[str], root: Path = RISK_RESULTS, log: Callable[[str], None] = print
) -> list[OddsRow]:
    """A row for every risk case with stored runs on each stack."""
    rows = []
    for stack, case, runs in cases_with_runs(stacks, RISK_CASES, root):
        log(f"{stack}/{case.name}: the model on {len(runs)} runs and {MANY} seeds")
        rows.append(odds_row(stack, case.name, case.what, runs, hold_out=case.hold_out))
    return rows


def same_seed_row(
    stack: str, case: str, runs: Sequence[tuple[Path, Result]], simulate: Callable = predict
) -> SameSeedRow:
    """The K replays of one schedule beside the model on that schedule (one run: the model
    draws nothing but the schedule, so it gives the same story every time) and on each run's
    measured send times."""
    measured = [r for _, r in runs]
    seeds = {r.params["seed"] for r in measured}
    if len(seeds) != 1:
        raise ValueError(f"{stack}/{case}: same-seed runs at seeds {sorted(seeds)}")
    (seed,) = seeds
    return SameSeedRow(
        stack=stack,
        case=case,
        seed=seed,
        measured=risk_of([r.summary for r in measured]),
        model_freeze_at=simulate(measured_scenario(measured[0])).summary.first_freeze_at,
        paired=risk_of([simulate(model_scenario(r, p)).summary for p, r in runs]),
        loadavg=loadavg(measured),
    )


def same_seed_rows(
    stacks: Sequence[str], root: Path = SAME_SEED_RESULTS, log: Callable[[str], None] = print
) -> list[SameSeedRow]:
    rows = []
    for stack, case, runs in cases_with_runs(stacks, RISK_CASES, root):
        log(f"{stack}/{case.name}: the model on one schedule replayed {len(runs)} times")
        rows.append(same_seed_row(stack, case.name, runs))
    return rows


def exposure(summaries: Sequence[Summary], duration: float, skip: float = 0.0) -> Exposure:
    """Seconds of traffic watched before each run's first freeze (or its end), from `skip` on,
    and how many first froze there: a run stopped at its first freeze tells nothing after it,
    so each run counts once at most."""
    seconds, freezes = 0.0, 0
    for s in summaries:
        event = froze(s) and s.first_freeze_at <= duration
        end = s.first_freeze_at if event else duration
        if end <= skip:
            continue
        seconds += end - skip
        freezes += event
    mttf, ci = exponential_mean(seconds, freezes)
    return Exposure(len(summaries), seconds, freezes, mttf, ci)


def long_row(
    stack: str,
    case: str,
    what: str,
    runs: Sequence[tuple[Path, Result]],
    many: int = LONG_MANY,
    simulate: Callable = predict,
    mttf: Callable | None = None,
) -> LongRow:
    """`mttf(scenario, rate)` is `sim.risk.mttf.estimate` unless given."""
    if mttf is None:
        from sim.risk.mttf import estimate as mttf
    measured = [r.summary for _, r in runs]
    root = root_seed(runs)
    base = measured_scenario(runs[0][1])
    own = [simulate(base.replace(seed=replication_seed(root, k))).summary for k in range(many)]
    risk = mttf(base, base.arrival_spec.rate)
    return LongRow(
        stack=stack,
        case=case,
        what=what,
        measured=exposure(measured, base.duration),
        measured_warm=exposure(measured, base.duration, COLD_START),
        model=exposure(own, base.duration),
        risk_mttf=risk.mttf_s,
        risk_mttf_ci=risk.mttf_ci,
        risk_method=risk.method,
        cold_start=(cold(measured), cold(own)),
        loadavg=loadavg([r for _, r in runs]),
    )


def long_rows(
    stacks: Sequence[str], root: Path = RISK_RESULTS, log: Callable[[str], None] = print
) -> list[LongRow]:
    rows = []
    for stack, case, runs in cases_with_runs(stacks, LONG_CASES, root):
        log(f"{stack}/{case.name}: {len(runs)} long runs, the model on {LONG_MANY} seeds")
        rows.append(long_row(stack, case.name, case.what, runs))
    return rows
