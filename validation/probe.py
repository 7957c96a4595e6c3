"""Loop-block probe: a thread pings the server's event loop and reports when it does not answer.

Why a thread with a round trip: a hook inside asyncio (a patched `BaseEventLoop._run_once`, or
debug mode's slow-callback warnings) never runs on uvloop, whose loop is C code that does not
go through asyncio's Python loop. `call_soon_threadsafe` exists on both loops and wakes both; the
probe measures the round trip from the thread's send to the callback's run, so it sees a block
of any origin on any loop. One ping is in flight at a time; while it is unanswered the probe
also reports the block so far every HEARTBEAT seconds, so a run stopped mid-freeze (the harness
cuts a collapsed server off) still has the freeze up to the moment it was stopped. The partial
reports overlap the final one, and `merge_blocks` joins them into one interval.

Runs inside the stack's venv (Python 3.8 on era2020): stdlib only, no 3.10 syntax at runtime.
The pure helper `merge_blocks` turns raw late pings into intervals for the harness.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterable

BLOCK_MIN = 0.05  # a ping answered later than this marks the loop as blocked (sim.result.BLOCK_MIN)
PING_EVERY = 0.005
HEARTBEAT = 0.5


class LoopProbe:
    """Pings `loop` from a daemon thread; calls `report(sent, answered)` for every late answer,
    and `report(sent, now)` every HEARTBEAT seconds while an answer is still due."""

    def __init__(self, loop, report: Callable[[float, float], None], clock=time.monotonic):
        self._loop = loop
        self._report = report
        self._clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="loop-probe", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            answered = threading.Event()
            stamp: list[float] = []
            sent = self._clock()

            def pong(stamp=stamp, answered=answered) -> None:
                stamp.append(self._clock())
                answered.set()

            try:
                self._loop.call_soon_threadsafe(pong)
            except RuntimeError:  # the loop is closed: the server is shutting down
                return
            while not answered.wait(HEARTBEAT):
                if self._stop.is_set():
                    return
                self._report(sent, self._clock())
            if stamp[0] - sent > BLOCK_MIN:
                self._report(sent, stamp[0])
            self._stop.wait(PING_EVERY)


def print_report(sent: float, answered: float) -> None:
    """The probe's line in the server log, parsed by validation.serverlog."""
    report = {"kind": "blocked", "start": sent, "end": answered, "pid": os.getpid()}
    print("PSS " + json.dumps(report), flush=True)


def merge_blocks(
    blocks: Iterable[tuple[float, float]], min_length: float = BLOCK_MIN
) -> list[tuple[float, float]]:
    """Sort, merge overlapping or touching intervals, keep those longer than `min_length`."""
    merged: list[list[float]] = []
    for start, end in sorted(blocks):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged if b - a > min_length]
