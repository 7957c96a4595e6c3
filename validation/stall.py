"""`python -m validation.stall`: the recurring loop stall laid beside the app's garbage collections.

Runs steady traffic on a pool too large to wait (no freeze can hide a stall) with the app's
PSS_GC=1 events on, and matches every loop block the probe saw (> BLOCK_MIN) with the
collections that overlap it. Stores one JSON per run under results/stall/<stack>/, with the
1-minute load average, and prints a line per full collection.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any

from sim.scenario import Scenario
from validation.postgres import database
from validation.runner import Run, run
from validation.serverlog import parse_events, timeline

HERE = Path(__file__).parent
STALL_RESULTS = HERE / "results" / "stall"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", required=True)
    parser.add_argument("--rate", type=float, action="append", required=True)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    os.environ["PSS_GC"] = "1"  # the app inherits the harness's environment
    with database() as db:
        for rate in args.rate:
            report = stall_report(run(scenario(args.stack, rate, args.duration, args.seed), db=db))
            path = STALL_RESULTS / args.stack / f"poisson-{rate:g}-{args.duration:g}s.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=1) + "\n")
            load = report["params"]["harness"]["loadavg"]
            print(f"{args.stack} {rate:g} req/s: {report['served']} served, load {load}")
            for c in report["collections"]:
                if c["generation"] == 2 or c["seconds"] > 0.05:
                    print(
                        f"  gc{c['generation']} at {c['start']:.3f} s: {c['seconds']:.4f} s, "
                        f"{c['survivors']} survivors, after {c['served_before']} requests"
                    )
            for b in report["blocks"]:
                print(f"  block at {b['start']:.3f} s: {b['seconds']:.4f} s, gc {b['gc']}")


if __name__ == "__main__":
    main()
