"""When the external client sends: open-loop send times and closed-loop users.

Stdlib only and Python 3.8-compatible: the client script imports it as `arrivals` in the stack's
venv (era2020 runs 3.8), the runner and the tests as `validation.arrivals`. The send itself is
passed in, so the scheduling is tested here without a server, and the clock and sleep are
injectable so the tests need no real waiting.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Awaitable, Callable, Sequence


def poisson_times(rate: float, duration: float, seed: int) -> list[float]:
    """Poisson send offsets over `duration`: exponential gaps from `random.Random(seed)`.

    The model draws its own times the same way, but compare never relies on that: it replays
    the times this run really sent at (`--arrival trace:`), so client jitter cannot split them.
    """
    rng = random.Random(seed)
    times, t = [], rng.expovariate(rate)
    while t < duration:
        times.append(t)
        t += rng.expovariate(rate)
    return times


async def open_loop(
    send: Callable[[int], Awaitable[None]],
    times: Sequence[float],
    start: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """Start request i at `start + times[i]`, never waiting for earlier ones; return the count.

    Each delay is measured from `start`, not from the previous send, so lateness (a slow
    iteration of the client's loop) does not accumulate.
    """
    tasks = []
    for i, t in enumerate(times):
        delay = start + t - clock()
        if delay > 0:
            await sleep(delay)
        tasks.append(asyncio.ensure_future(send(i)))
    if tasks:
        await asyncio.wait(tasks)
    return len(tasks)


async def closed_loop(
    send: Callable[[int], Awaitable[None]],
    users: int,
    duration: float,
    think_time: float,
    start: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> int:
    """`users` users, each: send, wait for the response (or error), think, repeat until
    `duration` has passed since `start`. Requests are numbered in the order they are sent.
    Returns how many were sent."""
    numbers = itertools.count()
    sent = []

    async def user() -> None:
        while clock() - start < duration:
            i = next(numbers)
            sent.append(i)
            await send(i)
            await sleep(think_time)

    await asyncio.gather(*(user() for _ in range(users)))
    return len(sent)
