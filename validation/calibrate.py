"""`python -m validation calibrate`: measure the model's cost parameters on this machine.

Starts a database and the real app (pool large enough never to wait, no async work, probe off),
runs `measure.py` in the stack's venv against them, then times the in-process client's set-up
block on the real app with the probe on, and writes a profile that `Scenario.from_profile`
loads: {"costs": {field: seconds}, "machine": ..., "date": ...}. Its "jitter" holds the
distributions of the jittered costs (sim/jitter.py): quantiles at LEVELS over every timing of
every round, in seconds and as shapes over the cost's own value.
"""

from __future__ import annotations

import json
import math
import os
import platform
import statistics
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from sim.jitter import JITTERED, LEVELS
from sim.machine import cpu_model
from sim.result import BLOCK_MIN, Result
from sim.scenario import SPECS, Scenario
from validation.envs import StackEnv, ensure_env
from validation.errors import HarnessFailure
from validation.figures import write_atomic
from validation.postgres import Database, database
from validation.runner import STARTUP_TIMEOUT, run, serving, wait_for_port
from validation.serverlog import parse_events

HERE = Path(__file__).parent
PROFILES = HERE / "profiles"
MEASURE_TIMEOUT = 300.0
# The machine is shared and small: the median of a few rounds resists a busy neighbour.
ROUNDS = 5
# The in-process client's set-up block: a burst this size, timed SETUP_ROUNDS times after one
# discarded warm-up run (the first start after the venv sat idle reads its files from disk). Its
# per-request time varies up to 2x between runs on this VM, hence more rounds than ROUNDS.
SETUP_BURST = 10
SETUP_ROUNDS = 7


def profile_path(stack: str) -> Path:
    return PROFILES / f"{stack}.json"


