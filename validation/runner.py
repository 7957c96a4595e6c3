"""One real run: start the app on a throwaway database, send the traffic (a burst, or steady
Poisson / closed-loop traffic from the external client), collect the timeline, and stop every
process it started, by process group, on every exit path, within a deadline.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.distributions import Constant
from sim.errors import ScenarioError
from sim.result import Result, build_result
from sim.scenario import Scenario
from validation.arrivals import poisson_times
from validation.envs import StackEnv, ensure_env
from validation.errors import HarnessFailure
from validation.postgres import Database, database
from validation.procs import SERVER_PORTS, free_port, stop_group
from validation.serverlog import parse_events, records, relative_blocks, service, timeline

HERE = Path(__file__).parent
APP_FILES = ("app.py", "probe.py")
STARTUP_TIMEOUT = 60.0
SETTLE = 0.3  # after the last response: let the probe report a block that just ended


@dataclass(frozen=True)
class Run:
    """A measured Result and the raw logs it was read from."""

    result: Result
    server_log: str
    client_log: str


def check_runnable(scenario: Scenario) -> None:
    """Refuse what the real app cannot be asked to do, naming the flag."""
    if scenario.arrival != "burst" and scenario.client != "external":
        raise ScenarioError(
            f"--arrival {scenario.arrival}: the in-process client sends bursts only; "
            "use --client external"
        )
    if scenario.endpoint == "async-session" and not scenario.profile.has_async_session:
        raise ScenarioError(
            f"--endpoint async-session needs SQLAlchemy >= 1.4: not on {scenario.stack}"
        )
    if scenario.cpus != (os.cpu_count() or 1):
        raise ScenarioError(f"--cpus: the real app runs on this machine's {os.cpu_count()} cpus")
    replay = scenario.arrival_spec.replay
    if replay is not None and replay.column("endpoint") is not None:
        raise ScenarioError(
            f"--arrival {scenario.arrival}: the app serves one --endpoint; drop the endpoint column"
        )
    if _drawn(scenario) and (
        scenario.client != "external" or scenario.arrival_spec.kind == "closed"
    ):
        raise ScenarioError(
            "--async-work/--query-time per request (a distribution or a trace's columns): the "
            "app gets them from the external client's open-loop sends; use --client external "
            "and burst, poisson or trace arrivals"
        )


def _drawn(scenario: Scenario) -> dict[str, Any]:
    """The app's query-string keys whose value is the request's own (`w` work, `q` query), each
    with the model's per-request function: a distribution's draw or the trace's record."""
    replay = scenario.arrival_spec.replay
    own = {}
    for key, name, distribution in (("w", "work", scenario.work), ("q", "query", scenario.query)):
        recorded = replay is not None and replay.column(name) is not None
        if recorded or not isinstance(distribution, Constant):
            own[key] = scenario.per_request(name)
    return own


def request_params(scenario: Scenario, count: int) -> list[dict[str, float]] | None:
    """Each of `count` requests' own `w` and `q`, the values the model takes; None when every
    request takes the app's defaults (the seed's SELECT and PSS_ASYNC_WORK)."""
    own = _drawn(scenario)
    if not own:
        return None
    return [{key: draw(i) for key, draw in own.items()} for i in range(count)]


def schedule(scenario: Scenario) -> list[float] | None:
    """Open-loop send offsets (Poisson from the seed, or a trace); None for burst and closed."""
    arrival = scenario.arrival_spec
    if arrival.kind == "poisson":
        return poisson_times(arrival.rate, scenario.duration, scenario.seed)
    if arrival.kind == "trace":
        return list(arrival.trace)
    return None


def most_requests(scenario: Scenario) -> int:
    """How many requests can still be in the server when the sending stops."""
    arrival = scenario.arrival_spec
    if arrival.kind == "closed":
        return arrival.users
    times = schedule(scenario)
    return scenario.requests if times is None else len(times)


def deadline_for(scenario: Scenario) -> float:
    """Generous upper bound on one run: the sending, then every request still in the server
    waiting its full pool_timeout in turn (a collapsed server drains about one per timeout)."""
    params = request_params(scenario, most_requests(scenario)) or []
    work = max((p.get("w", 0.0) for p in params), default=scenario.work.mean)
    per_request = scenario.pool_timeout + work + 1.0
    sending = 0.0 if scenario.arrival == "burst" else scenario.duration
    return 30.0 + sending + most_requests(scenario) * per_request


