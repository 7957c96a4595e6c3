"""`python -m validation risk`: one case run K times on the real app, and the app's own odds.

Replication k runs at `replication_seed(seed, k)`, the seed the model's `--replications` gives
its run k, so for Poisson traffic both draw the same send schedule (validation.arrivals). Every
run is stored under results/risk/<stack>/<case>/<k>.json (measurement data, committed) and the
odds come from `sim.risk.replications.risk_of` over the Summaries derived again from the stored
timelines, as compare does: the app and the model are summed up by one function.

A collapsed server drains its backlog at one request per pool_timeout for tens of minutes after
the traffic stops, so each run is cut off CUT_OFF_GRACE seconds after the last send: P(freeze
within the run), P(collapse) (no recovery while traffic lasts) and the first freeze are all
decided by then.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from sim.errors import ScenarioError
from sim.result import Result
from sim.risk.replications import Risk, replication_seed, risk_of
from validation.cases import CUT_OFF_GRACE, Case
from validation.compare import load_measured, scenario_for
from validation.errors import HarnessFailure
from validation.postgres import database

HERE = Path(__file__).parent
RISK_RESULTS = HERE / "results" / "risk"
# One schedule replayed K times (`--same-seed`): every run at the root seed, so what still
# varies from run to run is the server's own jitter.
SAME_SEED_RESULTS = HERE / "results" / "risk-same-seed"
MAX_REPLICATIONS = 1000


def run_path(stack: str, case: str, k: int, root: Path = RISK_RESULTS) -> Path:
    return root / stack / case / f"{k}.json"


def check_replications(replications: int) -> None:
    if not 1 <= replications <= MAX_REPLICATIONS:
        raise ScenarioError(
            f"--replications must be an integer 1..{MAX_REPLICATIONS}, got {replications}"
        )


def measure(
    stack: str,
    case: Case,
    replications: int,
    seed: int,
    database_url: str | None = None,
    root: Path | None = None,
    log: Callable[[str], None] = print,
    first: int = 0,
    same_seed: bool = False,
    stop_at_first_freeze: bool = False,
) -> list[Path]:
    """Run `case` as replications `first`..`first + replications - 1` on one PostgreSQL (run k
    at replication_seed(seed, k), or at `seed` itself with `same_seed`); store each Result;
    return the paths. `stop_at_first_freeze` ends a run CUT_OFF_GRACE s after its first
    freeze: for long runs that measure the time to it."""
    from validation.runner import check_runnable, run

    check_replications(replications)
    if first < 0:
        raise ScenarioError(f"--first must be an integer >= 0, got {first}")
    root = root or (SAME_SEED_RESULTS if same_seed else RISK_RESULTS)
    base = scenario_for(stack, case).replace(seed=seed)
    check_runnable(base)
    cut_off = base.duration + CUT_OFF_GRACE
    after_freeze = CUT_OFF_GRACE if stop_at_first_freeze else None
    paths = []
    with database(database_url) as db:
        for k in range(first, first + replications):
            scenario = base if same_seed else base.replace(seed=replication_seed(seed, k))
            try:
                result = run(scenario, db=db, cut_off=cut_off, after_freeze=after_freeze).result
            except HarnessFailure as exc:
                log(f"{stack}/{case.name} run {k}: failed: {exc}")
                continue
            path = run_path(stack, case.name, k, root)
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(path.name + ".tmp")
            partial.write_text(result.to_json() + "\n")
            partial.replace(path)
            paths.append(path)
            s = result.summary
            log(
                f"{stack}/{case.name} run {k + 1}/{first + replications} (seed {scenario.seed}): "
                f"first freeze {s.first_freeze_at}, recovered {s.recovered}, "
                f"load {result.params['harness'].get('loadavg')}"
            )
    return paths


def stored_runs(stack: str, case: str, root: Path = RISK_RESULTS) -> list[tuple[Path, Result]]:
    """Every stored run of the case on the stack, in replication order."""
    folder = root / stack / case
    paths = sorted(folder.glob("*.json"), key=lambda p: int(p.stem)) if folder.is_dir() else []
    return [(p, load_measured(p)) for p in paths]


def cases_with_runs(
    stacks: Sequence[str], cases: Sequence[Case], root: Path = RISK_RESULTS
) -> Iterator[tuple[str, Case, list[tuple[Path, Result]]]]:
    """(stack, case, its stored runs) for every case with runs stored on each stack."""
    for stack in stacks:
        for case in cases:
            runs = stored_runs(stack, case.name, root)
            if runs:
                yield stack, case, runs


def measured_risk(results: Sequence[Result]) -> Risk:
    return risk_of([r.summary for r in results])


def odds_text(risk: Risk, duration: float) -> str:
    """What a cut-off run decides: the odds of a freeze and of a collapse, and when. Frozen
    fraction and error rate are left out: a run cut off mid-collapse ends before its backlog."""

    def pct(p: float) -> str:
        return f"{100 * p:.3g}%"

    def odds(p: float, ci: tuple[float, float]) -> str:
        return f"{pct(p)} [{pct(ci[0])}, {pct(ci[1])}]"

    q = risk.first_freeze_quantiles
    when = ", ".join(
        f"{pct(float(key))} "
        + (f"by {q[key]:.3f} s" if q[key] is not None else f"not in {duration:g} s")
        for key in q
    )
    return "\n".join(
        [
            f"over {risk.replications} runs (95% Wilson intervals):",
            f"  P(freeze within the run): {odds(risk.p_freeze, risk.p_freeze_ci)}",
            f"  P(collapse, no recovery while traffic lasts): "
            f"{odds(risk.p_collapse, risk.p_collapse_ci)}",
            f"  first freeze: {when}",
        ]
    )
