"""One real run: start the app on a throwaway database, fire the burst, collect the timeline, and
stop every process it started, by process group, on every exit path, within a deadline.
"""

from __future__ import annotations

import contextlib
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

from sim.errors import ScenarioError
from sim.result import Result, build_result
from sim.scenario import Scenario
from validation.envs import StackEnv, ensure_env
from validation.errors import HarnessFailure
from validation.postgres import Database, database
from validation.procs import SERVER_PORTS, free_port, stop_group
from validation.serverlog import parse_events, records, relative_blocks, timeline

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
    if scenario.arrival != "burst":
        raise ScenarioError("--arrival: the harness fires bursts only (burst)")
    if scenario.endpoint == "async-session" and not scenario.profile.has_async_session:
        raise ScenarioError(
            f"--endpoint async-session needs SQLAlchemy >= 1.4: not on {scenario.stack}"
        )
    if scenario.cpus != (os.cpu_count() or 1):
        raise ScenarioError(f"--cpus: the real app runs on this machine's {os.cpu_count()} cpus")


def deadline_for(scenario: Scenario) -> float:
    """Generous upper bound on one run: every request waiting its full pool_timeout in turn."""
    per_request = scenario.pool_timeout + scenario.async_work + 1.0
    return 30.0 + scenario.requests * per_request


def run(scenario: Scenario, db: Database | None = None, keep: Path | None = None) -> Run:
    """Run `scenario` on the real app; with `db` None, start (and stop) a local PostgreSQL."""
    check_runnable(scenario)
    env = ensure_env(scenario.stack)
    with contextlib.ExitStack() as stack:
        if db is None:
            db = stack.enter_context(database())
        run_dir = stack.enter_context(_run_dir(keep))
        return _measure(scenario, env, db, run_dir)


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
    scenario: Scenario, env: StackEnv, db: Database, run_dir: Path, probe: bool = True
) -> Iterator[Server]:
    """Start the app (copied into `run_dir`, away from this package's module names)."""
    for name in APP_FILES:
        shutil.copy(HERE / name, run_dir / name)
    port = free_port(SERVER_PORTS)
    log = run_dir / "server.log"
    app_env = {**_app_env(scenario, db, port), "PSS_PROBE": "1" if probe else "0"}
    cmd = [str(env.python), "-u", str(run_dir / "app.py")]
    with _process(cmd, log, cwd=run_dir, env=app_env) as proc:
        yield Server(proc, port, log)


def _measure(scenario: Scenario, env: StackEnv, db: Database, run_dir: Path) -> Run:
    deadline = time.monotonic() + deadline_for(scenario)
    load_before = os.getloadavg()[0]  # recorded: a busy neighbour on 2 cores skews the timings
    client_log = run_dir / "client.log"
    with contextlib.ExitStack() as stack:
        server = stack.enter_context(serving(scenario, env, db, run_dir))
        if scenario.client == "external":
            wait_for_port(server, STARTUP_TIMEOUT)
            cmd = _client_cmd(scenario, env, server.port)
            client = stack.enter_context(_process(cmd, client_log))
            _wait(lambda: client.poll() is not None, server.proc, deadline, "external client")
        else:
            _wait(
                lambda: _count(server.log, "done") > 0, server.proc, deadline, "in-process client"
            )
        all_served = scenario.requests
        _wait(lambda: _count(server.log, "served") >= all_served, server.proc, deadline, "server")
        time.sleep(SETTLE)
    server_text = server.log.read_text(errors="replace")
    client_text = client_log.read_text(errors="replace") if client_log.exists() else ""
    tl = timeline(parse_events((server_text + client_text).splitlines()))
    if tl.burst_at is None:
        raise HarnessFailure(f"the burst was never fired; server log tail: {server_text[-400:]}")
    harness = {**tl.info, "port": server.port, "loadavg": round(load_before, 2)}
    params: dict[str, Any] = {**scenario.to_params(), "harness": harness}
    result = build_result(
        params, records(tl, scenario.requests), relative_blocks(tl), scenario.freeze_threshold
    )
    return Run(result, server_text, client_text)


def _app_env(scenario: Scenario, db: Database, port: int) -> dict[str, str]:
    timeout = scenario.client_timeout
    return {
        **os.environ,
        "SQLALCHEMY_DATABASE_URL": db.url,
        "PSS_POOL_SIZE": str(scenario.pool_size),
        "PSS_MAX_OVERFLOW": str(scenario.max_overflow),
        "PSS_POOL_TIMEOUT": str(scenario.pool_timeout),
        "PSS_ASYNC_WORK": str(scenario.async_work),
        "PSS_ENDPOINT": scenario.endpoint,
        "PSS_CLIENT": scenario.client,
        "PSS_REQUESTS": str(scenario.requests),
        "PSS_CLIENT_TIMEOUT": "none" if timeout is None else str(timeout),
        "PSS_PORT": str(port),
        "PSS_LOOP": scenario.loop,
        "PYTHONDONTWRITEBYTECODE": "1",
    }


def _client_cmd(scenario: Scenario, env: StackEnv, port: int) -> list[str]:
    timeout = scenario.client_timeout
    return [
        str(env.python), "-u", str(HERE / "client.py"),
        "--url", f"http://127.0.0.1:{port}/",
        "--requests", str(scenario.requests),
        "--timeout", "none" if timeout is None else str(timeout),
    ]  # fmt: skip


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


def _count(log: Path, kind: str) -> int:
    with log.open(errors="replace") as f:
        return sum(e["kind"] == kind for e in parse_events(f))
