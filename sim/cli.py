"""`python -m sim`: parse arguments, call the model, print. Nothing else lives here."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sim.errors import ScenarioError
from sim.scenario import SPECS, Scenario


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
        "--profile", default=None, help="cost profile written by `python -m validation calibrate`"
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
    add_scenario_flags(advise)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from sim.model import simulate
    from sim.timeline import summary_text, timeline_text

    result = simulate(scenario_from_args(args))
    if args.json:
        print(result.to_json())
    else:
        print(summary_text(result))
        print()
        print(timeline_text(result, max_rows=args.rows))
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
    print(render(advise(rate, base, target, cores), base))
    return 0


COMMANDS = {"run": cmd_run, "advise": cmd_advise}


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
