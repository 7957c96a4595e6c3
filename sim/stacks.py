"""Stack profiles: the semantics that changed between the 2020 stack and today's, as data.

The model reads these records; it never branches on a stack's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sim.stack_jitter import COST_SHAPES, SLEEP_OVERSHOOT

LoopKind = Literal["asyncio", "uvloop"]


@dataclass(frozen=True)
class Libuv:
    """What the stack's uvloop, and the libuv it bundles, do differently from one another.

    Read by the model's uvloop mode only; asyncio's loop has neither setting.
    """

    # libuv src/unix/stream.c uv__server_io: 1.33 calls accept() until EAGAIN, so one poll takes
    # every pending connection; 1.52 accepts one connection per poll callback. None = all.
    accepts_per_poll: int | None
    # uvloop handles/stream.pyx: 0.23's UVStream.write -> _initiate_write tries the write at
    # once; 0.14's _write buffers it (below the high-water mark) and loop._queue_write sends it
    # at the end of _on_idle or in the check phase (Loop._exec_queued_writes).
    write_at_once: bool


@dataclass(frozen=True)
class FullCollection:
    """CPython's generation-2 garbage collection on the loop thread, by requests served: its
    trigger counts allocations (gcmodule.c collect_generations: ten generation-1 collections
    and survivors pending over a quarter of the long-lived objects), which steady traffic makes
    per request; it holds the thread for a time that grows with the live objects it walks."""

    first: int  # requests before the first (start-up's objects pending promotion)
    every: int  # requests between the later ones
    seconds: float  # how long one holds the loop thread


@dataclass(frozen=True)
class StackProfile:
    name: str
    # Worker threads that run sync dependencies and `def` endpoints.
    # "default-executor": starlette 0.13 `run_in_threadpool` -> loop.run_in_executor(None, ...),
    # a ThreadPoolExecutor of min(32, cpu + 4) workers (CPython 3.8 concurrent/futures/thread.py).
    # "anyio-limiter": anyio.to_thread.run_sync under the default CapacityLimiter(40).
    thread_pool: Literal["default-executor", "anyio-limiter"]
    fixed_threads: int | None
    # FastAPI >= 0.82 runs a yield dependency's exit on its own CapacityLimiter(1)
    # (fastapi/concurrency.py contextmanager_in_threadpool), so teardown never queues behind
    # endpoints holding the shared limiter. 0.61 used the same executor for both (issue #3205).
    teardown_on_own_limiter: bool
    # Whether the yield dependency's exit runs after the response is sent (FastAPI 0.61 via the
    # app-level AsyncExitStack; today's default) or before it (FastAPI 0.106-0.117).
    teardown_after_response: bool
    # When the endpoint raises (the pool's TimeoutError): FastAPI 0.61's ServerErrorMiddleware
    # sits inside the app-level exit stack and sends the 500 first; today's request_response
    # (fastapi/routing.py) lets the exception pass through the dependency's exit stack, so the
    # exit (a worker-thread hop) runs before the 500 is sent.
    error_teardown_after_response: bool
    # Python 3.8's asyncio.wait(fs) wraps coroutines in tasks from a set(): start order is
    # scrambled. Python 3.11 needs tasks, which the harness creates in order.
    client_start_scrambled: bool
    default_loop: LoopKind
    # The uvloop release the stack pins (era2020) or pulls (modern), with its bundled libuv.
    libuv: Libuv
    # SQLAlchemy >= 1.4 has AsyncSession; 1.3 does not.
    has_async_session: bool
    # Default costs in seconds: a copy of validation/profiles/<stack>.json, measured by
    # `python -m validation calibrate` (2-core AMD EPYC VM, PostgreSQL 15 on loopback,
    # 2026-11-26); rerun it and copy the figures to move the defaults to another machine.
    costs: dict[str, float]
    # How request_cpu divides between uvicorn's data_received (with accept and close), the ASGI
    # app up to the endpoint, and the response after it: validation/profiles/<stack>.json's
    # "request_cpu_shares", measured by calibrate from the app's thread_time() marks.
    request_cpu_shares: dict[str, float]
    # Most loop callbacks one request runs (asyncio Handle._run calls, counted by calibrate on
    # the stack's asyncio loop): the closed form's bound on a request's callback_cpu.
    callbacks_per_request: int
    # Jitter (sim/jitter.py): each jittered cost's quantiles at LEVELS over its calibrated value,
    # and the asyncio.sleep overshoot's in seconds: validation/profiles/<stack>.json's "jitter",
    # measured by calibrate (sim/stack_jitter.py holds the copy); None before it is measured.
    cost_shapes: dict[str, tuple[float, ...]] | None
    sleep_overshoot: tuple[float, ...] | None
    # Full collections, paid with jitter on: the app's PSS_GC=1 events in
    # validation/results/stall/<stack>/ (`python -m validation.stall`, 60 s at 60 req/s on 20+10):
    # the first's request count, the gap between the first two, the median length.
    full_collection: FullCollection
    # Which idle kept-alive connection the client's httpx reuses: httpcore 1.0's
    # `_assign_requests_to_connections` the oldest; httpcore 0.10's `_get_connection_from_pool`
    # walks a set of connections, so an arbitrary one (drawn at random in the model).
    client_reuses_oldest: bool = True
    # How a burst's new connections split over several processes (sim/split.py): the model's
    # default `--split`, fitted by validation.processes.fit_alpha on the procs-burst runs.
    split: str = "even"

    def threads(self, cpus: int) -> int:
        if self.fixed_threads is not None:
            return self.fixed_threads
        return min(32, cpus + 4)


STACKS: dict[str, StackProfile] = {
    # Python 3.8, fastapi 0.61.1, starlette 0.13.6, SQLAlchemy 1.3.19, uvicorn 0.11.8 + uvloop 0.14
    "era2020": StackProfile(
        name="era2020",
        thread_pool="default-executor",
        fixed_threads=None,
        teardown_on_own_limiter=False,
        teardown_after_response=True,
        error_teardown_after_response=True,
        client_start_scrambled=True,
        default_loop="uvloop",
        libuv=Libuv(accepts_per_poll=None, write_at_once=False),  # uvloop 0.14.0, libuv 1.33.1
        has_async_session=False,
        costs={
            "query_time": 0.0002106,
            "connect_time": 0.0049593,
            "warmup_time": 0.0175574,
            "request_cpu": 0.0032649,
            "callback_cpu": 6.6e-06,
            "thread_handoff": 9.4e-05,
            "client_setup_cpu": 0.0530559,
            "client_request_cpu": 0.0029601,
        },
        request_cpu_shares={"parse": 0.293, "app": 0.47, "respond": 0.237},
        callbacks_per_request=21,
        cost_shapes=COST_SHAPES.get("era2020"),
        sleep_overshoot=SLEEP_OVERSHOOT.get("era2020"),
        full_collection=FullCollection(first=1687, every=1895, seconds=0.0324),
        client_reuses_oldest=False,
        split="dirichlet:2.6",  # validation/results/risk/era2020/procs-burst, 6 runs
    ),
    # Python 3.11, fastapi 0.165, starlette 1.10, anyio 4.16, SQLAlchemy 2.1.9, uvicorn 0.54
    "modern": StackProfile(
        name="modern",
        thread_pool="anyio-limiter",
        fixed_threads=40,
        teardown_on_own_limiter=True,
        teardown_after_response=True,
        error_teardown_after_response=False,
        client_start_scrambled=False,
        default_loop="asyncio",
        libuv=Libuv(accepts_per_poll=1, write_at_once=True),  # uvloop 0.23.0, libuv 1.52.1
        has_async_session=True,
        costs={
            "query_time": 0.0001725,
            "connect_time": 0.0045624,
            "warmup_time": 0.0234188,
            "request_cpu": 0.0032513,
            "callback_cpu": 7.3e-06,
            "thread_handoff": 0.0001465,
            "client_setup_cpu": 0.0585318,
            "client_request_cpu": 0.0041261,
        },
        request_cpu_shares={"parse": 0.251, "app": 0.448, "respond": 0.301},
        callbacks_per_request=22,
        cost_shapes=COST_SHAPES.get("modern"),
        sleep_overshoot=SLEEP_OVERSHOOT.get("modern"),
        full_collection=FullCollection(first=392, every=2678, seconds=0.0554),
        split="dirichlet:4.4",  # validation/results/risk/modern/procs-burst, 8 runs
    ),
}
