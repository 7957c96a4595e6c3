"""Hand-worked request timelines for each endpoint style, client kind and loop order.

Costs are round so the arithmetic is checkable: connect 0.02 s, query 0.01 s, async work 0.1 s,
pool_timeout 1 s, and every loop/client/thread-hand-off cost 0. One pool connection
(pool_size 1, max_overflow 0) and a burst of 3 requests, all sent at t=0.
"""

from __future__ import annotations

import pytest

from sim.model import run_model, simulate
from sim.scenario import COSTS, Scenario
from sim.stacks import STACKS

ROUND = {
    **dict.fromkeys(COSTS, 0.0),
    "pool_size": 1,
    "max_overflow": 0,
    "requests": 3,
    "pool_timeout": 1.0,
    "query_time": 0.01,
    "connect_time": 0.02,
    "async_work": 0.1,
    "stack": "modern",
    "cpus": 2,
}


def run(**changes):
    return simulate(Scenario.create(**{**ROUND, **changes}))


def timeline(result):
    """(sent, handled, completed, status) per request, rounded to the microsecond."""
    return [
        (
            r.sent_at,
            None if r.handled_at is None else round(r.handled_at, 6),
            None if r.completed_at is None else round(r.completed_at, 6),
            r.status if r.status is not None else r.error,
        )
        for r in result.requests
    ]


@pytest.mark.parametrize(
    ("stack", "loop", "first_500"),
    [
        # FastAPI 0.61: ServerErrorMiddleware sits inside the app's exit stack and sends the 500
        # at once; asyncio's transport.write puts it on the socket then.
        ("era2020", "asyncio", 1.03),
        # uvloop queues the write and flushes it in libuv's check phase, after the iteration -
        # which is still blocked on r2 until 2.03.
        ("era2020", "uvloop", 2.03),
        # Today's FastAPI lets the TimeoutError pass through the dependency's exit stack first:
        # db.close() in a worker thread, whose result needs the (blocked) loop: 500 at 2.03.
        ("modern", "asyncio", 2.03),
        ("modern", "uvloop", 2.03),
    ],
)
def test_seed_endpoint_external_client_freezes_the_loop_for_each_excess_request(
    stack, loop, first_500
):
    # All three requests reach `execute` in one loop iteration (their get_db setups came back
    # from the worker threads together):
    #   r0: no idle connection, overflow counter -1 < 0 -> connect 0.02 + query 0.01 on the loop
    #       thread: "Handling 0" at 0.03, then awaits sleep(0.1) (timer due at 0.13);
    #   r1: pool exhausted -> waits on the queue, holding the loop, its full pool_timeout:
    #       0.03 + 1.0 = 1.03 -> TimeoutError -> 500 (sent at 1.03 or after the freeze, above);
    #   r2: same wait, 1.03 + 1.0 = 2.03 -> 500.
    # The loop is free again at 2.03; r0's timer (overdue since 0.13) runs, r0 responds: 2.03.
    # r0's connection was never free for r1/r2: only r0's teardown, after its response, returns
    # it. On uvloop r0 comes on the client's warm kept-alive connection and r1, r2 on new ones,
    # read only after their accept and connection_made: r0's connect and query (0-0.03) are an
    # iteration of their own and the loop is held from 0.03.
    result = run(client="external", stack=stack, loop=loop)
    assert timeline(result) == [
        (0.0, 0.03, 2.03, 200),
        (0.0, None, first_500, 500),
        (0.0, None, 2.03, 500),
    ]
    assert result.loop_blocked == ((0.0 if loop == "asyncio" else 0.03, 2.03),)
    assert result.summary.freezes == 1
    assert result.summary.frozen_seconds == pytest.approx(2.03 if loop == "asyncio" else 2.0)
    assert result.summary.handled_before_freeze == 1


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_seed_endpoint_in_process_client_reads_every_response_after_the_freeze(loop):
    # Same server timeline as with the external client, but the in-process client's reads are
    # callbacks on the same frozen loop: r1's 500, written at 1.03, is read at 2.03 with the rest.
    # Today's libuv accepts one connection per poll: r0's is read an iteration before r1's and
    # r2's, so its connect and query (0-0.03) get an iteration of their own before they block.
    result = run(client="in-process", loop=loop)
    assert timeline(result) == [
        (0.0, 0.03, 2.03, 200),
        (0.0, None, 2.03, 500),
        (0.0, None, 2.03, 500),
    ]
    assert result.loop_blocked == ((0.0 if loop == "asyncio" else 0.03, 2.03),)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.parametrize("client", ["external", "in-process"])
@pytest.mark.parametrize("endpoint", ["sync", "async-session"])
def test_endpoints_that_wait_off_the_loop_serve_the_burst_one_connection_at_a_time(
    endpoint, client, loop
):
    # The waits for the one connection happen in worker threads (`def` endpoint) or as awaited
    # futures (AsyncSession), so the loop keeps running and nobody times out:
    #   r0: connect 0.02 + query 0.01 -> handled 0.03; work 0.1 -> response at 0.13; teardown
    #       (after the response) returns the connection at 0.13 to the oldest waiter, r1;
    #   r1: query 0.01 -> handled 0.14; work -> 0.24; returns it to r2;
    #   r2: query -> handled 0.25; work -> 0.35.
    # Reused connections pay no connect cost; every hop in between costs 0.
    result = run(endpoint=endpoint, client=client, loop=loop)
    assert timeline(result) == [
        (0.0, 0.03, 0.13, 200),
        (0.0, 0.14, 0.24, 200),
        (0.0, 0.25, 0.35, 200),
    ]
    assert result.loop_blocked == ()
    assert result.summary.freezes == 0


