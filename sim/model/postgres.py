"""PostgreSQL's connection limit, shared by every pool of every server process.

The postmaster refuses a connection once max_connections backends exist: the new backend
reports "FATAL: sorry, too many clients already" (postmaster.c canAcceptConnections ->
CAC_TOOMANY), which psycopg2 raises as OperationalError from `connect()`. SQLAlchemy's
`QueuePool._do_get` gives the overflow slot back and re-raises it from the checkout, so the
request that asked gets a 500. The refusal comes after the startup packet, so it costs the
caller about what a connect costs (the model charges `connect_time`).

The pools start empty, as the model's single process always has; the harness app's start-up
(`create_all`) leaves one idle connection in each worker's pool, so a worker that reads no
request holds one connection there and none here.
"""

from __future__ import annotations


class Postgres:
    """The server's backend count: `admit` takes a slot or refuses, `release` frees one."""

    def __init__(self, max_connections: int) -> None:
        self.max_connections = max_connections
        self.connections = 0
        self.peak = 0
        self.refused = 0

    def admit(self) -> bool:
        if self.connections >= self.max_connections:
            self.refused += 1
            return False
        self.connections += 1
        self.peak = max(self.peak, self.connections)
        return True

    def release(self) -> None:
        self.connections -= 1
