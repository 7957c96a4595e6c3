"""Calibrated jitter (sim/jitter.py, sim/model/costs.py): draws, streams, and the model with it."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from sim import stacks
from sim.cli import main
from sim.jitter import JITTERED, LEVELS, Cost, check_quantiles, quantile, stream
from sim.model import simulate
from sim.model.costs import run_costs
from sim.scenario import Scenario
from sim.stacks import STACKS, FullCollection
from validation.calibrate import jitter_profile, keep_costs, profile_path

FLAT = tuple(1.0 for _ in LEVELS)
EDGE = dict(stack="modern", client="external", arrival="poisson:55", duration=5.0, pool_timeout=1.0)


def test_the_quantile_function_passes_through_every_level_and_is_linear_between():
    values = tuple(2.0 * level for level in LEVELS)  # the uniform on [0, 2]
    assert [quantile(values, level) for level in LEVELS[:-1]] == list(values[:-1])
    assert quantile(values, 0.3333) == pytest.approx(0.6666)


def test_drawn_costs_have_the_calibrated_quantiles():
    """20 000 draws: the share below each calibrated quantile is its level within 0.012 (over
    4 standard errors of a share, sqrt(0.25 / 20 000) = 0.0035, at the widest)."""
    shape = STACKS["modern"].cost_shapes["connect_time"]
    cost = Cost(0.005, shape, stream("connect_time", 3))
    draws = np.array([cost.draw() for _ in range(20_000)])
    for level, ratio in zip(LEVELS[1:-1], shape[1:-1], strict=True):
        assert np.mean(draws <= 0.005 * ratio) == pytest.approx(level, abs=0.012), level


def _flat(monkeypatch, collection: FullCollection) -> None:
    flat = dataclasses.replace(
        STACKS["modern"],
        cost_shapes=dict.fromkeys(JITTERED, FLAT),
        sleep_overshoot=tuple(0.0 for _ in LEVELS),
        full_collection=collection,
    )
    monkeypatch.setitem(stacks.STACKS, "modern", flat)


def test_a_constant_distribution_draws_the_plain_number_and_the_same_result(monkeypatch):
    _flat(monkeypatch, FullCollection(first=0, every=1, seconds=0.0))
    assert Cost(0.0045, FLAT, "s").draw() == 0.0045
    off = simulate(Scenario.create(**EDGE, seed=4))
    on = simulate(Scenario.create(**EDGE, seed=4, jitter="on"))
    assert on.requests == off.requests
    assert on.loop_blocked == off.loop_blocked
    assert on.summary == off.summary


def test_a_full_collection_holds_the_loop_at_its_requests(monkeypatch):
    """Collections at requests 10, 110 and 210 of ~275, on a pool that never waits: three loop
    blocks of at least 0.3 s (on the edge's 5+10 each would start a freeze)."""
    _flat(monkeypatch, FullCollection(first=10, every=100, seconds=0.3))
    result = simulate(Scenario.create(**EDGE, seed=4, jitter="on", pool_size=40))
    assert len(result.requests) < 310
    assert sum(b - a >= 0.3 for a, b in result.loop_blocked) == 3


def test_jitter_off_keeps_params_and_draws_nothing():
    scenario = Scenario.create(**EDGE)
    assert "jitter" not in scenario.to_params()
    costs = run_costs(scenario)
    assert costs.connect_time.draw() == scenario.connect_time
    assert costs.sleep_overshoot.draw() == 0.0
    drawn = (costs.connect_time, costs.thread_handoff, costs.request_cpu, costs.query_time)
    assert not any(c.jittered for c in drawn)
    assert [costs.collections.due() for _ in range(3000)] == [0.0] * 3000


def test_same_seed_same_result_and_jitter_moves_it_between_seeds():
    burst = dict(stack="modern", client="external", requests=15, jitter="on")
    first = simulate(Scenario.create(**burst, seed=1))
    assert simulate(Scenario.create(**burst, seed=1)).to_json() == first.to_json()
    other = simulate(Scenario.create(**burst, seed=2))
    assert [r.completed_at for r in other.requests] != [r.completed_at for r in first.requests]
    plain = dict(burst, jitter="off")
    assert simulate(Scenario.create(**plain, seed=1)).requests == (
        simulate(Scenario.create(**plain, seed=2)).requests
    )


def test_each_cost_draws_from_its_own_stream():
    """Drawing one cost more often never moves another's draws."""
    scenario = Scenario.create(**EDGE, jitter="on")
    a, b = run_costs(scenario), run_costs(scenario)
    for _ in range(50):
        a.connect_time.draw()
    assert [a.thread_handoff.draw() for _ in range(5)] == [
        b.thread_handoff.draw() for _ in range(5)
    ]


def test_a_replayed_or_drawn_query_time_is_not_spread_again():
    assert run_costs(Scenario.create(**EDGE, jitter="on")).query_time.jittered
    drawn = Scenario.create(**EDGE, jitter="on", query_time="exp:0.01")
    assert not run_costs(drawn).query_time.jittered


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_the_stacks_shapes_are_the_committed_profiles(stack):
    profile = json.loads(profile_path(stack).read_text()).get("jitter")
    if profile is None:  # not calibrated yet: jitter on is refused for this stack
        assert (STACKS[stack].cost_shapes, STACKS[stack].sleep_overshoot) == (None, None)
        return
    assert tuple(profile["levels"]) == LEVELS
    for name in JITTERED:
        assert STACKS[stack].cost_shapes[name]  # type: ignore[index] == tuple(profile["costs"][name]["shape"])
    assert STACKS[stack].sleep_overshoot == tuple(profile["costs"]["sleep_overshoot"]["seconds"])


def test_calibrate_keeps_each_costs_quantiles_and_its_shape_over_its_median_or_mean():
    rounds = [{"connect_time": [1.0, 2.0, 3.0], "request_cpu": [1.0, 1.0, 4.0],
               "sleep_overshoot": [0.001, 0.002, 0.003]}]  # fmt: skip
    jitter = jitter_profile(rounds, load=0.5)
    connect = jitter["costs"]["connect_time"]
    assert (connect["n"], connect["seconds"][0], connect["seconds"][-1]) == (3, 1.0, 3.0)
    assert connect["shape"][LEVELS.index(0.5)] == 1.0  # over the median
    assert jitter["costs"]["request_cpu"]["shape"][-1] == 2.0  # over the mean, 2.0
    assert "shape" not in jitter["costs"]["sleep_overshoot"]
    assert jitter["load_1min"] == 0.5


def test_keep_costs_keeps_the_committed_costs_and_takes_the_fresh_shapes():
    committed = {"costs": {"connect_time": 0.005}, "jitter": {"date": "old"}}
    fresh = {
        "costs": {"connect_time": 0.009},
        "jitter": {"date": "new"},
        "request_cpu_shares": {},
        "callbacks_per_request": 20,
        "date": "now",
        "machine": {"load_1min": 1.0},
    }
    kept = keep_costs(committed, fresh)
    assert kept["costs"] == {"connect_time": 0.005}
    assert kept["jitter"] == {"date": "new"}


@pytest.mark.parametrize("value", ["maybe", "ON", "1"])
def test_a_bad_jitter_is_one_line_naming_the_flag_and_exit_2(capsys, value):
    assert main(["run", "--jitter", value]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith(f"--jitter must be on or off, got {value!r}")
    assert "\n" not in err


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ((1.0, 2.0), "2 quantiles, expected 26"),
        (tuple(-1.0 for _ in LEVELS), "finite and >= 0"),
        (tuple(1.0 - level for level in LEVELS), "must not decrease"),
    ],
)
def test_bad_quantiles_are_refused(values, message):
    with pytest.raises(ValueError, match=message):
        check_quantiles(values, "connect_time")


def test_an_overshoot_may_be_negative_a_shape_may_not():
    early = tuple(level - 0.5 for level in LEVELS)
    assert check_quantiles(early, "sleep_overshoot", signed=True) == early
    with pytest.raises(ValueError, match="finite and >= 0"):
        check_quantiles(early, "connect_time")


def test_era2020s_uvloop_sleeps_sometimes_end_early_and_the_model_runs_them():
    assert min(STACKS["era2020"].sleep_overshoot) < 0  # libuv's millisecond clock
    scenario = Scenario.create(**{**EDGE, "stack": "era2020"}, jitter="on")
    assert simulate(scenario).summary.ok > 0
