"""validation.edge: the steps from the model's odds to the real app's, and the run-by-run view."""

from __future__ import annotations

import dataclasses
import math

import pytest

from sim.result import RequestRecord, Result, build_result
from sim.risk.replications import replication_seed
from sim.stacks import STACKS
from tests.validation.test_odds import FakeModel, _summary
from tests.validation.test_risk import stored_run
from validation import edge


def _risk(froze, k):
    return {"replications": k, "p_freeze": froze / k}


def _row(real, paired, same, many_p, paired_same, k=10):
    return {
        "case": "risk-x",
        "measured": _risk(real, k),
        "paired": _risk(paired, k),
        "same_seeds": _risk(same, k),
        "many": {"replications": 200, "p_freeze": many_p},
        "paired_same": paired_same,
    }


def test_nearest_rank_takes_the_value_at_the_rank_and_nan_for_none():
    assert edge.nearest_rank([3.0, 1.0, 2.0, 4.0], 0.5) == 2.0
    assert edge.nearest_rank([3.0, 1.0, 2.0, 4.0], 0.9) == 4.0
    assert math.isnan(edge.nearest_rank([], 0.5))


def test_binomial_tail_is_one_at_zero_and_p_to_the_n_at_n():
    assert edge.binomial_tail(10, 0, 0.3) == pytest.approx(1.0)
    assert edge.binomial_tail(10, 10, 0.3) == pytest.approx(0.3**10)
    assert edge.binomial_tail(2, 1, 0.5) == pytest.approx(0.75)


def test_steps_split_the_gap_into_seeds_sends_and_app_and_sum_back_to_it():
    s = edge.steps(_row(real=6, paired=2, same=3, many_p=0.17, paired_same=6))
    assert (s.real, s.paired, s.same_seeds) == (6, 2, 3)
    assert s.seeds == pytest.approx(3 - 1.7)
    assert (s.sends, s.app) == (-1, 4)
    assert s.seeds + s.sends + s.app == pytest.approx(s.real - s.many)
    assert (s.real_only, s.model_only) == (4, 0)
    assert s.luck == pytest.approx(edge.binomial_tail(10, 3, 0.17))


def test_steps_count_discordant_runs_both_ways_when_the_totals_tie():
    s = edge.steps(_row(real=14, paired=14, same=11, many_p=0.45, paired_same=16, k=20))
    assert (s.app, s.real_only, s.model_only) == (0, 2, 2)


def test_total_adds_the_counts_and_leaves_luck_out():
    rows = [edge.steps(_row(6, 2, 2, 0.2, 6)), edge.steps(_row(8, 8, 8, 0.4, 10))]
    t = edge.total(rows)
    assert (t.k, t.real, t.paired, t.same_seeds) == (20, 14, 10, 10)
    assert t.many == pytest.approx(6.0)
    assert math.isnan(t.luck)
    assert "luck" not in edge.steps_text(t) and "luck" in edge.steps_text(rows[0])


def _r(i, sent, handled, completed, status=200):
    return RequestRecord(i, sent, handled, completed, status, None)


def test_peak_held_counts_overlaps_in_the_window_and_skips_unanswered():
    rows = [
        _r(0, 0.0, 0.1, 0.5),
        _r(1, 0.0, 0.2, 0.6),
        _r(2, 0.0, 0.3, 0.4),
        _r(3, 0.0, 0.45, None, None),
        _r(4, 0.0, 2.0, 2.1),
    ]
    assert edge.peak_held(rows, 0.0, 1.0) == 3
    assert edge.peak_held(rows, 1.0, 3.0) == 1
    # one ends as the next begins: not both at once
    assert edge.peak_held([_r(0, 0, 0.0, 1.0), _r(1, 0, 1.0, 2.0)], 0.0, 3.0) == 1


def test_latency_takes_the_200s_sent_and_answered_inside_the_window():
    rows = [
        _r(0, 0.5, 0.51, 0.62),  # before the window
        _r(1, 1.0, 1.01, 1.11),
        _r(2, 1.1, 1.13, 1.25),
        _r(3, 1.2, 1.25, 1.40, 500),
        _r(4, 1.9, 1.95, 2.2),  # answered after the window
    ]
    result = build_result({"freeze_threshold": 0.5}, rows, [], 0.5)
    got = edge.latency(result, 1.0, 2.0)
    assert got.n == 2
    assert got.wait50 == pytest.approx(0.01) and got.wait90 == pytest.approx(0.03)
    assert got.hold50 == pytest.approx(0.10) and got.hold90 == pytest.approx(0.12)


def test_stalls_keep_blocks_from_stall_min_up_to_the_freeze_threshold():
    result = Result(
        {},
        (),
        ((1.0, 1.02), (2.0, 2.06), (3.0, 3.4), (4.0, 5.0), (9.0, 9.1)),
        _summary(None),
    )
    assert edge.stalls(result, 0.0, 8.0, 0.5) == [(2.0, 2.06), (3.0, 3.4)]


def test_near_after_and_covered_measure_the_lead_after_each_stall():
    blocks = [(1.0, 1.1), (1.3, 1.4), (5.0, 5.05)]
    assert edge.near_after(blocks, 1.8)
    assert not edge.near_after(blocks, 2.0)
    assert edge.near_after(blocks, 1.05)  # inside one
    assert not edge.near_after(blocks, 0.9)
    # [1.0, 1.9) merged, [5.0, 5.55), cut at the end 5.2
    assert edge.covered(blocks, 0.0, 5.2, 0.5) == pytest.approx(0.9 + 0.2)


