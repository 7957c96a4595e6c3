"""What the figures were measured on: ratios travel between machines, absolute numbers do not,
but a reader still needs the CPU, core count and interpreter to judge either."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from datetime import datetime, timezone

import simpy

from sim.machine import cpu_model


@dataclass(frozen=True)
class Machine:
    cpu: str
    cores: int
    python: str
    simpy: str
    platform: str
    date: str


def _cores() -> int:
    """Cores this process may run on (affinity), which is what the workers can use."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def describe() -> Machine:
    return Machine(
        cpu=cpu_model(),
        cores=_cores(),
        python=platform.python_version(),
        simpy=simpy.__version__,
        platform=platform.platform(),
        date=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
    )
