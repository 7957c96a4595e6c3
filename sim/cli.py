"""`python -m sim`: parse arguments, call the model, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sim.errors import ScenarioError
from sim.scenario import SPECS, Scenario

# `run --replications` asks before a job longer than this (seconds, spread over the workers).
MAX_SECONDS = 600.0


class UsageError(Exception):
    """Bad command-line input: one line on stderr, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse's own errors, as one line and exit 2
        raise UsageError(message)


def add_scenario_flags(parser: argparse.ArgumentParser) -> None:
    """One option per Scenario field, all left unset so only given values override defaults."""
    for spec in SPECS.values():
        parser.add_argument(
            spec.flag,
            dest=spec.name,
            default=None,
            metavar="VALUE",
            help=f"{spec.help} ({spec.allowed})",
        )
    parser.add_argument(
        "--profile",
        default=None,
        metavar="FILE",
        help="a profile written by `python -m validation calibrate`: its stack, loop and costs, "
        "under the flags given",
    )


def scenario_from_args(args: argparse.Namespace) -> Scenario:
    given = {name: getattr(args, name) for name in SPECS if getattr(args, name) is not None}
    if args.profile:
        return Scenario.from_profile(args.profile, **given)
    return Scenario.create(**given)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m sim", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    run = commands.add_parser("run", help="simulate one scenario")
    add_scenario_flags(run)
    run.add_argument("--json", action="store_true", help="print the Result as JSON")
    run.add_argument("--rows", type=int, default=40, help="timeline rows to print")
    run.add_argument("--plot", default=None, metavar="FILE", help="draw the Gantt timeline (PNG)")
    run.add_argument(
        "--replications",
        default="1",
        metavar="K",
        help="independent runs, seeds derived from --seed (an integer from 1 to 100000); "
        "K > 1 adds the odds of a freeze and of a collapse, with 95%% intervals",
    )
    add_executor_flags(run, "replications")
    run.add_argument(
        "--max-seconds",
        default=None,
        metavar="S",
        help=f"with --replications: refuse a job the first run says would take longer than S "
        f"seconds of CPU over the workers (a number > 0; default {MAX_SECONDS:g})",
    )
    risk = commands.add_parser(
        "risk", help="mean time to the first freeze under steady traffic, seconds to years"
    )
    risk.add_argument("--rate", required=True, help="Poisson requests per second (> 0)")
    risk.add_argument(
        "--method",
        default="auto",
        help="auto, replications (run until the first freeze, K times) or splitting "
        "(multilevel splitting, for rare freezes); auto picks by a pilot run",
    )
    risk.add_argument(
        "--budget",
        default=None,
        metavar="REQUESTS",
        help="simulated requests to spend at most (an integer from 1000 to 10^9; default "
        "400000, about 30 s of CPU here); a count, not seconds, so the answer is the same on "
        "any machine",
    )
    risk.add_argument("--json", action="store_true", help="print the estimate as JSON")
    add_scenario_flags(risk)
    advise = commands.add_parser(
        "advise", help="smallest pool for steady traffic, or the fix when none is enough"
    )
    advise.add_argument("--rate", required=True, help="requests per second (> 0)")
    advise.add_argument(
        "--target-mttf",
        default="86400",
        help="wanted mean seconds to the first freeze (> 0; default one day)",
    )
    advise.add_argument("--cores", default=None, help="CPU cores for HikariCP's rule (>= 1)")
    advise.add_argument(
        "--plot",
        default=None,
        metavar="FILE",
        help="also draw the time to the first freeze against the rate (model and theory; "
        "runs the model at several rates, a few seconds)",
    )
    add_scenario_flags(advise)
    add_sweep_parser(commands)
    add_plot_parser(commands)
    add_trace_parser(commands)
    return parser


def add_executor_flags(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 1,
        help=f"local processes that compute the {what} (default: one per core)",
    )
    parser.add_argument(
        "--dask",
        default=None,
        metavar="ADDRESS",
        help=f"compute the {what} on the Dask scheduler at ADDRESS (tcp://host:port)",
    )


def add_trace_parser(commands: argparse._SubParsersAction) -> None:
    from sim.accesslog import FORMATS

    trace = commands.add_parser(
        "trace-from-log",
        help="an access log's request times as a trace (CSV) for --arrival trace:FILE",
    )
    trace.add_argument("log", help="the access log (formats: sim/accesslog.py, README)")
    trace.add_argument("--format", choices=FORMATS, default="uvicorn")
    trace.add_argument("--out", default=None, metavar="FILE", help="write here (default stdout)")


