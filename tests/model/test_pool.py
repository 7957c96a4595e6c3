"""QueuePool against SQLAlchemy's `QueuePool._do_get` / `_do_return_conn` (pool/impl.py)."""

from __future__ import annotations

import pytest
import simpy

from sim.model.loop import EventLoop
from sim.model.pool import Connection, PoolTimeout, QueuePool
from sim.model.tasks import Task


def make_pool(pool_size: int, max_overflow: int, timeout: float = 1.0, connect: float = 0.0):
    env = simpy.Environment()
    return env, QueuePool(env, pool_size, max_overflow, timeout, connect)


def checkout_at(env: simpy.Environment, pool: QueuePool, log: list, name: str, at: float = 0.0):
    """A thread that calls pool.connect() at `at`; logs (name, time, connection id or error)."""

    def thread():
        yield env.timeout(at)
        try:
            conn = yield from pool.checkout()
        except PoolTimeout as error:
            log.append((name, env.now, str(error)))
        else:
            log.append((name, env.now, conn.id))

    return env.process(thread())


def test_checkout_opens_connections_up_to_size_plus_overflow_then_waits():
    # size 1 + overflow 1: the first two checkouts each open a connection (0.02 s connect, on
    # the calling thread); the third finds none idle and no overflow left, so it waits and times
    # out after 0.5 s.
    env, pool = make_pool(1, 1, timeout=0.5, connect=0.02)
    log: list = []
    for name in ("a", "b", "c"):
        checkout_at(env, pool, log, name)
    env.run()
    assert log[0] == ("a", 0.02, 0)
    assert log[1] == ("b", 0.02, 1)
    assert log[2][:2] == ("c", 0.5)
    assert pool.connections == 2
    assert pool.max_checkedout == 2


def test_timeout_error_has_sqlalchemys_message():
    # The counter `_overflow` stands at max_overflow when the pool is exhausted, as in the real
    # message ("QueuePool limit of size 5 overflow 10 reached, ...").
    env, pool = make_pool(1, 1, timeout=0.5)
    log: list = []
    for name in ("a", "b", "c"):
        checkout_at(env, pool, log, name)
    env.run()
    assert log[2] == (
        "c",
        0.5,
        "QueuePool limit of size 1 overflow 1 reached, connection timed out, timeout 0.50",
    )


def test_waiters_get_returned_connections_oldest_first():
    # Pool of one: `a` holds it; `b` queues at 0.1, `c` at 0.2. `a` returns it at 0.3 -> `b`
    # (oldest waiter); `b` returns it at 0.4 -> `c`.
    env, pool = make_pool(1, 0, timeout=5.0)
    log: list = []

    def holder(name: str, at: float, hold: float):
        yield env.timeout(at)
        conn = yield from pool.checkout()
        log.append((name, env.now))
        yield env.timeout(hold)
        pool.checkin(conn)

    env.process(holder("a", 0.0, 0.3))
    env.process(holder("c", 0.2, 0.1))
    env.process(holder("b", 0.1, 0.1))
    env.run()
    assert log == [("a", 0.0), ("b", pytest.approx(0.3)), ("c", pytest.approx(0.4))]


def check_out(env: simpy.Environment, pool: QueuePool, n: int) -> list[Connection]:
    """n threads each check one connection out and keep it."""
    conns: list[Connection] = []

    def thread():
        conns.append((yield from pool.checkout()))

    for _ in range(n):
        env.process(thread())
    env.run()
    return conns


def test_overflow_connections_are_closed_on_return_when_pool_size_are_idle():
    # size 1 + overflow 2: three connections out; returned, the first stays idle, the other two
    # find pool_size (1) already idle and are closed (_overflow decremented).
    env, pool = make_pool(1, 2)
    conns = check_out(env, pool, 3)
    assert pool.connections == 3
    for conn in conns:
        pool.checkin(conn)
    assert pool.connections == 1
    assert pool.max_idle == 1
    assert pool.checkedout == 0


def test_pool_size_zero_keeps_every_returned_connection():
    # pool_size 0: Queue(maxsize=0) is unbounded, so nothing returned is ever closed; the total
    # is still capped by max_overflow (the counter starts at 0).
    env, pool = make_pool(0, 3, timeout=0.1)
    conns = check_out(env, pool, 3)
    log: list = []
    checkout_at(env, pool, log, "fourth")
    env.run()
    assert log[0][:2] == ("fourth", pytest.approx(0.1))  # timed out: the cap is max_overflow
    for conn in conns:
        pool.checkin(conn)
    assert pool.connections == 3
    assert pool.max_idle == 3


def test_max_overflow_minus_one_never_waits():
    env, pool = make_pool(1, -1, timeout=0.1)
    log: list = []
    for i in range(25):
        checkout_at(env, pool, log, str(i))
    env.run()
    assert [t for _, t, _ in log] == [0.0] * 25
    assert pool.connections == 25
    assert pool.max_checkedout == 25


def test_idle_connection_is_reused_before_opening_a_new_one():
    env, pool = make_pool(2, 0, connect=0.02)
    log: list = []

    def thread():
        conn = yield from pool.checkout()
        pool.checkin(conn)
        again = yield from pool.checkout()
        log.append((env.now, conn.id, again.id))

    env.process(thread())
    env.run()
    # one connect (0.02), then the idle connection comes back at once
    assert log == [(0.02, 0, 0)]
    assert pool.connections == 1


def test_async_checkout_waits_without_holding_the_loop_and_times_out_by_timer():
    # AsyncAdaptedQueuePool: the waiter is a future with a call_later(timeout) expiry; the loop
    # stays free, so a timer due meanwhile runs at its deadline.
    env = simpy.Environment()
    loop = EventLoop(env)
    env.process(loop.run_forever())
    pool = QueuePool(env, 1, 0, 0.5, 0.0)
    log: list = []

    def request(name: str):
        try:
            conn = yield from pool.checkout_async(loop)
        except PoolTimeout:
            log.append((name, env.now, "timeout"))
        else:
            log.append((name, env.now, conn.id))

    Task(loop, request("a"))
    Task(loop, request("b"))
    loop.call_later(0.2, lambda: log.append(("timer", env.now, None)))
    env.run(until=2)
    # a: connect on loopback, ready at the next poll (t=0); b: waits; timer runs on time at
    # 0.2; b's expiry timer fires at 0.5 and wakes it one hop later, still at 0.5.
    assert log == [("a", 0, 0), ("timer", 0.2, None), ("b", 0.5, "timeout")]
    assert loop.blocked_intervals(0.0) == []
