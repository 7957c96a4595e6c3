"""`python -m validation.spacing RESULT.json...`: how far apart a burst's requests reach the
endpoint, in the real app and in the model, and, for a run kept with PSS_TRACE=1, where each
request's milliseconds go.

On uvloop 0.23 (libuv 1.52 accepts one connection per poll) the burst's requests reach
`execute` one loop iteration apart, each iteration paying an accept, a read, the app's step,
a connect and the query; whether the 16th request on 15 connections finds one back depends on
that spacing against the first holder's async work. The spacing is the mean gap between the
"handled" stamps of requests 1 to 14, the ones that open a connection each. The model replays
the measured send times (as `compare` does), with the committed profile's costs or, with
`--profile`, another calibration's (one taken on the machine the run was measured on).
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.result import Result
from validation.compare import load_measured, model_scenario, predict
from validation.serverlog import parse_events

FIRST, LAST = 1, 14  # the requests whose checkout opens a new connection


@dataclass(frozen=True)
class Spacing:
    """One burst's outcome and the gaps between its requests' "handled" stamps."""

    ok: int
    server_errors: int
    first_handled: float
    spacing: float


def spacing_of(result: Result) -> Spacing:
    handled = sorted(r.handled_at for r in result.requests if r.handled_at is not None)
    s = result.summary
    gap = (handled[LAST] - handled[FIRST]) / (LAST - FIRST) if len(handled) > LAST else None
    return Spacing(s.ok, s.server_errors, handled[0], gap)


def modelled(path: Path, costs: dict[str, float] | None) -> Result:
    scenario = model_scenario(load_measured(path), path)
    return predict(scenario if costs is None else scenario.replace(**costs))


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{1000 * seconds:6.2f}"


def table(paths: Sequence[Path], costs: dict[str, float] | None) -> str:
    lines = ["run                                      load  real 200/5xx  first ms  gap ms"
             "  model 200/5xx  first ms  gap ms"]  # fmt: skip
    for path in paths:
        measured = load_measured(path)
        real, model = spacing_of(measured), spacing_of(modelled(path, costs))
        load = measured.params.get("harness", {}).get("loadavg")
        name = f"{path.parent.name}/{path.name}"
        lines.append(
            f"{name:40} {load!s:>5}  {real.ok:5d}/{real.server_errors:<5d} "
            f"{_ms(real.first_handled)}  {_ms(real.spacing)}  "
            f"{model.ok:7d}/{model.server_errors:<5d} {_ms(model.first_handled)}  "
            f"{_ms(model.spacing)}"
        )
    return "\n".join(lines)


def steps(events: list[dict[str, Any]]) -> dict[str, list[float]]:
    """Per traced request (by its `i=` query): the DBAPI connect's wall and loop-thread CPU,
    the query's wall, and the loop CPU of the app's first step (from the app's entry to the
    loop thread's next stamp: the route, the dependency's hand-off to its worker thread),
    the burst's first request apart (it pays the app's first-request costs)."""
    out: dict[str, list[float]] = {
        "connect wall": [], "connect cpu": [], "query wall": [],
        "first app step cpu": [], "app step cpu": [],
    }  # fmt: skip
    pairs = (("connect", "connected", "connect wall", "connect cpu"),
             ("query", "queried", "query wall", None))  # fmt: skip
    began: dict[tuple[str, str], dict[str, Any]] = {}
    app_step: dict[str, Any] | None = None
    for e in events:
        if e["kind"] != "trace" or e["thread"] != "MainThread":
            continue
        if app_step is not None:
            name = "app step cpu" if out["first app step cpu"] else "first app step cpu"
            out[name].append(e["cpu"] - app_step["cpu"])
            app_step = None
        q = e.get("q") or ""
        if not q.startswith("i="):
            continue
        if e["step"] == "app":
            app_step = e
        for start, end, wall, cpu in pairs:
            if e["step"] == start:
                began[(q, start)] = e
            elif e["step"] == end and (q, start) in began:
                first = began.pop((q, start))
                out[wall].append(e["t"] - first["t"])
                if cpu is not None:
                    out[cpu].append(e["cpu"] - first["cpu"])
    return out


def trace_text(run_dir: Path) -> str:
    events = parse_events((run_dir / "server.log").read_text(errors="replace").splitlines())
    lines = [f"{run_dir}: median [min, max] over the traced requests, ms"]
    for name, values in steps(events).items():
        if values:
            lines.append(
                f"  {name:20} {_ms(statistics.median(values))} [{_ms(min(values))}, "
                f"{_ms(max(values))}] n={len(values)}"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m validation.spacing", description=__doc__)
    parser.add_argument("results", type=Path, nargs="*", help="measured burst Results (JSON)")
    parser.add_argument("--profile", type=Path, help="run the model on this profile's costs")
    parser.add_argument(
        "--trace",
        type=Path,
        action="append",
        default=[],
        help="a run kept with PSS_TRACE=1 (its server.log): step timings",
    )
    args = parser.parse_args(argv)
    for path in [*args.results, *(t / "server.log" for t in args.trace)]:
        if not path.is_file():
            parser.exit(2, f"error: {path}: no such file\n")
    costs = None if args.profile is None else json.loads(args.profile.read_text())["costs"]
    if args.results:
        print(table(args.results, costs))
    for run_dir in args.trace:
        print(trace_text(run_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
