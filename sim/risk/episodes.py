"""Episodes: the model server under open-ended Poisson traffic, stopped on an event.

The risk estimators ask questions a fixed-length run cannot: "how long until the first freeze",
"does this excursion reach the next level before the pool drains". An episode starts the server
warm (the pool holds `pool_size` idle connections and has run first_connect, as a server that
has served for a while; `QueuePool.warm`) and stops at the first of: a freeze (the loop held for
at least `freeze_threshold`), a checkout that lifts `importance` to `level` (or any checkout that
waits: the step before a freeze), a checkin that leaves at most `floor` connections checked out,
or `horizon` seconds. A base run given `marks` does not stop at the floor: it notes instead
the moments `importance` first reaches each mark in each excursion above the floor.

Every arrival comes from `times`, an ascending iterator. The model is deterministic given its
arrivals, and the server's state at a moment depends only on the requests still in flight, so
replaying the sends of the last few holds onto a warm server and then a fresh Poisson stream
reproduces a state and continues it at random: how multilevel splitting branches a trajectory
without copying simulator state.
"""

from __future__ import annotations

import itertools
import random
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

from sim.errors import ScenarioError
from sim.model.simulate import assemble
from sim.result import BLOCK_MIN
from sim.scenario import Scenario

Importance = Callable[[float, Sequence[float]], float]  # (now, checkout times oldest first)


@dataclass(frozen=True)
class Episode:
    reason: str  # "freeze", "level", "floor" or "horizon"
    end: float  # when it stopped
    freeze_at: float | None  # start of the first freeze, if one was declared
    sent: tuple[float, ...]  # every send time up to `end`
    holds: tuple[float, ...]  # how long each connection checked in so far was held
    marked: tuple[tuple[float, ...], ...]  # per mark: when each excursion first reached it


def poisson(rate: float, start: float, rng: random.Random) -> Iterator[float]:
    """Arrival times after `start`, exponential gaps of mean 1/rate."""
    t = start
    while True:
        t += rng.expovariate(rate)
        yield t


def replay(
    prefix: Sequence[float], rate: float, at: float, memory: float, rng: random.Random
) -> tuple[Iterator[float], float]:
    """`prefix`'s sends in the last `memory` seconds up to `at`, then fresh arrivals from `at`,
    on a clock that starts where the window does; and `at` on that clock."""
    offset = max(0.0, at - memory)
    kept = (t - offset for t in prefix if offset <= t <= at)
    return itertools.chain(kept, poisson(rate, at - offset, rng)), at - offset


def run_episode(
    scenario: Scenario,
    times: Iterable[float],
    *,
    horizon: float,
    level: float | None = None,
    importance: Importance | None = None,
    floor: int | None = None,
    marks: Sequence[float] = (),
    after: float = 0.0,
) -> Episode:
    """`after`: the replayed past ends there; no level, floor or mark counts before it.
    `importance` ranks states for `level` and `marks`; without it neither is looked at."""
    if scenario.processes > 1:
        raise ScenarioError(
            "--processes: the risk estimators follow one process; use sim run --replications"
        )
    model = assemble(scenario)
    env, loop, pool = model.env, model.loop, model.pool
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
        for a, b in loop.blocked_intervals(BLOCK_MIN, ongoing=True, since=start - threshold):
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
        if level is not None and at >= after:
            finish("level")

    checkouts: deque[float] = deque()  # held connections' checkout times; holds end in order
    holds: list[float] = []
    marked: list[list[float]] = [[] for _ in marks]
    armed = [True] * len(marks)  # each mark counts once per excursion above the floor

    def on_checkout(_: int) -> None:
        checkouts.append(env.now)
        if importance is None or env.now < after:
            return
        value = importance(env.now, checkouts)
        if level is not None and value >= level:
            finish("level")
        for k, mark in enumerate(marks):
            if armed[k] and value >= mark:
                armed[k] = False
                marked[k].append(env.now)

    def on_checkin(count: int) -> None:
        holds.append(env.now - checkouts.popleft())
        if floor is not None and count <= floor and env.now >= after:
            armed[:] = [True] * len(marks)
            if not marks:
                finish("floor")

    def watchdog() -> Iterator:  # any other freeze (a saturated loop), seen within a threshold
        while True:
            yield env.timeout(threshold)
            check(env.now - threshold)

    pool.on_wait = on_wait
    pool.on_checkout = on_checkout
    pool.on_checkin = on_checkin
    model.client.stream(times)
    env.process(loop.run_forever())
    env.process(watchdog())
    env.run(until=stop | env.timeout(horizon))
    return Episode(
        reason=str(outcome["reason"]),
        end=env.now,
        freeze_at=outcome["freeze_at"],  # type: ignore[arg-type]
        sent=tuple(e.sent_at for e in model.traffic.exchanges if e.sent_at is not None),
        holds=tuple(holds),
        marked=tuple(tuple(m) for m in marked),
    )
