"""Coroutines on the model loop: asyncio.Task, sleep, and the I/O and CPU primitives.

A coroutine is a generator. `yield future` suspends the task until the future is done (as
`await`); `yield None` is a bare yield (`asyncio.sleep(0)`): reschedule at once; any SimPy event
yielded holds the loop thread until it fires (CPU work, a blocking pool checkout).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sim.model.loop import EventLoop, Future

Coroutine = Generator[Any, Any, Any]


class Task(Future):
    """asyncio.Task: `__step` runs the coroutine to its next await, on the loop thread."""

    __slots__ = ("_coro",)

    def __init__(self, loop: EventLoop, coro: Coroutine) -> None:
        super().__init__(loop)
        self._coro = coro
        loop.call_soon(self._step)  # tasks.py Task.__init__: self._loop.call_soon(self.__step)

    def _step(self, value: Any = None, exc: BaseException | None = None) -> Coroutine:
        coro = self._coro
        while True:
            try:
                awaited = coro.send(value) if exc is None else coro.throw(exc)
            except StopIteration as stop:
                self.set_result(stop.value)
                return
            except Exception as error:  # noqa: BLE001 - a task stores what its coroutine raised
                self.set_exception(error)
                return
            value, exc = None, None
            if awaited is None:
                self.loop.call_soon(self._step)
                return
            if isinstance(awaited, Future):
                awaited.add_done_callback(self._wakeup)
                return
            try:
                value = yield awaited
            except Exception as error:  # noqa: BLE001 - delivered into the coroutine, as asyncio
                exc = error

    def _wakeup(self, future: Future) -> Coroutine:
        try:
            value = future.result()
        except Exception as error:  # noqa: BLE001
            return self._step(None, error)
        return self._step(value)


def sleep(loop: EventLoop, delay: float) -> Coroutine:
    """asyncio.sleep: a timer sets a future, the task wakes one hop after the timer runs."""
    if delay <= 0:
        yield None
        return
    future = loop.create_future()
    loop.call_later(delay, future.set_result, None)
    yield future


def io_wait(loop: EventLoop, seconds: float) -> Coroutine:
    """Await a socket round trip of `seconds`; the reply is an I/O event for the loop to poll."""
    future = loop.create_future()
    if seconds > 0:
        loop.env.timeout(seconds).callbacks.append(
            lambda _: loop.add_io_event(future.set_result, None)
        )
    else:  # loopback: ready by the very next poll
        loop.add_io_event(future.set_result, None)
    return (yield future)