def run(
    scenario: Scenario,
    db: Database | None = None,
    keep: Path | None = None,
    cut_off: float | None = None,
    after_freeze: float | None = None,
) -> Run:
    """Run `scenario` on the real app; with `db` None, start (and stop) a local PostgreSQL.

    With `cut_off` (external client only), the run is stopped that many seconds after the
    burst if the client is still waiting then: a collapsed server drains its backlog at one
    request per pool_timeout, for tens of minutes after the traffic ends. Requests still out
    are recorded as sent and never answered, and the freeze in progress up to the stop.
    With `after_freeze` too, it is stopped that many seconds after its first freeze is seen
    (a loop block of freeze_threshold in the probe's reports): a run that measures the time
    to the first freeze has nothing more to say after it."""
    check_runnable(scenario)
    if cut_off is None and after_freeze is not None:
        raise ScenarioError("a run can stop at its first freeze only when it can be cut off")
    if cut_off is not None and scenario.client != "external":
        raise ScenarioError("a run can be cut off only with --client external")
    env = ensure_env(scenario.stack)
    with contextlib.ExitStack() as stack:
        if db is None or own_limit(scenario, db):
            db = stack.enter_context(database(**own_database(scenario)))
        run_dir = stack.enter_context(_run_dir(keep))
        return _measure(scenario, env, db, run_dir, cut_off, after_freeze)


def own_limit(scenario: Scenario, db: Database) -> bool:
    """The scenario sets PostgreSQL's max_connections and the shared cluster has another."""
    limit = scenario.to_params().get("max_connections")
    return limit is not None and db.max_connections != limit


def own_database(scenario: Scenario) -> dict[str, int]:
    """A cluster's settings for `scenario`: its own max_connections where it sets one."""
    limit = scenario.to_params().get("max_connections")
    return {} if limit is None else {"max_connections": limit}


@contextlib.contextmanager
def _run_dir(keep: Path | None) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pss-run-"))
    try:
        yield path
    finally:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            for name in ("server.log", "client.log"):
                if (path / name).exists():
                    shutil.copy(path / name, keep / name)
        shutil.rmtree(path, ignore_errors=True)


@dataclass(frozen=True)
class Server:
    """A running app server: its process, port and log file."""

    proc: subprocess.Popen
    port: int
    log: Path


@contextlib.contextmanager
def serving(
    scenario: Scenario,
    env: StackEnv,
    db: Database,
    run_dir: Path,
    probe: bool = True,
    split: bool = False,
) -> Iterator[Server]:
    """Start the app (copied into `run_dir`, away from this package's module names); `split`
    turns on the app's loop-CPU marks for calibrate."""
    for name in APP_FILES:
        shutil.copy(HERE / name, run_dir / name)
    port = free_port(SERVER_PORTS)
    log = run_dir / "server.log"
    app_env = {
        **_app_env(scenario, db, port),
        "PSS_PROBE": "1" if probe else "0",
        "PSS_SPLIT": "1" if split else "0",
    }
    cmd = [str(env.python), "-u", str(run_dir / "app.py")]
    with _process(cmd, log, cwd=run_dir, env=app_env) as proc:
        yield Server(proc, port, log)


