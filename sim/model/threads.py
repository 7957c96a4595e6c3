"""Worker threads for sync code: the loop's default executor (era2020) or anyio's limiter (modern).

era2020: starlette 0.13 `run_in_threadpool` is `loop.run_in_executor(None, fn)`: a
ThreadPoolExecutor of min(32, cpu + 4) workers with a FIFO work queue; the worker is free as soon
as `fn` returns; the result reaches the loop by `call_soon_threadsafe` (futures._chain_future).

modern: `anyio.to_thread.run_sync` first takes a token from a CapacityLimiter (40 by default) on
the loop, hands `fn` to a worker thread, and gives the token back only when the awaiting task
resumes on the loop - so a frozen loop keeps its tokens.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim.model.loop import EventLoop, Future
from sim.model.tasks import Coroutine

ThreadWork = Callable[[], Generator[simpy.Event, Any, Any]]


def _in_thread(
    loop: EventLoop, work: ThreadWork, future: Future, handoff: float, gil: simpy.Event
) -> Coroutine:
    """A worker thread wakes (at most `handoff` later, sooner if the loop releases the GIL
    after the submission), runs `work`, then posts its outcome to the loop thread-safely."""
    if handoff > 0 and gil.callbacks is not None:  # not yet past the GIL release
        woken = loop.env.event()

        def wake(_: simpy.Event) -> None:
            if not woken.triggered:
                woken.succeed()

        # Plain callbacks instead of an AnyOf condition: one event fewer per hand-off.
        gil.callbacks.append(wake)
        loop.env.timeout(handoff).callbacks.append(wake)
        yield woken
    try:
        value = yield from work()
    except Exception as error:  # noqa: BLE001 - re-raised in the awaiting task, as asyncio does
        loop.call_soon_threadsafe(future.set_exception, error)
    else:
        loop.call_soon_threadsafe(future.set_result, value)


class ThreadPoolExecutor:
    """concurrent.futures.ThreadPoolExecutor as asyncio's default executor."""

    def __init__(self, loop: EventLoop, max_workers: int, handoff: float) -> None:
        self.loop = loop
        self.handoff = handoff
        self.workers = simpy.Resource(loop.env, capacity=max_workers)

    def run_sync(self, work: ThreadWork) -> Coroutine:
        """await loop.run_in_executor(None, work)."""
        future = self.loop.create_future()
        self.loop.env.process(self._worker(work, future, self.loop.gil_released()))
        return (yield future)

    def _worker(self, work: ThreadWork, future: Future, gil: simpy.Event) -> Coroutine:
        with self.workers.request() as slot:
            yield slot
            yield from _in_thread(self.loop, work, future, self.handoff, gil)


class CapacityLimiter:
    """anyio.CapacityLimiter with `to_thread.run_sync` on top; worker threads are unbounded."""

    def __init__(self, loop: EventLoop, total_tokens: int, handoff: float) -> None:
        self.loop = loop
        self.total_tokens = total_tokens
        self.handoff = handoff
        self.borrowed = 0
        self._waiters: deque[Future] = deque()

    def run_sync(self, work: ThreadWork) -> Coroutine:
        yield from self._acquire()
        try:
            future = self.loop.create_future()
            gil = self.loop.gil_released()
            self.loop.env.process(_in_thread(self.loop, work, future, self.handoff, gil))
            return (yield future)
        finally:
            self._release()

    def _acquire(self) -> Coroutine:
        if self.borrowed < self.total_tokens and not self._waiters:
            self.borrowed += 1
            yield None  # acquire_on_behalf_of: cancel_shielded_checkpoint -> sleep(0)
            return
        waiter = self.loop.create_future()
        self._waiters.append(waiter)
        yield waiter  # the releasing task hands its token over

    def _release(self) -> None:
        if self._waiters:
            self._waiters.popleft().set_result(None)
        else:
            self.borrowed -= 1


Threads = ThreadPoolExecutor | CapacityLimiter
