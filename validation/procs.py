"""Process and port helpers: every child in its own process group, stopped by pid, never by name."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time

SERVER_PORTS = range(18000, 19000)


def free_port(ports: range | None = None) -> int:
    """A port free on 127.0.0.1 now: from `ports` (tried in random order) or any the OS picks."""
    candidates = random.sample(ports, len(ports)) if ports else [0]
    for port in candidates:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise OSError(f"no free port on 127.0.0.1 in {ports}")


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def stop_group(proc: subprocess.Popen, grace: float = 3.0) -> None:
    """SIGTERM the child's process group, SIGKILL it after `grace` seconds, then reap it."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if proc.poll() is not None and not _group_alive(proc.pid):
            break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and (proc.poll() is None or _group_alive(proc.pid)):
            time.sleep(0.02)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=1)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
