"""Episodes: the model server under open-ended Poisson traffic, stopped on an event.

The risk estimators ask questions a fixed-length run cannot: "how long until the first freeze",
"does this regeneration cycle reach k connections checked out before the server is empty
again". An episode starts the server warm (the pool holds `pool_size` idle connections and has
run first_connect, as a server that has served before; `QueuePool.warm`) and empty, which is
the state the server returns to whenever its last request ends and every connection is back: a
regeneration point, because Poisson arrivals have no memory. The episode then stops at the
first of: a freeze (the loop held for at least `freeze_threshold`), a checkout that lifts
`importance` to `level` (or any checkout that waits: the step before a freeze), the server
empty again (`until_empty`), or `horizon` seconds.

Every arrival comes from `times`, an ascending iterator: replaying an episode's `sent` prefix
and then a fresh Poisson stream reproduces its state at a moment and continues it at random,
which is how multilevel splitting branches a trajectory without copying simulator state.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from sim.model.simulate import assemble
from sim.result import BLOCK_MIN
from sim.scenario import Scenario


@dataclass(frozen=True)
class Episode:
    reason: str  # "freeze", "level", "empty" or "horizon"
    end: float  # when it stopped
    freeze_at: float | None  # start of the first freeze, if one was declared
    sent: tuple[float, ...]  # every send time up to `end`
    holds: tuple[float, ...]  # how long each connection checked in so far was held


def poisson(rate: float, start: float, rng: random.Random) -> Iterator[float]:
    """Arrival times after `start`, exponential gaps of mean 1/rate."""
    t = start
    while True:
        t += rng.expovariate(rate)
        yield t


Importance = Callable[[float, Sequence[float]], float]  # (now, checkout times oldest first)


def held(now: float, checkouts: Sequence[float]) -> float:
    """The plainest importance: connections checked out."""
    return float(len(checkouts))


def run_episode(
    scenario: Scenario,
    times: Iterable[float],
    *,
    horizon: float,
    level: float | None = None,
    importance: Importance = held,
    until_empty: bool = False,
) -> Episode:
    model = assemble(scenario)
    env, loop, pool, traffic = model.env, model.loop, model.pool, model.traffic
    if scenario.pool_size:
        pool.warm(scenario.pool_size)
    stop = env.event()
    outcome: dict[str, float | str | None] = {"reason": "horizon", "freeze_at": None}
    threshold = scenario.freeze_threshold

    def finish(reason: str) -> None:
        if not stop.triggered:
            outcome["reason"] = reason
            stop.succeed()

    def freeze_since(start: float) -> float | None:
        """Start of a block that covers `start` and has lasted freeze_threshold, if any."""
        for a, b in loop.blocked_intervals(BLOCK_MIN, ongoing=True):
            if a <= start <= b and b - a >= threshold:
                return a
        return None

    def check(at: float) -> None:
        found = freeze_since(at)
        if found is not None:
            outcome["freeze_at"] = found
            finish("freeze")

    def on_wait() -> None:  # a checkout waits: a freeze if the loop is still held a threshold on
        at = env.now
        env.timeout(threshold).callbacks.append(lambda _: check(at))
        if level is not None:
            finish("level")

    checkouts: deque[float] = deque()  # held connections' checkout times; holds end in order
    holds: list[float] = []

    def on_checkout(_: int) -> None:
        checkouts.append(env.now)
        if level is not None and importance(env.now, checkouts) >= level:
            finish("level")

    def watchdog() -> Iterator:  # any other freeze (a saturated loop), seen within a threshold
        while True:
            yield env.timeout(threshold)
            check(env.now - threshold)

    def on_checkin(_: int) -> None:
        holds.append(env.now - checkouts.popleft())

    pool.on_wait = on_wait
    pool.on_checkout = on_checkout
    pool.on_checkin = on_checkin
    if until_empty:
        traffic.on_idle = lambda: finish("empty") if pool.checkedout == 0 else None
    model.client.stream(times)
    env.process(loop.run_forever())
    env.process(watchdog())
    env.run(until=stop | env.timeout(horizon))
    sent = tuple(e.sent_at for e in traffic.exchanges if e.sent_at is not None)
    return Episode(str(outcome["reason"]), env.now, outcome["freeze_at"], sent, tuple(holds))  # type: ignore[arg-type]


def replay(
    prefix: tuple[float, ...], rate: float, at: float, rng: random.Random
) -> Iterator[float]:
    """`prefix`'s sends up to `at`, then fresh Poisson arrivals from `at` on."""
    kept = (t for t in prefix if t <= at)
    return itertools.chain(kept, poisson(rate, at, rng))
