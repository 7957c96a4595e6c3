"""What would close each missed target, derived from the run's own event mix and profile.

The text names the model code that creates each kind of event; the counts come from this run, so
the advice shrinks (and disappears) as the model sheds those events.
"""

from __future__ import annotations

import itertools

from benchmarks.model import Growth, Throughput
from benchmarks.risk import RiskRun
from benchmarks.sweep import Memory, Scaling


def model_speed(t: Throughput) -> str:
    """The ratio to M/M/c is (its events x its time per event) over the model's: say which side
    is short and what the remaining events are for."""
    per = {kind: count / t.served for kind, count in t.event_mix.items()}
    total = sum(per.values())
    assert t.requests.target is not None
    dearer = t.seconds_per_event / t.mmc_seconds_per_event
    needed = total * t.requests.ratio  # events per request that would make today's pace 1x
    advice = [
        f"the model spends {total:.1f} SimPy events per request against M/M/c's "
        f"{t.mmc_events_per_customer:.1f} per customer ({total / t.mmc_events_per_customer:.1f}x "
        f"as many), at {t.seconds_per_event * 1e6:.2f} us each against M/M/c's "
        f"{t.mmc_seconds_per_event * 1e6:.2f} us ({dearer:.1f}x "
        "as dear: the time per event includes the model's own Python, "
        f"{t.iterations / t.served:.1f} loop iterations and their callbacks per request)."
    ]
    late = per.get("_Late", 0)
    if late > 0:
        advice.append(
            f"Per request, {per.get('Event', 0):.1f} plain Events are the worker threads' "
            "wake-ups (one per thread call, set by the hand-off timer or the GIL release), the "
            "GIL releases the loop signals in select() and the loop's own select() wake-ups; "
            f"{per.get('Timeout(>0)', 0):.1f} timeouts are the hand-off timers (most fire after "
            "the worker has run), CPU costs another event precedes, select() timers and the "
            f"client's sends; {late:.1f} LATE events let the same instant's other threads post "
            "their results before the loop counts its ready queue. They fix the same-instant "
            "order of the threads, which the oracle pins (tests/model/oracle): calling the GIL "
            "release's wake-ups in place instead of through an event moved pinned 2020-stack "
            "results, so it was left out."
        )
    advice.append(
        f"At today's time per event the model would need {needed / t.requests.target:.1f} "
        f"events per request for {t.requests.target:g}x and {needed:.1f} for 1x; at M/M/c's "
        "time per event, "
        f"{t.mmc_events_per_customer / t.requests.target:.0f} and "
        f"{t.mmc_events_per_customer:.0f}. Closing it takes both a hop protocol with fewer "
        "events (a change of results, to be argued as a modelling fix and re-pinned) and a "
        "loop iteration cheaper than today's Python, for instance by compiling the loop."
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


def risk_interval(run: RiskRun) -> str:
    """Why the budget did not narrow the interval, from what the estimator ran."""
    found = run.found
    return (
        f"{found.method.split(' ')[0]} spent {found.requests:,} simulated requests "
        f"({found.replications:,} episodes, {found.freezes} freezes or freezing branches) and "
        f"reached {run.factor:.2f}x; "
        + (
            f"at seed {run.seed}, the widest of the seeds; between the regimes, too rare to "
            "watch and too frequent for the splitting's levels to pay off, the batches' spread "
            "dominates (each batch's estimate is a product of 8 stages' fractions, and its "
            "spread is heavy-tailed): more batches (budget) would narrow it."
            if found.method.startswith("splitting")
            else "freezes too rare for the budget's episodes: splitting would be the method."
        )
        + (f" Notes: {'; '.join(found.notes)}." if found.notes else "")
    )
