"""Assemble loop, pool, threads, server and clients for a Scenario, run it, return its Result."""

from __future__ import annotations

from dataclasses import dataclass

import simpy

from sim.model.clients import ExternalClient, InProcessClient, Traffic
from sim.model.costs import Costs, run_costs
from sim.model.loop import EventLoop
from sim.model.pool import QueuePool
from sim.model.server import ENGINE, Exchange, Server
from sim.model.threads import CapacityLimiter, ThreadPoolExecutor, Threads
from sim.result import BLOCK_MIN, RequestRecord, Result, build_result
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
    """One server and its client, wired; the caller starts the client, then the loop thread
    (`env.process(loop.run_forever())`): `run_model` and the risk estimators' episodes."""

    env: simpy.Environment
    loop: EventLoop
    pool: QueuePool  # the pool of the scenario's own --endpoint
    traffic: Traffic
    client: ExternalClient | InProcessClient


def assemble(scenario: Scenario) -> Model:
    env = simpy.Environment()
    costs = run_costs(scenario)
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
        )
        for engine in sorted({ENGINE[style] for style in styles})
    }
    threads, teardown_threads = make_threads(scenario, loop, costs)
    traffic = Traffic(env)
    server = Server(scenario, loop, pools, threads, teardown_threads, traffic.settle, costs)

    def deliver(exchange: Exchange, new_connection: bool) -> None:
        """The request's bytes reach the server: on a kept-alive connection's socket, or with a
        new connection in the listening socket's backlog."""
        if new_connection:
            loop.connect(server.data_received, exchange)
        else:
            loop.add_io_event(server.data_received, exchange)

    if scenario.client == "external":
        client: ExternalClient | InProcessClient = ExternalClient(scenario, env, traffic, deliver)
    else:
        client = InProcessClient(scenario, loop, traffic, deliver)
    return Model(env, loop, pools[ENGINE[scenario.endpoint]], traffic, client)


def run_model(scenario: Scenario) -> tuple[Result, Observations]:
    model = assemble(scenario)
    model.client.start()
    model.env.process(model.loop.run_forever())
    model.env.run(until=model.traffic.finished)
    records = [
        RequestRecord(e.i, e.sent_at, e.handled_at, e.completed_at, e.status, e.error)
        for e in model.traffic.exchanges
    ]
    result = build_result(
        scenario.to_params(),
        records,
        model.loop.blocked_intervals(BLOCK_MIN),
        scenario.freeze_threshold,
    )
    observed = Observations(
        max_checkedout=model.pool.max_checkedout,
        max_idle=model.pool.max_idle,
        connections_at_end=model.pool.connections,
    )
    return result, observed
