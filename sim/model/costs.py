"""The costs one server process pays, as Cost objects: fixed with jitter off, drawn from the
stack's calibrated shapes (sim/jitter.py) on their own streams of the run's seed with jitter on.
Each process has its own: its own interpreter collects its own garbage, by its own requests."""

from __future__ import annotations

from dataclasses import dataclass

from sim.distributions import Constant
from sim.jitter import Cost, stream
from sim.scenario import Scenario
from sim.stacks import FullCollection


class FullCollections:
    """The loop thread's full garbage collections (StackProfile.full_collection), counted by
    requests received: `due()` is the seconds of the one this request triggers, else 0."""

    __slots__ = ("first", "every", "seconds", "_received")

    def __init__(self, collection: FullCollection | None) -> None:
        self.first = collection.first if collection else 0
        self.every = collection.every if collection else 1
        self.seconds = collection.seconds if collection else 0.0
        self._received = 0

    def due(self) -> float:
        self._received += 1
        since = self._received - self.first
        return self.seconds if since >= 0 and since % self.every == 0 else 0.0


@dataclass(frozen=True)
class Costs:
    connect_time: Cost  # seconds per new DBAPI connection (QueuePool)
    thread_handoff: Cost  # seconds per hand-off to a worker thread
    request_cpu: Cost  # a request's loop CPU over request_cpu, one draw per request
    query_time: Cost  # a query's time over its value, one draw per query
    sleep_overshoot: Cost  # seconds an asyncio.sleep returns late (early, below 0, on uvloop)
    collections: FullCollections  # none with jitter off


def run_costs(scenario: Scenario, process: int = 0) -> Costs:
    on = scenario.jitter == "on"
    profile = scenario.profile
    shapes = profile.cost_shapes or {}
    seed = scenario.seed

    def cost(name: str, value: float) -> Cost:
        if not on:
            return Cost(value)
        return Cost(value, shapes[name], stream(name, seed, process))

    # Jitter spreads the calibrated SELECT's time; a drawn or replayed query time is the
    # request's own and is taken as given.
    query_spread = isinstance(scenario.query, Constant) and not _replays_query(scenario)
    return Costs(
        connect_time=cost("connect_time", scenario.connect_time),
        thread_handoff=cost("thread_handoff", scenario.thread_handoff),
        request_cpu=cost("request_cpu", 1.0),
        query_time=cost("query_time", 1.0) if query_spread else Cost(1.0),
        sleep_overshoot=(
            Cost(
                1.0, profile.sleep_overshoot, stream("sleep_overshoot", seed, process), signed=True
            )
            if on
            else Cost(0.0)
        ),
        collections=FullCollections(profile.full_collection if on else None),
    )


def _replays_query(scenario: Scenario) -> bool:
    replay = scenario.arrival_spec.replay
    return replay is not None and replay.column("query") is not None
