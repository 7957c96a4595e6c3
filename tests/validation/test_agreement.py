"""The agreement rules of the validation issue, on hand-made Results."""

from __future__ import annotations

import pytest

from sim.result import RequestRecord, build_result
from validation.agreement import checks, completion_error, unfrozen, within


def _result(completions, blocks, statuses=None, handled=None):
    rows = [
        RequestRecord(i, 0.0, (handled or {}).get(i), c, (statuses or {}).get(i, 200), None)
        for i, c in enumerate(completions)
    ]
    return build_result({"freeze_threshold": 1.0}, rows, blocks, 1.0)


def test_within_uses_the_larger_of_quarter_second_and_ten_percent():
    assert within(1.0, 1.25) and not within(1.0, 1.26)
    assert within(30.0, 32.9) and not within(30.0, 33.1)


def test_unfrozen_removes_only_the_frozen_time_before_t():
    frozen = [(1.0, 4.0), (5.0, 6.0)]
    assert unfrozen(0.5, frozen) == 0.5
    assert unfrozen(2.0, frozen) == 1.0
    assert unfrozen(7.0, frozen) == 3.0


def test_a_longer_freeze_is_not_counted_again_in_completion_error():
    measured = _result([0.2, 4.3], [(0.1, 4.1)])
    predicted = _result([0.2, 3.2], [(0.1, 3.0)])
    assert completion_error(measured, predicted) == pytest.approx(0.0, abs=1e-9)


def test_checks_fail_exactly_the_metric_that_differs():
    measured = _result([0.2, 3.3], [(0.1, 3.1)], statuses={1: 500}, handled={0: 0.05})
    predicted = _result([0.2, 3.3], [(0.1, 3.1)], handled={0: 0.05})
    failed = [c.metric for c in checks(measured, predicted) if not c.ok]
    assert failed == ["ok", "server_errors"]