def add_sweep_parser(commands: argparse._SubParsersAction) -> None:
    sweep = commands.add_parser(
        "sweep",
        help="simulate a grid of scenarios; results table, heatmaps and report.md",
        description="Each scenario flag takes values and ranges: --pool-size 1:20, "
        "--requests 1,5,10:100:10, --endpoint async-sync-session,sync. "
        "With no axes, the embedded default grid around the seed.",
    )
    add_scenario_flags(sweep)
    sweep.add_argument("--grid", default=None, metavar="FILE", help="a saved grid (TOML)")
    sweep.add_argument("--out", default="sweep-out", metavar="DIR", help="output directory")
    sweep.add_argument("--format", choices=("parquet", "csv"), default="parquet")
    add_executor_flags(sweep, "rows")
    sweep.add_argument("--fast", action="store_true", help="closed form where it is exact")
    sweep.add_argument("--batch", type=int, default=256, help="rows per file written")
    sweep.add_argument(
        "--replications",
        default=None,
        metavar="K",
        help="runs per cell, seeds derived from each cell's (an integer from 1 to 100000); "
        "K > 1 adds cells.parquet with the odds per cell and risk maps; with no axes, the "
        "default risk map's K (20)",
    )
    sweep.add_argument(
        "--mttf-budget",
        default=None,
        metavar="REQUESTS",
        help="with replications and steady traffic: simulated requests of splitting per cell for "
        "the model's MTTF (an integer from 0 to 10^9, 0 = none; default 20000)",
    )
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")


def add_plot_parser(commands: argparse._SubParsersAction) -> None:
    plot = commands.add_parser("plot", help="redraw a heatmap from a sweep's results")
    plot.add_argument("results", help="results.parquet or results.csv from `sweep`")
    plot.add_argument("--x", default="pool_size")
    plot.add_argument("--y", default="requests")
    plot.add_argument("--z", default="frozen_seconds")
    plot.add_argument("--where", action="append", default=[], metavar="FIELD=VALUE")
    plot.add_argument("--out", default=None, metavar="FILE", help="PNG (default: next to input)")


