"""The agreement rules of the validation issue, on hand-made Results."""

from __future__ import annotations

import pytest

from sim.result import RequestRecord, build_result
from validation.agreement import checks, completion_error, steady_checks, unfrozen, within


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


def _steady(sends, statuses, blocks):
    rows = [
        RequestRecord(i, s, None, s + 0.1 if st == 200 else s + 1.0, st, None)
        for i, (s, st) in enumerate(zip(sends, statuses, strict=True))
    ]
    return build_result({"freeze_threshold": 0.5}, rows, blocks, 0.5)


def test_steady_checks_judge_recovery_exactly():
    recovered = _steady([0.0, 1.0, 3.0], [200, 500, 200], [(1.0, 2.0)])
    collapsed = _steady([0.0, 1.0, 3.0], [200, 500, 500], [(1.0, 2.0), (3.0, 4.0)])
    assert recovered.summary.recovered is True and collapsed.summary.recovered is False
    failed = [c.metric for c in steady_checks(recovered, collapsed) if not c.ok]
    assert "recovered" in failed


def test_steady_checks_allow_twenty_percent_of_the_frozen_fraction():
    measured = _steady([0.0, 1.0, 9.0], [200, 500, 200], [(1.0, 3.0)])
    close = _steady([0.0, 1.0, 9.0], [200, 500, 200], [(1.0, 3.3)])
    far = _steady([0.0, 1.0, 9.0], [200, 500, 200], [(1.0, 3.6)])
    assert measured.summary.frozen_fraction == pytest.approx(2.0 / 9.1)
    assert all(c.ok for c in steady_checks(measured, close))
    assert [c.metric for c in steady_checks(measured, far) if not c.ok] == ["frozen_fraction"]


def test_steady_checks_pass_two_runs_that_never_froze():
    quiet = _steady([0.0, 1.0], [200, 200], [])
    assert all(c.ok for c in steady_checks(quiet, quiet))
