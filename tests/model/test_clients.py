"""Clients: external processes vs the seed's in-process client; arrivals; client time-outs."""

from __future__ import annotations

import random

import pytest

from sim.errors import ScenarioError
from sim.model import simulate
from sim.model.clients import send_times
from sim.scenario import Scenario

from .test_server import ROUND, timeline


def run(**changes):
    return simulate(Scenario.create(**{**ROUND, **changes}))


@pytest.mark.parametrize(
    ("stack", "loop", "excess"),
    [
        # era2020 on asyncio: r1's and r2's 500s are on the socket during the blocking iteration;
        # the next iteration polls I/O before it runs the overdue time-out timers: 500s.
        ("era2020", "asyncio", 500),
        # uvloop 0.14 sends the 500s written in the blocked ready phase at the end of _on_idle,
        # so that same iteration's poll reads them, before the next runs the overdue time-outs.
        ("era2020", "uvloop", 500),
        # Today's FastAPI sends the 500 only after db.close() came back from a worker thread, a
        # few iterations after the time-out timers ran: ReadTimeout.
        ("modern", "asyncio", "ReadTimeout"),
        ("modern", "uvloop", "ReadTimeout"),
    ],
)
def test_in_process_client_times_out_unless_the_500_was_read_before_its_timer(stack, loop, excess):
    # The seed endpoint's freeze (0-2.03, see test_server) with a 0.5 s client time-out. r0's
    # response is only written after its sleep timer runs, in the iteration where its time-out
    # timer (due 0.5) also runs, after it: always ReadTimeout.
    result = run(client="in-process", client_timeout=0.5, stack=stack, loop=loop)
    assert timeline(result) == [
        (0.0, 0.03, 2.03, "ReadTimeout"),
        (0.0, None, 2.03, excess),
        (0.0, None, 2.03, excess),
    ]


def test_external_client_times_out_on_its_own_clock_while_the_server_loop_is_frozen():
    # A separate process: its 0.5 s time-outs fire at 0.5 whatever the server's loop does.
    result = run(client="external", client_timeout=0.5)
    assert timeline(result) == [
        (0.0, 0.03, 0.5, "ReadTimeout"),
        (0.0, None, 0.5, "ReadTimeout"),
        (0.0, None, 0.5, "ReadTimeout"),
    ]


def test_in_process_client_setup_blocks_the_loop_before_any_request_is_sent():
    # 20 httpx.AsyncClient() builds at 0.05 s each run back to back in one iteration: the loop is
    # held 0-1.0 and no request is on the wire before 1.0 (DESIGN.md, "Traps"). Each request's
    # `client.get` is called right after its own client is built: 0.05, 0.10, ... 1.0.
    result = run(
        client="in-process", client_setup_cpu=0.05, requests=20, pool_size=20, async_work=0.0
    )
    assert sorted(r.sent_at for r in result.requests) == pytest.approx(
        [0.05 * (k + 1) for k in range(20)]
    )
    assert min(r.handled_at for r in result.requests) > 1.0
    assert result.loop_blocked[0][0] == 0.0
    assert result.loop_blocked[0][1] >= 1.0


def test_external_burst_leaves_at_once_whatever_the_clients_cpu():
    # The harness's external client fires every request from one prepared AsyncClient: the
    # server sees them arrive together, in one poll.
    result = run(client="external", client_request_cpu=0.001, requests=5, pool_size=5)
    assert [r.sent_at for r in result.requests] == [0.0] * 5


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_era2020_in_process_client_starts_its_requests_in_the_seeds_scrambled_order(seed):
    # Python 3.8's asyncio.wait builds the tasks from a set(): the model draws that order from
    # the scenario's seed. The 8 client setups (0.01 s each) run back to back in one iteration,
    # in that order: the k-th started calls `client.get` at 0.01 * (k + 1), and the requests
    # reach the server in the same scrambled order.
    n = 8
    result = run(
        stack="era2020",
        client="in-process",
        client_setup_cpu=0.01,
        requests=n,
        pool_size=n,
        seed=seed,
    )
    order = list(range(n))
    random.Random(seed).shuffle(order)
    by_start = sorted(result.requests, key=lambda r: r.sent_at)
    assert [r.i for r in by_start] == order
    first_handled = sorted(result.requests, key=lambda r: r.handled_at)
    assert [r.i for r in first_handled] == order


def test_modern_in_process_client_starts_requests_in_order():
    n = 8
    result = run(client="in-process", client_setup_cpu=0.01, requests=n, pool_size=n)
    assert [r.i for r in sorted(result.requests, key=lambda r: r.handled_at)] == list(range(n))


def test_poisson_arrivals_are_drawn_from_the_seed():
    one = Scenario.create(arrival="poisson:50", duration=2.0, seed=3)
    assert send_times(one) == send_times(one)
    assert send_times(one) != send_times(one.replace(seed=4))
    times = send_times(one)
    assert times == sorted(times)
    assert all(0 < t < 2.0 for t in times)
    assert 50 <= len(times) <= 150  # 100 expected; the seed's draw is fixed


def test_poisson_traffic_runs_for_its_duration_whatever_requests_says():
    # --requests is the burst size; poisson traffic is sized by --duration (the flag's help).
    result = run(client="external", arrival="poisson:100", duration=2.0, requests=5, pool_size=5)
    assert 150 <= len(result.requests) <= 250
    assert max(r.sent_at for r in result.requests) < 2.0


def test_closed_loop_user_keeps_one_request_outstanding_and_thinks_between():
    # One user, 0.05 s think time: each request is sent think_time after the previous ended.
    result = run(client="external", arrival="closed:1", duration=0.5, think_time=0.05, pool_size=1)
    rows = result.requests
    assert len(rows) >= 2
    for before, after in zip(rows, rows[1:], strict=False):
        assert after.sent_at == pytest.approx(before.completed_at + 0.05)


def test_closed_loop_that_could_never_advance_time_is_refused():
    # A user with no think time and no awaited work could send forever at t = 0.
    with pytest.raises(ScenarioError, match="^--think-time must be > 0 with --arrival closed"):
        Scenario.create(arrival="closed:1", think_time=0, async_work=0)
