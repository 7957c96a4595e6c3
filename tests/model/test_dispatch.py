"""Several server processes on one listening socket (sim/model/dispatch.py), the client's
kept-alive connections, and PostgreSQL's shared max_connections (sim/model/postgres.py)."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.model import run_model, simulate
from sim.model.dispatch import (
    KEEPALIVE_EXPIRY,
    ClientConnections,
    Connection,
    ListeningSocket,
    ServerProcess,
)
from sim.model.server import Exchange
from sim.result import Result
from sim.scenario import DEPLOYMENT, Scenario
from sim.split import parse
from tests.strategies import note_scenario, scenarios


@dataclass(eq=False)
class FakeLoop:
    """A loop that only records the I/O callbacks it was given and whether it polls."""

    polling: bool = True
    io: list[tuple[Any, tuple[Any, ...]]] = field(default_factory=list)

    def add_io_event(self, callback: Any, *args: Any) -> None:
        self.io.append((callback, args))

    def connect(self, callback: Any, *args: Any) -> None:  # accepted and read in one poll
        self.io.append((callback, args))

    def poll(self) -> None:
        io, self.io = self.io, []
        for callback, args in io:
            callback(*args)


class FakeServer:
    def data_received(self, exchange: Exchange) -> None:
        pass


def processes(n: int) -> list[ServerProcess]:
    return [ServerProcess(k, FakeLoop(), FakeServer()) for k in range(n)]  # type: ignore[arg-type]


def exchange(i: int) -> Exchange:
    return Exchange(i=i, reply=lambda ex, status: None)


def test_a_new_connection_goes_to_a_polling_process_never_to_a_held_one():
    procs = processes(2)
    procs[0].loop.polling = False  # its loop is held in a checkout
    socket = ListeningSocket(procs, (1.0, 1.0), random.Random(0))
    for i in range(20):
        socket.connect(Connection(i), exchange(i))
    assert procs[0].requests == [] and procs[1].requests == list(range(20))


def test_with_no_process_polling_the_first_to_poll_accepts_the_whole_backlog():
    procs = processes(2)
    for p in procs:
        p.loop.polling = False
    socket = ListeningSocket(procs, (1.0, 1.0), random.Random(0))
    for i in range(3):
        socket.connect(Connection(i), exchange(i))
    assert [len(p.loop.io) for p in procs] == [1, 1]  # one readable event per loop, not three
    procs[1].loop.poll()  # process 1's iteration ends first: accept() until EAGAIN
    procs[0].loop.poll()  # process 0 finds the backlog empty
    assert [p.requests for p in procs] == [[], [0, 1, 2]]


def test_a_weight_zero_process_accepts_nothing_even_when_it_alone_polls():
    procs = processes(2)
    procs[0].loop.polling = False
    socket = ListeningSocket(procs, (1.0, 0.0), random.Random(0))
    socket.connect(Connection(0), exchange(0))
    assert procs[0].requests == [0] and procs[1].requests == []


def test_polling_processes_split_a_burst_by_their_weights():
    procs = processes(2)
    socket = ListeningSocket(procs, (3.0, 1.0), random.Random(0))
    for i in range(4000):
        socket.connect(Connection(i), exchange(i))
    assert 2850 < len(procs[0].requests) < 3150  # Binomial(4000, 0.75): mean 3000, sd 27


def connections(mode: str, procs: list[ServerProcess], clock: list[float]) -> ClientConnections:
    socket = ListeningSocket(procs, (1.0,) * len(procs), random.Random(0))
    return ClientConnections(
        mode, socket, lambda: clock[0], lambda ex: None, True, random.Random(0)
    )


def test_a_kept_alive_connection_takes_its_next_request_to_its_own_process_even_when_held():
    procs = processes(2)
    clock = [0.0]
    pool = connections("keep-alive", procs, clock)
    first = exchange(0)
    pool.send(first)
    owner = next(p for p in procs if p.requests)
    owner.loop.polling = False
    first.reply(first, 200)  # the response frees the connection; the process is then held
    pool.send(exchange(1))
    assert owner.requests == [0, 1]


def test_an_idle_connection_past_keepalive_expiry_is_not_reused():
    procs = processes(1)
    clock = [0.0]
    pool = connections("keep-alive", procs, clock)
    first = exchange(0)
    pool.send(first)
    first.reply(first, 200)
    clock[0] = KEEPALIVE_EXPIRY + 0.01
    pool.send(exchange(1))
    assert pool.open == 1 and pool.idle == []  # the expired one closed, a new one carries it


def test_new_opens_a_connection_per_request_and_a_limit_queues_requests_in_the_client():
    procs = processes(1)
    clock = [0.0]
    new = connections("new", procs, clock)
    for i in range(3):
        new.send(exchange(i))
    assert new.open == 3
    limited = connections("2", procs, clock)
    sent = [exchange(i) for i in range(3)]
    for ex in sent:
        limited.send(ex)
    assert procs[0].requests == [0, 1, 2, 0, 1] and len(limited.queued) == 1
    sent[0].reply(sent[0], 200)  # a connection comes free: the queued request goes out on it
    assert procs[0].requests[-1] == 2 and limited.open == 2 and not limited.queued


def test_a_limit_of_one_connection_serialises_a_burst():
    base = Scenario.create(client="external", requests=5, async_work=0.1, pool_timeout=5.0)
    result = simulate(base.replace(client_connections="1"))
    assert result.summary.ok == 5
    assert result.summary.makespan >= 0.5
    assert simulate(base).summary.makespan < 0.2


def one_process_view(result: Result) -> dict[str, Any]:
    data = result.to_dict()
    data.pop("service", None)
    data["params"] = {k: v for k, v in data["params"].items() if k not in DEPLOYMENT}
    return data


@given(
    scenarios(client="external", cpus=2),
    st.integers(min_value=2, max_value=4),
    st.sampled_from(["keep-alive", "new", "2"]),
)
def test_n_processes_with_a_split_that_sends_nothing_to_n_minus_1_equals_one_process(
    scenario, n, mode
):
    one = scenario.replace(client_connections=mode)
    note_scenario(one)
    weights = "/".join(["1"] + ["0"] * (n - 1))
    many = one.replace(processes=n, split=f"weights:{weights}")
    assert one_process_view(simulate(many)) == one_process_view(simulate(one))


@given(scenarios(client="external", cpus=2), st.sampled_from(["even", "dirichlet:0.5"]))
def test_every_process_serves_only_what_it_read_and_pools_stay_within_postgres(scenario, split):
    many = scenario.replace(processes=3, split=split, max_connections=4)
    note_scenario(many)
    result, observed = run_model(many)
    service = result.service
    assert service is not None and service["peak_connections"] <= 4
    served = sorted(i for p in service["processes"] for i in p["requests"])
    sent = sorted(r.i for r in result.requests if r.sent_at is not None)
    assert served == sent  # each request read by exactly one process
    blocks = sorted(tuple(b) for p in service["processes"] for b in p["loop_blocked"])
    assert blocks == sorted(result.loop_blocked)
    assert observed.max_checkedout <= many.capacity


def test_one_process_result_has_no_service_record_and_no_deployment_params():
    data = json.loads(simulate(Scenario.create(client="external", requests=3)).to_json())
    assert "service" not in data
    assert not set(DEPLOYMENT) & set(data["params"])


def test_postgres_refuses_connects_past_max_connections_as_500s_and_counts_them():
    scenario = Scenario.create(
        client="external", requests=10, pool_size=5, max_overflow=5, max_connections=3
    )
    result = simulate(scenario)
    assert result.service is not None
    assert result.service["refused_connections"] == 7
    assert result.service["peak_connections"] == 3
    assert (result.summary.ok, result.summary.server_errors) == (3, 7)


def test_processes_share_max_connections():
    scenario = Scenario.create(
        client="external", requests=40, processes=2, pool_size=10, max_overflow=10,
        max_connections=25, split="weights:1/1",
    )  # fmt: skip
    service = simulate(scenario).service
    assert service is not None and service["peak_connections"] == 25
    opened = [len(p["requests"]) for p in service["processes"]]
    assert service["refused_connections"] == sum(opened) - 25


def test_the_split_varies_with_the_seed_and_not_within_one():
    def split(seed: int) -> tuple[int, ...]:
        scenario = Scenario.create(
            client="external", requests=30, processes=2, split="dirichlet:1", seed=seed
        )
        service = simulate(scenario).service
        assert service is not None
        return tuple(len(p["requests"]) for p in service["processes"])

    assert split(3) == split(3)
    assert len({split(seed) for seed in range(10)}) > 3


@pytest.mark.parametrize(
    ("text", "weights"),
    [("even", (1.0, 1.0, 1.0)), ("weights:2/0/1", (2.0, 0.0, 1.0))],
)
def test_split_forms_give_their_weights(text, weights):
    assert parse(text).draw(3, random.Random(0)) == weights


def test_a_dirichlet_split_draws_weights_that_sum_to_one():
    drawn = parse("dirichlet:0.3").draw(4, random.Random(1))
    assert len(drawn) == 4 and abs(sum(drawn) - 1) < 1e-12


def test_the_harness_client_sends_first_on_its_warm_connection_then_opens_new_ones():
    # The warm-up request leaves one idle connection; a burst needs one per request in flight.
    procs = processes(1)
    pool = connections("keep-alive", procs, [0.0])
    for i in range(3):
        pool.send(exchange(i))
    assert pool.open == 3 and procs[0].requests == [0, 1, 2]
    assert [callback for callback, _ in procs[0].loop.io][0] == procs[0].server.data_received


def test_a_connection_is_kept_after_a_200_but_not_after_a_5xx_nor_past_its_expiry():
    procs = processes(1)
    clock = [0.0]
    pool = connections("keep-alive", procs, clock)
    a, b, c = exchange(0), exchange(1), exchange(2)
    pool.send(a)  # on the warm connection
    clock[0] = 1.0
    a.reply(a, 200)
    clock[0] = 1.0 + KEEPALIVE_EXPIRY  # idle exactly the expiry: still kept (now > expire_at)
    pool.send(b)
    assert pool.open == 1
    b.reply(b, 500)  # uvicorn closes the transport after the app raised
    assert pool.open == 0 and pool.idle == []
    pool.send(c)
    assert pool.open == 1


def test_a_client_that_timed_out_does_not_reuse_its_connection():
    procs = processes(1)
    pool = connections("keep-alive", procs, [0.0])
    a = exchange(0)
    pool.send(a)
    a.completed_at, a.error = 0.5, "ReadTimeout"  # httpx closes the connection
    a.reply(a, 200)
    assert pool.open == 0 and pool.idle == []


def test_each_process_collects_its_own_garbage_on_its_own_streams():
    from sim.model.simulate import assemble

    base = Scenario.create(client="external", stack="modern", jitter="on")
    two = assemble(base.replace(processes=2)).processes
    one = assemble(base).processes[0]
    costs = [p.server.costs for p in two]
    assert costs[0].collections is not costs[1].collections
    # The first process draws what the one-process run draws; the second its own stream.
    assert [costs[0].request_cpu.draw() for _ in range(5)] == [
        one.server.costs.request_cpu.draw() for _ in range(5)
    ]
    assert (
        costs[1].request_cpu.draw() != assemble(base).processes[0].server.costs.request_cpu.draw()
    )
