"""Closed-form predictions for a burst, with the exact conditions under which each one holds.

The seed's endpoint (async-sync-session) checks a connection out on the loop thread. In a burst
from an external client, the first `capacity` requests get connections and park in `await`; the
next one to reach `execute` blocks the loop for `pool_timeout` (SQLAlchemy QueuePool._do_get waits
on a threading.Condition the parked holders can never signal) and gets a 500. So the loop freezes
iff requests > capacity, and every excess request blocks in turn: the burst arrives in one poll
and moves through the loop in lockstep, so all of its `execute` calls run in one iteration,
before any holder's expired timer can run (validated: validation/REPORT.md). The lockstep breaks
when requests wait for a worker thread (modern: anyio's 40 tokens come back only through the
loop): those reach `execute` a wave later, after the holders returned their connections.

async-session awaits the checkout, so the loop never blocks on the pool; a waiter gets a 500 only
if no holder returns a connection within pool_timeout. sync runs the checkout in a worker thread:
no loop freeze, and no closed form for its 500s (thread-pool starvation, FastAPI issue #3205).

"Exact" means the counts match the model exactly and times match to within the loop CPU the
requests spend (`cpu_slack`), which the closed forms leave out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.distributions import Constant
from sim.scenario import Scenario


@dataclass(frozen=True)
class Prediction:
    """What the closed form says; None for a quantity it makes no claim about."""

    freezes: bool
    frozen_seconds: float
    handled_before_freeze: int | None
    ok: int | None
    server_errors: int | None
    client_errors: int | None


def request_cpu(s: Scenario) -> float:
    """Upper bound on the loop-thread time one request costs besides any pool wait."""
    return (
        s.request_cpu
        + s.connect_time
        + s.query.mean
        + s.client_request_cpu
        + s.thread_handoff
        + s.profile.callbacks_per_request * s.callback_cpu
    )


def cpu_slack(s: Scenario) -> float:
    """How far the model's frozen seconds may sit from the closed form: the burst's loop CPU,
    and the pool's one-off warm-up."""
    return s.requests * request_cpu(s) + s.warmup_time


def freezes(s: Scenario) -> bool:
    """The boundary: a burst on the seed's endpoint freezes the loop iff requests > capacity."""
    return s.endpoint == "async-sync-session" and s.requests > s.capacity


def _burst_from_outside(s: Scenario) -> bool:
    """External client, a burst, no client time-out, and too little loop CPU to freeze alone."""
    return (
        s.client == "external"
        and s.arrival == "burst"
        and s.client_timeout is None
        and cpu_slack(s) < s.freeze_threshold
    )


def _lockstep(s: Scenario) -> bool:
    """The whole burst reaches `execute` in one wave while the holders stay parked: every
    dependency setup gets a worker thread at once, and the holders await something (with
    async_work 0 a holder's bare yield returns it to the loop within the wave). Beyond the
    thread count the burst often still moves in lockstep, but not always."""
    return s.requests <= s.threads and s.work.mean > 0


def boundary_exact(s: Scenario) -> bool:
    """Whether `freezes(s)` is exact: a burst from outside in lockstep, with blocks long enough
    to count as freezes."""
    if s.requests <= s.capacity:  # no checkout ever waits
        return _burst_from_outside(s)
    return _burst_from_outside(s) and _lockstep(s) and s.pool_timeout >= s.freeze_threshold


def _seed_exact(s: Scenario) -> bool:
    return boundary_exact(s)


def _hold_time(s: Scenario) -> float:
    return s.query.mean + s.work.mean


def _async_rounds(s: Scenario) -> int:
    """Hand-over rounds the last waiter sits through: holders release `capacity` at a time."""
    excess = max(0, s.requests - s.capacity)
    return 0 if excess == 0 else math.ceil(excess / s.capacity)


def _async_exact(s: Scenario) -> bool:
    """Either every waiter is served well within pool_timeout, or every waiter times out
    before the first holder could return a connection."""
    if s.requests <= s.capacity:
        return True
    if s.capacity == 0:
        return True
    slack = cpu_slack(s)
    served = (_async_rounds(s) + 1) * (_hold_time(s) + slack) < s.pool_timeout
    starved = s.pool_timeout + slack < _hold_time(s)
    return served or starved


def exact_for(s: Scenario) -> bool:
    """Whether `predict(s)` matches the model exactly (counts; times within cpu_slack). Only
    for constant work and query times: the closed forms take every request's to be the same."""
    if not (isinstance(s.work, Constant) and isinstance(s.query, Constant)):
        return False
    if not _burst_from_outside(s):
        return False
    if s.endpoint == "async-sync-session":
        return _seed_exact(s)
    if s.endpoint == "async-session":
        return _async_exact(s)
    return True  # sync: only the no-freeze claim, which the CPU bound guarantees


def predict(s: Scenario) -> Prediction | None:
    """The closed form where `exact_for(s)`, else None."""
    if not exact_for(s):
        return None
    if s.endpoint == "sync":
        return Prediction(False, 0.0, None, None, None, 0)
    served = int(min(s.requests, s.capacity))
    if s.endpoint == "async-sync-session":
        blocked = s.requests - served
        return Prediction(blocked > 0, blocked * s.pool_timeout, served, served, blocked, 0)
    timed_out = 0 if s.pool_timeout > _hold_time(s) else s.requests - served
    if s.capacity == 0:
        timed_out = s.requests
    ok = s.requests - timed_out
    return Prediction(False, 0.0, ok, ok, timed_out, 0)
