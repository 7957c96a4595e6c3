"""Worker threads: the default ThreadPoolExecutor (era2020) and anyio's CapacityLimiter (modern)."""

from __future__ import annotations

import simpy

from sim.model.loop import EventLoop
from sim.model.tasks import Task
from sim.model.threads import CapacityLimiter, ThreadPoolExecutor


def make_loop() -> tuple[simpy.Environment, EventLoop]:
    env = simpy.Environment()
    loop = EventLoop(env)
    env.process(loop.run_forever())
    return env, loop


def work(env: simpy.Environment, seconds: float, log: list, name: str):
    def fn():
        log.append((name, "start", env.now))
        yield env.timeout(seconds)
        return name

    return fn


def caller(loop: EventLoop, threads, fn, log: list, name: str):
    def coro():
        value = yield from threads.run_sync(fn)
        log.append((name, "resumed", loop.env.now, value))

    return Task(loop, coro())


def test_executor_runs_at_most_max_workers_at_once_fifo():
    # 2 workers, three 1 s jobs: a and b run 0-1, c queues and runs 1-2.
    env, loop = make_loop()
    pool = ThreadPoolExecutor(loop, max_workers=2, handoff=0.0)
    log: list = []
    for name in "abc":
        caller(loop, pool, work(env, 1.0, log, name), log, name)
    env.run(until=5)
    starts = [(n, t) for n, what, t, *_ in log if what == "start"]
    assert starts == [("a", 0), ("b", 0), ("c", 1.0)]
    assert ("c", "resumed", 2.0, "c") in log


def test_executor_frees_its_worker_even_while_the_loop_is_blocked():
    # One worker. The loop is blocked 0.5-3.0. `a` finishes its 1 s job at 1.0 and the worker
    # takes `b` at once (concurrent.futures does not need the loop), so b's job ends at 2.0;
    # both results wait for the loop and are delivered when it is free at 3.0.
    env, loop = make_loop()
    pool = ThreadPoolExecutor(loop, max_workers=1, handoff=0.0)
    log: list = []
    for name in "ab":
        caller(loop, pool, work(env, 1.0, log, name), log, name)

    def block():
        yield env.timeout(2.5)

    loop.call_later(0.5, block)
    env.run(until=10)
    assert ("b", "start", 1.0) in log
    assert ("a", "resumed", 3.0, "a") in log
    assert ("b", "resumed", 3.0, "b") in log


def test_limiter_token_comes_back_only_when_the_task_resumes_on_the_loop():
    # One token. Same block 0.5-3.0. `a`'s job ends at 1.0, but its token is released by the
    # awaiting task on the loop, which is blocked until 3.0; `b` then acquires it and its 1 s
    # job runs 3.0-4.0.
    env, loop = make_loop()
    limiter = CapacityLimiter(loop, total_tokens=1, handoff=0.0)
    log: list = []
    for name in "ab":
        caller(loop, limiter, work(env, 1.0, log, name), log, name)

    def block():
        yield env.timeout(2.5)

    loop.call_later(0.5, block)
    env.run(until=10)
    assert ("a", "resumed", 3.0, "a") in log
    assert ("b", "start", 3.0) in log
    assert ("b", "resumed", 4.0, "b") in log


def test_a_worker_starts_when_the_loop_releases_the_gil_in_select():
    # Hand-off 0.25 s, but the loop goes to select() right after submitting: the runnable
    # worker takes the GIL there and starts at once.
    env, loop = make_loop()
    pool = ThreadPoolExecutor(loop, max_workers=1, handoff=0.25)
    log: list = []
    caller(loop, pool, work(env, 1.0, log, "a"), log, "a")
    env.run(until=5)
    assert log == [("a", "start", 0), ("a", "resumed", 1.0, "a")]


def test_handoff_bounds_the_wait_while_the_loop_keeps_the_gil():
    # The task submits, and the next ready callback holds the loop for 1 s without a select:
    # the worker waits its full 0.25 s hand-off, runs 0.25-1.25, and its result is delivered
    # when the loop is free.
    env, loop = make_loop()
    pool = ThreadPoolExecutor(loop, max_workers=1, handoff=0.25)
    log: list = []
    caller(loop, pool, work(env, 1.0, log, "a"), log, "a")

    def hold():
        yield env.timeout(1.0)

    loop.call_soon(hold)
    env.run(until=5)
    assert log == [("a", "start", 0.25), ("a", "resumed", 1.25, "a")]


def test_an_exception_in_the_worker_is_raised_in_the_awaiting_task():
    env, loop = make_loop()
    pool = ThreadPoolExecutor(loop, max_workers=1, handoff=0.0)
    log: list = []

    def failing():
        yield env.timeout(0.1)
        raise KeyError("boom")

    def coro():
        try:
            yield from pool.run_sync(failing)
        except KeyError as error:
            log.append((env.now, str(error)))

    Task(loop, coro())
    env.run(until=1)
    assert log == [(0.1, "'boom'")]


def test_limiter_hands_work_to_a_thread_after_anyios_two_checkpoints():
    # anyio 4.16 run_sync_in_worker_thread: `await cls.checkpoint()` (sleep(0)), then
    # CapacityLimiter.acquire_on_behalf_of takes a free token and awaits
    # cancel_shielded_checkpoint() (sleep(0)): the task's first step runs in iteration 1, the
    # work is handed over in iteration 3.
    env, loop = make_loop()
    limiter = CapacityLimiter(loop, total_tokens=1, handoff=0.0)
    started: list[int] = []

    def fn():
        started.append(loop.iterations)
        yield env.timeout(0.1)

    caller(loop, limiter, fn, [], "a")
    env.run(until=1)
    assert started == [3]


def test_a_waiter_for_a_token_takes_no_second_checkpoint():
    # acquire_on_behalf_of: WouldBlock -> `await event.wait()`; the releasing task's
    # `_notify_next_waiter` sets the event, and the waiter goes straight to the worker thread.
    env, loop = make_loop()
    limiter = CapacityLimiter(loop, total_tokens=1, handoff=0.0)
    started: list[tuple[str, int]] = []

    def fn(name: str):
        def run():
            started.append((name, loop.iterations))
            yield env.timeout(0.1)

        return run

    for name in "ab":
        caller(loop, limiter, fn(name), [], name)
    env.run(until=1)
    # a's job ends at 0.1: its result reaches the loop in iteration 4 (call_soon_threadsafe),
    # its task resumes and releases the token in 5, and b's wake-up in 6 hands b's work over.
    assert started == [("a", 3), ("b", 6)]


def test_select_waits_for_every_same_instant_step_of_the_woken_workers():
    # select() releases the GIL: the worker woken there runs its zero-time steps (here six
    # same-instant events) to the call_soon_threadsafe that posts its result, before the loop
    # counts the callbacks ready for its next iteration, whose first callback holds it 1 s.
    env, loop = make_loop()
    pool = ThreadPoolExecutor(loop, max_workers=1, handoff=0.25)
    log: list = []

    def fn():
        for _ in range(6):
            yield env.timeout(0)
        return "done"

    def coro():
        value = yield from pool.run_sync(fn)
        log.append((value, loop.iterations, env.now))

    def hold():
        yield env.timeout(1.0)

    Task(loop, coro())
    loop.call_soon(lambda: loop.call_soon(hold))
    env.run(until=5)
    assert log == [("done", 3, 1.0)]