def _measure(
    scenario: Scenario,
    env: StackEnv,
    db: Database,
    run_dir: Path,
    cut_off: float | None,
    after_freeze: float | None = None,
) -> Run:
    deadline = time.monotonic() + deadline_for(scenario)
    stopped_at = None
    load_before = os.getloadavg()[0]  # recorded: a busy neighbour on 2 cores skews the timings
    client_log = run_dir / "client.log"
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(serving(scenario, env, db, run_dir))
        if scenario.client == "external":
            wait_for_port(server, STARTUP_TIMEOUT)
            # The supervisor binds the socket before its workers start: wait for every one,
            # or the first to be up would take the whole burst.
            _wait(lambda: _count(server.log, "ready") >= scenario.processes, server.proc,
                  time.monotonic() + STARTUP_TIMEOUT, "workers' start-up")  # fmt: skip
            cmd = _client_cmd(scenario, env, server.port, run_dir)
            client = stack.enter_context(_process(cmd, client_log))
            if cut_off is None:
                _wait(lambda: client.poll() is not None, server.proc, deadline, "external client")
            else:
                freeze = None if after_freeze is None else (scenario.freeze_threshold, after_freeze)
                stopped_at = _wait_or_cut(client, server, client_log, cut_off, deadline, freeze)
            sent = _sent(client_log) if stopped_at is None else _count(client_log, "sent")
            sent -= _lost(client_log)
        else:
            _wait(
                lambda: _count(server.log, "done") > 0, server.proc, deadline, "in-process client"
            )
            sent = scenario.requests
        if stopped_at is None:
            _wait(lambda: _count(server.log, "served") >= sent, server.proc, deadline, "server")
        time.sleep(SETTLE)
    server_text = server.log.read_text(errors="replace")
    client_text = client_log.read_text(errors="replace") if client_log.exists() else ""
    tl = timeline(parse_events((server_text + client_text).splitlines()))
    if tl.burst_at is None:
        raise HarnessFailure(f"the burst was never fired; server log tail: {server_text[-400:]}")
    harness = {
        **tl.info,
        "port": server.port,
        "loadavg": round(load_before, 2),
        "loadavg_after": round(os.getloadavg()[0], 2),
    }
    if stopped_at is not None:
        harness["cut_off_at"] = stopped_at
    params: dict[str, Any] = {**scenario.to_params(), "harness": harness}
    view = service(tl, scenario.max_connections)
    several = scenario.processes > 1
    if several and len(tl.pids) != scenario.processes:
        raise HarnessFailure(f"{len(tl.pids)} workers reported ready, not {scenario.processes}")
    blocks = sorted(b for p in view["processes"] for b in p["loop_blocked"])
    result = build_result(
        params,
        records(tl, sent),
        blocks if several else relative_blocks(tl),
        scenario.freeze_threshold,
        service=view if several or view["refused_connections"] else None,
    )
    return Run(result, server_text, client_text)


def _wait_or_cut(
    client: subprocess.Popen,
    server: Server,
    client_log: Path,
    cut_off: float,
    deadline: float,
    freeze: tuple[float, float] | None = None,
) -> float | None:
    """Wait for the client to finish, or until `cut_off` seconds after its burst, or with
    `freeze` (threshold, grace) until grace seconds after the server's first freeze: None if
    the client finished, else when (seconds after the burst) the run is to be stopped."""
    burst: list[float] = []

    def fired() -> bool:
        with client_log.open(errors="replace") as f:
            burst.extend(e["t"] for e in parse_events(f) if e["kind"] == "burst")
        return bool(burst) or client.poll() is not None

    _wait(fired, server.proc, deadline, "external client start")
    if not burst:
        return None
    stop = burst[0] + cut_off
    tail = LogTail(server.log)

    def over() -> bool:
        nonlocal stop, freeze
        if freeze is not None and first_freeze(parse_events(tail.lines()), freeze[0]):
            stop, freeze = min(stop, time.monotonic() + freeze[1]), None
        return client.poll() is not None or time.monotonic() > stop

    _wait(over, server.proc, deadline, "external client")
    return None if client.poll() is not None else round(stop - burst[0], 6)


