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


COMMANDS = {"run": cmd_run}


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
