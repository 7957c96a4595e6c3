"""A throwaway PostgreSQL on 127.0.0.1: a fresh cluster in a temp dir, stopped by pid on exit.

Binaries come from PATH or /usr/lib/postgresql/*/bin, else from the `pgserver` wheel (extra
`validation`); a `--database-url` skips all of this. As root the cluster runs as user `postgres`,
because initdb and postgres refuse to run as root.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from validation.errors import HarnessUnavailable
from validation.procs import free_port, pid_alive

START_TIMEOUT = 30.0
# The table the seed's `Base.metadata.create_all` makes, with a few rows for its query to return.
SEED_SQL = (
    "CREATE TABLE IF NOT EXISTS users (id serial PRIMARY KEY, name varchar);"
    "CREATE INDEX IF NOT EXISTS ix_users_id ON users (id);"
    "INSERT INTO users (name) SELECT unnest(ARRAY['alice', 'bob', 'carol'])"
    " WHERE NOT EXISTS (SELECT 1 FROM users);"
)


@dataclass(frozen=True)
class Database:
    """Where the app connects: a plain `postgresql://` URL (the app picks the driver)."""

    url: str
    max_connections: int | None = None  # the cluster's, where this module started it


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH, then Debian's layout, then pgserver."""
    on_path = shutil.which("initdb")
    candidates = [Path(on_path).resolve().parent] if on_path else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: _version(p), reverse=True
    )
    spec = importlib.util.find_spec("pgserver")
    if spec and spec.origin:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    for directory in candidates:
        if (directory / "initdb").exists() and (directory / "pg_ctl").exists():
            return directory
    return None


def _version(path: Path) -> float:
    try:
        return float(path.parent.name)
    except ValueError:
        return 0.0


@contextlib.contextmanager
def database(url: str | None = None, max_connections: int = 200) -> Iterator[Database]:
    """Yield a database: the given URL as is, or a fresh local cluster stopped on every exit,
    started with `max_connections` (200 leaves every single-process case far from the limit)."""
    if url:
        yield Database(url)
        return
    bindir = find_bindir()
    if bindir is None:
        raise HarnessUnavailable(
            "no PostgreSQL: install initdb/pg_ctl (apt-get install postgresql), "
            "pip install '.[validation]' (pgserver), or pass --database-url"
        )
    with _cluster(bindir, max_connections) as db:
        yield db


@contextlib.contextmanager
def _cluster(bindir: Path, max_connections: int) -> Iterator[Database]:
    root = Path(tempfile.mkdtemp(prefix="pss-pg-"))
    as_user = _owner(root)
    data = root / "data"
    port = free_port()
    try:
        _run(
            as_user,
            [
                bindir / "initdb",
                "-D",
                data,
                "-A",
                "trust",
                "-U",
                "postgres",
                "-E",
                "UTF8",
                "--no-sync",
            ],
            timeout=120,
        )
        options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"
        options += f" -c max_connections={max_connections}"
        _run(
            as_user,
            [
                bindir / "pg_ctl",
                "-D",
                data,
                "-l",
                root / "server.log",
                "-o",
                options,
                "-w",
                "-t",
                str(int(START_TIMEOUT)),
                "start",
            ],
            timeout=START_TIMEOUT + 10,
        )
        psql = bindir / "psql"
        if psql.exists():
            _run(
                as_user,
                [
                    psql,
                    "-h",
                    "127.0.0.1",
                    "-p",
                    str(port),
                    "-U",
                    "postgres",
                    "-d",
                    "postgres",
                    "-q",
                    "-c",
                    SEED_SQL,
                ],
                timeout=30,
            )
        yield Database(f"postgresql://postgres@127.0.0.1:{port}/postgres", max_connections)
    finally:
        _stop(as_user, bindir, data)
        shutil.rmtree(root, ignore_errors=True)


def _owner(root: Path) -> list[str]:
    """The command prefix that runs PostgreSQL's tools as a non-root user owning `root`."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise HarnessUnavailable("running as root needs a 'postgres' user for initdb") from exc
    os.chown(root, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


def _run(prefix: list[str], cmd: list[object], timeout: float) -> None:
    done = subprocess.run(
        [*prefix, *map(str, cmd)],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if done.returncode != 0:
        raise HarnessUnavailable(
            f"{Path(str(cmd[0])).name} failed: {(done.stderr or done.stdout).strip()[-300:]}"
        )


def postmaster_pid(data: Path) -> int | None:
    """The server's pid from postmaster.pid (its first line), if the cluster is up."""
    try:
        return int((data / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _stop(prefix: list[str], bindir: Path, data: Path) -> None:
    """pg_ctl stop -m immediate, then SIGKILL the postmaster if it is still there."""
    pid = postmaster_pid(data)
    if pid is None:
        return
    with contextlib.suppress(subprocess.TimeoutExpired, OSError):
        subprocess.run(
            [
                *prefix,
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-m",
                "immediate",
                "-w",
                "-t",
                "10",
                "stop",
            ],
            capture_output=True,
            timeout=15,
            stdin=subprocess.DEVNULL,
        )
    deadline = time.monotonic() + 5
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(pid):
        # Backends notice their postmaster's death and exit on their own.
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
