"""Clients that fire requests at the model server: external processes or the seed's in-process one.

`external`: a separate process over loopback. Its sends, time-outs and reads never touch the
server's loop; a request reaches the server as an I/O event, a response ends it at once. Which
connection carries it (kept alive between requests as the harness's shared `httpx.AsyncClient`
does, or new, which the server must accept first) is `sim.model.dispatch.ClientConnections`'.
`in-process`: the seed's `request(i)` coroutines on the server's own loop. Each builds an
`httpx.AsyncClient()` (an SSL context, CPU on the loop), connects, sends, and reads the response
as another I/O event, racing its read time-out timer by the loop's rules.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator

import simpy

from sim.model.cpu import cpu
from sim.model.loop import EventLoop, Future
from sim.model.server import Exchange
from sim.model.tasks import Coroutine, Task, io_wait, sleep
from sim.scenario import Scenario


class ReadTimeout(Exception):
    """httpx.ReadTimeout: the client gave up before the response arrived."""


class Traffic:
    """Every exchange of a run; `finished` fires once all have ended on both sides."""

    def __init__(self, env: simpy.Environment) -> None:
        self.exchanges: list[Exchange] = []
        self.finished = env.event()
        self._pending = 0
        self._closed = False

    def open(self, reply: Callable[[Exchange, int], None]) -> Exchange:
        exchange = Exchange(i=len(self.exchanges), reply=reply)
        self.exchanges.append(exchange)
        self._pending += 1
        return exchange

    def settle(self, exchange: Exchange) -> None:
        """Called when either side is done with `exchange`; counts it when both are."""
        if exchange.ended and exchange.served:
            self._pending -= 1
            self._check()

    def close(self) -> None:
        """No more exchanges will be opened."""
        self._closed = True
        self._check()

    def _check(self) -> None:
        if self._closed and self._pending == 0 and not self.finished.triggered:
            self.finished.succeed()


def send_times(scenario: Scenario) -> list[float]:
    """Open-loop send times: the burst all at once (a client's burst reaches the server in one
    poll, as measured), Poisson arrivals over `duration` drawn from the scenario's seed, or a
    recorded trace."""
    arrival = scenario.arrival_spec
    if arrival.kind == "burst":
        return [0.0] * scenario.requests
    if arrival.kind == "trace":
        return list(arrival.trace)
    rng = random.Random(scenario.seed)
    times, t = [], rng.expovariate(arrival.rate)
    while t < scenario.duration:
        times.append(t)
        t += rng.expovariate(arrival.rate)
    return times


class ExternalClient:
    def __init__(
        self,
        scenario: Scenario,
        env: simpy.Environment,
        traffic: Traffic,
        deliver: Callable[[Exchange], None],
    ) -> None:
        self.scenario = scenario
        self.env = env
        self.traffic = traffic
        self.deliver = deliver
        self._waiting: dict[int, simpy.Event] = {}

    def start(self) -> None:
        arrival = self.scenario.arrival_spec
        if arrival.kind == "closed":
            users = [self.env.process(self._user()) for _ in range(arrival.users)]
            self.env.all_of(users).callbacks.append(lambda _: self.traffic.close())
            return
        for t in send_times(self.scenario):
            exchange = self.traffic.open(self._reply)
            self.env.timeout(t).callbacks.append(lambda _, ex=exchange: self._send(ex))
        self.traffic.close()

    def stream(self, times: Iterable[float]) -> None:
        """Open-ended traffic: send at each of `times` (ascending) as the clock reaches it,
        drawing the next only then, for runs that stop on an event, not at an end of traffic."""
        self.env.process(self._stream(iter(times)))

    def _stream(self, times: Iterator[float]) -> Coroutine:
        for t in times:
            yield self.env.timeout(t - self.env.now)
            self._send(self.traffic.open(self._reply))

    def _send(self, exchange: Exchange) -> None:
        exchange.sent_at = self.env.now
        self.deliver(exchange)
        if self.scenario.client_timeout is not None:
            self.env.timeout(self.scenario.client_timeout).callbacks.append(
                lambda _: self._end(exchange, None, ReadTimeout.__name__)
            )

    def _reply(self, exchange: Exchange, status: int) -> None:
        self._end(exchange, status, None)

    def _end(self, exchange: Exchange, status: int | None, error: str | None) -> None:
        if exchange.ended:
            return
        exchange.completed_at, exchange.status, exchange.error = self.env.now, status, error
        waiting = self._waiting.pop(exchange.i, None)
        if waiting is not None:
            waiting.succeed()
        self.traffic.settle(exchange)

    def _user(self) -> Coroutine:
        """A closed-loop user: send, wait for the response (or time-out), think, repeat."""
        while self.env.now < self.scenario.duration:
            exchange = self.traffic.open(self._reply)
            ended = self._waiting[exchange.i] = self.env.event()
            self._send(exchange)
            yield ended
            yield self.env.timeout(self.scenario.think_time)


class InProcessClient:
    def __init__(
        self,
        scenario: Scenario,
        loop: EventLoop,
        traffic: Traffic,
        deliver: Callable[[Exchange], None],
    ) -> None:
        self.scenario = scenario
        self.loop = loop
        self.traffic = traffic
        self.deliver = deliver
        self._responses: dict[int, Future] = {}

    def start(self) -> None:
        arrival = self.scenario.arrival_spec
        if arrival.kind == "burst":
            self.loop.call_soon(self._concurrent_request)
        elif arrival.kind == "closed":
            users = [Task(self.loop, self._user()) for _ in range(arrival.users)]
            self._close_after(users)
        else:
            for t in send_times(self.scenario):
                exchange = self.traffic.open(self._reply)
                self.loop.call_later(t, Task, self.loop, self._request(exchange))
            self.traffic.close()

    def _concurrent_request(self) -> None:
        """The seed's `asyncio.wait([request(i) for i in range(n)])`. Python 3.8 wraps the
        coroutines in tasks from a set(), so they start in a scrambled order."""
        order = list(range(self.scenario.requests))
        if self.scenario.profile.client_start_scrambled:
            random.Random(self.scenario.seed).shuffle(order)
        exchanges = [self.traffic.open(self._reply) for _ in order]
        for i in order:
            Task(self.loop, self._request(exchanges[i]))
        self.traffic.close()

    def _request(self, exchange: Exchange | None = None) -> Coroutine:
        """`async with httpx.AsyncClient() as client: resp = await client.get(...)`.

        The read races its time-out as httpcore 0.10.2's SocketStream.read does,
        `asyncio.wait_for(stream_reader.read(n), timeout)`: the response wins if the read task
        is done when wait_for's task wakes. Both wake-ups go through the FIFO ready queue, one
        hop after the data's poll (StreamReader.feed_data) and the timer, so that is the case
        exactly when the data was polled before the timer ran: the future below, set by the
        poll or failed by the timer, whichever runs first, resolves the race the same way.
        """
        env = self.loop.env
        if exchange is None:
            exchange = self.traffic.open(self._reply)
        yield from cpu(env, self.scenario.client_setup_cpu)
        exchange.sent_at = env.now  # `client.get(...)` is called (the harness stamps it here)
        yield from io_wait(self.loop, 0.0)  # non-blocking connect: writable on the next poll
        response = self._responses[exchange.i] = self.loop.create_future()
        self.loop.write(self.deliver, exchange)  # each request's own client connects anew
        if self.scenario.client_timeout is not None:
            self.loop.call_later(self.scenario.client_timeout, self._expire, response)
        try:
            status = yield response
        except ReadTimeout:
            status, exchange.error = None, ReadTimeout.__name__
        else:
            yield from cpu(env, self.scenario.client_request_cpu)  # read body, resp.json(), print
        exchange.completed_at, exchange.status = env.now, status
        self.traffic.settle(exchange)

    def _user(self) -> Coroutine:
        while self.loop.env.now < self.scenario.duration:
            yield from self._request()
            yield from sleep(self.loop, self.scenario.think_time)

    def _close_after(self, users: list[Task]) -> None:
        remaining = [len(users)]

        def one_done(_: Future) -> None:
            remaining[0] -= 1
            if remaining[0] == 0:
                self.traffic.close()

        for user in users:
            user.add_done_callback(one_done)

    def _reply(self, exchange: Exchange, status: int) -> None:
        """The server wrote the response: the client's socket is readable on the next poll."""
        response = self._responses[exchange.i]
        self.loop.add_io_event(_resolve, response, status)

    @staticmethod
    def _expire(response: Future) -> None:
        if not response.done():
            response.set_exception(ReadTimeout())


def _resolve(response: Future, status: int) -> None:
    if not response.done():
        response.set_result(status)
