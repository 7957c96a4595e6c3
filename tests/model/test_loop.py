"""The event loop against CPython's `BaseEventLoop._run_once` and libuv's `uv_run` order."""

from __future__ import annotations

import pytest
import simpy

from sim.model.loop import EventLoop
from sim.model.tasks import Task, sleep
from sim.stacks import STACKS, Libuv

UVLOOP_0_14 = STACKS["era2020"].libuv
UVLOOP_0_23 = STACKS["modern"].libuv


def make_loop(
    kind: str = "asyncio", libuv: Libuv = UVLOOP_0_14
) -> tuple[simpy.Environment, EventLoop]:
    env = simpy.Environment()
    loop = EventLoop(env, kind, libuv=libuv if kind == "uvloop" else None)
    env.process(loop.run_forever())
    return env, loop


def record(log: list, loop: EventLoop, name: str):
    """A callback that logs its name, the simulated time and the loop iteration it ran in."""
    return lambda: log.append((name, loop.env.now, loop.iterations))


def block(env: simpy.Environment, seconds: float):
    """A callback that holds the loop thread (a blocking checkout, a query on the loop)."""

    def callback():
        yield env.timeout(seconds)

    return callback


def test_ready_callbacks_run_first_in_first_out_in_one_iteration():
    env, loop = make_loop()
    log: list = []
    for name in "abc":
        loop.call_soon(record(log, loop, name))
    env.run(until=1)
    assert log == [("a", 0, 1), ("b", 0, 1), ("c", 0, 1)]


def test_callbacks_scheduled_during_an_iteration_run_the_next_iteration():
    # _run_once runs exactly `ntodo = len(self._ready)` callbacks; `c`, scheduled by `a`, waits
    # behind `b` (already ready) and runs in iteration 2.
    env, loop = make_loop()
    log: list = []

    def a():
        log.append(("a", env.now, loop.iterations))
        loop.call_soon(record(log, loop, "c"))

    loop.call_soon(a)
    loop.call_soon(record(log, loop, "b"))
    env.run(until=1)
    assert log == [("a", 0, 1), ("b", 0, 1), ("c", 0, 2)]


@pytest.mark.parametrize("kind", ["asyncio", "uvloop"])
def test_expired_timers_run_in_deadline_order_not_scheduling_order(kind):
    # A 1 s block lets three timers expire; they run at t=1 by deadline (0.1, 0.2, 0.3), ties by
    # scheduling order (the heap's sequence number, as asyncio's TimerHandle comparison).
    env, loop = make_loop(kind)
    log: list = []
    loop.call_soon(block(env, 1.0))
    loop.call_later(0.3, record(log, loop, "t0.3"))
    loop.call_later(0.1, record(log, loop, "t0.1"))
    loop.call_later(0.2, record(log, loop, "t0.2a"))
    loop.call_later(0.2, record(log, loop, "t0.2b"))
    env.run(until=2)
    assert [name for name, *_ in log] == ["t0.1", "t0.2a", "t0.2b", "t0.3"]
    assert {t for _, t, _ in log} == {1.0}


def test_a_timer_runs_at_its_deadline_when_the_loop_is_idle():
    env, loop = make_loop()
    log: list = []
    loop.call_later(0.25, record(log, loop, "t"))
    env.run(until=1)
    assert log == [("t", 0.25, 1)]


def _pending_of_each_kind(env: simpy.Environment, loop: EventLoop, log: list) -> None:
    """While a callback holds the loop until t=1: a timer expires (0.5), a socket becomes
    readable (0.6), and the blocking callback itself calls call_soon (ready)."""

    def blocking():
        yield env.timeout(1.0)
        loop.call_soon(record(log, loop, "ready"))

    loop.call_soon(blocking)
    loop.call_later(0.5, record(log, loop, "timer"))
    env.timeout(0.6).callbacks.append(lambda _: loop.add_io_event(record(log, loop, "io")))


def test_asyncio_runs_ready_then_io_then_expired_timers():
    # base_events._run_once: `ready` already holds the earlier call_soon; _process_events appends
    # the I/O callbacks; then expired timers are appended; all run in that one iteration.
    env, loop = make_loop("asyncio")
    log: list = []
    _pending_of_each_kind(env, loop, log)
    env.run(until=2)
    assert log == [("ready", 1.0, 2), ("io", 1.0, 2), ("timer", 1.0, 2)]


def test_uvloop_runs_expired_timers_then_ready_then_io():
    # uv_run: uv__run_timers, then the idle handle (uvloop's ready queue), then uv__io_poll. The
    # block ran in iteration 1's idle phase, so that same iteration's poll picks up the socket;
    # iteration 2 runs the expired timer before the callback the block queued.
    env, loop = make_loop("uvloop")
    log: list = []
    _pending_of_each_kind(env, loop, log)
    env.run(until=2)
    assert log == [("io", 1.0, 1), ("timer", 1.0, 2), ("ready", 1.0, 2)]


def test_call_soon_threadsafe_wakes_a_loop_sleeping_on_a_far_timer():
    # The loop sits in select() until t=10; a worker posting at t=1 writes to the self-pipe.
    env, loop = make_loop()
    log: list = []
    loop.call_later(10, record(log, loop, "far"))
    env.timeout(1).callbacks.append(
        lambda _: loop.call_soon_threadsafe(record(log, loop, "posted"))
    )
    env.run(until=20)
    assert [(name, t) for name, t, _ in log] == [("posted", 1), ("far", 10)]


