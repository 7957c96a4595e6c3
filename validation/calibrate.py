"""`python -m validation calibrate`: measure the model's cost parameters on this machine.

Starts a database and the real app (pool large enough never to wait, no async work, probe off),
runs `measure.py` in the stack's venv against them, then times the in-process client's set-up
block on the real app with the probe on, and writes a profile that `Scenario.from_profile`
loads: {"costs": {field: seconds}, "machine": ..., "date": ...}.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sim.machine import cpu_model
from sim.result import BLOCK_MIN, Result
from sim.scenario import SPECS, Scenario
from validation.envs import StackEnv, ensure_env
from validation.errors import HarnessFailure
from validation.postgres import Database, database
from validation.runner import STARTUP_TIMEOUT, run, serving, wait_for_port

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
    with database(database_url) as db:
        rounds = _measure_rounds(scenario, env, db)
        setups = client_setup_rounds(stack, db)
    raw = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    # Only the first round met a fresh server: its first request paid SQLAlchemy's first
    # connect (dialect.initialize) and first compiles, beyond an ordinary connect.
    raw["warmup_time"] = max(0.0, rounds[0]["first_request_extra"] - raw["connect_time"])
    raw["client_setup_cpu"] = statistics.median(setups)
    costs = {k: round(v, 7) for k, v in raw.items() if k in SPECS}
    return {
        "stack": stack,
        "costs": costs,
        "extra": {k: round(v, 7) for k, v in raw.items() if k not in SPECS},
        "client_setup_rounds": [round(v, 7) for v in setups],
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": cpu_model(),
            "platform": platform.platform(),
            "loop": scenario.loop,
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _measure_rounds(scenario: Scenario, env: StackEnv, db: Database) -> list[dict[str, float]]:
    """ROUNDS runs of `measure.py` against one app server started for them."""
    with (
        tempfile.TemporaryDirectory(prefix="pss-cal-") as tmp,
        serving(scenario, env, db, Path(tmp), probe=False) as server,
    ):
        wait_for_port(server, STARTUP_TIMEOUT)
        cmd = [
            str(env.python), str(HERE / "measure.py"),
            "--url", f"http://127.0.0.1:{server.port}/",
            "--database-url", db.url,
            "--server-pid", str(server.proc.pid),
            "--loop", scenario.loop,
        ]  # fmt: skip
        return [_measure_once(cmd) for _ in range(ROUNDS)]


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


def _measure_once(cmd: list[str]) -> dict[str, float]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=MEASURE_TIMEOUT)
    if done.returncode != 0:
        raise HarnessFailure(f"measure.py failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout)


def write_profile(profile: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile, indent=1) + "\n")
