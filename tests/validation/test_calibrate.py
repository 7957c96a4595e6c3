"""Reading the in-process client's set-up block out of a measured run, for client_setup_cpu."""

from __future__ import annotations

import pytest

from sim.result import Result, build_result
from validation.calibrate import setup_block
from validation.errors import HarnessFailure


def _result(blocks: list[tuple[float, float]]) -> Result:
    return build_result({}, [], blocks, freeze_threshold=1.0)


def test_setup_block_is_timed_from_the_burst_not_from_the_late_ping():
    assert setup_block(_result([(0.004, 0.61), (0.64, 0.75)])) == 0.61


def test_a_run_without_a_block_at_the_burst_is_a_harness_failure():
    with pytest.raises(HarnessFailure, match="no loop block at the burst"):
        setup_block(_result([(0.3, 0.9)]))