def test_a_blocking_callback_holds_the_thread_and_nothing_else_runs():
    # The 2 s block starts at t=0: the timer due at 0.1 and the callback queued behind the block
    # both wait for it; the iteration's busy span is (0, 2) and it is reported as blocked.
    env, loop = make_loop()
    log: list = []
    loop.call_soon(block(env, 2.0))
    loop.call_soon(record(log, loop, "behind"))
    loop.call_later(0.1, record(log, loop, "timer"))
    env.run(until=5)
    assert log == [("behind", 2.0, 1), ("timer", 2.0, 2)]
    assert loop.busy == [(0, 2.0)]
    assert loop.blocked_intervals(0.05) == [(0, 2.0)]


def test_back_to_back_blocking_iterations_merge_into_one_block():
    # Iteration 1 blocks 0-1 and schedules a second block for iteration 2 (1-1.5): no select()
    # with the loop free between them, so a probe sees one 1.5 s block.
    env, loop = make_loop()

    def first():
        yield env.timeout(1.0)
        loop.call_soon(block(env, 0.5))

    loop.call_soon(first)
    env.run(until=5)
    assert loop.blocked_intervals(0.05) == [(0, 1.5)]


def test_blocks_no_longer_than_the_minimum_are_not_reported():
    env, loop = make_loop()
    loop.call_soon(block(env, 0.05))
    env.run(until=1)
    assert loop.blocked_intervals(0.05) == []


def test_a_cancelled_handle_never_runs():
    env, loop = make_loop()
    log: list = []
    loop.call_later(0.1, record(log, loop, "t")).cancel()
    loop.call_soon(record(log, loop, "s")).cancel()
    env.run(until=1)
    assert log == []


def test_a_task_wakes_one_iteration_after_the_future_it_awaits_completes():
    # asyncio.sleep(0.5): the timer sets the future in one iteration, Future.__schedule_callbacks
    # call_soon's the task's wakeup, which runs in the next.
    env, loop = make_loop()
    log: list = []

    def coro():
        log.append(("start", env.now, loop.iterations))
        yield from sleep(loop, 0.5)
        log.append(("woke", env.now, loop.iterations))

    Task(loop, coro())
    env.run(until=1)
    assert log == [("start", 0, 1), ("woke", 0.5, 3)]


def _three_connections(loop: EventLoop, log: list) -> None:
    """Three clients connect at t=0; each request logs the iteration it is read in."""
    for name in "abc":
        loop.connect(record(log, loop, name))


def test_libuv_1_33_accepts_every_pending_connection_in_one_poll():
    # uv__server_io loops accept() until EAGAIN; each connection_made runs in iteration 2's
    # ready phase and starts reading, so that iteration's poll reads all three requests.
    env, loop = make_loop("uvloop", UVLOOP_0_14)
    log: list = []
    _three_connections(loop, log)
    env.run(until=1)
    assert log == [("a", 0, 2), ("b", 0, 2), ("c", 0, 2)]


def test_libuv_1_52_accepts_one_connection_per_poll():
    # uv__server_io accepts once per poll callback: the requests are read one iteration apart.
    env, loop = make_loop("uvloop", UVLOOP_0_23)
    log: list = []
    _three_connections(loop, log)
    env.run(until=1)
    assert log == [("a", 0, 2), ("b", 0, 3), ("c", 0, 4)]


def test_asyncio_reads_every_new_connection_in_the_next_poll():
    env, loop = make_loop("asyncio")
    log: list = []
    _three_connections(loop, log)
    env.run(until=1)
    assert log == [("a", 0, 1), ("b", 0, 1), ("c", 0, 1)]


def _write_then_block(env: simpy.Environment, loop: EventLoop, log: list) -> None:
    """A ready callback writes, the next one holds the loop for 1 s."""
    loop.call_soon(loop.write, lambda: log.append(("sent", env.now)))
    loop.call_soon(block(env, 1.0))


def test_uvloop_0_14_sends_a_write_when_the_ready_callbacks_are_done():
    # UVStream._write buffers; _on_idle ends with _exec_queued_writes: the write from the ready
    # phase is out before the poll's callback holds the loop, and not before the ready phase's
    # own block ends.
    env, loop = make_loop("uvloop", UVLOOP_0_14)
    log: list = []
    _write_then_block(env, loop, log)
    loop.add_io_event(block(env, 1.0))
    env.run(until=3)
    assert log == [("sent", 1.0)]
    env, loop = make_loop("uvloop", UVLOOP_0_14)
    log = []
    loop.call_soon(loop.write, lambda: log.append(("sent", env.now)))
    loop.add_io_event(block(env, 1.0))
    env.run(until=2)
    assert log == [("sent", 0.0)]


def test_uvloop_0_14_sends_a_write_from_an_io_callback_in_the_check_phase():
    # A write queued by an I/O callback waits for uv__run_check, after the poll's callbacks.
    env, loop = make_loop("uvloop", UVLOOP_0_14)
    log: list = []
    loop.add_io_event(loop.write, lambda: log.append(("sent", env.now)))
    loop.add_io_event(block(env, 1.0))
    env.run(until=2)
    assert log == [("sent", 1.0)]


@pytest.mark.parametrize("kind", ["asyncio", "uvloop"])
def test_asyncio_and_uvloop_0_23_send_a_write_at_once(kind):
    # uvloop 0.23 UVStream.write -> _initiate_write tries the write before returning.
    env, loop = make_loop(kind, UVLOOP_0_23)
    log: list = []
    _write_then_block(env, loop, log)
    env.run(until=2)
    assert log == [("sent", 0.0)]


def test_a_uvloop_needs_its_libuv_settings():
    with pytest.raises(ValueError, match="uvloop"):
        EventLoop(simpy.Environment(), "uvloop")
