"""The loop probe: interval merging, and a real loop held by a blocking callback."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from validation.probe import BLOCK_MIN, LoopProbe, merge_blocks


def test_merge_blocks_joins_overlapping_and_touching_intervals():
    assert merge_blocks([(2.0, 3.0), (0.0, 1.0), (0.5, 2.0)]) == [(0.0, 3.0)]


def test_merge_blocks_keeps_disjoint_intervals_in_order():
    assert merge_blocks([(5.0, 6.0), (1.0, 2.0)]) == [(1.0, 2.0), (5.0, 6.0)]


def test_merge_blocks_drops_blocks_not_longer_than_the_minimum():
    assert merge_blocks([(0.0, BLOCK_MIN), (1.0, 1.0 + 2 * BLOCK_MIN)]) == [
        (1.0, 1.0 + 2 * BLOCK_MIN)
    ]


def _blocked_intervals(loop_factory, hold: float) -> list[tuple[float, float]]:
    """Run a loop that blocks once for `hold` seconds under the probe; return the reports."""
    reports: list[tuple[float, float]] = []
    loop = loop_factory()
    probe = LoopProbe(loop, lambda a, b: reports.append((a, b)))
    seen = threading.Event()

    async def scenario() -> tuple[float, float]:
        await asyncio.sleep(0.05)
        start = time.monotonic()
        time.sleep(hold)  # the blocking call under test
        end = time.monotonic()
        await asyncio.sleep(0.05)
        seen.set()
        return start, end

    try:
        probe.start()
        span = loop.run_until_complete(scenario())
    finally:
        probe.stop()
        loop.close()
    return reports, span


@pytest.mark.parametrize("loop_name", ["asyncio", "uvloop"])
def test_probe_reports_one_interval_covering_a_blocking_call(loop_name):
    if loop_name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        factory = uvloop.new_event_loop
    else:
        factory = asyncio.new_event_loop
    reports, (start, end) = _blocked_intervals(factory, hold=0.3)
    blocks = merge_blocks(reports)
    assert len(blocks) == 1
    (a, b) = blocks[0]
    assert a <= start + 0.02 and b >= end
    assert b - a == pytest.approx(end - start, abs=0.05)


def test_probe_reports_a_long_block_while_it_lasts(monkeypatch):
    # A run stopped mid-freeze (the harness cuts a collapsed server off) never sees the answer:
    # the heartbeats alone must carry the freeze up to then.
    monkeypatch.setattr("validation.probe.HEARTBEAT", 0.05)
    reports, (start, end) = _blocked_intervals(asyncio.new_event_loop, hold=0.3)
    during = [(a, b) for a, b in reports if b < end]
    assert len(during) >= 3
    assert all(a <= start + 0.02 for a, _ in during)
    assert merge_blocks(reports) == merge_blocks(reports[-1:])
