"""Distribution forms for --async-work and --query-time: parsing, draws, means, and their use."""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim import analytic, distributions
from sim.cli import main
from sim.distributions import Constant, Empirical, Exponential, LogNormal, Uniform, parse
from sim.errors import ScenarioError
from sim.model import simulate
from sim.queueing import hold_time
from sim.scenario import Scenario
from sim.sweep.grid import parse_axis
from tests.strategies import constant_forms, distribution_forms, note_scenario, scenarios


def test_each_form_parses_to_its_distribution_and_canonical_text(tmp_path: Path) -> None:
    samples = tmp_path / "work.txt"
    samples.write_text("0.1\n\n0.3\n")
    assert parse("0.25") == Constant(0.25)
    assert parse("exp:0.1") == Exponential(0.1)
    assert parse("lognormal:0.10,0.5") == LogNormal(0.1, 0.5)
    assert parse("uniform:0,1") == Uniform(0.0, 1.0)
    assert parse(f"empirical:{samples}") == Empirical(str(samples), (0.1, 0.3))
    assert distributions.field_value("uniform:0,1") == "uniform:0.0,1.0"
    assert distributions.field_value("0.25") == 0.25


def test_lognormal_mean_is_the_distributions_mean_not_exp_mu() -> None:
    """20 000 draws, sigma 1: the sample mean's standard error is 0.1·sqrt(e - 1)/141 = 0.0009,
    so 0.005 is over 5 standard errors; exp(mu) is 0.1·e^-0.5 = 0.061, far outside."""
    lognormal = LogNormal(0.1, 1.0)
    rng = random.Random(1)
    draws = [lognormal.sample(rng) for _ in range(20_000)]
    assert math.exp(lognormal.mu) == pytest.approx(0.1 * math.exp(-0.5))
    assert statistics.fmean(draws) == pytest.approx(0.1, abs=0.005)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gamma:1,2", "--async-work: unknown distribution 'gamma'; known: exp, lognormal"),
        ("exp:", "--async-work: exp takes 1 parameter(s), got ''"),
        ("exp:-0.1", "--async-work: exp MEAN must be a number >= 0, got '-0.1'"),
        ("lognormal:0.1", "--async-work: lognormal takes 2 parameter(s), got '0.1'"),
        ("lognormal:0,1", "--async-work: lognormal MEAN must be > 0"),
        ("lognormal:0.1,-1", "--async-work: lognormal SIGMA must be a number >= 0, got '-1'"),
        ("uniform:2,1", "--async-work: uniform needs LO <= HI, got '2,1'"),
        ("uniform:a,1", "--async-work: uniform LO must be a number, got 'a'"),
        ("empirical:", "--async-work: empirical needs a FILE"),
        ("-1", "--async-work must be a number of seconds >= 0, exp:MEAN"),
    ],
)
def test_bad_forms_name_the_flag_and_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ScenarioError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        Scenario.create(async_work=text)


def test_an_unreadable_sample_names_its_file_and_line(tmp_path: Path) -> None:
    samples = tmp_path / "q.txt"
    samples.write_text("0.01\n0.02\nslow\n")
    with pytest.raises(ScenarioError, match=rf"^--query-time: empirical:{samples} line 3 "):
        Scenario.create(query_time=f"empirical:{samples}")
    samples.write_text("0.01\n-0.5\n")
    with pytest.raises(ScenarioError, match=r"line 2 must be a number >= 0, got '-0.5'"):
        Scenario.create(query_time=f"empirical:{samples}")


def test_the_cli_turns_a_bad_form_into_one_line_and_exit_2(capsys) -> None:
    assert main(["run", "--async-work", "lognormal:0.1"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --async-work: lognormal takes 2 parameter(s), got '0.1'\n"


@given(distribution_forms, st.integers(min_value=0, max_value=2**32))
def test_draws_are_non_negative_and_keyed_by_seed_and_request_alone(text: str, seed: int) -> None:
    draw = distributions.per_request(parse(text), "work", seed)
    forward = [draw(i) for i in range(20)]
    backward = [draw(i) for i in reversed(range(20))][::-1]
    assert forward == backward  # the order requests reach the draw does not move it
    assert all(x >= 0 for x in forward)
    other = distributions.per_request(parse(text), "query", seed)
    if not isinstance(parse(text), Constant) and parse(text).mean > 0:
        assert [other(i) for i in range(20)] != forward or len(set(forward)) == 1


@given(scenarios(), constant_forms)
def test_a_constant_distribution_gives_the_plain_numbers_result_byte_for_byte(scenario, forms):
    """uniform:X,X draws every request's work and query from its stream, and each draw is X."""
    number, form = forms
    plain = scenario.replace(async_work=number, query_time=number)
    drawn = Scenario.create(**{**plain.to_params(), "async_work": form, "query_time": form})
    note_scenario(drawn)
    a, b = simulate(plain).to_dict(), simulate(drawn).to_dict()
    a.pop("params"), b.pop("params")
    assert json.dumps(a) == json.dumps(b)


@given(scenarios(async_work=distribution_forms, query_time=distribution_forms))
def test_the_same_seed_gives_the_same_result_with_drawn_work(scenario):
    note_scenario(scenario)
    assert simulate(scenario).to_json() == simulate(scenario).to_json()


def test_drawn_work_moves_the_requests_and_the_seed_moves_the_draws() -> None:
    base = {"arrival": "poisson:20", "duration": 2.0, "client": "external", "pool_size": 50}
    fixed = simulate(Scenario.create(**base, async_work=0.1))
    drawn = [simulate(Scenario.create(**base, async_work="exp:0.1", seed=s)) for s in (0, 1)]

    def latencies(result):
        return [r.completed_at - r.sent_at for r in result.requests]

    assert max(latencies(fixed)) - min(latencies(fixed)) < 0.05  # connects and warm-up only
    assert max(latencies(drawn[0])) > 0.2  # exp(mean 0.1): P(one of ~40 draws > 0.2) ~ 1
    assert latencies(drawn[0]) != latencies(drawn[1])


def test_means_stand_for_distributions_and_the_closed_forms_refuse_them() -> None:
    plain = Scenario.create(async_work=0.1, query_time=0.002, client="external", requests=5)
    drawn = plain.replace(async_work="lognormal:0.1,1.0", query_time="uniform:0.001,0.003")
    assert hold_time(drawn) == pytest.approx(hold_time(plain))
    assert analytic.predict(plain) is not None
    assert analytic.predict(drawn) is None
    assert analytic.predict(plain.replace(async_work="uniform:0.1,0.1")) is None


def test_sweep_axes_mix_numbers_ranges_and_forms() -> None:
    axis = parse_axis("async_work", "0.05,lognormal:0.1,0.5,0.1:0.2:0.1,uniform:0,1")
    assert axis == (0.05, "lognormal:0.1,0.5", 0.1, 0.2, "uniform:0.0,1.0")
    with pytest.raises(ScenarioError, match="^--async-work: unknown distribution 'normal'"):
        parse_axis("async_work", "0.1,normal:1,2")
