"""Calibrate's arithmetic: the in-process client's set-up block, request_cpu's shares."""

from __future__ import annotations

import json

import pytest

from sim.result import Result, build_result
from sim.stacks import STACKS
from validation.calibrate import (
    callbacks_per_request,
    profile_path,
    request_cpu_shares,
    setup_block,
)
from validation.errors import HarnessFailure


def _result(blocks: list[tuple[float, float]]) -> Result:
    return build_result({}, [], blocks, freeze_threshold=1.0)


def test_setup_block_is_timed_from_the_burst_not_from_the_late_ping():
    assert setup_block(_result([(0.004, 0.61), (0.64, 0.75)])) == 0.61


def test_a_run_without_a_block_at_the_burst_is_a_harness_failure():
    with pytest.raises(HarnessFailure, match="no loop block at the burst"):
        setup_block(_result([(0.3, 0.9)]))


def test_request_cpu_splits_into_parse_app_and_respond_shares():
    # 3 ms of request CPU; the app's marks (medians): 1.1 ms entry -> handled, 0.1 ms of it the
    # query's own CPU, and 0.9 ms return -> exit; parse is the rest, 1.1 ms.
    splits = [{"app": [0.0011, 0.0012, 0.0010], "respond": [0.0009, 0.0008, 0.0010]}]
    assert request_cpu_shares(0.003, 0.0001, splits) == {
        "parse": 0.367,
        "app": 0.333,
        "respond": 0.3,
    }


def test_marks_that_exceed_the_request_cpu_are_a_harness_failure():
    with pytest.raises(HarnessFailure, match="does not split"):
        request_cpu_shares(0.001, 0.0, [{"app": [0.0008], "respond": [0.0005]}])


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_stacks_shares_are_the_committed_profiles(stack):
    profile = json.loads(profile_path(stack).read_text())
    assert STACKS[stack].request_cpu_shares == profile["request_cpu_shares"]


def test_callbacks_per_request_is_the_busiest_window_after_start_up_rounded_up():
    splits = [
        {"callbacks": 900, "requests": 50},  # start-up's callbacks land in the first window
        {"callbacks": 601, "requests": 50},
        {"callbacks": 700, "requests": 50},
    ]
    assert callbacks_per_request(splits) == 14


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_stacks_callback_count_is_the_committed_profiles(stack):
    profile = json.loads(profile_path(stack).read_text())
    assert STACKS[stack].callbacks_per_request == profile["callbacks_per_request"]
