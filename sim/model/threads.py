"""Worker threads for sync code: the loop's default executor (era2020) or anyio's limiter (modern).

era2020: starlette 0.13 `run_in_threadpool` is `loop.run_in_executor(None, fn)`: a
ThreadPoolExecutor of min(32, cpu + 4) workers with a FIFO work queue; the worker is free as soon
as `fn` returns; the result reaches the loop by `call_soon_threadsafe` (futures._chain_future).

modern: `anyio.to_thread.run_sync` (anyio 4.16 `_backends/_asyncio.py`
`run_sync_in_worker_thread`) takes a checkpoint, then a token from a CapacityLimiter (40 by
default) on the loop, a second checkpoint when the token was free, hands `fn` to a worker
thread, and gives the token back only when the awaiting task resumes on the loop - so a frozen
loop keeps its tokens.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy
from simpy.events import URGENT

from sim.jitter import Cost, as_cost
from sim.model.loop import EventLoop, Future
from sim.model.tasks import Coroutine

ThreadWork = Callable[[], Generator[simpy.Event, Any, Any]]


@dataclass(frozen=True)
class WorkItem:
    """concurrent.futures.thread._WorkItem: the call, the loop future for its outcome, and the
    loop's next GIL release as it was when the call was submitted."""

    work: ThreadWork
    future: Future
    gil: simpy.Event


def _urgent(event: simpy.Event, value: Any) -> None:
    """Trigger `event` URGENT, as SimPy's own Initialize is: a work item handed to an idle
    thread starts at the point of the instant where a freshly started thread's process would."""
    event._ok, event._value = True, value  # noqa: SLF001 - what Event.succeed sets
    event.env.schedule(event, URGENT)


def _waits(item: WorkItem, handoff: float) -> bool:
    """A thread waits out its hand-off unless the loop has released the GIL since `item` was
    submitted (the `gil` event processed): a runnable thread takes the GIL then."""
    return handoff > 0 and item.gil.callbacks is not None


def _wake_first(gil: simpy.Event, handoff: float, event: simpy.Event, value: Any) -> None:
    """Trigger `event` at the loop's next GIL release or `handoff` from now, whichever comes
    first: plain callbacks instead of an AnyOf condition, one event fewer per hand-off."""

    def wake(_: simpy.Event) -> None:
        if not event.triggered:
            event.succeed(value)

    gil.callbacks.append(wake)  # type: ignore[union-attr]
    event.env.timeout(handoff).callbacks.append(wake)


class WorkerThread:
    """A thread that outlives its calls: between them it waits for the next work item handed to
    it (concurrent.futures' `_worker` on the work queue, anyio's `WorkerThread` on its queue),
    and tells `on_done` when it has finished one.

    A thread wakes to an item at most `handoff` after it starts waiting for it, sooner if the
    loop releases the GIL after the submission, at once if it already has (`gil` processed).
    """

    def __init__(
        self, loop: EventLoop, handoff: Cost, on_done: Callable[[WorkerThread], None]
    ) -> None:
        self.loop = loop
        self.handoff = handoff  # drawn per hand-off with jitter on
        self.on_done = on_done
        self._queue = loop.env.event()  # (item, taken): the next work item, as it wakes to it
        loop.env.process(self._run())

    def hand(self, item: WorkItem) -> None:
        """anyio's `WorkerThread.queue.put_nowait`: the hand-off latency runs from now."""
        handoff = self.handoff.draw()
        if _waits(item, handoff):
            _wake_first(item.gil, handoff, self._queue, (item, False))
        else:
            _urgent(self._queue, (item, False))

    def take(self, item: WorkItem) -> None:
        """concurrent.futures' `work_queue.get()` returns in the worker, one step from now (a
        slot granted as SimPy's Resource grants it); the hand-off latency runs from there."""
        self._queue.succeed((item, True))

    def _run(self) -> Coroutine:
        loop = self.loop
        while True:
            item, taken = yield self._queue
            self._queue = loop.env.event()
            if taken:
                handoff = self.handoff.draw()
                if _waits(item, handoff):
                    woken = loop.env.event()
                    _wake_first(item.gil, handoff, woken, None)
                    yield woken
            try:
                value = yield from item.work()
            except Exception as error:  # noqa: BLE001 - re-raised in the awaiting task
                loop.call_soon_threadsafe(item.future.set_exception, error)
            else:
                loop.call_soon_threadsafe(item.future.set_result, value)
            self.on_done(self)


class ThreadPoolExecutor:
    """concurrent.futures.ThreadPoolExecutor as asyncio's default executor: at most
    `max_workers` calls run at once, the rest wait in a FIFO work queue; a thread is free as
    soon as its call returns.

    The slots are counted as SimPy's Resource counts them, hop for hop: a submission is taken
    up one URGENT step later (a fresh process's start), a free slot is granted one step after
    that, and a freed slot passes to the queue's head when the release is processed.
    """

    def __init__(self, loop: EventLoop, max_workers: int, handoff: float | Cost) -> None:
        self.loop = loop
        self.max_workers = max_workers
        self.handoff = as_cost(handoff)
        self.running = 0
        self._idle: list[WorkerThread] = []
        self._work_queue: deque[WorkItem] = deque()

    def run_sync(self, work: ThreadWork) -> Coroutine:
        """await loop.run_in_executor(None, work)."""
        future = self.loop.create_future()
        submitted = self.loop.env.event()
        submitted.callbacks.append(self._submit)
        _urgent(submitted, WorkItem(work, future, self.loop.gil_released()))
        return (yield future)

    def _submit(self, submitted: simpy.Event) -> None:
        self._work_queue.append(submitted.value)
        self._adjust_thread_count()

    def _adjust_thread_count(self, _: simpy.Event | None = None) -> None:
        """The work item at the queue's head goes to an idle thread, or to a new one while
        fewer than max_workers exist (ThreadPoolExecutor._adjust_thread_count); one item per
        submission or release, as Resource._trigger_put tries only the head."""
        if self._work_queue and self.running < self.max_workers:
            self.running += 1
            if self._idle:
                thread = self._idle.pop()
            else:
                thread = WorkerThread(self.loop, self.handoff, self._done)
            thread.take(self._work_queue.popleft())

    def _done(self, thread: WorkerThread) -> None:
        self.running -= 1
        self._idle.append(thread)
        released = self.loop.env.event()
        released.callbacks.append(self._adjust_thread_count)
        released.succeed()


class CapacityLimiter:
    """anyio.CapacityLimiter with `to_thread.run_sync` on top; worker threads are unbounded, an
    idle one is reused (anyio keeps them in `_threadpool_idle_workers`)."""

    def __init__(self, loop: EventLoop, total_tokens: int, handoff: float | Cost) -> None:
        self.loop = loop
        self.total_tokens = total_tokens
        self.handoff = as_cost(handoff)
        self.borrowed = 0
        self._waiters: deque[Future] = deque()
        self._idle: list[WorkerThread] = []

    def run_sync(self, work: ThreadWork) -> Coroutine:
        yield None  # run_sync_in_worker_thread: await cls.checkpoint() -> sleep(0)
        yield from self._acquire()
        try:
            future = self.loop.create_future()
            if self._idle:
                thread = self._idle.pop()
            else:
                thread = WorkerThread(self.loop, self.handoff, self._idle.append)
            thread.hand(WorkItem(work, future, self.loop.gil_released()))
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
