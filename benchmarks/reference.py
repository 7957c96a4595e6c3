"""SimPy's own yardsticks: an M/M/c queue on `simpy.Resource` and a bare timeout loop.

They set the pace a SimPy model can reach on this machine and interpreter; the model's figures are
divided by them, so the ratio speaks to the model's overhead rather than to the hardware.
"""

from __future__ import annotations

import random
from collections.abc import Generator

import simpy


def mmc(customers: int, servers: int, arrival_rate: float, service_time: float, seed: int) -> None:
    """The textbook M/M/c from SimPy's examples: each customer requests a server, is served for an
    exponential time and leaves."""
    env = simpy.Environment()
    rng = random.Random(seed)
    counter = simpy.Resource(env, capacity=servers)

    def customer() -> Generator[simpy.Event, object, None]:
        with counter.request() as turn:
            yield turn
            yield env.timeout(rng.expovariate(1 / service_time))

    def source() -> Generator[simpy.Event, object, None]:
        for _ in range(customers):
            env.process(customer())
            yield env.timeout(rng.expovariate(arrival_rate))

    env.process(source())
    env.run()


def timeout_loop(events: int) -> None:
    """One process yielding `events` timeouts: the least work SimPy does per processed event."""
    env = simpy.Environment()

    def ticker() -> Generator[simpy.Event, object, None]:
        for _ in range(events):
            yield env.timeout(1)

    env.process(ticker())
    env.run()
