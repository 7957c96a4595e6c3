"""`python -m validation.stall`: the recurring loop stall laid beside the app's garbage collections.

Runs steady traffic on a pool too large to wait (no freeze can hide a stall) with the app's
PSS_GC=1 events on, and matches every loop block the probe saw (> BLOCK_MIN) with the
collections that overlap it. Stores one JSON per run under results/stall/<stack>/, with the
1-minute load average, and prints a line per full collection. `--summary` reads every stored
run back into results/stall/summary.json: per run, the requests and seconds before the first
full collection and between the later ones, and each one's length, so the period can be seen
as a function of the arrival rate (StackProfile.full_collection counts it in requests).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from collections.abc import Iterable, Mapping
from itertools import pairwise
from pathlib import Path
from typing import Any

from sim.scenario import Scenario
from validation.postgres import database
from validation.runner import Run, run
from validation.serverlog import parse_events, timeline

HERE = Path(__file__).parent
STALL_RESULTS = HERE / "results" / "stall"
SUMMARY = STALL_RESULTS / "summary.json"
# Large enough never to wait at these rates: a stall, not a checkout, is what blocks the loop.
POOL = {"pool_size": 20, "max_overflow": 10, "pool_timeout": 1.0}


def scenario(stack: str, rate: float, duration: float, seed: int) -> Scenario:
    return Scenario.create(
        stack=stack,
        client="external",
        arrival=f"poisson:{rate:g}",
        duration=duration,
        seed=seed,
        freeze_threshold=0.5,
        **POOL,
    )


def stall_report(done: Run) -> dict[str, Any]:
    """Each collection and each loop block, in seconds from the burst, matched by overlap."""
    events = parse_events((done.server_log + done.client_log).splitlines())
    zero = timeline(events).burst_at or 0.0
    served = sorted(e["t"] - zero for e in events if e["kind"] == "served")
    collections = [
        {
            "generation": e["generation"],
            "start": round(e["start"] - zero, 4),
            "seconds": round(e["end"] - e["start"], 4),
            "collected": e["collected"],
            "survivors": e.get("survivors"),
            "served_before": sum(1 for t in served if t < e["start"] - zero),
        }
        for e in events
        if e["kind"] == "gc" and e["end"] > zero
    ]
    blocks = []
    for start, end in done.result.loop_blocked:
        overlapping = [
            c for c in collections if c["start"] < end and c["start"] + c["seconds"] > start
        ]
        blocks.append(
            {
                "start": round(start, 4),
                "seconds": round(end - start, 4),
                "gc": [(c["generation"], c["seconds"]) for c in overlapping],
            }
        )
    return {
        "params": done.result.params,
        "served": len(served),
        "collections": collections,
        "blocks": blocks,
    }


def _spread(values: list[float]) -> dict[str, float | int | None]:
    """Median, range and count of a run's values (None when it has none)."""
    if not values:
        return {"n": 0, "median": None, "min": None, "max": None}
    return {
        "n": len(values),
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def run_summary(report: Mapping[str, Any]) -> dict[str, Any]:
    """One stored run's full collections: when the first came and how far apart the later ones
    were, both in requests served and in seconds, and how long each held the loop thread; and
    the generation-1 collections a full one waits on (CPython 3.11 gcmodule.c
    collect_generations: more than generations[2].threshold = 10 of them since the last full
    one, and long_lived_pending over a quarter of long_lived_total). Collections that start
    after the traffic's duration (the server's shutdown) are left out."""
    params = report["params"]
    during = [c for c in report["collections"] if c["start"] < params["duration"]]
    full = [c for c in during if c["generation"] == 2]
    young = [c for c in during if c["generation"] == 1]
    served = [c["served_before"] for c in full]
    starts = [c["start"] for c in full]
    harness = params.get("harness", {})
    return {
        "stack": params["stack"],
        "arrival": params["arrival"],
        "duration": params["duration"],
        "seed": params["seed"],
        "load": [harness.get("loadavg"), harness.get("loadavg_after")],
        "served": report["served"],
        "full_collections": len(full),
        "first_requests": served[0] if served else None,
        "first_seconds": starts[0] if starts else None,
        "every_requests": [b - a for a, b in pairwise(served)],
        "every_seconds": [round(b - a, 4) for a, b in pairwise(starts)],
        "seconds": [c["seconds"] for c in full],
        "survivors": [c["survivors"] for c in full],
        # The interval still open at the end: a lower bound on the next one.
        "open_requests": report["served"] - served[-1] if served else None,
        "open_seconds": round(params["duration"] - starts[-1], 4) if starts else None,
        "young_every_requests": [
            b["served_before"] - a["served_before"] for a, b in pairwise(young)
        ],
        "young_between": [
            sum(a["start"] < c["start"] < b["start"] for c in young) for a, b in pairwise(full)
        ],
    }


def _relative_range(values: list[float]) -> float | None:
    """(max - min) / median of the per-rate medians: 0 for a count that does not move with the
    rate."""
    if len(values) < 2:
        return None
    return round((max(values) - min(values)) / statistics.median(values), 3)


def stack_summary(runs: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """A stack's runs pooled by arrival rate, and which count the period is constant in: the
    relative range over rates of the median interval in requests, and in seconds."""
    by_rate: dict[str, list[Mapping[str, Any]]] = {}
    for r in runs:
        by_rate.setdefault(r["arrival"], []).append(r)
    rates = []
    for arrival, group in sorted(by_rate.items(), key=lambda item: float(item[0].split(":")[1])):
        rates.append(
            {
                "arrival": arrival,
                "runs": len(group),
                "served": sum(r["served"] for r in group),
                "load": [x for r in group for x in r["load"] if x is not None],
                "first_requests": _spread(
                    [r["first_requests"] for r in group if r["first_requests"] is not None]
                ),
                "first_seconds": _spread(
                    [r["first_seconds"] for r in group if r["first_seconds"] is not None]
                ),
                "every_requests": _spread([x for r in group for x in r["every_requests"]]),
                "every_seconds": _spread([x for r in group for x in r["every_seconds"]]),
                "open_requests": max(
                    (r["open_requests"] for r in group if r["open_requests"] is not None),
                    default=None,
                ),
                "open_seconds": max(
                    (r["open_seconds"] for r in group if r["open_seconds"] is not None),
                    default=None,
                ),
                "seconds": _spread([x for r in group for x in r["seconds"]]),
                "survivors": _spread([x for r in group for x in r["survivors"]]),
                "young_every_requests": _spread(
                    [x for r in group for x in r["young_every_requests"]]
                ),
                "young_between": _spread([x for r in group for x in r["young_between"]]),
            }
        )
    periodic = [r for r in rates if r["every_requests"]["n"]]
    return {
        "rates": rates,
        "every_requests_range": _relative_range([r["every_requests"]["median"] for r in periodic]),
        "every_seconds_range": _relative_range([r["every_seconds"]["median"] for r in periodic]),
    }


def summarise(root: Path = STALL_RESULTS) -> dict[str, Any]:
    """Every stored run under `root`/<stack>/, per run and per stack."""
    summary: dict[str, Any] = {}
    for stack_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        runs = [
            run_summary(json.loads(path.read_text())) for path in sorted(stack_dir.glob("*.json"))
        ]
        summary[stack_dir.name] = {"runs": runs, **stack_summary(runs)}
    return summary


def _print_summary(summary: Mapping[str, Any]) -> None:
    def text(spread: Mapping[str, Any], unit: str = "") -> str:
        if not spread["n"]:
            return "-"
        return f"{spread['median']:g}{unit} [{spread['min']:g}-{spread['max']:g}] n={spread['n']}"

    for stack, s in summary.items():
        print(
            f"{stack}: relative range over rates of the interval: "
            f"in requests {s['every_requests_range']}, in seconds {s['every_seconds_range']}"
        )
        for r in s["rates"]:
            print(
                f"  {r['arrival']} ({r['runs']} runs, {r['served']} served, load {r['load']}): "
                f"first after {text(r['first_requests'])} req / {text(r['first_seconds'], ' s')}; "
                f"every {text(r['every_requests'])} req / {text(r['every_seconds'], ' s')} "
                f"(none yet {r['open_requests']} req / {r['open_seconds']} s after the last); "
                f"length {text(r['seconds'], ' s')}; survivors {text(r['survivors'])}; "
                f"a generation-1 collection every {text(r['young_every_requests'])} req, "
                f"{text(r['young_between'])} between full ones"
            )


def measure(stack: str, rates: list[float], duration: float, seed: int) -> None:
    os.environ["PSS_GC"] = "1"  # the app inherits the harness's environment
    with database() as db:
        for rate in rates:
            report = stall_report(run(scenario(stack, rate, duration, seed), db=db))
            path = STALL_RESULTS / stack / f"poisson-{rate:g}-{duration:g}s-seed{seed}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=1) + "\n")
            load = report["params"]["harness"]["loadavg"]
            print(f"{stack} {rate:g} req/s: {report['served']} served, load {load}")
            for c in report["collections"]:
                if c["generation"] == 2 or c["seconds"] > 0.05:
                    print(
                        f"  gc{c['generation']} at {c['start']:.3f} s: {c['seconds']:.4f} s, "
                        f"{c['survivors']} survivors, after {c['served_before']} requests"
                    )
            for b in report["blocks"]:
                print(f"  block at {b['start']:.3f} s: {b['seconds']:.4f} s, gc {b['gc']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack")
    parser.add_argument("--rate", type=float, action="append")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--summary", action="store_true", help="summarise the stored runs")
    args = parser.parse_args()
    if args.summary:
        summary = summarise()
        SUMMARY.write_text(json.dumps(summary, indent=1) + "\n")
        _print_summary(summary)
        return
    if not args.stack or not args.rate:
        parser.error("--stack and --rate are required unless --summary")
    measure(args.stack, args.rate, args.duration, args.seed)


if __name__ == "__main__":
    main()
