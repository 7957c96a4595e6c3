"""What would close each missed target, derived from the run's own event mix and profile.

The text names the model code that creates each kind of event; the counts come from this run, so
the advice shrinks (and disappears) as the model sheds those events.
"""

from __future__ import annotations

import itertools

from benchmarks.model import Growth, Throughput
from benchmarks.sweep import Memory, Scaling


def model_speed(t: Throughput) -> str:
    """Throughput is events/s over events per request: name the avoidable events first."""
    per = {kind: count / t.served for kind, count in t.event_mix.items()}
    total = sum(per.values())
    advice = [
        f"the model spends {total:.1f} SimPy events per request against M/M/c's "
        f"{t.mmc_events_per_customer:.1f} per customer, and runs at "
        f"{t.events.ratio:.2f} of a bare timeout loop's events/s."
    ]
    if per.get("Timeout(0)", 0) > 0.5:
        advice.append(
            f"{per['Timeout(0)']:.1f} zero-delay timeouts per request remain: `EventLoop._select` "
            "takes them only when other work is due at the same instant (worker threads woken "
            "by the GIL hand-off), each a heap push and pop that moves no clock."
        )
    if per.get("Condition", 0) > 0.1:
        advice.append(
            f"{per['Condition']:.1f} Conditions per request come from `threads._in_thread` "
            "waiting on `timeout(handoff) | gil` once per worker-thread call; the plain-callback "
            "wake-up `_select` now uses (either event succeeds one bare Event) would drop them."
        )
    processes = per.get("Process", 0) + per.get("Initialize", 0)
    if processes > 0.5:
        advice.append(
            f"{processes:.1f} Process/Initialize events per request are a SimPy process per "
            "worker-thread call (`threads._in_thread`), two per request on the modern stack; "
            "a long-lived worker process fed from a queue would remove both events per call."
        )
    assert t.requests.target is not None
    advice.append(
        "Even with all of these the model would need about "
        f"{total * t.requests.ratio / t.requests.target:.1f} events per request at today's "
        "per-event pace to reach 0.4, so the target also needs the per-event Python work in "
        "`_run_once`/`_run_ready`/`_run` (generator delegation three levels deep per callback) "
        "flattened into one loop."
    )
    return " ".join(advice)


def sweep_scaling(s: Scaling, cores: int) -> str:
    """A speed-up short of 1.7x is the machine (load), the serial parent, or the batching."""
    advice = []
    busy = max(s.load) - 1
    if busy > cores - 2:
        advice.append(
            f"the machine was busy: load average up to {max(s.load):.1f} on {cores} cores, of "
            "which the benchmark itself accounts for about 1, so the second worker got only "
            "part of a core; rerun on an idle machine to see the code's own limit."
        )
    parent = s.cpu_seconds[2][0]
    advice.append(
        f"Even on idle cores this run's CPU would allow at most {s.idle_bound:.2f}x: the parent "
        f"spent {parent:.1f} s of serial CPU while the workers ran, and one pass over the grid "
        f"(build, seed, hash every scenario) costs {s.grid_pass_seconds:.1f} s; the parent only "
        "walks the grid and writes parts (workers build, seed and hash), so what is left is "
        "writing and the batch size: larger batches in flight trade resume granularity for "
        "less idle time at each batch's end."
    )
    return " ".join(advice)


def sweep_memory(m: Memory) -> str:
    """Peak memory that grows with the number of scenarios is state kept per scenario."""
    small, large = sorted(m.peak_kb)
    per = (m.peak_kb[large] - m.peak_kb[small]) * 1024 / (large - small)
    return (
        f"the peak grows by about {per:.0f} bytes per scenario. Rows stream to disk batch by "
        "batch and a resume keeps 8-byte digests only; what still grows is the parquet "
        "writer's per-row-group metadata, which larger row groups would shrink further."
    )


def growth_slope(g: Growth) -> str:
    """A slope above 1.1 is either cost per request rising steadily with size, or noise."""
    per = [seconds / n * 1e6 for n, seconds in g.points]
    steady = all(b >= a for a, b in itertools.pairwise(per))
    (n0, _), (n1, _) = g.points[0], g.points[-1]
    trend = (
        "rises at every size, so some per-request work grows with the run: profile the largest "
        "size and look for a collection scanned per event"
        if steady
        else "goes up and down between sizes, which is timing noise rather than a trend: rerun "
        "on an idle machine, or time more repeats"
    )
    return f"us per request goes from {per[0]:.0f} at {n0} to {per[-1]:.0f} at {n1} and {trend}."
