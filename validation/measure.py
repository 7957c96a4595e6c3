"""Cost measurements taken inside a stack's venv, for `python -m validation calibrate`.

Runs on the stack's own interpreter and libraries (Python 3.8 on era2020), against a running
app server and database, and prints one JSON object of costs in seconds:
- query_time: the seed's SELECT on a warm connection (wall); query_cpu: its client-side CPU.
- connect_time: opening a new DBAPI connection through SQLAlchemy (NullPool, wall).
- thread_handoff: starlette's `run_in_threadpool(noop)` round trip on the stack's loop (wall),
  the call FastAPI makes for sync dependencies and `def` endpoints.
- client_request_cpu: one GET through a warm AsyncClient, loop-thread CPU.
- request_cpu: the server's loop-thread CPU per request on a new connection each (from
  /proc/PID/task/PID/schedstat, ns), less the query's client-side CPU (counted in query_time).
- callback_cpu: one loop callback, as half of a future's set_result plus its task's wake-up.
- first_request_extra: the server's first request (wall) over a warm one's; only the first round
  against a fresh server means anything (calibrate takes warmup_time from it).
- sleep_overshoot: how late `asyncio.sleep(SLEEP)` returns on an idle loop (the selector's
  millisecond rounding, the thread's wake-up).
"samples" holds every timing behind query_time, connect_time, thread_handoff, request_cpu and
sleep_overshoot, one per call (request_cpu: per request, from the loop thread's schedstat around
it): calibrate takes their distributions, which the model draws from with jitter on.
client_setup_cpu is not measured here: calibrate times the in-process client's whole first step
on the real app's loop (`client_setup_rounds`), of which `httpx.AsyncClient()` is only a part.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time

import httpx
import sqlalchemy
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from starlette.concurrency import run_in_threadpool

SLEEP = 0.1  # the seed's async work
SLEEPS = 50
# After each request of the per-request CPU samples: time for the server to finish the
# connection's close, so its CPU is counted with the request that caused it.
SETTLE = 0.002


def timings(fn, n: int, clock=time.perf_counter) -> list:
    samples = []
    for _ in range(n):
        start = clock()
        fn()
        samples.append(clock() - start)
    return samples


def database_costs(url: str) -> dict:
    if tuple(int(p) for p in sqlalchemy.__version__.split(".")[:2]) >= (1, 4):
        url = url.replace("postgresql://", "postgresql+psycopg2://", 1)
    engine = create_engine(url)
    query = text("SELECT users.id, users.name FROM users")
    with engine.connect() as conn:
        conn.execute(query).fetchall()

        def run_query():
            conn.execute(query).fetchall()

        query_times = timings(run_query, 300)
        query_cpu = statistics.median(timings(run_query, 300, time.thread_time))
    fresh = create_engine(url, poolclass=NullPool)

    def connect():
        fresh.connect().close()

    connect()
    connects = timings(connect, 40)
    return {
        "query_time": statistics.median(query_times),
        "query_cpu": query_cpu,
        "connect_time": statistics.median(connects),
        "samples": {"query_time": query_times, "connect_time": connects},
    }


async def loop_costs(url: str, server_pid: int) -> dict:
    def noop():
        return None

    handoffs = []
    for _ in range(500):
        start = time.perf_counter()
        await run_in_threadpool(noop)
        handoffs.append(time.perf_counter() - start)

    n = 300
    async with httpx.AsyncClient() as client:
        start = time.perf_counter()
        await client.get(url, params={"i": 0})
        first = time.perf_counter() - start
        warm = []
        for i in range(20):
            start = time.perf_counter()
            await client.get(url, params={"i": i})
            warm.append(time.perf_counter() - start)
        # Every request on a new connection, as in the bursts (the seed builds a client per
        # request; the harness's external client opens one connection per request): the
        # server's accept, connection_made and close are part of a request's loop CPU.
        server_before = loop_thread_ns(server_pid)
        start = time.thread_time()
        for i in range(n):
            await client.get(url, params={"i": i}, headers={"Connection": "close"})
        client_cpu = (time.thread_time() - start) / n
        server_cpu = (loop_thread_ns(server_pid) - server_before) / 1e9 / n
        per_request = []
        before = loop_thread_ns(server_pid)
        for i in range(n):
            await client.get(url, params={"i": i}, headers={"Connection": "close"})
            await asyncio.sleep(SETTLE)
            after = loop_thread_ns(server_pid)
            per_request.append((after - before) / 1e9)
            before = after
    overshoots = []
    for _ in range(SLEEPS):
        start = time.perf_counter()
        await asyncio.sleep(SLEEP)
        overshoots.append(time.perf_counter() - start - SLEEP)
    return {
        "first_request_extra": first - statistics.median(warm),
        "callback_cpu": await callback_cost(),
        "thread_handoff": statistics.median(handoffs),
        "client_request_cpu": client_cpu,
        "server_loop_cpu": server_cpu,
        # the first hand-off of a round starts the worker thread, which the model never pays
        "samples": {
            "thread_handoff": handoffs[1:],
            "server_loop_cpu": per_request,
            "sleep_overshoot": overshoots,
        },
    }


async def callback_cost(n: int = 20000) -> float:
    """Loop time of one callback: futures completed by call_soon, each waking its task."""
    loop = asyncio.get_event_loop()

    async def waiter(future):
        await future

    futures = [loop.create_future() for _ in range(n)]
    tasks = [asyncio.ensure_future(waiter(f)) for f in futures]
    await asyncio.sleep(0)
    start = time.perf_counter()
    for future in futures:
        loop.call_soon(future.set_result, None)
    await asyncio.gather(*tasks)
    return (time.perf_counter() - start) / n / 2


def loop_thread_ns(pid: int) -> int:
    """On-CPU time of the process's main (event-loop) thread, in nanoseconds."""
    with open(f"/proc/{pid}/task/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True, help="the app server's endpoint")
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--server-pid", type=int, required=True)
    parser.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.install()
    costs = database_costs(args.database_url)
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    on_loop = loop.run_until_complete(loop_costs(args.url, args.server_pid))
    samples = {**costs.pop("samples"), **on_loop.pop("samples")}
    costs.update(on_loop)
    query_cpu = costs["query_cpu"]
    costs["request_cpu"] = max(costs.pop("server_loop_cpu") - query_cpu, 0.0)
    samples["request_cpu"] = [max(t - query_cpu, 0.0) for t in samples.pop("server_loop_cpu")]
    costs["samples"] = samples
    print(json.dumps(costs))


if __name__ == "__main__":
    main()
