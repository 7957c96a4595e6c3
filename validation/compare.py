"""`python -m validation compare`: measure (or reuse) each case, predict it, write the report.

The only harness module that imports the model. Measurements are committed under
results/<stack>/<case>.json and reused unless `--rerun`; the model is always run afresh on the
Scenario the measurement recorded (its params, less the harness's own `harness` key).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from sim.result import Result
from sim.scenario import Scenario
from validation.agreement import Row, checks
from validation.calibrate import profile_path
from validation.cases import Case, cases_for
from validation.envs import ensure_env
from validation.errors import HarnessFailure, HarnessUnavailable
from validation.postgres import Database, database
from validation.report import render_json, render_markdown

HERE = Path(__file__).parent
RESULTS = HERE / "results"


def scenario_for(stack: str, case: Case) -> Scenario:
    """The case's overrides on the stack's calibrated costs."""
    overrides = {"stack": stack, **case.overrides}
    profile = profile_path(stack)
    return (
        Scenario.from_profile(profile, **overrides)
        if profile.exists()
        else Scenario.create(**overrides)
    )


def result_path(stack: str, case: str) -> Path:
    return RESULTS / stack / f"{case}.json"


def measured_scenario(result: Result) -> Scenario:
    return Scenario.create(**{k: v for k, v in result.params.items() if k != "harness"})


def predict(scenario: Scenario) -> Result:
    from sim.model import simulate

    return simulate(scenario)


def compare_stack(
    stack: str, remeasure: set[str], db: Callable[[], Database], log: Callable
) -> list[Row]:
    """Every case of `stack`; those named in `remeasure`, or never measured, are run now."""
    from validation.runner import run

    rows = []
    for case in cases_for(stack):
        path = result_path(stack, case.name)
        if case.name in remeasure or not path.exists():
            log(f"{stack}/{case.name}: measuring")
            try:
                measured = run(scenario_for(stack, case), db=db()).result
            except HarnessFailure as exc:
                rows.append(Row(stack, case.name, case.what, None, None, (), f"run failed: {exc}"))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(measured.to_json() + "\n")
        else:
            measured = Result.from_json(path.read_text())
        try:
            predicted = predict(measured_scenario(measured))
        except ImportError as exc:
            rows.append(Row(stack, case.name, case.what, measured, None, (), f"no model: {exc}"))
            continue
        except Exception as exc:  # a model crash is a finding for the report, not a stop
            note = f"model raised {type(exc).__name__}: {exc}"
            rows.append(Row(stack, case.name, case.what, measured, None, (), note))
            continue
        result_checks = tuple(checks(measured, predicted))
        rows.append(Row(stack, case.name, case.what, measured, predicted, result_checks))
        log(f"{stack}/{case.name}: {'pass' if rows[-1].ok else 'FAIL'}")
    return rows


def compare_all(
    stacks: Iterable[str],
    case: str = "all",
    rerun: bool = False,
    database_url: str | None = None,
    log: Callable[[str], None] = print,
    out: Path = HERE,
) -> str:
    """Compare every stack's cases, write REPORT.md and REPORT.json to `out`, return a summary.

    `case` and `rerun` choose what is measured again; the report always covers every case.
    """
    rows: list[Row] = []
    skipped: dict[str, str] = {}
    with contextlib.ExitStack() as exits:
        shared: list[Database] = []

        def db() -> Database:
            """The batch's one database, started on first use only (reuse needs none)."""
            if not shared:
                shared.append(exits.enter_context(database(database_url)))
            return shared[0]

        for stack in stacks:
            chosen = {c.name for c in cases_for(stack, case)}
            remeasure = chosen if rerun else set()
            try:
                if remeasure or any(
                    not result_path(stack, c.name).exists() for c in cases_for(stack)
                ):
                    ensure_env(stack)
                rows += compare_stack(stack, remeasure, db, log)
            except HarnessUnavailable as exc:
                skipped[stack] = str(exc)
                log(f"{stack}: skipped: {exc}")
    md, js = out / "REPORT.md", out / "REPORT.json"
    md.write_text(render_markdown(rows, skipped))
    js.write_text(json.dumps(render_json(rows, skipped), indent=1) + "\n")
    passed = sum(r.ok for r in rows)
    return f"{passed}/{len(rows)} cases agree; wrote {md} and {js}"
