"""`python -m validation run | calibrate | compare | risk`: parsing and printing only.

Scenario flags are generated from `sim.scenario.SPECS`, so they are the model's flags, with the
same names, parsing and one-line errors.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from sim.errors import ScenarioError
from sim.result import Result
from sim.scenario import SPECS, Scenario
from sim.stacks import STACKS
from validation.errors import HarnessFailure, HarnessUnavailable


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m validation", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run one scenario on the real app")
    for spec in SPECS.values():
        run.add_argument(spec.flag, dest=spec.name, default=None, metavar="V",
                         help=f"{spec.help} ({spec.allowed})")  # fmt: skip
    run.add_argument("--repeat", type=int, default=1, help="runs of the same scenario")
    run.add_argument("--json", action="store_true", help="print the Result JSON")
    run.add_argument("--out", type=Path, help="keep the Result and raw logs in this folder")
    run.add_argument("--database-url", help="use this PostgreSQL instead of starting one")

    cal = commands.add_parser("calibrate", help="measure the model's costs on this machine")
    cal.add_argument("--stack", choices=tuple(STACKS), action="append")
    cal.add_argument("--out", type=Path, help="profile file (default validation/profiles/S.json)")
    cal.add_argument("--database-url")
    cal.add_argument(
        "--keep-costs",
        action="store_true",
        help="keep the profile's costs, write only the request_cpu shares, callback count and "
        "the costs' jitter shapes (ratios and counts a busy machine moves less than times)",
    )

    cmp_ = commands.add_parser("compare", help="model vs real app on the case set; REPORT.md")
    cmp_.add_argument("--stack", choices=tuple(STACKS), action="append")
    cmp_.add_argument(
        "--cases",
        default="all",
        help="with --rerun: measure again this case, the steady ones (steady), or all",
    )
    cmp_.add_argument("--rerun", action="store_true", help="measure again instead of reusing")
    cmp_.add_argument("--database-url")

    risk = commands.add_parser("risk", help="a case K times on the real app: the freeze odds")
    risk.add_argument("--stack", choices=tuple(STACKS), required=True)
    risk.add_argument("--case", required=True, help="a risk case (validation/cases.py)")
    risk.add_argument("--replications", type=int, required=True, help="runs, 1..1000")
    risk.add_argument("--seed", type=int, default=0, help="root seed; run k at replication_seed")
    risk.add_argument("--first", type=int, default=0, help="first replication k (to add runs)")
    risk.add_argument(
        "--same-seed",
        action="store_true",
        help="every run at the root seed: one schedule K times, the server's own jitter",
    )
    risk.add_argument(
        "--stop-at-first-freeze",
        action="store_true",
        help="end each run soon after its first freeze (long runs: the time to it)",
    )
    risk.add_argument("--database-url")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (ScenarioError, HarnessUnavailable, HarnessFailure) as exc:
        print(f"python -m validation {args.command}: {exc}", file=sys.stderr)
        return 2


def scenario_from(args: argparse.Namespace) -> Scenario:
    """Flags over the stack's calibrated profile (if committed), over Scenario's defaults."""
    from validation.calibrate import profile_path

    given = {name: getattr(args, name) for name in SPECS if getattr(args, name) is not None}
    stack = Scenario.create(**{k: v for k, v in given.items() if k == "stack"}).stack
    profile = profile_path(stack)
    return Scenario.from_profile(profile, **given) if profile.exists() else Scenario.create(**given)


def cmd_run(args: argparse.Namespace) -> int:
    from validation.postgres import database
    from validation.runner import check_runnable, run

    scenario = scenario_from(args)
    check_runnable(scenario)
    if args.repeat < 1:
        raise ScenarioError(f"--repeat must be an integer >= 1, got {args.repeat}")
    results = []
    with database(args.database_url) as db:
        for k in range(args.repeat):
            keep = None if args.out is None else args.out / f"run-{k}"
            done = run(scenario, db=db, keep=keep)
            if keep is not None:
                (keep / "result.json").write_text(done.result.to_json() + "\n")
            results.append(done.result)
            if not args.json:
                print(summary_text(done.result, k))
    if args.json:
        texts = [r.to_json() for r in results]
        print(texts[0] if len(texts) == 1 else "[" + ",\n".join(texts) + "]")
    return 0


def summary_text(result: Result, k: int = 0) -> str:
    s = result.summary
    harness = result.params.get("harness", {})
    lines = [
        f"run {k}: {result.params['stack']} ({harness.get('python')}, {harness.get('loop')}), "
        f"{result.params['endpoint']}, {result.params['client']} client",
        f"  handled before first freeze: {s.handled_before_freeze}; "
        f"200: {s.ok}, 5xx: {s.server_errors}, client errors: {s.client_errors}",
        f"  freezes: {s.freezes}, frozen {s.frozen_seconds:.2f} s "
        f"(first at {s.first_freeze_at}), makespan {s.makespan:.2f} s, "
        f"p50 {s.latency_p50}, p99 {s.latency_p99}",
    ]
    lines += [f"  loop blocked {a:8.3f} .. {b:8.3f} s" for a, b in result.loop_blocked]
    return "\n".join(lines)


def cmd_calibrate(args: argparse.Namespace) -> int:
    from validation.calibrate import calibrate, keep_costs, profile_path, write_profile

    for stack in args.stack or tuple(STACKS):
        try:
            profile = calibrate(stack, args.database_url)
        except HarnessUnavailable as exc:
            print(f"skipping {stack}: {exc}", file=sys.stderr)
            continue
        path = args.out or profile_path(stack)
        if args.keep_costs:
            profile = keep_costs(json.loads(path.read_text()), profile)
        write_profile(profile, path)
        print(f"{stack}: {json.dumps(profile['costs'])} -> {path}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from validation.compare import compare_all

    report = compare_all(
        stacks=args.stack or tuple(STACKS),
        case=args.cases,
        rerun=args.rerun,
        database_url=args.database_url,
        log=lambda line: print(line, file=sys.stderr),
    )
    print(report)
    return 0


def cmd_risk(args: argparse.Namespace) -> int:
    from validation.cases import risk_case
    from validation.risk import (
        RISK_RESULTS,
        SAME_SEED_RESULTS,
        check_replications,
        measure,
        measured_risk,
        odds_text,
        stored_runs,
    )

    case = risk_case(args.case)
    check_replications(args.replications)
    if args.stack not in case.stacks:
        raise ScenarioError(f"--stack {args.stack}: {case.name} runs on {', '.join(case.stacks)}")
    measure(
        args.stack,
        case,
        args.replications,
        args.seed,
        args.database_url,
        log=lambda line: print(line, file=sys.stderr),
        first=args.first,
        same_seed=args.same_seed,
        stop_at_first_freeze=args.stop_at_first_freeze,
    )
    root = SAME_SEED_RESULTS if args.same_seed else RISK_RESULTS
    runs = range(args.first, args.first + args.replications)
    results = [r for p, r in stored_runs(args.stack, case.name, root) if int(p.stem) in runs]
    if not results:
        raise HarnessFailure(f"no run of {case.name} on {args.stack} finished")
    risk = measured_risk(results)
    print(f"{args.stack}/{case.name}: the real app over {risk.replications} runs")
    print(odds_text(risk, results[0].params["duration"]))
    return 0


COMMANDS = {
    "run": cmd_run,
    "calibrate": cmd_calibrate,
    "compare": cmd_compare,
    "risk": cmd_risk,
}