def _progress(total: int | None, desc: str):
    """One line on stderr while a long job runs (none when stderr is not a terminal)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, disable=None, leave=False)


def cmd_run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from sim.model import simulate
    from sim.risk.replications import replicate
    from sim.risk.text import duration, risk_text
    from sim.sweep.executors import make_executor
    from sim.sweep.keys import Settings
    from sim.timeline import summary_text, timeline_text

    replications = _bounded_int(args.replications, "--replications", 1, 100_000)
    max_seconds = (
        MAX_SECONDS if args.max_seconds is None else _positive(args, "max_seconds", "--max-seconds")
    )
    scenario = scenario_from_args(args)
    if replications == 1:
        result = simulate(scenario)
    else:
        executor = make_executor(min(args.workers, replications - 1), args.dask, Settings())

        def paced(first: float) -> None:
            at_once = executor.parallel  # a Dask cluster is asked once
            expected = first * (replications - 1) / at_once
            if expected > max_seconds:
                raise UsageError(
                    f"--replications {replications} would take about {duration(expected)} "
                    f"({first:.2f} s of CPU per run, {at_once} at once): pass "
                    f"--max-seconds {math.ceil(expected)} or more to run it (default "
                    f"{MAX_SECONDS:g}), or fewer replications"
                )

        try:
            with _progress(replications, "replications") as bar:
                result, risk = replicate(
                    scenario, replications, simulate, lambda: bar.update(1), executor.calls, paced
                )
        finally:
            executor.close()
        result = replace(result, risk=risk.to_dict())
    if args.plot:
        from sim.plots import gantt

        gantt(result, Path(args.plot))
    if args.json:
        print(result.to_json())
    else:
        print(summary_text(result))
        if result.risk is not None:
            print(risk_text(result.risk, scenario.duration))
        print()
        print(timeline_text(result, max_rows=args.rows))
    return 0


def _bounded_int(text: str, flag: str, low: int, high: int) -> int:
    try:
        value = int(str(text).strip())
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise UsageError(f"{flag} must be an integer from {low} to {high}, got {text!r}")
    return value


def cmd_risk(args: argparse.Namespace) -> int:
    import json
    import time

    from sim.risk.mttf import BUDGET, METHODS, estimate
    from sim.risk.text import mttf_text

    rate = _positive(args, "rate", "--rate")
    budget = BUDGET if args.budget is None else _bounded_int(args.budget, "--budget", 1000, 10**9)
    if args.method not in METHODS:
        raise UsageError(f"--method must be one of {', '.join(METHODS)}, got {args.method!r}")
    if args.arrival is not None:
        raise UsageError("--arrival is not taken by `risk`: its traffic is Poisson at --rate")
    if args.client == "in-process":
        raise UsageError("--client must be external for `risk` (steady traffic from outside)")
    scenario = scenario_from_args(args)
    started = time.process_time()
    with _progress(None, "risk") as bar:
        found = estimate(scenario, rate, args.method, budget, bar.set_postfix_str)
    print(f"risk: {time.process_time() - started:.1f} s CPU", file=sys.stderr)
    if args.json:
        print(json.dumps(found.to_dict(), indent=1))
    else:
        print(mttf_text(found, rate))
    return 0


def _positive(args: argparse.Namespace, name: str, flag: str, cast: type = float) -> float:
    try:
        value = cast(getattr(args, name))
    except (TypeError, ValueError):
        value = 0
    if not value > 0:
        raise UsageError(f"{flag} must be a number > 0, got {getattr(args, name)!r}")
    return value


def cmd_advise(args: argparse.Namespace) -> int:
    import os

    from sim.advise import advise, render

    rate = _positive(args, "rate", "--rate")
    target = _positive(args, "target_mttf", "--target-mttf")
    cores = (
        (os.cpu_count() or 1) if args.cores is None else _positive(args, "cores", "--cores", int)
    )
    base = scenario_from_args(args)
    with _progress(None, "advise") as bar:
        found = advise(rate, base, target, cores, report=bar.set_postfix_str)
    print(render(found, base))
    if args.plot:
        from sim.plots import first_freeze_vs_rate

        rates = [rate * f for f in (0.5, 0.7, 0.85, 1.0, 1.2, 1.5)]
        print(f"wrote {first_freeze_vs_rate(base, rates, seeds=4, out=Path(args.plot))}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from sim.scenario import profile_fields
    from sim.sweep import DEFAULT_GRID, grid_from_toml, run_sweep
    from sim.sweep.cells import MTTF_BUDGET
    from sim.sweep.executors import make_executor
    from sim.sweep.grid import RISK_MAP, RISK_MAP_DIR
    from sim.sweep.keys import Settings
    from sim.sweep.progress import Progress, Silent
    from sim.sweep.report import write_report

    axes = {name: getattr(args, name) for name in SPECS if getattr(args, name) is not None}
    if args.grid or axes:
        base = grid_from_toml(args.grid) if args.grid else DEFAULT_GRID
        parts = [(Path(args.out), base.override(axes))]
    else:  # the embedded default: the burst grid, and the risk map beside it
        parts = [(Path(args.out), DEFAULT_GRID), (Path(args.out) / RISK_MAP_DIR, RISK_MAP)]
    if args.replications is not None:
        out, grid = parts[-1]
        parts[-1] = (out, grid.replicated(args.replications))
    if args.batch < 1:
        raise UsageError(f"--batch must be an integer >= 1, got {args.batch}")
    budget = (
        MTTF_BUDGET
        if args.mttf_budget is None
        else _bounded_int(args.mttf_budget, "--mttf-budget", 0, 10**9)
    )
    profile = tuple(profile_fields(args.profile).items()) if args.profile else ()
    settings = Settings(args.fast, profile)
    where = f"Dask at {args.dask}" if args.dask else f"{args.workers} worker process(es)"
    for out, grid in parts:
        executor = make_executor(args.workers, args.dask, settings)
        progress = Silent if args.quiet else Progress
        outcome = run_sweep(grid, out, executor, args.format, args.batch, progress, budget)
        report = write_report(grid, outcome, out, where)
        tables = f"{outcome.results}, {outcome.cells}" if outcome.cells else f"{outcome.results}"
        print(f"{outcome.tally} in {outcome.seconds:.1f} s -> {tables}, {report}")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    from sim.plots import RISK_LABELS, heatmap, risk_map
    from sim.sweep.cells import cells_schema
    from sim.sweep.store import read_results

    where = {}
    for item in args.where:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--where takes FIELD=VALUE, got {item!r}")
        where[name.strip()] = value.strip()
    source = Path(args.results)
    if not source.exists():
        raise UsageError(f"{source}: no such results file")
    out = Path(args.out) if args.out else source.with_name(f"{args.z}-{args.x}-{args.y}.png")
    if args.z in RISK_LABELS:  # a replicated sweep's cells.parquet
        print(
            risk_map(read_results(source, types=cells_schema()), args.x, args.y, args.z, where, out)
        )
    else:
        print(heatmap(read_results(source), args.x, args.y, args.z, where, out))
    return 0


def cmd_trace_from_log(args: argparse.Namespace) -> int:
    from sim.accesslog import convert
    from sim.errors import ParseError
    from sim.traces import write_csv

    try:
        with open(args.log, errors="replace") as log:
            converted = convert(log, args.format, args.log)
    except OSError as exc:
        raise UsageError(f"{args.log}: cannot read ({exc.__class__.__name__})") from None
    except ParseError as exc:
        raise UsageError(str(exc)) from None
    text = write_csv(converted.trace)
    if args.out is None:
        sys.stdout.write(text)
    else:
        out = Path(args.out)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text)
        tmp.replace(out)
    if converted.skipped:
        print(
            f"skipped {converted.skipped} of {converted.lines} lines that are not {args.format} "
            f"request lines (first: line {converted.first_skipped})",
            file=sys.stderr,
        )
    return 0


COMMANDS = {
    "run": cmd_run,
    "risk": cmd_risk,
    "advise": cmd_advise,
    "sweep": cmd_sweep,
    "plot": cmd_plot,
    "trace-from-log": cmd_trace_from_log,
}


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return COMMANDS[args.command](args)
    except (UsageError, ScenarioError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `python -m sim run | head`: the reader left, not an error
        sys.stderr.close()
        return 0
