"""The costs one run pays, as Cost objects: fixed with jitter off, drawn from the stack's
calibrated shapes (sim/jitter.py) on their own streams of the run's seed with jitter on."""

from __future__ import annotations

from dataclasses import dataclass

from sim.distributions import Constant
from sim.jitter import Cost, stream
from sim.scenario import Scenario


@dataclass(frozen=True)
class Costs:
    connect_time: Cost  # seconds per new DBAPI connection (QueuePool)
    thread_handoff: Cost  # seconds per hand-off to a worker thread
    request_cpu: Cost  # a request's loop CPU over request_cpu, one draw per request
    query_time: Cost  # a query's time over its value, one draw per query
    sleep_overshoot: Cost  # seconds an asyncio.sleep returns late (early, below 0, on uvloop)


def run_costs(scenario: Scenario) -> Costs:
    on = scenario.jitter == "on"
    profile = scenario.profile
    shapes = profile.cost_shapes or {}
    seed = scenario.seed

    def cost(name: str, value: float) -> Cost:
        if not on:
            return Cost(value)
        return Cost(value, shapes[name], stream(name, seed))

    # Jitter spreads the calibrated SELECT's time; a drawn or replayed query time is the
    # request's own and is taken as given.
    query_spread = isinstance(scenario.query, Constant) and not _replays_query(scenario)
    return Costs(
        connect_time=cost("connect_time", scenario.connect_time),
        thread_handoff=cost("thread_handoff", scenario.thread_handoff),
        request_cpu=cost("request_cpu", 1.0),
        query_time=cost("query_time", 1.0) if query_spread else Cost(1.0),
        sleep_overshoot=(
            Cost(1.0, profile.sleep_overshoot, stream("sleep_overshoot", seed), signed=True)
            if on
            else Cost(0.0)
        ),
    )


def _replays_query(scenario: Scenario) -> bool:
    replay = scenario.arrival_spec.replay
    return replay is not None and replay.column("query") is not None
