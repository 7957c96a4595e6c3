"""`python -m benchmarks [--quick] [--out PATH]`: run the benchmarks, write RESULTS.md."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from benchmarks.report import render
from benchmarks.suite import FULL, QUICK, run

RESULTS = Path(__file__).with_name("RESULTS.md")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes, one timing each")
    parser.add_argument("--out", type=Path, default=RESULTS, help=f"default {RESULTS}")
    args = parser.parse_args(argv)
    command = "python -m benchmarks" + (" --quick" if args.quick else "")
    results = run(QUICK if args.quick else FULL, command)
    args.out.write_text(render(results))
    for figure in results.figures:
        status = {True: "met", False: "MISSED", None: "report only"}[figure.met]
        print(f"{figure.name}: ratio {figure.ratio:.3g} ({status})")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
