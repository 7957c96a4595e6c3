"""validation.odds: the model's odds beside the real app's, paired and on its own draws."""

from __future__ import annotations

import pytest

from sim.result import Result, Summary
from sim.risk.replications import replication_seed
from tests.validation.test_risk import stored_run
from validation.odds import odds_row, root_seed
from validation.risk import stored_runs


def _summary(first_freeze_at):
    return Summary(0, int(first_freeze_at is not None), 0.0, first_freeze_at, 30.0, 0, 0, 0,
                   None, None, recovered=None if first_freeze_at is None else False)  # fmt: skip


class FakeModel:
    """Freezes at 1 s exactly on even seeds; records what it was asked to run."""

    def __init__(self):
        self.scenarios = []

    def __call__(self, scenario):
        self.scenarios.append(scenario)
        froze = scenario.seed % 2 == 0
        return Result({}, (), (), _summary(1.0 if froze else None))


def _runs(tmp_path, froze):
    for k, f in enumerate(froze):
        stored_run(tmp_path, k, froze_at=2.0 if f else None, recovered=False)
    return stored_runs("modern", "risk-edge", tmp_path)


def test_paired_runs_replay_each_runs_send_times_and_own_draws_use_the_replication_seeds(
    tmp_path,
):
    runs = _runs(tmp_path, [True, False, True, True])  # the app froze on all but run 1
    model = FakeModel()
    row = odds_row("modern", "risk-edge", "edge", runs, many=10, simulate=model)
    paired, own = model.scenarios[:4], model.scenarios[4:]
    assert [s.arrival for s in paired] == [f"trace:{p}" for p, _ in runs]
    assert [s.seed for s in own] == [replication_seed(7, k) for k in range(10)]
    assert all(s.arrival == "poisson:55" for s in own)
    even = [replication_seed(7, k) % 2 == 0 for k in range(10)]
    assert row.paired.p_freeze == sum(even[:4]) / 4
    froze = [True, False, True, True]
    assert row.paired_same == sum(m == p for m, p in zip(froze, even[:4], strict=True))
    assert row.same_seeds.p_freeze == row.paired.p_freeze
    assert row.many.p_freeze == sum(even) / 10 and row.many.replications == 10
    assert row.measured.p_freeze == 0.75 and row.measured.p_collapse == 0.75
    assert row.loadavg == (1.5, 3.0, 4.5)
    assert row.cold_start == (0, 0)  # the app first froze at 2 s, the model at 1 s: not < 1 s


def test_a_first_freeze_under_a_second_is_a_cold_start(tmp_path):
    runs = _runs(tmp_path, [False, False])
    row = odds_row("modern", "risk-edge", "edge", runs, many=3,
                   simulate=lambda s: Result({}, (), (), _summary(0.4)))  # fmt: skip
    assert row.cold_start == (0, 3)


def test_agreement_is_the_overlap_of_the_two_freeze_intervals(tmp_path):
    never = odds_row("modern", "risk-edge", "edge", _runs(tmp_path, [False] * 12), many=12,
                     simulate=lambda s: Result({}, (), (), _summary(1.0)))  # fmt: skip
    assert never.measured.p_freeze_ci[1] < never.many.p_freeze_ci[0]
    assert not never.agree and not never.agree_paired
    same = odds_row("modern", "risk-edge", "edge", _runs(tmp_path, [False] * 12), many=12,
                    simulate=lambda s: Result({}, (), (), _summary(None)))  # fmt: skip
    assert same.agree and same.agree_paired


def test_a_run_stored_under_the_wrong_replication_is_refused(tmp_path):
    stored_run(tmp_path, 0)
    stored_run(tmp_path, 1, root_seed=8)
    with pytest.raises(ValueError, match="not replication 1"):
        root_seed(stored_runs("modern", "risk-edge", tmp_path))


def test_without_run_0_the_root_seed_is_unknown(tmp_path):
    stored_run(tmp_path, 1)
    with pytest.raises(ValueError, match="run 0 is missing"):
        root_seed(stored_runs("modern", "risk-edge", tmp_path))
