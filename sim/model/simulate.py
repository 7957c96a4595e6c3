"""Assemble loop, pool, threads, server and clients for a Scenario, run it, return its Result.

`--processes N` builds N such servers (each its own loop, threads and pools) behind one
listening socket (sim/model/dispatch.py), all connecting to one PostgreSQL (sim/model/postgres.py).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import simpy

from sim.model.clients import ExternalClient, InProcessClient, Traffic
from sim.model.costs import Costs, run_costs
from sim.model.dispatch import ClientConnections, ListeningSocket, ServerProcess
from sim.model.loop import EventLoop
from sim.model.pool import QueuePool
from sim.model.postgres import Postgres
from sim.model.server import ENGINE, Exchange, Server
from sim.model.threads import CapacityLimiter, ThreadPoolExecutor, Threads
from sim.result import (
    BLOCK_MIN,
    ProcessView,
    RequestRecord,
    Result,
    build_result,
    service_view,
)
from sim.scenario import Scenario


def make_threads(scenario: Scenario, loop: EventLoop, costs: Costs) -> tuple[Threads, Threads]:
    """The threads for endpoints/dependency setup, and those for dependency teardown."""
    profile = scenario.profile
    handoff = costs.thread_handoff
    if profile.thread_pool == "default-executor":
        shared: Threads = ThreadPoolExecutor(loop, scenario.threads, handoff)
    else:
        shared = CapacityLimiter(loop, scenario.threads, handoff)
    if not profile.teardown_on_own_limiter:
        return shared, shared
    # FastAPI >= 0.82: a fresh CapacityLimiter(1) per dependency exit - never a shared queue.
    return shared, CapacityLimiter(loop, 10**9, handoff)


@dataclass(frozen=True)
class Observations:
    """What the model saw inside the server, beyond the Result: for invariants and benchmarks."""

    max_checkedout: int
    max_idle: int
    connections_at_end: int


def simulate(scenario: Scenario) -> Result:
    return run_model(scenario)[0]


@dataclass(eq=False)
class Model:
    """The servers and their client, wired; the caller starts the client, then every loop
    thread (`start_loops`): `run_model` and the risk estimators' episodes."""

    env: simpy.Environment
    loop: EventLoop  # the first process's
    pool: QueuePool  # the first process's pool of the scenario's own --endpoint
    traffic: Traffic
    client: ExternalClient | InProcessClient
    processes: list[ServerProcess]
    database: Postgres
    pools: list[QueuePool]  # each process's pool of the scenario's own --endpoint

    def start_loops(self) -> None:
        for process in self.processes:
            self.env.process(process.loop.run_forever())


def _server_process(
    scenario: Scenario,
    env: simpy.Environment,
    database: Postgres,
    traffic: Traffic,
    index: int,
) -> tuple[ServerProcess, dict[str, QueuePool]]:
    """One worker: a loop, its threads, its costs, and a pool per engine its endpoint styles
    use."""
    costs = run_costs(scenario, index)
    libuv = scenario.profile.libuv if scenario.loop == "uvloop" else None
    loop = EventLoop(env, scenario.loop, scenario.callback_cpu, libuv)
    replay = scenario.arrival_spec.replay
    styles = {scenario.endpoint}
    if replay is not None:  # a trace's own endpoint styles may need the other engine's pool
        styles.update(style for style in replay.column("endpoint") or () if style is not None)
    pools = {
        engine: QueuePool(
            env,
            scenario.pool_size,
            scenario.max_overflow,
            scenario.pool_timeout,
            costs.connect_time,
            scenario.warmup_time,
            database,
        )
        for engine in sorted({ENGINE[style] for style in styles})
    }
    threads, teardown_threads = make_threads(scenario, loop, costs)
    server = Server(scenario, loop, pools, threads, teardown_threads, traffic.settle, costs)
    return ServerProcess(index, loop, server), pools


def assemble(scenario: Scenario) -> Model:
    env = simpy.Environment()
    database = Postgres(scenario.max_connections)
    traffic = Traffic(env)
    built = [
        _server_process(scenario, env, database, traffic, k) for k in range(scenario.processes)
    ]
    processes = [process for process, _ in built]
    pools = [engines[ENGINE[scenario.endpoint]] for _, engines in built]
    first = processes[0]
    if scenario.client == "external":
        rng = random.Random(f"split:{scenario.seed}")
        weights = scenario.split_spec.draw(scenario.processes, rng)
        connections = ClientConnections(
            scenario.client_connections,
            ListeningSocket(processes, weights, rng),
            lambda: env.now,
            lambda exchange: _abandoned(traffic, exchange),
            scenario.profile.client_reuses_oldest,
            rng,
        )
        client: ExternalClient | InProcessClient = ExternalClient(
            scenario, env, traffic, connections.send
        )
    else:
        client = InProcessClient(scenario, first.loop, traffic, first.accept)
    return Model(env, first.loop, pools[0], traffic, client, processes, database, pools)


def _abandoned(traffic: Traffic, exchange: Exchange) -> None:
    """A request the client gave up before it was sent: the server never sees it."""
    exchange.served = True
    traffic.settle(exchange)


def run_model(scenario: Scenario) -> tuple[Result, Observations]:
    model = assemble(scenario)
    model.client.start()
    model.start_loops()
    model.env.run(until=model.traffic.finished)
    records = [
        RequestRecord(e.i, e.sent_at, e.handled_at, e.completed_at, e.status, e.error)
        for e in model.traffic.exchanges
    ]
    views = [
        ProcessView(p.index, tuple(p.requests), tuple(p.loop.blocked_intervals(BLOCK_MIN)))
        for p in model.processes
    ]
    database = model.database
    service = None
    if scenario.processes > 1 or database.refused:
        service = service_view(views, database.max_connections, database.peak, database.refused)
    result = build_result(
        scenario.to_params(),
        records,
        sorted(block for view in views for block in view.loop_blocked),
        scenario.freeze_threshold,
        service=service,
    )
    observed = Observations(
        max_checkedout=max(pool.max_checkedout for pool in model.pools),
        max_idle=max(pool.max_idle for pool in model.pools),
        connections_at_end=sum(pool.connections for pool in model.pools),
    )
    return result, observed
