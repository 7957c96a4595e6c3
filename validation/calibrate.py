"""`python -m validation calibrate`: measure the model's cost parameters on this machine.

Starts a database and the real app (pool large enough never to wait, no async work, probe off),
runs `measure.py` in the stack's venv against them, and writes a profile that
`Scenario.from_profile` loads: {"costs": {field: seconds}, "machine": ..., "date": ...}.
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

from sim.scenario import SPECS, Scenario
from validation.envs import ensure_env
from validation.errors import HarnessFailure
from validation.postgres import database
from validation.runner import STARTUP_TIMEOUT, serving, wait_for_port

HERE = Path(__file__).parent
PROFILES = HERE / "profiles"
MEASURE_TIMEOUT = 300.0
# The machine is shared and small: the median of a few rounds resists a busy neighbour.
ROUNDS = 5


def profile_path(stack: str) -> Path:
    return PROFILES / f"{stack}.json"


def calibrate(stack: str, database_url: str | None = None) -> dict[str, Any]:
    """Measure `stack`'s costs (median of ROUNDS); return the profile, rounded to 0.1 us."""
    env = ensure_env(stack)
    scenario = Scenario.create(stack=stack, client="external", pool_size=20, async_work=0)
    with (
        database(database_url) as db,
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
        rounds = [_measure_once(cmd) for _ in range(ROUNDS)]
    raw = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    # Only the first round met a fresh server: its first request paid SQLAlchemy's first
    # connect (dialect.initialize) and first compiles, beyond an ordinary connect.
    raw["warmup_time"] = max(0.0, rounds[0]["first_request_extra"] - raw["connect_time"])
    costs = {k: round(v, 7) for k, v in raw.items() if k in SPECS}
    return {
        "stack": stack,
        "costs": costs,
        "extra": {k: round(v, 7) for k, v in raw.items() if k not in SPECS},
        "machine": {
            "cpus": os.cpu_count(),
            "cpu": _cpu_model(),
            "platform": platform.platform(),
            "loop": scenario.loop,
        },
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _measure_once(cmd: list[str]) -> dict[str, float]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=MEASURE_TIMEOUT)
    if done.returncode != 0:
        raise HarnessFailure(f"measure.py failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_profile(profile: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(profile, indent=1) + "\n")
