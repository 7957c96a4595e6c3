"""Queueing theory for steady traffic on the seed's endpoint: Erlang B and the first freeze.

Each request holds a connection for about `query_time + async_work` (their means, when drawn).
With Poisson arrivals at rate λ the connections form an Erlang loss system M/G/c/c with
c = pool_size + max_overflow and offered load A = λ·h (Little's law: A is the mean number of
connections in use). An arrival that
finds all c held blocks the loop in `QueuePool._do_get`: that is the first freeze.

B(c, A) is insensitive to the hold-time distribution, so the share of arrivals that find the pool
full is exact. The time to the first such arrival is not: blocked arrivals come in clusters (the
pool stays full a while), so 1/(λ·B) - the mean gap between blocked arrivals - undershoots it.
`mean_time_to_first_freeze` is the exact first-passage time of the birth-death chain M/M/c/c
from an empty pool; with the constant holds of the seed (asyncio.sleep) the true mean lies
between the two (measured: 0.6-0.9 of the M/M figure).
"""

from __future__ import annotations

import math

from sim.scenario import Scenario


def erlang_b(servers: int, offered_load: float) -> float:
    """Probability an arrival finds all `servers` busy (stable recursion, no factorials)."""
    if offered_load <= 0:
        return 0.0
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = offered_load * blocking / (k + offered_load * blocking)
    return blocking


def hold_time(scenario: Scenario) -> float:
    """Mean seconds a request keeps its connection: the query, then the awaited work."""
    return scenario.query.mean + scenario.work.mean


def offered_load(rate: float, scenario: Scenario) -> float:
    return rate * hold_time(scenario)


def blocked_arrival_interval(rate: float, scenario: Scenario) -> float:
    """1 / (λ·B): mean gap between arrivals that find the pool full; a lower bound on the time
    to the first freeze, used where a conservative answer is wanted."""
    if math.isinf(scenario.capacity):
        return math.inf
    blocked_rate = rate * erlang_b(int(scenario.capacity), offered_load(rate, scenario))
    return math.inf if blocked_rate == 0 else 1.0 / blocked_rate


def mean_time_to_first_freeze(rate: float, scenario: Scenario) -> float:
    """Mean time from an empty pool to the first arrival that finds all c connections held.

    Birth-death chain with births λ and deaths k/h: the passage k -> k+1 takes
    T_k = 1/λ + (k/(λ·h))·T_(k-1); the freeze is the passage c -> c+1.
    """
    if math.isinf(scenario.capacity):
        return math.inf
    death = 1.0 / hold_time(scenario)
    passage, total = 0.0, 0.0
    for k in range(int(scenario.capacity) + 1):
        passage = 1.0 / rate + (k * death / rate) * passage
        total += passage
    return total


def loop_utilisation(rate: float, scenario: Scenario) -> float:
    """Share of the loop thread's time the seed's endpoint uses: request CPU plus the query."""
    return rate * (scenario.request_cpu + scenario.query.mean)


def smallest_capacity(rate: float, scenario: Scenario, target_seconds: float) -> int:
    """Fewest connections whose blocked-arrival interval (the conservative estimate of the time
    to the first freeze) reaches `target_seconds`."""
    load = offered_load(rate, scenario)
    allowed = 1.0 / (rate * target_seconds)
    servers, blocking = 0, 1.0
    while blocking > allowed:
        servers += 1
        blocking = load * blocking / (servers + load * blocking)
    return servers


def erlang_c(servers: int, offered_load: float) -> float:
    """Probability an arrival must wait (M/M/c with queue), 1 when the load is not below c."""
    if offered_load >= servers:
        return 1.0
    blocking = erlang_b(servers, offered_load)
    return servers * blocking / (servers - offered_load * (1 - blocking))


def wait_exceeds(servers: int, rate: float, hold: float, seconds: float) -> float:
    """P(an arrival waits longer than `seconds` for a connection) in M/M/c: the share of 500s
    when checkouts wait without blocking the loop (AsyncSession, or a `def` endpoint)."""
    load = rate * hold
    if load >= servers:
        return 1.0
    return erlang_c(servers, load) * math.exp(-(servers / hold - rate) * seconds)
