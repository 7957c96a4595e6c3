"""What machine a figure was measured on: the harness's profiles and the benchmarks both say."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The `model name` line of /proc/cpuinfo (Linux), else whatever platform reports."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"