def test_pairs_put_each_stored_run_beside_the_model_on_its_own_sends(tmp_path):
    stored_run(tmp_path, 0, froze_at=2.0, recovered=False)
    stored_run(tmp_path, 1)
    model = FakeModel()
    got = edge.pairs("modern", "risk-edge", model, tmp_path)
    assert [p.k for p in got] == [0, 1]
    assert [p.real_at for p in got] == [2.0, None]
    assert all(s.arrival.startswith("trace:") for s in model.scenarios)
    assert got[0].handled_at_freeze == 4  # sent (and handled) at 0, 0.5, 1.0, 1.5
    assert got[0].stall_before is False and got[1].stall_before is None
    assert [p.load for p in got] == [1.5, 2.5]


def _what(label, seconds=0.06):
    (what,) = [w for w in edge.what_ifs(seconds) if label in w.label]
    return what


def test_the_first_what_if_is_the_paired_model_as_compare_runs_it():
    first = edge.what_ifs(0.06)[0]
    assert (first.fields, first.jitter, first.stall) == ({}, "off", None)


def test_a_tally_sums_expected_freezes_and_runs_agreeing_over_cases():
    t = edge.Tally()
    t.add([1.0, 0.4, 0.0], [True, False, False])
    t.add([0.5], [True])
    assert (t.freezes, t.runs, t.real, t.cases) == (pytest.approx(1.9), 4, 2, 2)
    assert t.agree == pytest.approx(1.0 + 0.6 + 1.0 + 0.5)


class CollectionModel(FakeModel):
    """Records the full collection the stack's profile held at each run, and never freezes."""

    def __call__(self, scenario):
        self.scenarios.append((scenario, STACKS[scenario.stack].full_collection))
        return Result({}, (), (), _summary(None))


def test_a_what_if_with_nothing_drawn_is_one_run_of_the_changed_scenario(tmp_path):
    stored_run(tmp_path, 0)
    ((path, real),) = edge.stored_runs("modern", "risk-edge", tmp_path)
    scenario = edge.model_scenario(real, path)
    model = FakeModel()
    what = _what("request_cpu x3")
    share = edge.replay_freezes(scenario, 5, what, 10, 100, model)
    assert share in (0.0, 1.0)
    (run,) = model.scenarios
    assert run.request_cpu == pytest.approx(3 * scenario.request_cpu)
    assert run.jitter == "off" and run.seed == scenario.seed


def test_a_jittered_what_if_replays_at_the_run_seeds_replications(tmp_path):
    stored_run(tmp_path, 0)
    ((path, real),) = edge.stored_runs("modern", "risk-edge", tmp_path)
    model = FakeModel()  # freezes on even seeds
    what = _what("jitter on (calibrated")
    share = edge.replay_freezes(edge.model_scenario(real, path), 5, what, 4, 100, model)
    seeds = [replication_seed(5, j) for j in range(4)]
    assert [s.seed for s in model.scenarios] == seeds
    assert {s.jitter for s in model.scenarios} == {"on"}
    assert share == sum(s % 2 == 0 for s in seeds) / 4


def test_the_measured_rate_stall_replaces_the_collection_per_replay_and_puts_it_back(tmp_path):
    stored_run(tmp_path, 0)
    ((path, real),) = edge.stored_runs("modern", "risk-edge", tmp_path)
    kept = STACKS["modern"]
    model = CollectionModel()
    what = _what("ms stall", 0.07)
    assert what.at_measured_rate
    edge.replay_freezes(edge.model_scenario(real, path), 5, what, 4, 1000, model)
    assert [c.first for _, c in model.scenarios] == [125, 375, 625, 875]
    assert {(c.every, c.seconds) for _, c in model.scenarios} == {(1000, 0.07)}
    assert STACKS["modern"] is kept


def test_collection_swaps_the_profile_for_the_duration_even_on_error():
    kept = STACKS["modern"]
    with pytest.raises(RuntimeError), edge.collection("modern", edge.NO_COLLECTION):
        assert STACKS["modern"].full_collection.seconds == 0.0
        assert STACKS["modern"].thread_pool == kept.thread_pool
        raise RuntimeError
    assert STACKS["modern"] is kept


def test_stall_spacing_is_requests_per_stall_and_none_without_stalls(tmp_path):
    stored_run(tmp_path, 0)
    rows = edge.pairs("modern", "risk-edge", FakeModel(), tmp_path)
    assert edge.stall_spacing(rows) is None
    two = [dataclasses.replace(rows[0], stalls=2, handled_watched=900)] * 2
    assert edge.stall_spacing(two) == 450


def test_a_replay_count_out_of_range_is_one_line_and_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_:
        edge.main(["--jitter", "101"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.strip() == "--jitter must be an integer 0..100, got 101"


def test_send_lags_are_each_sends_lateness_behind_the_runs_own_schedule():
    from validation.arrivals import poisson_times

    planned = poisson_times(5.0, 3.0, 11)
    rows = [_r(i, t + 0.001 * i, None, None, None) for i, t in enumerate(planned)]
    params = {"arrival": "poisson:5", "duration": 3.0, "seed": 11, "freeze_threshold": 0.5}
    lags = edge.send_lags(build_result(params, rows[:-1], [], 0.5))
    assert lags == pytest.approx([0.001 * i for i in range(len(planned) - 1)], abs=1e-6)
