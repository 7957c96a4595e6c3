"""validation.odds: the model's odds beside the real app's, paired and on its own draws."""

from __future__ import annotations

import math

import pytest

from sim.result import Result, Summary
from sim.risk.mttf import MTTF
from sim.risk.replications import replication_seed
from tests.validation.test_risk import stored_run
from validation.odds import exposure, long_row, odds_row, root_seed, same_seed_row
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


def test_inside_holds_the_models_probability_to_the_measured_interval(tmp_path):
    # the app froze on 3 of 12 runs: Wilson [0.09, 0.53]
    runs = _runs(tmp_path, [True] * 3 + [False] * 9)
    half = odds_row("modern", "risk-edge", "edge", runs, many=12, simulate=FakeModel())
    lo, hi = half.measured.p_freeze_ci
    assert (lo <= half.many.p_freeze <= hi) == half.inside
    never = odds_row("modern", "risk-edge", "edge", runs, many=12,
                     simulate=lambda s: Result({}, (), (), _summary(None)))  # fmt: skip
    assert never.many.p_freeze == 0.0 < lo and not never.inside
    # overlap alone would pass it: the model's interval from 12 seeds reaches 0.24
    assert never.agree


def test_the_first_freezes_of_the_runs_that_froze_are_kept_in_order(tmp_path):
    runs = _runs(tmp_path, [True, False, True])
    times = iter([3.0, None, 0.5])
    row = odds_row("modern", "risk-edge", "edge", runs, many=3,
                   simulate=lambda s: Result({}, (), (), _summary(next(times, 9.0))))  # fmt: skip
    assert row.first_freezes == ((2.0, 2.0), (9.0, 9.0, 9.0))
    assert row.root == 7


def _same_seed_runs(tmp_path, froze):
    for k, f in enumerate(froze):
        stored_run(tmp_path, k, froze_at=2.0 if f else None, root_seed=0)
    runs = stored_runs("modern", "risk-edge", tmp_path)
    for path, _ in runs:  # every run at the root seed 7, as --same-seed stores them
        path.write_text(path.read_text().replace(f'"seed": {replication_seed(0, int(path.stem))}',
                                                 '"seed": 7'))  # fmt: skip
    return stored_runs("modern", "risk-edge", tmp_path)


def test_one_schedule_replayed_is_judged_against_the_models_one_story_on_it(tmp_path):
    model = FakeModel()  # freezes on even seeds: the schedule's seed 7 is odd
    row = same_seed_row("modern", "risk-edge", _same_seed_runs(tmp_path, [False] * 10),
                        simulate=model)  # fmt: skip
    assert row.seed == 7 and row.measured.p_freeze == 0.0
    assert row.model_freeze_at is None and row.model_p == 0.0 and row.inside
    once = same_seed_row("modern", "risk-edge", _same_seed_runs(tmp_path, [False] * 9 + [True]),
                         simulate=FakeModel())  # fmt: skip
    assert once.measured.p_freeze_ci[0] > 0.0 and not once.inside  # one freeze rules out "never"
    assert model.scenarios[0].arrival == "poisson:55" and model.scenarios[0].seed == 7
    assert all(s.arrival.startswith("trace:") for s in model.scenarios[1:])
    froze = same_seed_row("modern", "risk-edge", _same_seed_runs(tmp_path, [False] * 10),
                          simulate=lambda s: Result({}, (), (), _summary(1.0)))  # fmt: skip
    assert froze.model_p == 1.0 and not froze.inside


def test_same_seed_runs_at_different_seeds_are_refused(tmp_path):
    with pytest.raises(ValueError, match="same-seed runs at seeds"):
        same_seed_row("modern", "risk-edge", _runs(tmp_path, [False, False]), simulate=FakeModel())


def test_exposure_is_the_traffic_watched_up_to_each_first_freeze():
    runs = [_summary(0.4), _summary(100.0), _summary(None), _summary(700.0)]
    cold = exposure(runs, 600.0)
    assert (cold.runs, cold.seconds, cold.freezes) == (4, 0.4 + 100.0 + 600.0 + 600.0, 2)
    assert cold.mttf == pytest.approx(1300.4 / 2)
    lo, hi = cold.mttf_ci
    assert lo < cold.mttf < hi
    warm = exposure(runs, 600.0, skip=1.0)  # the run that froze at 0.4 s says nothing after 1 s
    assert (warm.seconds, warm.freezes) == (99.0 + 599.0 + 599.0, 1)


def test_exposure_without_a_freeze_has_only_a_lower_bound():
    none = exposure([_summary(None)] * 3, 600.0)
    assert none.mttf == math.inf and none.mttf_ci[1] == math.inf
    # no freeze in 1800 s: 95 % sure the mean is above 1800 / 3.69 (chi-square, 2 dof)
    assert none.mttf_ci[0] == pytest.approx(2 * 1800 / 7.3778, rel=1e-3)


def test_long_runs_stand_beside_sim_risks_mttf_on_the_warm_interval(tmp_path):
    runs = _runs(tmp_path, [True, False, True])  # 4 s runs, freezes at 2 s
    asked = []

    def mttf(scenario, rate):
        asked.append((scenario.arrival, rate))
        return MTTF(3.0, (1.0, 9.0), {}, {}, "replications", 10, 100.0, 1000, 10)

    row = long_row("modern", "risk-edge", "edge", runs, many=4, simulate=FakeModel(), mttf=mttf)
    assert asked == [("poisson:55", 55.0)]
    assert (row.measured.seconds, row.measured.freezes) == (2.0 + 30.0 + 2.0, 2)
    assert row.measured_warm.seconds == 1.0 + 29.0 + 1.0
    assert row.model.runs == 4 and row.risk_mttf == 3.0
    lo, hi = row.measured_warm.mttf_ci
    assert row.inside == (lo <= 3.0 <= hi)