def test_seed_endpoint_handles_capacity_then_freezes_once_per_excess_request():
    # pool_size 2 + max_overflow 1 = 3 connections, 5 requests, all in one iteration:
    #   r0, r1, r2 each connect (0.02) and query (0.01) on the loop: handled 0.03, 0.06, 0.09;
    #   r3 waits its pool_timeout: 0.09 + 1 = 1.09 -> 500; r4: 2.09 -> 500;
    #   r0-r2's sleep timers (0.13, 0.16, 0.19) run at 2.09 and they respond then.
    # One continuous block 0-2.09: 3 handled before the freeze, 2 x 500. (era2020 on asyncio
    # sends a 500 as soon as it is raised; see the test above.)
    result = run(
        pool_size=2, max_overflow=1, requests=5, client="external", stack="era2020", loop="asyncio"
    )
    assert timeline(result) == [
        (0.0, 0.03, 2.09, 200),
        (0.0, 0.06, 2.09, 200),
        (0.0, 0.09, 2.09, 200),
        (0.0, None, 1.09, 500),
        (0.0, None, 2.09, 500),
    ]
    s = result.summary
    assert (s.handled_before_freeze, s.freezes, s.ok, s.server_errors) == (3, 1, 3, 2)
    assert s.frozen_seconds == pytest.approx(2.09)


def test_dependency_teardown_runs_after_the_response_is_sent():
    # One request. A worker's hand-off ends at the loop's next select (the GIL is released
    # there), so get_db's setup is back at once; connect + query on the loop: 0.03 (handled);
    # sleep 0.1 -> the response is written at 0.13. The teardown (db.close() in a worker) is
    # submitted only after that write, so it cannot delay the response.
    result = run(requests=1, thread_handoff=0.05, client="external")
    assert timeline(result) == [(0.0, 0.03, 0.13, 200)]


def test_era2020_sync_endpoint_starves_teardown_on_the_shared_executor():
    # FastAPI issue #3205. era2020 with cpus=1: a default executor of min(32, 1 + 4) = 5 workers
    # for endpoints AND dependency teardown; 6 requests, one connection.
    #   t=0: r0 gets the connection (handled 0.03); r1-r4 hold the other 4 workers waiting on the
    #        pool (deadline 1.0); r5's endpoint queues on the executor.
    #   0.13: r0's endpoint returns (response at 0.13); its worker goes to the oldest queued job,
    #        r5's endpoint, which waits on the pool too (deadline 1.13); r0's teardown - the only
    #        way the connection comes back - queues behind it.
    #   1.0: r1-r4 time out (500) and free their workers; r0's teardown runs and returns the
    #        connection to r5: query -> handled 1.01, work -> 1.11, 200.
    result = run(endpoint="sync", stack="era2020", cpus=1, requests=6, client="external")
    assert timeline(result) == [
        (0.0, 0.03, 0.13, 200),
        (0.0, None, 1.0, 500),
        (0.0, None, 1.0, 500),
        (0.0, None, 1.0, 500),
        (0.0, None, 1.0, 500),
        (0.0, 1.01, 1.11, 200),
    ]
    assert result.loop_blocked == ()


def test_modern_sync_endpoint_teardown_on_its_own_limiter_is_never_starved():
    # Today's FastAPI (>= 0.82) exits the dependency on its own limiter: r0's connection comes
    # back at 0.13 and the six requests are served in turn, 0.11 s apart (query + work), no 500.
    result = run(endpoint="sync", stack="modern", cpus=1, requests=6, client="external")
    assert timeline(result) == [
        (0.0, round(0.03 + 0.11 * k, 6), round(0.13 + 0.11 * k, 6), 200) for k in range(6)
    ]


@pytest.mark.parametrize("endpoint", ["async-sync-session", "sync", "async-session"])
def test_every_connection_is_back_in_the_pool_at_the_end(endpoint):
    _, observed = run_model(
        Scenario.create(**{**ROUND, "endpoint": endpoint, "pool_size": 2, "max_overflow": 2})
    )
    # 3 requests at once, size 2 + overflow 2: 3 opened; returned, 2 stay idle, 1 is closed.
    assert observed.max_checkedout == 3
    assert observed.max_idle == 2
    assert observed.connections_at_end == 2


@pytest.mark.parametrize("stack", ["era2020", "modern"])
def test_a_requests_loop_cpu_splits_by_the_stacks_measured_shares(stack):
    # One request, 1 s of request_cpu and nothing else: the loop is busy for parse in
    # data_received, app in the task's first step (the get_db hop ends that iteration), and
    # respond after the endpoint; each share as calibrate measured it for the stack.
    shares = STACKS[stack].request_cpu_shares
    result, _ = run_model(
        Scenario.create(
            **{**ROUND, "stack": stack, "loop": "asyncio", "requests": 1, "request_cpu": 1.0}
        )
    )
    (request,) = result.requests
    assert request.handled_at == pytest.approx(shares["parse"] + shares["app"] + 0.03)
    assert request.completed_at == pytest.approx(1.0 + 0.03 + 0.1)
    assert sum(shares.values()) == pytest.approx(1.0)