class LogTail:
    """The whole lines a growing log gained since the last read: a long run's log is read once,
    not again at every poll."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def lines(self) -> list[str]:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        end = data.rfind(b"\n") + 1
        self.offset += end
        return data[:end].decode(errors="replace").splitlines()


def first_freeze(events: list[dict[str, Any]], threshold: float) -> bool:
    """Whether the probe reported a block of at least `threshold`: its reports while a ping is
    unanswered all start at the ping, so one report is the whole block so far."""
    return any(e["kind"] == "blocked" and e["end"] - e["start"] >= threshold for e in events)


def _app_env(scenario: Scenario, db: Database, port: int) -> dict[str, str]:
    timeout = scenario.client_timeout
    return {
        **os.environ,
        "SQLALCHEMY_DATABASE_URL": db.url,
        "PSS_POOL_SIZE": str(scenario.pool_size),
        "PSS_MAX_OVERFLOW": str(scenario.max_overflow),
        "PSS_POOL_TIMEOUT": str(scenario.pool_timeout),
        "PSS_ASYNC_WORK": str(scenario.work.mean),  # a drawn work is sent per request
        "PSS_ENDPOINT": scenario.endpoint,
        "PSS_CLIENT": scenario.client,
        "PSS_REQUESTS": str(scenario.requests),
        "PSS_CLIENT_TIMEOUT": "none" if timeout is None else str(timeout),
        "PSS_PORT": str(port),
        "PSS_LOOP": scenario.loop,
        "PSS_WORKERS": str(scenario.processes),
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _client_cmd(scenario: Scenario, env: StackEnv, port: int, run_dir: Path) -> list[str]:
    timeout = scenario.client_timeout
    cmd = [
        str(env.python), "-u", str(HERE / "client.py"),
        "--url", f"http://127.0.0.1:{port}/",
        "--timeout", "none" if timeout is None else str(timeout),
        "--connections", scenario.client_connections,
    ]  # fmt: skip
    return cmd + _traffic_args(scenario, run_dir)


def _traffic_args(scenario: Scenario, run_dir: Path) -> list[str]:
    """The client's flags for the scenario's arrivals (an open-loop schedule goes in a file)."""
    arrival = scenario.arrival_spec
    if arrival.kind == "closed":
        return [
            "--users", str(arrival.users),
            "--duration", str(scenario.duration),
            "--think-time", str(scenario.think_time),
        ]  # fmt: skip
    times = schedule(scenario)
    params = request_params(scenario, scenario.requests if times is None else len(times))
    if times is None and params is None:
        return ["--requests", str(scenario.requests)]
    entries: list[Any] = [0.0] * scenario.requests if times is None else times
    if params is not None:
        entries = [{"t": t, **own} for t, own in zip(entries, params, strict=True)]
    path = run_dir / "schedule.json"
    path.write_text(json.dumps(entries))
    return ["--schedule", str(path)]


@contextlib.contextmanager
def _process(cmd: list[str], log: Path, **kwargs: Any) -> Iterator[subprocess.Popen]:
    """A child in its own session (so its whole group can be signalled), stopped on exit."""
    with log.open("w") as out:
        proc = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            **kwargs,
        )
        try:
            yield proc
        finally:
            stop_group(proc)


def wait_for_port(server: Server, timeout: float) -> None:
    """Until the server accepts TCP connections (no HTTP request: it would count as one)."""

    def answers() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.2)
            return sock.connect_ex(("127.0.0.1", server.port)) == 0

    _wait(answers, server.proc, time.monotonic() + timeout, "server start")


def _wait(done, server: subprocess.Popen, deadline: float, what: str) -> None:
    """Poll `done` until true; fail if the server dies or the deadline passes."""
    while not done():
        if server.poll() is not None:
            raise HarnessFailure(f"server exited with {server.returncode} during {what}")
        if time.monotonic() > deadline:
            raise HarnessFailure(f"{what} did not finish before the run's deadline")
        time.sleep(0.02)


def _sent(client_log: Path) -> int:
    """How many requests the external client sent, from its closing "done" event."""
    with client_log.open(errors="replace") as f:
        done = [e for e in parse_events(f) if e["kind"] == "done"]
    if not done or "sent" not in done[-1]:
        raise HarnessFailure(f"the client ended without reporting what it sent: {client_log}")
    return int(done[-1]["sent"])


# httpx's errors for a request written to a kept connection the server was closing: uvicorn
# closes the transport after a 500, but the socket is closed only when the loop gets to it
# (uvloop: libuv's closing-handles phase, after any block later in that iteration), while the
# 500 has already reached the client, which puts the connection back in its pool and may send
# on it. The server never reads that request, so the run does not wait for it to be served.
LOST_ON_A_CLOSING_CONNECTION = frozenset({"ReadError", "RemoteProtocolError"})


def _lost(client_log: Path) -> int:
    """Requests the client saw fail on a connection the server was closing (never served)."""
    with client_log.open(errors="replace") as f:
        return sum(
            e["kind"] == "request" and e.get("error") in LOST_ON_A_CLOSING_CONNECTION
            for e in parse_events(f)
        )


def _count(log: Path, kind: str) -> int:
    """Events of `kind` for the traffic's requests (`?i=`): the client's warm-up 404 is not one."""
    with log.open(errors="replace") as f:
        return sum(
            e["kind"] == kind and ("query" not in e or "i=" in e["query"]) for e in parse_events(f)
        )
