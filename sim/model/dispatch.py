"""Several server processes behind one listening socket, and the client's connections to them.

uvicorn --workers N (supervisors/multiprocess.py) binds the socket in the parent and each worker
serves it from its own loop (`loop.create_server(sock=...)`); gunicorn's uvicorn workers do the
same. The kernel queues a new connection on the shared socket and wakes the processes waiting in
epoll; the first to call accept() takes it, and drains every connection queued by then (asyncio
selector_events `_accept_connection` loops up to the backlog, libuv `uv__server_io` until
EAGAIN). A process whose loop is held (a checkout waiting on the loop thread) calls nothing, so
new connections go to processes that are polling; a connection already accepted belongs to its
process, and a request on it waits for that process however long it is frozen.

The client side is httpx's pool: a request reuses an idle kept-alive connection (httpcore 1.0
`_assign_requests_to_connections` takes the oldest; httpcore 0.10 `_get_connection_from_pool`
walks a set, so any idle one), else opens a new one, up to its limit; idle connections expire
after httpx's keepalive_expiry (5 s, as uvicorn's timeout_keep_alive). With `new` every request
opens its own connection.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from sim.model.loop import EventLoop
from sim.model.server import Exchange, Server

# httpx's keep-alive expiry (httpx 0.14 _client.KEEPALIVE_EXPIRY, httpx 0.28
# Limits.keepalive_expiry): an idle connection older than this is closed, not reused (httpcore's
# has_expired: `now > expire_at`). uvicorn closes an idle connection at the same age
# (Config.timeout_keep_alive = 5).
KEEPALIVE_EXPIRY = 5.0
# The harness client's warm-up request (validation/client.py warm_up) leaves one connection
# idle in its pool at time zero.
WARM_CONNECTIONS = 1


@dataclass(eq=False)
class ServerProcess:
    """One worker: its loop and server (with its own pools and threads), and what it served."""

    index: int
    loop: EventLoop
    server: Server
    requests: list[int] = field(default_factory=list)
    readable: bool = False  # an accept is queued on this loop's next poll

    def receive(self, exchange: Exchange) -> None:
        """The request's bytes on an accepted connection: read when this loop next polls."""
        self.requests.append(exchange.i)
        self.loop.add_io_event(self.server.data_received, exchange)

    def accept(self, exchange: Exchange) -> None:
        """A new connection carrying its first request, taken from the listening socket: the
        loop accepts it and reads the request by its own rules (EventLoop.connect)."""
        self.requests.append(exchange.i)
        self.loop.connect(self.server.data_received, exchange)


@dataclass(eq=False)
class Connection:
    """A client connection: the process that accepted it (None until then), busy or idle."""

    id: int
    process: ServerProcess | None = None
    idle_since: float | None = None


class ListeningSocket:
    """The shared socket: a new connection goes to a polling process, chosen by the run's
    weights (`sim/split.py`); with none polling it waits in the backlog for the first to poll."""

    def __init__(
        self, processes: list[ServerProcess], weights: tuple[float, ...], rng: random.Random
    ) -> None:
        self.weights = {p.index: w for p, w in zip(processes, weights, strict=True)}
        self.accepting = [p for p in processes if self.weights[p.index] > 0]
        self.rng = rng
        self.backlog: deque[tuple[Connection, Exchange]] = deque()

    def connect(self, conn: Connection, exchange: Exchange) -> None:
        """A new connection arrives carrying its first request."""
        if len(self.accepting) == 1:
            return self._accepted(self.accepting[0], conn, exchange)
        polling = [p for p in self.accepting if p.loop.polling]
        if polling:
            return self._accepted(self._choose(polling), conn, exchange)
        self.backlog.append((conn, exchange))
        for process in self.accepting:
            if not process.readable:
                process.readable = True
                process.loop.add_io_event(self._accept, process)
        return None

    def _accept(self, process: ServerProcess) -> None:
        """The listening socket polled readable: accept until EAGAIN (others find it empty)."""
        process.readable = False
        while self.backlog:
            self._accepted(process, *self.backlog.popleft())

    def warm(self, conn: Connection) -> None:
        """A connection opened before the traffic (the client's warm-up), every loop polling."""
        one = len(self.accepting) == 1
        conn.process = self.accepting[0] if one else self._choose(self.accepting)

    def _choose(self, processes: list[ServerProcess]) -> ServerProcess:
        """One of `processes`, by the run's weights."""
        return self.rng.choices(processes, [self.weights[p.index] for p in processes])[0]

    @staticmethod
    def _accepted(process: ServerProcess, conn: Connection, exchange: Exchange) -> None:
        conn.process = process
        process.accept(exchange)


class ClientConnections:
    """httpx's connection pool in the external client: `keep-alive`, `new` or a limit K."""

    def __init__(
        self,
        mode: str,
        socket: ListeningSocket,
        now: Callable[[], float],
        abandon: Callable[[Exchange], None],
        oldest_first: bool,
        rng: random.Random,
    ) -> None:
        self.keep_alive = mode != "new"
        self.limit = int(mode) if mode.isdigit() else None
        self.socket = socket
        self.now = now
        self.abandon = abandon  # a request given up before it got a connection
        self.oldest_first = oldest_first
        self.rng = rng
        self.idle: list[Connection] = []  # in creation order
        self.open = 0
        self.queued: deque[Exchange] = deque()
        self._ids = itertools.count()
        if self.keep_alive:
            for _ in range(WARM_CONNECTIONS):
                self.open += 1
                conn = Connection(next(self._ids), idle_since=0.0)
                socket.warm(conn)
                self.idle.append(conn)

    def send(self, exchange: Exchange) -> None:
        """client.get(...): an idle connection, a new one, or a wait for one (at the limit)."""
        conn = self._reuse()
        if conn is not None:
            return self._request(conn, exchange)
        if self.limit is not None and self.open >= self.limit:
            self.queued.append(exchange)
            return None
        self.open += 1
        conn = Connection(next(self._ids))
        self._wrap(conn, exchange)
        self.socket.connect(conn, exchange)
        return None

    def _reuse(self) -> Connection | None:
        now = self.now()
        alive = [c for c in self.idle if now - (c.idle_since or 0.0) <= KEEPALIVE_EXPIRY]
        self.open -= len(self.idle) - len(alive)
        self.idle = alive
        if not alive:
            return None
        pick = 0 if self.oldest_first else self.rng.randrange(len(alive))
        return self.idle.pop(pick)

    def _request(self, conn: Connection, exchange: Exchange) -> None:
        self._wrap(conn, exchange)
        assert conn.process is not None
        conn.process.receive(exchange)

    def _wrap(self, conn: Connection, exchange: Exchange) -> None:
        """The response's arrival also frees the connection for the client's next request."""
        reply = exchange.reply

        def replied(ex: Exchange, status: int) -> None:
            # httpx closes a connection it timed out on; after a 5xx the server has closed it
            # (uvicorn's run_asgi closes the transport when the app raises after its response
            # started, as ServerErrorMiddleware does once it has sent the 500).
            self._release(conn, closed=ex.ended or status >= 500)
            reply(ex, status)

        exchange.reply = replied

    def _release(self, conn: Connection, closed: bool) -> None:
        if closed or not self.keep_alive:
            self.open -= 1
        else:
            conn.idle_since = self.now()
            bisect.insort(self.idle, conn, key=_created)
        while self.queued:
            exchange = self.queued.popleft()
            if exchange.ended:  # its time-out fired while it waited: httpx never sends it
                self.abandon(exchange)
                continue
            self.send(exchange)
            break


def _created(conn: Connection) -> int:
    return conn.id
