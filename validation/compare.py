"""`python -m validation compare`: measure (or reuse) each case, predict it, write the report.

The only harness module that imports the model. Measurements are committed under
results/<stack>/<case>.json and reused unless `--rerun`; the model is always run afresh on the
Scenario the measurement recorded (its params, less the harness's own `harness` key). For steady
traffic the model replays the measured send times (`--arrival trace:` on the recorded Result), so
the app and the model see the same arrivals and differ only in what they do with them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from sim.distributions import is_form
from sim.result import Result, summarize
from sim.scenario import COSTS, Scenario
from sim.traces import Trace, write_csv
from validation.agreement import Check, Row, checks, steady_checks
from validation.calibrate import profile_path
from validation.cases import REPLAY_CASES, Case, cases_for, is_steady
from validation.envs import ensure_env
from validation.errors import HarnessFailure, HarnessUnavailable
from validation.figures import agreement_counts, rewrite, write_atomic
from validation.postgres import Database, database
from validation.report import render_json, render_markdown

HERE = Path(__file__).parent
RESULTS = HERE / "results"
FINDINGS = HERE / "FINDINGS.md"
DOCUMENTS = (HERE.parent / "README.md", FINDINGS)


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


def load_measured(path: Path) -> Result:
    """A recorded measurement, its summary derived again from its timeline by today's rules
    (sim.result.summarize), so model and measurement are always summed up the same way."""
    result = Result.from_json(path.read_text())
    summary = summarize(result.requests, result.loop_blocked, result.params["freeze_threshold"])
    return dataclasses.replace(result, summary=summary)


def measured_scenario(result: Result) -> Scenario:
    """The measured run's Scenario, with today's calibrated costs and split: the costs and the
    split recorded with a measurement were model inputs only, the real app never read them.
    A drawn query time is the exception: the client sent each request's draw to the app as its
    `q` (`SELECT pg_sleep(q)`, validation.runner.request_params), so the run keeps it."""
    skip = {"harness", "split", *COSTS}
    kept = {k: v for k, v in result.params.items() if k not in skip}
    if is_form(str(result.params.get("query_time", ""))):
        kept["query_time"] = result.params["query_time"]
    return Scenario.create(**kept)


def model_scenario(result: Result, path: Path) -> Scenario:
    """What the model runs for a measurement stored at `path`: the same Scenario, and for an
    external client the measured send times (`trace:`), so model and app see the same
    arrivals; a trace's own per-request work and query go with each request's measured time.
    The in-process client is part of what is modelled, so it keeps its burst."""
    scenario = measured_scenario(result)
    if scenario.arrival == "burst" and scenario.client == "in-process":
        return scenario
    replay = scenario.arrival_spec.replay
    if replay is None or (replay.column("work") is None and replay.column("query") is None):
        return scenario.replace(arrival=f"trace:{path}")
    # The trace gave each request its own work or query: keep them with the measured times.
    sent = {r.i: r.sent_at for r in result.requests}
    measured = Trace(
        tuple(
            dataclasses.replace(request, sent_at=sent[i])
            for i, request in enumerate(replay.requests)
            if sent.get(i) is not None
        )
    )
    trace = path.with_name(path.stem + "-trace.csv")
    write_atomic(trace, write_csv(measured))
    return scenario.replace(arrival=f"trace:{trace}")


def predict(scenario: Scenario) -> Result:
    from sim.model import simulate

    return simulate(scenario)


def judge(
    measured: Result, path: Path, steady: bool
) -> tuple[Result, tuple[Check, ...], tuple[Check, ...]]:
    """The prediction for the measurement at `path` and its checks; for a burst also the checks
    of the model with every request sent at t=0 (the recorded burst Scenario, no `trace:`)."""
    scenario = model_scenario(measured, path)
    predicted = predict(scenario)
    if steady:
        return predicted, tuple(steady_checks(measured, predicted)), ()
    found = tuple(checks(measured, predicted))
    at_zero = measured_scenario(measured)
    if at_zero == scenario:
        return predicted, found, found
    return predicted, found, tuple(checks(measured, predict(at_zero)))


def compare_stack(
    stack: str, remeasure: set[str], db: Callable[[], Database], log: Callable
) -> list[Row]:
    """Every case of `stack`; those named in `remeasure`, or never measured, are run now."""
    from validation.runner import run

    rows = []
    for case in cases_for(stack):
        path = result_path(stack, case.name)
        steady = is_steady(case)

        def row(
            measured=None, predicted=None, found=(), note="", at_zero=(), case=case, steady=steady
        ) -> Row:
            return Row(
                stack,
                case.name,
                case.what,
                measured,
                predicted,
                found,
                note,
                steady,
                at_zero,
                case.hold_out,
            )

        if case.name in remeasure or not path.exists():
            log(f"{stack}/{case.name}: measuring")
            try:
                measured = run(scenario_for(stack, case), db=db()).result
            except HarnessFailure as exc:
                rows.append(row(note=f"run failed: {exc}"))
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(measured.to_json() + "\n")
        else:
            measured = load_measured(path)
        try:
            predicted, found, at_zero = judge(measured, path, steady)
        except ImportError as exc:
            rows.append(row(measured, note=f"no model: {exc}"))
            continue
        except Exception as exc:  # a model crash is a finding for the report, not a stop
            rows.append(row(measured, note=f"model raised {type(exc).__name__}: {exc}"))
            continue
        rows.append(row(measured, predicted, found, at_zero=at_zero))
        log(f"{stack}/{case.name}: {'pass' if rows[-1].ok else 'FAIL'}")
    return rows


def compare_all(
    stacks: Iterable[str],
    case: str = "all",
    rerun: bool = False,
    database_url: str | None = None,
    log: Callable[[str], None] = print,
    out: Path = HERE,
    documents: Iterable[Path] = DOCUMENTS,
    risk_results: Path = RESULTS / "risk",
    same_seed_results: Path = RESULTS / "risk-same-seed",
    repeat_results: Path = RESULTS,
) -> str:
    """Compare every stack's cases, write REPORT.md and REPORT.json to `out`, refresh the counts
    `documents` quote (FINDINGS.md before it goes into REPORT.md), return a summary.

    `case` and `rerun` choose what is measured again; the report always covers every case, and
    the freeze odds of every risk case with runs stored under `risk_results`, the long runs
    stored there and the same-seed replays under `same_seed_results` (never re-measured here:
    `python -m validation risk` does that), and the repeated burst runs stored under
    `repeat_results` (validation.repeats; never re-measured here either).
    """
    from validation.odds import long_rows, odds_rows, same_seed_rows  # they build on this module
    from validation.processes import process_rows, processes_table
    from validation.repeats import repeat_record, repeat_rows, repeats_table
    from validation.workloads import workload_rows, workloads_table

    stacks = tuple(stacks)
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
    odds = odds_rows(stacks, risk_results, log)
    same = same_seed_rows(stacks, same_seed_results, log)
    long = long_rows(stacks, risk_results, log)
    several = process_rows(stacks, risk_results, log)
    repeats = repeat_rows(stacks, repeat_results, log)
    workloads = workload_rows(stacks, risk_results, log)
    replays = [r for r in rows if r.case in {c.name for c in REPLAY_CASES}]
    md, js = out / "REPORT.md", out / "REPORT.json"
    report = render_json(
        rows,
        skipped,
        odds,
        same,
        long,
        [row.to_dict() for row in several],
        [repeat_record(row) for row in repeats],
        [row.to_dict() for row in workloads],
    )
    counts = agreement_counts(report["rows"])
    for document in documents:
        if document.exists():
            rewrite(document, counts)
    findings = FINDINGS.read_text() if FINDINGS.exists() else None
    write_atomic(js, json.dumps(report, indent=1) + "\n")
    sections = (
        processes_table(several),
        repeats_table(repeats),
        workloads_table(workloads, replays),
    )
    write_atomic(md, render_markdown(rows, skipped, findings, odds, same, long, *sections))
    return f"{counts['all'].agree}/{counts['all'].of} cases agree; wrote {md} and {js}"
