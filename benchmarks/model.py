"""Model benchmarks: throughput against SimPy's M/M/c, events per second against a bare timeout
loop, where the time goes (cProfile), and how run time grows with the number of requests."""

from __future__ import annotations

import cProfile
import math
import pstats
from dataclasses import dataclass
from pathlib import Path

from benchmarks.counting import counted_model
from benchmarks.figures import Figure, best_time, best_times
from benchmarks.reference import mmc, timeout_loop
from sim.model import run_model
from sim.scenario import Scenario

# Well under what the pool sustains (15 connections each held ~0.1 s: ~150 req/s), so the run is
# steady traffic and never freezes: the benchmark times the model's normal path.
RATE = 50.0

THROUGHPUT = "model throughput"
EVENTS = "events per second"
GROWTH = "growth: log-log slope of time on requests"


def seed_scenario(requests: int) -> Scenario:
    """The seed's endpoint on today's stack, an external client, Poisson arrivals lasting long
    enough that about `requests` requests arrive."""
    return Scenario.create(
        endpoint="async-sync-session",
        stack="modern",
        client="external",
        arrival=f"poisson:{RATE:g}",
        duration=requests / RATE,
    )


@dataclass(frozen=True)
class Throughput:
    """Figures 1 and 2, plus the event counts that explain their ratio: requests/s is events/s
    divided by events per request, so a gap is either slow events or too many of them."""

    served: int
    requests: Figure
    events: Figure
    event_mix: dict[str, int]
    mmc_events_per_customer: float
    iterations: int
    in_place: int
    seconds_per_event: float
    mmc_seconds_per_event: float


def throughput(requests: int, repeat: int) -> Throughput:
    """Requests/s against M/M/c customers/s, and events/s against a bare timeout loop."""
    scenario = seed_scenario(requests)
    result, _ = run_model(scenario)
    served = len(result.requests)

    def reference() -> None:
        mmc(
            served,
            servers=int(scenario.capacity),
            arrival_rate=RATE,
            service_time=scenario.work.mean + scenario.query.mean,
            seed=scenario.seed,
        )

    with counted_model() as counts:
        run_model(scenario)
        reference()
    model_env, mmc_env = counts.envs
    events = model_env.steps
    model_s, mmc_s, bare_s = best_times(
        lambda: run_model(scenario), reference, lambda: timeout_loop(events), repeat=repeat
    )
    return Throughput(
        served=served,
        requests=Figure(
            name=THROUGHPUT,
            value=served / model_s,
            reference=served / mmc_s,
            unit="requests/s",
            reference_name=f"SimPy M/M/{int(scenario.capacity)} on simpy.Resource, customers/s",
            target=0.5,
            note=f"{served} requests, {result.summary.freezes} freezes",
        ),
        events=Figure(
            name=EVENTS,
            value=events / model_s,
            reference=events / bare_s,
            unit="events/s",
            reference_name="bare SimPy timeout loop, events/s",
            note=f"{events} events ({events / served:.1f} per request, "
            f"{model_s / events * 1e6:.2f} us each against the bare loop's "
            f"{bare_s / events * 1e6:.2f} us), counted by a step()-counting Environment "
            "subclass in a separate untimed run",
        ),
        event_mix=dict(model_env.kinds.most_common()),
        mmc_events_per_customer=mmc_env.steps / served,
        iterations=counts.iterations,
        in_place=counts.in_place,
        seconds_per_event=model_s / events,
        mmc_seconds_per_event=mmc_s / mmc_env.steps,
    )


@dataclass(frozen=True)
class ProfileRow:
    function: str
    calls: int
    tottime: float
    share: float


@dataclass(frozen=True)
class Profile:
    """The top functions by own time, and own time summed per package (simpy, sim, the rest):
    when no single function dominates, the split says whether SimPy or the model is the cost."""

    top: tuple[ProfileRow, ...]
    by_package: dict[str, float]


def profile(requests: int, top: int = 5) -> Profile:
    scenario = seed_scenario(requests)
    profiler = cProfile.Profile()
    profiler.runcall(run_model, scenario)
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = sorted(
        (
            ProfileRow(f"{_short(path)}:{line}({name})", calls, tottime, tottime / total)
            for (path, line, name), (_, calls, tottime, _, _) in stats.stats.items()  # type: ignore[attr-defined]
        ),
        key=lambda r: r.tottime,
        reverse=True,
    )
    by_package: dict[str, float] = {}
    for row in rows:
        package = row.function.split("/", 1)[0] if "/" in row.function else "other"
        package = package if package in ("simpy", "sim") else "other"
        by_package[package] = by_package.get(package, 0.0) + row.share
    return Profile(tuple(rows[:top]), by_package)


def _short(path: str) -> str:
    """A path from its package down: site-packages/simpy/core.py -> simpy/core.py."""
    parts = Path(path).parts
    for package in ("simpy", "sim"):
        if package in parts:
            return "/".join(parts[len(parts) - parts[::-1].index(package) - 1 :])
    return path


@dataclass(frozen=True)
class Growth:
    points: tuple[tuple[int, float], ...]
    figure: Figure


def growth(sizes: tuple[int, ...], repeat: int) -> Growth:
    """Time per run (CPU clock) for each size; the least-squares slope of log time on log
    requests.

    A slope near 1 means cost per request is flat; a hidden quadratic (a list scanned per event,
    a growing heap of dead timers) shows as a slope towards 2.
    """
    points = []
    for size in sizes:
        scenario = seed_scenario(size)
        served: list[int] = []
        timings = max(1, repeat * 10_000 // max(size, 10_000))  # ~constant time per size
        seconds = best_time(
            lambda s=scenario, out=served: out.append(len(run_model(s)[0].requests)), timings
        )
        points.append((served[0], seconds))
    slope = _loglog_slope(points)
    figure = Figure(
        name=GROWTH,
        value=slope,
        reference=1.0,
        unit="",
        reference_name="linear growth (slope 1)",
        target=1.1,
        direction="max",
        note=f"least squares over {len(points)} sizes, {points[0][0]} .. {points[-1][0]} requests",
    )
    return Growth(tuple(points), figure)


def _loglog_slope(points: list[tuple[int, float]]) -> float:
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
