"""sqlalchemy.orm.Session as the seed uses it: lazy checkout at the first execute, checkin at close.

`Session.execute` -> `Session.connection()` -> `Engine.connect()` -> `QueuePool.connect()`; the
sync Session does all of it on whatever thread calls it, the AsyncSession awaits it.
"""

from __future__ import annotations

from sim.model.cpu import cpu
from sim.model.loop import EventLoop
from sim.model.pool import Connection, QueuePool
from sim.model.tasks import Coroutine, io_wait


class Session:
    def __init__(self, pool: QueuePool, query_time: float) -> None:
        self.pool = pool
        self.query_time = query_time
        self.connection: Connection | None = None

    def execute(self) -> Coroutine:
        """Blocking: the checkout wait, connect and query hold the calling thread."""
        if self.connection is None:
            self.connection = yield from self.pool.checkout()
        yield from cpu(self.pool.env, self.query_time)

    def execute_async(self, loop: EventLoop) -> Coroutine:
        """AsyncSession.execute over asyncpg: checkout and query are awaited."""
        if self.connection is None:
            self.connection = yield from self.pool.checkout_async(loop)
        yield from io_wait(loop, self.query_time)

    def close(self) -> Coroutine:
        """Session.close(): the connection goes back to the pool (QueuePool._do_return_conn)."""
        if self.connection is not None:
            self.pool.checkin(self.connection)
            self.connection = None
        yield from ()
