"""A one-line progress bar on stderr: rows done, rate, ETA. Redrawn at most ten times a second."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    def __init__(
        self, total: int, done: int = 0, stream: TextIO | None = None, unit: str = "rows"
    ) -> None:
        self.total = total
        self.unit = unit
        self.done = done
        self.stream = stream if stream is not None else sys.stderr
        self._start_done = done
        self._start = time.monotonic()
        self._drawn = 0.0

    def advance(self, rows: int) -> None:
        self.done += rows
        now = time.monotonic()
        if now - self._drawn >= 0.1 or self.done >= self.total:
            self._drawn = now
            self.stream.write("\r" + self.line(now - self._start))
            self.stream.flush()

    def skip(self, rows: int) -> None:
        """Rows an earlier run finished: counted as done, left out of the rate."""
        self.done += rows
        self._start_done += rows

    def line(self, elapsed: float, width: int = 30) -> str:
        fraction = self.done / self.total if self.total else 1.0
        filled = int(width * fraction)
        rate = (self.done - self._start_done) / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else float("inf")
        return (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {self.unit}"
            f"  {rate:,.{2 if rate < 10 else 0}f} {self.unit}/s  ETA {_clock(eta)}"
        )

    def close(self) -> None:
        self.stream.write("\n")
        self.stream.flush()


class Silent(Progress):
    """`--quiet`: count, draw nothing."""

    def advance(self, rows: int) -> None:
        self.done += rows

    def close(self) -> None:
        pass


def _clock(seconds: float) -> str:
    if seconds == float("inf"):
        return "--:--"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes:02d}:{secs:02d}"
