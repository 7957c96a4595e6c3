"""The freeze odds of the real app against the model's, for compare's "Freeze odds" section.

Imports the model (as compare does). Two predictions per risk case, both from the stored runs'
own Scenario:
- paired: the model on each measured run's own send times (`trace:`), run by run, so the only
  difference left is what the app and the model do with the same arrivals;
- the model's own odds, as `sim run --replications` draws them (run k at
  `replication_seed(root, k)`), without trace replay: over the same K seeds (the same Poisson
  schedules, drawn by the model) and over MANY seeds.

Agreement is judged in validation.agreement (OddsRow).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from sim.result import Result, Summary
from sim.risk.replications import replication_seed, risk_of
from validation.agreement import OddsRow
from validation.cases import RISK_CASES
from validation.compare import measured_scenario, model_scenario, predict
from validation.risk import RISK_RESULTS, stored_runs

MANY = 200
COLD_START = 1.0  # seconds: the "cold pool" window


def froze(summary: Summary) -> bool:
    return summary.first_freeze_at is not None


def cold(summaries: Sequence[Summary]) -> int:
    """How many first froze within the cold start."""
    return sum(froze(s) and s.first_freeze_at < COLD_START for s in summaries)


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
) -> OddsRow:
    measured = [r for _, r in runs]
    paired = [simulate(model_scenario(r, p)).summary for p, r in runs]
    root = root_seed(runs)
    base = measured_scenario(measured[0])
    own = [simulate(base.replace(seed=replication_seed(root, k))).summary for k in range(many)]
    k = len(runs)
    loads = [r.params.get("harness", {}).get("loadavg") for r in measured]
    loads = [x for x in loads if x is not None] or [float("nan")]
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
        loadavg=(min(loads), statistics.median(loads), max(loads)),
        cut_off=sum("cut_off_at" in r.params.get("harness", {}) for r in measured),
        cold_start=(cold([r.summary for r in measured]), cold(own)),
    )


def odds_rows(
    stacks: Sequence[str], root: Path = RISK_RESULTS, log: Callable[[str], None] = print
) -> list[OddsRow]:
    """A row for every risk case with stored runs on each stack."""
    rows = []
    for stack in stacks:
        for case in RISK_CASES:
            runs = stored_runs(stack, case.name, root)
            if runs:
                log(f"{stack}/{case.name}: the model on {len(runs)} runs and {MANY} seeds")
                rows.append(odds_row(stack, case.name, case.what, runs))
    return rows
