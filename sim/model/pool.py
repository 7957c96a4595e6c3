"""QueuePool: pool_size idle connections kept, max_overflow more opened on demand, timeout on wait.

Mirrors SQLAlchemy's `QueuePool._do_get` / `_do_return_conn` (sqlalchemy/pool/impl.py): the
overflow counter starts at -pool_size; a checkout takes an idle connection (FIFO), else opens one
while `_overflow < max_overflow` (max_overflow -1: no limit), else waits on the queue up to
`timeout` and raises TimeoutError. Waiters are woken oldest first (threading.Condition.notify).
On return, the connection goes back to the queue unless pool_size are already idle, in which
case it is closed. pool_size 0 keeps every returned connection (the queue has no maxsize).
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sim.jitter import Cost, as_cost
from sim.model.cpu import cpu
from sim.model.loop import EventLoop, Future
from sim.model.postgres import Postgres
from sim.model.tasks import io_wait


class CheckoutError(Exception):
    """A checkout that raised: the request that asked gets HTTP 500."""


class PoolTimeout(CheckoutError):
    """sqlalchemy.exc.TimeoutError: no connection came back within pool_timeout."""


class TooManyClients(CheckoutError):
    """sqlalchemy.exc.OperationalError from psycopg2's connect: PostgreSQL refused it."""


@dataclass(frozen=True)
class Connection:
    id: int


Waiter = simpy.Event | Future


class QueuePool:
    def __init__(
        self,
        env: simpy.Environment,
        pool_size: int,
        max_overflow: int,
        timeout: float,
        connect_time: float | Cost,
        warmup_time: float = 0.0,
        database: Postgres | None = None,
    ) -> None:
        self.env = env
        self.pool_size = pool_size
        self.max_overflow = max_overflow
        self.timeout = timeout
        self.connect_time = as_cost(connect_time)  # drawn per connect with jitter on
        # SQLAlchemy runs dialect.initialize once, on the first connection ever opened (the
        # engine's `first_connect` listener); the first request also pays first compiles.
        self._warmup = warmup_time
        self.database = database  # None: no limit on the server's side
        self._idle: deque[Connection] = deque()
        self._overflow = -pool_size
        self._waiters: deque[Waiter] = deque()
        self._ids = itertools.count()
        self.checkedout = 0
        self.max_checkedout = 0
        self.max_idle = 0
        # Watchers for the risk estimators (sim/risk): the checked-out count after each
        # checkout and each checkin, and a checkout that starts to wait on the queue.
        self.on_checkout: Callable[[int], None] | None = None
        self.on_checkin: Callable[[int], None] | None = None
        self.on_wait: Callable[[], None] | None = None

    def warm(self, idle: int) -> None:
        """A pool that has served before: `idle` connections queued, first_connect done."""
        self._warmup = 0.0
        for _ in range(idle):
            if self.database is not None:
                self.database.admit()
            self._overflow += 1
            self._idle.append(self._opened())
        self.max_idle = max(self.max_idle, len(self._idle))

    def checkout(self) -> Generator[simpy.Event, Any, Connection]:
        """Blocking checkout: every wait and the connect hold the calling thread."""
        conn = self._take_idle()
        if conn is not None:
            return conn
        if self._inc_overflow():
            if not self._admitted():
                yield from cpu(self.env, self.connect_time.draw())
                raise self._refused()
            yield from cpu(self.env, self.connect_time.draw() + self._take_warmup())
            return self._opened()
        event = self.env.event()
        self._waiters.append(event)
        if self.on_wait is not None:
            self.on_wait()
        yield event | self.env.timeout(self.timeout)
        if event.triggered:
            return event.value
        self._waiters.remove(event)
        raise self._timeout_error()

    def checkout_async(self, loop: EventLoop) -> Generator[Any, Any, Connection]:
        """AsyncAdaptedQueuePool: connect and wait are awaited, the loop thread stays free."""
        conn = self._take_idle()
        if conn is not None:
            return conn
        if self._inc_overflow():
            if not self._admitted():
                yield from io_wait(loop, self.connect_time.draw())
                raise self._refused()
            yield from cpu(self.env, self._take_warmup())  # initialize runs under greenlet_spawn
            yield from io_wait(loop, self.connect_time.draw())
            return self._opened()
        future = loop.create_future()
        self._waiters.append(future)
        timer = loop.call_later(self.timeout, self._expire, future)
        conn = yield future
        timer.cancel()
        return conn

    def checkin(self, conn: Connection) -> None:
        """QueuePool._do_return_conn: hand to the oldest waiter, keep, or close as overflow."""
        self.checkedout -= 1
        if self.on_checkin is not None:
            self.on_checkin(self.checkedout)
        if self._waiters:
            waiter = self._waiters.popleft()
            self._checked_out()
            if isinstance(waiter, Future):
                waiter.set_result(conn)
            else:
                waiter.succeed(conn)
        elif self.pool_size == 0 or len(self._idle) < self.pool_size:
            self._idle.append(conn)
            self.max_idle = max(self.max_idle, len(self._idle))
        else:
            self._overflow -= 1
            if self.database is not None:
                self.database.release()  # the overflow connection is closed

    @property
    def connections(self) -> int:
        """Open connections: QueuePool.checkedout() + idle == pool_size + _overflow."""
        return self.pool_size + self._overflow

    def _take_idle(self) -> Connection | None:
        if not self._idle:
            return None
        self._checked_out()
        return self._idle.popleft()

    def _inc_overflow(self) -> bool:
        if self.max_overflow != -1 and self._overflow >= self.max_overflow:
            return False
        self._overflow += 1
        self._checked_out()
        return True

    def _admitted(self) -> bool:
        return self.database is None or self.database.admit()

    def _refused(self) -> TooManyClients:
        """QueuePool._do_get: `_dec_overflow()` under safe_reraise, then the connect's error."""
        self._overflow -= 1
        self.checkedout -= 1
        return TooManyClients("FATAL:  sorry, too many clients already")

    def _take_warmup(self) -> float:
        warmup, self._warmup = self._warmup, 0.0
        return warmup

    def _opened(self) -> Connection:
        return Connection(next(self._ids))

    def _checked_out(self) -> None:
        self.checkedout += 1
        self.max_checkedout = max(self.max_checkedout, self.checkedout)
        if self.on_checkout is not None:
            self.on_checkout(self.checkedout)

    def _expire(self, future: Future) -> None:
        if not future.done():
            self._waiters.remove(future)
            future.set_exception(self._timeout_error())

    def _timeout_error(self) -> PoolTimeout:
        return PoolTimeout(
            f"QueuePool limit of size {self.pool_size} overflow {self._overflow} reached, "
            f"connection timed out, timeout {self.timeout:.2f}"
        )