def calibrate(stack: str, database_url: str | None = None) -> dict[str, Any]:
    """Measure `stack`'s costs (median of ROUNDS); return the profile, rounded to 0.1 us."""
    env = ensure_env(stack)
    scenario = Scenario.create(stack=stack, client="external", pool_size=20, async_work=0)
    load = round(os.getloadavg()[0], 2)  # a busy neighbour on 2 cores inflates the timings
    with database(database_url) as db:
        rounds, splits = _measure_rounds(scenario, env, db, ROUNDS)
        # uvloop's handles are C: count the callbacks on the stack's asyncio loop instead.
        if scenario.loop == "asyncio":
            counted = splits
        else:
            counted = _measure_rounds(scenario.replace(loop="asyncio"), env, db, 1)[1]
        setups = client_setup_rounds(stack, db)
    samples = [r.pop("samples") for r in rounds]
    raw = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    shares = request_cpu_shares(raw["request_cpu"], raw["query_cpu"], splits)
    # Only the first round met a fresh server: its first request paid SQLAlchemy's first
    # connect (dialect.initialize) and first compiles, beyond an ordinary connect.
    raw["warmup_time"] = max(0.0, rounds[0]["first_request_extra"] - raw["connect_time"])
    raw["client_setup_cpu"] = statistics.median(setups)
    costs = {k: round(v, 7) for k, v in raw.items() if k in SPECS}
    return {
        "stack": stack,
        "costs": costs,
        "request_cpu_shares": shares,
        "callbacks_per_request": callbacks_per_request(counted),
        "extra": {k: round(v, 7) for k, v in raw.items() if k not in SPECS},
        "client_setup_rounds": [round(v, 7) for v in setups],
        "jitter": jitter_profile(samples, load),
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "platform": platform.platform(),
            "loop": scenario.loop,
            "load_1min": load,
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _measure_rounds(
    scenario: Scenario, env: StackEnv, db: Database, rounds: int
) -> tuple[list[dict[str, float]], list[dict[str, Any]]]:
    """`rounds` runs of `measure.py` against one app server started for them, and the app's
    "split" events from those requests."""
    with (
        tempfile.TemporaryDirectory(prefix="pss-cal-") as tmp,
        serving(scenario, env, db, Path(tmp), probe=False, split=True) as server,
    ):
        wait_for_port(server, STARTUP_TIMEOUT)
        cmd = [
            str(env.python), str(HERE / "measure.py"),
            "--url", f"http://127.0.0.1:{server.port}/",
            "--database-url", db.url,
            "--server-pid", str(server.proc.pid),
            "--loop", scenario.loop,
        ]  # fmt: skip
        measured = [_measure_once(cmd) for _ in range(rounds)]
        lines = server.log.read_text(errors="replace").splitlines()
        return measured, [e for e in parse_events(lines) if e["kind"] == "split"]


def request_cpu_shares(
    request_cpu: float, query_cpu: float, splits: list[dict[str, Any]]
) -> dict[str, float]:
    """How a request's loop CPU divides where the model spends it (`Server.data_received`,
    `_run_asgi`'s first step, `_respond`), from the app's thread_time() marks.

    app: from the ASGI app's entry to the endpoint's "handled", less the query's own CPU (the
    model counts it in query_time); respond: from the endpoint's return to the app's exit
    (serialisation, the write, the dependency's exit hop). parse is the rest of request_cpu:
    uvicorn's accept, connection_made and data_received, and the connection's close.
    """
    if not splits:
        raise HarnessFailure("the app printed no split events: was PSS_SPLIT set?")
    app = statistics.median(v for e in splits for v in e["app"]) - query_cpu
    respond = statistics.median(v for e in splits for v in e["respond"])
    parse = request_cpu - app - respond
    if min(app, respond, parse) < 0:
        raise HarnessFailure(
            f"request_cpu {request_cpu:.6f} s does not split: app {app:.6f}, respond "
            f"{respond:.6f}, parse {parse:.6f} s from {len(splits)} split events"
        )
    parse_share, app_share = round(parse / request_cpu, 3), round(app / request_cpu, 3)
    return {
        "parse": parse_share,
        "app": app_share,
        "respond": round(1 - parse_share - app_share, 3),
    }


def callbacks_per_request(splits: list[dict[str, Any]]) -> int:
    """Most loop callbacks (asyncio `Handle._run` calls) one request ran, as the largest mean
    over the app's windows of SPLIT_EVERY sequential requests, rounded up; the first window
    also holds the server's start-up and is left out."""
    windows = [e["callbacks"] / e["requests"] for e in splits[1:]]
    if not windows:
        raise HarnessFailure(f"too few split events to count callbacks: {len(splits)}")
    return math.ceil(max(windows))


def client_setup_rounds(stack: str, db: Database) -> list[float]:
    """client_setup_cpu as the model spends it, once per round: the seed's in-process client
    on the real app, its set-up block divided by the burst's size.

    The model charges client_setup_cpu per request as the loop time of a client task's first
    step: `httpx.AsyncClient()` (its SSL context), `async with` and `client.get` up to the
    connect's first real await. The burst's tasks take those steps back to back in one loop
    iteration, which the probe reports as one block; timing `AsyncClient()` alone misses the
    rest. The pool never waits and there is no async work, so nothing else shares that block.
    """
    scenario = Scenario.create(
        stack=stack,
        client="in-process",
        requests=SETUP_BURST,
        pool_size=SETUP_BURST,
        async_work=0,
    )
    run(scenario, db=db)
    return [setup_block(run(scenario, db=db).result) / SETUP_BURST for _ in range(SETUP_ROUNDS)]


def setup_block(result: Result) -> float:
    """Loop time from the burst to the end of the block that starts with it.

    Measured from the burst, not from the block's start: the probe's ping goes out up to
    PING_EVERY (plus a GIL switch) after the loop stopped answering, so the block starts late.
    """
    for start, end in result.loop_blocked:
        if start < BLOCK_MIN:
            return end
    raise HarnessFailure(f"no loop block at the burst: {list(result.loop_blocked)[:3]}")


def jitter_profile(rounds: list[dict[str, list[float]]], load: float) -> dict[str, Any]:
    """Each jittered cost's timings pooled over the rounds, as quantiles at LEVELS (seconds)
    and its shape: those over its median (request_cpu: over its mean, as request_cpu is
    measured); the sleep overshoot in seconds only."""
    pooled = {name: [v for r in rounds for v in r[name]] for name in rounds[0]}
    costs: dict[str, Any] = {}
    for name, values in sorted(pooled.items()):
        seconds = np.quantile(values, LEVELS)
        entry: dict[str, Any] = {"n": len(values), "seconds": [round(float(v), 7) for v in seconds]}
        if name in JITTERED:
            value = float(np.mean(values) if name == "request_cpu" else np.median(values))
            entry["shape"] = [round(float(v) / value, 4) for v in seconds]
        costs[name] = entry
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return {"levels": list(LEVELS), "costs": costs, "date": when, "load_1min": load}


def _measure_once(cmd: list[str]) -> dict[str, float]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=MEASURE_TIMEOUT)
    if done.returncode != 0:
        raise HarnessFailure(f"measure.py failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout)


# Ratios, counts and shapes: what a busy machine moves less than it moves times.
SPLIT_FIELDS = ("request_cpu_shares", "callbacks_per_request", "jitter")


def keep_costs(committed: dict[str, Any], fresh: dict[str, Any]) -> dict[str, Any]:
    """The committed profile with only `fresh`'s SPLIT_FIELDS, and when they were measured: a
    cost's jitter is its shape around the committed value (sim/jitter.py)."""
    split = {k: fresh[k] for k in SPLIT_FIELDS}
    when = {"date": fresh["date"], "load_1min": fresh["machine"]["load_1min"]}
    return {**committed, **split, "split_measured": when}


def write_profile(profile: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, json.dumps(profile, indent=1) + "\n")
