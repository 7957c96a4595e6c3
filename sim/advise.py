"""`python -m sim advise`: the smallest pool that meets a target under steady traffic, or the fix.

For the seed's endpoint the pool is sized on the model's own mean time to the first freeze
(sim/risk/mttf.py): the smallest pool_size + max_overflow whose 95 % lower bound meets the
target, searched from Erlang B's answer (sim/queueing.py), which is shown beside it with the
M/M/c/c first passage so the reader sees how far the formulas are off. Other endpoints never
freeze on the pool; they are sized by Erlang C on the errors a pool wait gives, and, like the
fixes, run through the model on a stretch of the same traffic.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, replace

from sim.model import simulate
from sim.queueing import (
    blocked_arrival_interval,
    erlang_c,
    hold_time,
    loop_utilisation,
    mean_time_to_first_freeze,
    offered_load,
    smallest_capacity,
    wait_exceeds,
)
from sim.result import Summary
from sim.risk.mttf import MTTF, Report, estimate
from sim.risk.text import duration
from sim.scenario import Scenario

POSTGRES_MAX_CONNECTIONS = 97  # max_connections 100 minus superuser_reserved_connections 3
CHECK_REQUESTS = 300  # arrivals per model check: enough to see a collapse, fast enough for < 1 s
SEED_POOL_TIMEOUT = 1.0  # any wait on the seed's endpoint is a freeze; keep each one short
# Simulated requests per MTTF estimate (`sim risk` spends up to BUDGET on one pool): enough for a
# splitting batch on a pool of ~20, so advice comes in about half a minute.
ADVISE_BUDGET = 150_000
SEARCH = 8  # connections above Erlang B's answer the model is tried at


@dataclass(frozen=True)
class Check:
    """A setting run through the model on the same traffic."""

    label: str
    scenario: Scenario
    summary: Summary


@dataclass(frozen=True)
class Risk:
    """The first freeze at one pool: the model's estimate and the two formulas'."""

    connections: int
    model: MTTF
    erlang_b: float  # 1 / (lambda B): the mean gap between arrivals that find the pool full
    first_passage: float  # M/M/c/c from an empty pool


@dataclass(frozen=True)
class RuleOfThumb:
    name: str
    connections: int
    risk: Risk


@dataclass(frozen=True)
class Advice:
    rate: float
    hold: float
    load: float
    target_seconds: float
    connections: int
    feasible: bool
    why_not: str | None
    recommended: Check | None
    fixes: tuple[Check, ...]
    rules: tuple[RuleOfThumb, ...]
    loop_busy: float
    risk: Risk | None = None  # the model's risk at the recommended pool (seed's endpoint)
    service: Service | None = None  # --processes N: the whole service around the per-process pool
    erlang_connections: int | None = None  # what Erlang B alone would have said


@dataclass(frozen=True)
class Service:
    """N processes, each advised for its share of the traffic, then run together."""

    processes: int
    share: float  # of the traffic the busiest process is sized for
    total_connections: int  # N x (pool_size + max_overflow): what PostgreSQL must allow
    max_connections: int
    check: Check | None  # the whole service through the model, on the full traffic


SHARE_DRAWS = 1000  # split draws for the busiest process's share
SHARE_QUANTILE = 0.95


def busiest_share(base: Scenario) -> float:
    """The share of the traffic the busiest process gets, at SHARE_QUANTILE over the split's
    per-run draws (1/N for `even`): each process is sized for that rate."""
    rng = random.Random(f"advise-share:{base.seed}")
    draws = sorted(
        max(w / sum(weights) for w in weights)
        for weights in (base.split_spec.draw(base.processes, rng) for _ in range(SHARE_DRAWS))
    )
    return draws[min(len(draws) - 1, int(SHARE_QUANTILE * len(draws)))]


def _check(label: str, scenario: Scenario, rate: float) -> Check:
    duration = min(30.0, CHECK_REQUESTS / rate)
    run = scenario.replace(arrival=f"poisson:{rate:g}", duration=duration, client="external")
    return Check(label, run, simulate(run).summary)


def _pool_for(connections: int, load: float) -> tuple[int, int]:
    """pool_size near the mean load (connections kept open), the rest as overflow for peaks."""
    pool_size = min(connections, max(1, math.ceil(load)))
    return pool_size, connections - pool_size


def _shortest_timeout(connections: int, rate: float, hold: float, allowed: float) -> float:
    """Smallest pool_timeout (0.1 s steps) with P(wait > pool_timeout) <= allowed, M/M/c."""
    waiting = erlang_c(connections, rate * hold)
    if waiting <= allowed:
        return 0.1
    seconds = math.log(waiting / allowed) / (connections / hold - rate)
    return math.ceil(seconds * 10) / 10


def risk_at(rate: float, scenario: Scenario, budget: int, report: Report = lambda _: None) -> Risk:
    return Risk(
        connections=int(scenario.capacity),
        model=estimate(scenario, rate, budget=budget, report=report),
        erlang_b=blocked_arrival_interval(rate, scenario),
        first_passage=mean_time_to_first_freeze(rate, scenario),
    )


def _sized(base: Scenario, connections: int, load: float, pool_timeout: float) -> Scenario:
    pool_size, max_overflow = _pool_for(connections, load)
    return base.replace(pool_size=pool_size, max_overflow=max_overflow, pool_timeout=pool_timeout)


def _model_capacity(
    rate: float,
    base: Scenario,
    target: float,
    start: int,
    pool_timeout: float,
    budget: int,
    report: Report,
) -> tuple[int, Risk]:
    """From Erlang B's `start` up, one connection at a time, while the model's own estimate
    falls short of `target` (at most SEARCH steps); the caller says whether the interval holds
    there too. A model more optimistic than Erlang B never talks the pool below the formula's
    conservative size."""
    load = offered_load(rate, base)
    for connections in range(start, min(start + SEARCH, POSTGRES_MAX_CONNECTIONS) + 1):
        report(f"model at {connections} connections")
        risk = risk_at(rate, _sized(base, connections, load, pool_timeout), budget, report)
        if risk.model.mttf_s is None or risk.model.mttf_s >= target:
            break
    return connections, risk


def advise(
    rate: float,
    base: Scenario,
    target_seconds: float,
    cores: int,
    budget: int = ADVISE_BUDGET,
    report: Report = lambda _: None,
) -> Advice:
    """With --processes N each process is advised for the busiest one's share of `rate`, and
    the service (N of them, on the full traffic) is checked through the model."""
    if base.processes == 1:
        return _advise(rate, base, target_seconds, cores, budget, report)
    share = busiest_share(base)
    one = base.replace(processes=1, split="even", client="external")
    advice = _advise(rate * share, one, target_seconds, cores, budget, report)
    check = None
    if advice.recommended is not None:
        s = advice.recommended.scenario
        whole = base.replace(
            pool_size=s.pool_size, max_overflow=s.max_overflow, pool_timeout=s.pool_timeout
        )
        check = _check("whole service", whole, rate)
    per_process = advice.recommended.scenario.capacity if advice.recommended else base.capacity
    service = Service(
        processes=base.processes,
        share=share,
        total_connections=int(base.processes * per_process),
        max_connections=base.max_connections,
        check=check,
    )
    return replace(advice, service=service)


def _advise(
    rate: float,
    base: Scenario,
    target_seconds: float,
    cores: int,
    budget: int,
    report: Report,
) -> Advice:
    load, hold = offered_load(rate, base), hold_time(base)
    seed_style = base.endpoint == "async-sync-session"
    allowed = 1.0 / (rate * target_seconds)
    risk = erlang_connections = None
    if seed_style:
        erlang_connections = smallest_capacity(rate, base, target_seconds)
        pool_timeout = min(base.pool_timeout, SEED_POOL_TIMEOUT)
        connections = erlang_connections
        if loop_utilisation(rate, base) < 1.0 and erlang_connections <= POSTGRES_MAX_CONNECTIONS:
            connections, risk = _model_capacity(
                rate, base, target_seconds, erlang_connections, pool_timeout, budget, report
            )
    else:
        connections = next(
            c for c in range(1, 10_000) if wait_exceeds(c, rate, hold, base.pool_timeout) <= allowed
        )
        pool_timeout = min(base.pool_timeout, _shortest_timeout(connections, rate, hold, allowed))
    why_not = None
    if loop_utilisation(rate, base) >= 1.0:
        why_not = (
            f"the loop thread alone is saturated: {rate:g} req/s x "
            f"{(base.request_cpu + base.query.mean) * 1e3:.2f} ms of loop work each"
        )
    elif connections > POSTGRES_MAX_CONNECTIONS:
        why_not = f"{connections} connections exceed PostgreSQL's default max_connections"
    elif risk is not None and risk.model.mttf_s is not None and risk.model.mttf_s < target_seconds:
        why_not = (
            f"even {connections} connections leave the model's mean time to the first freeze "
            f"below the target ({duration(risk.model.mttf_s)})"
        )
    recommended = None
    pooled = base
    if why_not is None:
        pooled = _sized(base, connections, load, pool_timeout)
        recommended = _check("recommended", pooled, rate)
    fixes = ()
    if seed_style:
        fixes = tuple(
            _check(label, pooled.replace(endpoint=endpoint), rate)
            for label, endpoint in (
                ("plain `def` endpoint (or run_in_threadpool for the query)", "sync"),
                ("AsyncSession with an `async def get_db`", "async-session"),
            )
        )
    rules = tuple(
        RuleOfThumb(
            name, c, risk_at(rate, base.replace(pool_size=c, max_overflow=0), budget, report)
        )
        for name, c in (
            (f"HikariCP: cores x 2 + spindles = {cores} x 2 + 1", cores * 2 + 1),
            ("Little's law: L = lambda x W, rounded up", max(1, math.ceil(load))),
        )
    )
    return Advice(
        rate=rate,
        hold=hold,
        load=load,
        target_seconds=target_seconds,
        connections=connections,
        feasible=why_not is None,
        why_not=why_not,
        recommended=recommended,
        fixes=fixes,
        rules=rules,
        loop_busy=loop_utilisation(rate, base),
        risk=risk,
        erlang_connections=erlang_connections,
    )


def _outcome(summary: Summary) -> str:
    state = (
        "no freeze"
        if summary.freezes == 0
        else (
            f"{summary.freezes} freezes, {summary.frozen_fraction:.0%} of the time frozen, "
            + ("recovers" if summary.recovered else "does not recover")
        )
    )
    p99 = "-" if summary.latency_p99 is None else f"{summary.latency_p99:.3f} s"
    return f"{state}; errors {summary.error_rate:.1%}; p99 latency {p99}"


def render(advice: Advice, base: Scenario) -> str:
    lines = [] if advice.service is None else _service_head(advice.service, advice.rate)
    lines += [
        f"Traffic {advice.rate:g} req/s; each request holds a connection {advice.hold * 1e3:.1f} ms"
        f" -> {advice.load:.2f} connections in use on average (Little's law).",
    ]
    if base.endpoint == "async-sync-session":
        lines.append(
            "Endpoint: async def with a sync Session. A request that finds every connection held "
            "blocks the event loop for pool_timeout: the whole server freezes."
        )
        if advice.risk is not None:
            lines.append(
                f"For a mean time to the first freeze above {duration(advice.target_seconds)}: "
                f"pool_size + max_overflow >= {advice.connections} (the model; Erlang B says "
                f"{advice.erlang_connections})."
            )
            lines.append(_risk_line(f"  at {advice.connections} connections", advice.risk))
            if advice.risk.model.mttf_s is None:
                lines.append(
                    "  The model could not estimate it within advise's budget (only the lower "
                    "bound above): `python -m sim risk` with a larger --budget will tell."
                )
            elif advice.risk.model.mttf_ci[0] < advice.target_seconds:
                lines.append(
                    "  The model's estimate meets the target but its 95 % interval does not: "
                    "take one connection more, or `python -m sim risk` with a larger --budget."
                )
    else:
        lines.append(
            f"Endpoint {base.endpoint}: checkouts wait without blocking the loop. For at most "
            f"1 error in {advice.rate * advice.target_seconds:.3g} requests with pool_timeout "
            f"{base.pool_timeout:g} s: pool_size + max_overflow >= {advice.connections} (Erlang C)."
        )
    if advice.recommended is not None:
        s = advice.recommended.scenario
        lines.append(
            f"Set: pool_size={s.pool_size} max_overflow={s.max_overflow} "
            f"pool_timeout={s.pool_timeout:g}  -> model on {s.duration:.3g} s of this traffic: "
            f"{_outcome(advice.recommended.summary)}"
        )
        if base.endpoint == "async-sync-session":
            lines.append(
                "  pool_timeout does not move the first freeze; it is how long each one lasts, "
                "so keep it short."
            )
        if advice.recommended.summary.freezes:
            lines.append(
                f"  The model disagrees with the queueing estimate on this traffic: the loop is "
                f"{advice.loop_busy:.0%} busy, and a request whose wake-up queues on it holds "
                "its connection longer than its own work."
            )
    else:
        lines.append(f"No pool setting can meet it: {advice.why_not}.")
    if advice.fixes:
        lines.append("The fix that removes the freeze: run the sync work off the loop.")
        lines += [f"  - {c.label}: {_outcome(c.summary)}" for c in advice.fixes]
        if advice.recommended is not None:
            lines.append(
                "  Even with the pool above, a burst larger than the pool still freezes the "
                "seed's endpoint; only these fixes remove that failure mode."
            )
    lines.append("Rules of thumb on this traffic (the seed's endpoint, max_overflow 0):")
    lines += [
        _risk_line(f"  - {r.name} -> {r.connections} connections", r.risk) for r in advice.rules
    ]
    if advice.service is not None:
        lines += _service_tail(advice.service)
    return "\n".join(lines)


def _service_head(service: Service, rate: float) -> list[str]:
    return [
        f"{service.processes} processes behind one socket: each is sized for the busiest one's "
        f"share of the traffic, {service.share:.0%} ({rate:g} req/s over all; the "
        f"{SHARE_QUANTILE:.0%} point of the split's draws). Per process:",
    ]


def _service_tail(service: Service) -> list[str]:
    lines = [
        f"Whole service: {service.processes} x that pool = {service.total_connections} "
        f"connections PostgreSQL must allow (max_connections {service.max_connections}"
        + (
            ", enough)."
            if service.total_connections <= service.max_connections
            else f": short by {service.total_connections - service.max_connections}; each "
            "connect past it fails with 'too many clients', a 500). Raise max_connections or "
            "shrink the pools."
        ),
    ]
    if service.check is not None:
        lines.append(
            f"  The {service.processes} processes together on the full traffic (model, "
            f"{service.check.scenario.duration:.3g} s): {_outcome(service.check.summary)}"
        )
    return lines


def _risk_line(label: str, risk: Risk) -> str:
    lo, hi = risk.model.mttf_ci
    model = (
        f"model MTTF above {duration(lo)}"
        if risk.model.mttf_s is None
        else f"model MTTF {duration(risk.model.mttf_s)} [{duration(lo)}, {duration(hi)}]"
    )
    return (
        f"{label}: {model}"
        f" ({risk.model.method.split(' ')[0]}); Erlang B 1/(lambda B) "
        f"{duration(risk.erlang_b)}, M/M/c/c first passage {duration(risk.first_passage)}"
    )
