"""The event loop: one thread, a ready FIFO, a timer heap and I/O completions.

Mirrors CPython's `BaseEventLoop._run_once` (asyncio/base_events.py): poll I/O (socket callbacks
join the ready queue), move expired timers to the ready queue in deadline order, then run exactly
the callbacks that were ready at that point; what they schedule runs next iteration. uvloop runs
the same queues in libuv's order instead (`uv_run`: timers, then idle = the ready queue, then poll,
then check), calling timer and I/O callbacks directly in their phase; what its release and libuv
do differently (accepts per poll, when a write is sent) is the stack's `Libuv` record.

A callback may return a generator: the loop drives it inside its own SimPy process, so every SimPy
event the generator yields (a CPU cost, a pool checkout wait) holds the loop thread.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections import deque
from collections.abc import Callable, Generator, Iterable
from types import GeneratorType
from typing import Any

import simpy

from sim.model.cpu import cpu
from sim.stacks import Libuv

Callback = Callable[..., Any]


class Handle:
    """asyncio.Handle: a callback and its arguments, cancellable until it runs."""

    __slots__ = ("callback", "args", "cancelled")

    def __init__(self, callback: Callback, args: tuple[Any, ...]) -> None:
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class Future:
    """asyncio.Future: done callbacks go through call_soon, so a waiter wakes one hop later."""

    __slots__ = ("loop", "_done", "_result", "_exception", "_callbacks")

    def __init__(self, loop: EventLoop) -> None:
        self.loop = loop
        self._done = False
        self._result: Any = None
        self._exception: BaseException | None = None
        self._callbacks: list[Callback] = []

    def done(self) -> bool:
        return self._done

    def result(self) -> Any:
        if self._exception is not None:
            raise self._exception
        return self._result

    def add_done_callback(self, fn: Callback) -> None:
        if self._done:
            self.loop.call_soon(fn, self)
        else:
            self._callbacks.append(fn)

    def set_result(self, value: Any) -> None:
        self._finish(value, None)

    def set_exception(self, exc: BaseException) -> None:
        self._finish(None, exc)

    def _finish(self, value: Any, exc: BaseException | None) -> None:
        if self._done:
            raise RuntimeError("future already done")
        self._done, self._result, self._exception = True, value, exc
        for fn in self._callbacks:
            self.loop.call_soon(fn, self)
        self._callbacks.clear()


class EventLoop:
    """One loop thread. `run_forever` is the SimPy process that is that thread."""

    def __init__(
        self,
        env: simpy.Environment,
        kind: str = "asyncio",
        callback_cpu: float = 0.0,
        libuv: Libuv | None = None,
    ) -> None:
        if kind not in ("asyncio", "uvloop") or (kind == "uvloop") != (libuv is not None):
            raise ValueError(f"{kind} loop with libuv settings {libuv}")
        self.env = env
        self.kind = kind
        self.libuv = libuv
        self._ready: deque[Handle] = deque()
        self._scheduled: list[tuple[float, int, Handle]] = []
        self._io: deque[Handle] = deque()
        self._backlog: deque[Handle] = deque()
        self._writes: list[Handle] = []
        # Every callback costs the interpreter a few microseconds (Handle._run, a future's
        # set_result, a task's wake-up). Cheap callbacks run back to back; their cost is paid
        # as one delay before the next callback that holds the thread, or at the iteration end.
        self.callback_cpu = callback_cpu
        self._debt = 0.0
        self._gil: simpy.Event | None = None
        self._seq = itertools.count()
        self._wakeup: simpy.Event | None = None
        self._timer_at: float | None = None  # the deadline of the select() timer pending
        self.iterations = 0
        self.busy: list[tuple[float, float]] = []
        self._iteration_start: float | None = None
        self._turn = _Turn.of(env)

    # -- scheduling API, as asyncio names it --------------------------------------------------
    def call_soon(self, callback: Callback, *args: Any) -> Handle:
        handle = Handle(callback, args)
        self._ready.append(handle)
        return handle

    def call_later(self, delay: float, callback: Callback, *args: Any) -> Handle:
        handle = Handle(callback, args)
        heapq.heappush(self._scheduled, (self.env.now + delay, next(self._seq), handle))
        return handle

    def call_soon_threadsafe(self, callback: Callback, *args: Any) -> Handle:
        """From another thread: join the ready queue now and write to the self-pipe."""
        handle = self.call_soon(callback, *args)
        self._wake()
        return handle

    def add_io_event(self, callback: Callback, *args: Any) -> None:
        """A socket became ready: the callback runs when the loop next polls."""
        self._io.append(Handle(callback, args))
        self._wake()

    def connect(self, callback: Callback, *args: Any) -> None:
        """A request on a new connection reaches the listening socket's backlog.

        asyncio: `_accept_connection` takes the whole backlog in one poll; the model lets the
        request be read in that poll. uvloop: the poll accepts `Libuv.accepts_per_poll`
        connections (uv__server_io), each schedules connection_made (UVStream._on_accept ->
        _schedule_call_connection_made), which starts reading, and the request is read in the
        poll after that ready phase.
        """
        if self.libuv is None:
            self.add_io_event(callback, *args)
        else:
            self._backlog.append(Handle(callback, args))
            self._wake()

    def write(self, deliver: Callback, *args: Any) -> None:
        """transport.write: asyncio's selector transport and uvloop 0.23 send at once; uvloop
        0.14 queues the write and sends queued writes at the end of `_on_idle` (after the ready
        callbacks) and in libuv's check phase (after the poll's callbacks)."""
        if self.libuv is None or self.libuv.write_at_once:
            deliver(*args)
        else:
            self._writes.append(Handle(deliver, args))

    def gil_released(self) -> simpy.Event:
        """Fires when the loop thread next releases the GIL in select(): a worker thread that
        is runnable gets to run then, however short its own wake-up latency."""
        if self._gil is None:
            self._gil = self.env.event()
        return self._gil

    def create_future(self) -> Future:
        return Future(self)

    @property
    def polling(self) -> bool:
        """Between iterations: in (or entering) select(), so a socket ready now is seen now."""
        return self._iteration_start is None

    # -- the loop thread ------------------------------------------------------------------------
    def run_forever(self) -> Generator[simpy.Event, Any, None]:
        env, turn = self.env, self._turn
        while True:
            # selector.select(timeout) releases the GIL: worker threads that became runnable
            # while the loop thread held it run now and post their results
            # (call_soon_threadsafe) before this iteration counts its ready callbacks.
            if self._gil is not None:
                self._gil.succeed()
                self._gil = None
            if turn.yielding is not None or env.peek() <= env.now:
                yield from self._others_first()
            if not self._due():
                yield from self._select()
            yield from self._run_once()

    def _due(self) -> bool:
        """Callbacks ready, I/O polled, or a timer expired: select() would not wait."""
        scheduled = self._scheduled
        return bool(
            self._ready
            or self._io
            or self._backlog
            or (scheduled and scheduled[0][0] <= self.env.now)
        )

    def _select(self) -> Generator[simpy.Event, Any, None]:
        """selector.select(timeout) with nothing due: wait until the next timer or I/O."""
        self._wakeup = self.env.event()
        if self._scheduled and self._scheduled[0][0] != self._timer_at:
            # The timer wakes the selector by a plain callback: cheaper than an AnyOf condition.
            # One still pending for the same deadline (the loop woke for I/O first) serves again;
            # a stale one only causes an empty iteration, as a spurious select() return would.
            self._timer_at = self._scheduled[0][0]
            self.env.timeout(self._timer_at - self.env.now).callbacks.append(self._timer_fired)
        yield self._wakeup
        self._wakeup = None

    def _others_first(self) -> Generator[simpy.Event, Any, None]:
        """Let every other thread's work due at this instant run first: the workers woken by
        the GIL release reach their call_soon_threadsafe, sockets ready by now are seen by the
        poll. One event scheduled at LATE priority fires after every URGENT and NORMAL event of
        the instant, those scheduled meanwhile included. Of several loops on one clock (server
        processes) one waits so at a time and the others wait for it: two late events would
        let the first loop run ahead of work the second one's wait lets in."""
        env, turn = self.env, self._turn
        waiting = turn.yielding
        if waiting is not None:
            if waiting.done is None:
                waiting.done = env.event()
            yield waiting.done
            return
        waiting = turn.yielding = _Yielding()
        yield _Late(env)
        turn.yielding = None
        if waiting.done is not None:
            waiting.done.succeed()

    def _run_once(self) -> Generator[simpy.Event, Any, None]:
        env, ready, scheduled = self.env, self._ready, self._scheduled
        start = self._iteration_start = env.now
        self.iterations += 1
        if self.kind == "asyncio":
            # base_events.py: event_list = selector.select(); _process_events; expired timers; ntodo
            if self._io:
                ready.extend(self._io)
                self._io.clear()
            if scheduled and scheduled[0][0] <= start:
                ready.extend(self._pop_expired())
            yield from self._run_handles(self._take_ready())
        else:
            # libuv uv_run: uv__run_timers, uv__run_idle (uvloop's _on_idle: the ready queue,
            # then the queued writes), uv__io_poll, uv__run_check (the queued writes again);
            # timer and I/O callbacks run directly in their phase. libuv 1.52 runs the timers
            # after the check phase instead: the same cycle.
            if scheduled and scheduled[0][0] <= start:
                yield from self._run_handles(self._pop_expired())
            if ready:
                yield from self._run_handles(self._take_ready())
                yield from self._exec_queued_writes()
            if self._backlog:
                yield from self._run_handles(self._accept())
            if self._io:
                io, self._io = self._io, deque()
                yield from self._run_handles(io)
            yield from self._exec_queued_writes()
        yield from self._pay()
        self._iteration_start = None
        if env.now > start:
            self.busy.append((start, env.now))

    def _exec_queued_writes(self) -> Generator[simpy.Event, Any, None]:
        """uvloop Loop._exec_queued_writes: every write queued so far goes out, after the CPU
        of the callbacks that queued them."""
        if self._writes:
            yield from self._pay()
            writes, self._writes = self._writes, []
            for handle in writes:
                handle.callback(*handle.args)

    def _accept(self) -> list[Handle]:
        """The listening socket's poll callback: accept up to `accepts_per_poll` connections
        (uv__server_io), each a connection_made for the next ready phase."""
        assert self.libuv is not None
        count = len(self._backlog)
        if self.libuv.accepts_per_poll is not None:
            count = min(count, self.libuv.accepts_per_poll)
        return [
            Handle(self.call_soon, (self._connection_made, self._backlog.popleft()))
            for _ in range(count)
        ]

    def _connection_made(self, request: Handle) -> None:
        """UVBaseTransport._call_connection_made starts reading: the request, already in the
        socket, is read by the next poll."""
        self._io.append(request)

    def _pop_expired(self) -> list[Handle]:
        expired = []
        while self._scheduled and self._scheduled[0][0] <= self.env.now:
            expired.append(heapq.heappop(self._scheduled)[2])
        return expired

    def _run_handles(self, handles: Iterable[Handle]) -> Generator[simpy.Event, Any, None]:
        """Handle._run for each in turn (what was ready on entry: ntodo = len(self._ready));
        a returned generator holds the thread until done."""
        callback_cpu = self.callback_cpu
        for handle in handles:
            if handle.cancelled:
                continue
            self._debt += callback_cpu
            outcome = handle.callback(*handle.args)
            if type(outcome) is GeneratorType:
                yield from self._pay()
                yield from outcome

    def _pay(self) -> tuple[simpy.Timeout, ...]:
        """The callbacks' CPU run up so far, as one cost (`yield from` it)."""
        debt, self._debt = self._debt, 0.0
        return cpu(self.env, debt)

    def _take_ready(self) -> deque[Handle]:
        """The callbacks ready now (ntodo = len(self._ready)); what they schedule runs next
        iteration."""
        ready, self._ready = self._ready, deque()
        return ready

    def _timer_fired(self, _: simpy.Event) -> None:
        self._timer_at = None
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.triggered:
            self._wakeup.succeed()

    def blocked_intervals(
        self, minimum: float, ongoing: bool = False, since: float = 0.0
    ) -> list[tuple[float, float]]:
        """Iterations that held the thread longer than `minimum`; back-to-back ones merged.

        A probe pinging the loop sees two long iterations with no select between them as one
        block, while a run of short iterations still answers its pings. `ongoing` counts the
        iteration still running as held until now (a run stopped in the middle of a freeze);
        `since` skips iterations that ended before it (a block that covers `since` starts no
        later than the first iteration kept).
        """
        busy = self.busy[bisect.bisect_left(self.busy, since, key=_end) :] if since else self.busy
        if ongoing and self._iteration_start is not None:
            busy = [*busy, (self._iteration_start, self.env.now)]
        merged: list[tuple[float, float]] = []
        for start, end in busy:
            if end - start <= minimum:
                continue
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        return merged


# SimPy runs an instant's events by priority, URGENT (0) then NORMAL (1), each in the order
# scheduled: an event at LATE runs after all of them.
LATE = 2


class _Late(simpy.Event):
    """An event that fires at this instant, after every URGENT and NORMAL event of it."""

    def __init__(self, env: simpy.Environment) -> None:
        super().__init__(env)
        self._ok, self._value = True, None
        env.schedule(self, LATE)


class _Yielding:
    """A loop letting same-instant work go first; `done` fires for loops that wait on it."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done: simpy.Event | None = None


class _Turn:
    """What the loops on one clock share: which of them is letting same-instant work go first."""

    __slots__ = ("yielding",)

    def __init__(self) -> None:
        self.yielding: _Yielding | None = None

    @staticmethod
    def of(env: simpy.Environment) -> _Turn:
        turn: _Turn | None = getattr(env, _TURN, None)
        if turn is None:
            turn = _Turn()
            setattr(env, _TURN, turn)
        return turn


_TURN = "_pss_loop_turn"  # the Environment's _Turn, made by its first loop


def _end(interval: tuple[float, float]) -> float:
    return interval[1]
