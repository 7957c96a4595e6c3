"""The request lifecycle in uvicorn + FastAPI for each endpoint style, on the model loop.

uvicorn's HttpToolsProtocol parses the request in `data_received` and starts
`RequestResponseCycle.run_asgi` as a task. FastAPI then solves the `get_db` dependency, runs the
endpoint, sends the response (ServerErrorMiddleware turns the pool's TimeoutError into a 500) and
exits the dependency. The stack profile says where teardown runs and on which threads; the model
never branches on a stack's name.

A replayed trace may set each request's work, query time and endpoint style; the styles then mix
in one server as in an app with both engines: the sync Session's styles check out of the
`Engine`'s QueuePool, AsyncSession out of the `AsyncEngine`'s own pool, both sized alike.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sim.model.costs import Costs
from sim.model.cpu import cpu
from sim.model.loop import EventLoop
from sim.model.pool import CheckoutError, QueuePool
from sim.model.session import Session
from sim.model.tasks import Coroutine, Task, sleep
from sim.model.threads import Threads
from sim.scenario import Scenario

# Which engine's pool each endpoint style checks out of: `create_engine` or `create_async_engine`.
ENGINE = {"async-sync-session": "sync", "sync": "sync", "async-session": "async"}


@dataclass(eq=False)
class Exchange:
    """One HTTP request as both sides see it; becomes a RequestRecord at the end."""

    i: int
    reply: Callable[[Exchange, int], None]
    sent_at: float | None = None
    handled_at: float | None = None
    completed_at: float | None = None
    status: int | None = None
    error: str | None = None
    served: bool = field(default=False)
    cpu_scale: float = 1.0  # this request's loop CPU over request_cpu (jitter)

    @property
    def ended(self) -> bool:
        return self.completed_at is not None


class Server:
    def __init__(
        self,
        scenario: Scenario,
        loop: EventLoop,
        pools: dict[str, QueuePool],
        threads: Threads,
        teardown_threads: Threads,
        on_served: Callable[[Exchange], None],
        costs: Costs,
    ) -> None:
        self.scenario = scenario
        self.loop = loop
        self.pools = pools  # by ENGINE
        self.threads = threads
        self.teardown_threads = teardown_threads
        self.on_served = on_served
        self.costs = costs
        self._work = scenario.per_request("work")
        self._query = scenario.per_request("query")
        self._style = scenario.per_request("endpoint")
        # The loop CPU of each part of a request: the stack's measured share of request_cpu
        # (`StackProfile.request_cpu_shares`), paid in data_received, the task's first step and
        # before the response's write.
        self._cpu = {
            part: share * scenario.request_cpu
            for part, share in scenario.profile.request_cpu_shares.items()
        }
        self._endpoints = {
            "async-sync-session": self._async_sync_session,
            "sync": self._sync,
            "async-session": self._async_session,
        }

    def data_received(self, exchange: Exchange) -> Coroutine:
        """httptools_impl.HttpToolsProtocol.on_message_complete -> loop.create_task(run_asgi)."""
        exchange.cpu_scale = self.costs.request_cpu.draw()
        collection = self.costs.collections.due()  # a full gc lands on this request's parse
        yield from cpu(self.loop.env, self._cpu["parse"] * exchange.cpu_scale + collection)
        Task(self.loop, self._run_asgi(exchange))

    def _run_asgi(self, exchange: Exchange) -> Coroutine:
        yield from cpu(self.loop.env, self._cpu["app"] * exchange.cpu_scale)
        style = self._style(exchange.i)
        query = self._query(exchange.i) * self.costs.query_time.draw()
        session = Session(self.pools[ENGINE[style]], query)
        status = yield from self._endpoints[style](exchange, session)
        profile = self.scenario.profile
        if status == 200:
            after_response = profile.teardown_after_response
        else:
            after_response = profile.error_teardown_after_response
        if after_response:
            yield from self._respond(exchange, status)
            yield from self._teardown(session, style)
        else:
            yield from self._teardown(session, style)
            yield from self._respond(exchange, status)
        exchange.served = True
        self.on_served(exchange)

    def _respond(self, exchange: Exchange, status: int) -> Coroutine:
        yield from cpu(self.loop.env, self._cpu["respond"] * exchange.cpu_scale)
        self.loop.write(exchange.reply, exchange, status)  # transport.write

    def _teardown(self, session: Session, style: str) -> Coroutine:
        if style == "async-session":
            # `async with AsyncSession()` exits on the loop; close() awaits the checkin.
            yield from session.close()
        else:
            # contextmanager_in_threadpool: cm.__exit__ (db.close()) in a worker thread.
            yield from self.teardown_threads.run_sync(session.close)

    def _handled(self, exchange: Exchange) -> None:
        exchange.handled_at = self.loop.env.now  # print("Handling %s" % i)

    def _async_sync_session(self, exchange: Exchange, session: Session) -> Coroutine:
        """The seed: sync Session in an `async def` endpoint; the query runs on the loop thread."""
        yield from self.threads.run_sync(_no_work)  # get_db() up to `yield db`, in a worker
        try:
            yield from session.execute()
        except CheckoutError:
            return 500
        self._handled(exchange)
        yield from sleep(self.loop, self._awaited(exchange))
        return 200

    def _awaited(self, exchange: Exchange) -> float:
        """The async work's sleep as the timer keeps it: late by the loop's overshoot
        (asyncio.sleep(0) is a bare yield and never late)."""
        work = self._work(exchange.i)
        return work + self.costs.sleep_overshoot.draw() if work > 0 else work

    def _sync(self, exchange: Exchange, session: Session) -> Coroutine:
        """A plain `def` endpoint: query and work (time.sleep) in a worker thread."""
        env = self.loop.env

        def endpoint() -> Coroutine:
            try:
                yield from session.execute()
            except CheckoutError:
                return 500
            self._handled(exchange)
            yield from cpu(env, self._work(exchange.i))
            return 200

        yield from self.threads.run_sync(_no_work)
        return (yield from self.threads.run_sync(endpoint))

    def _async_session(self, exchange: Exchange, session: Session) -> Coroutine:
        """AsyncSession from an `async def get_db()`: the checkout wait is awaited."""
        try:
            yield from session.execute_async(self.loop)
        except CheckoutError:
            return 500
        self._handled(exchange)
        yield from sleep(self.loop, self._awaited(exchange))
        return 200


def _no_work() -> Coroutine:
    """SessionLocal(): builds a Session object, touches no connection."""
    yield from ()
