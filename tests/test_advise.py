"""`advise`: the sizing it recommends is checked by the model; impossible targets say so."""

from sim.advise import advise, render
from sim.cli import main
from sim.scenario import Scenario


def test_recommended_pool_does_not_freeze_on_moderate_traffic():
    base = Scenario.create(stack="modern")
    advice = advise(50.0, base, 86400.0, cores=2)
    assert advice.feasible
    assert advice.recommended is not None
    assert advice.recommended.summary.freezes == 0
    s = advice.recommended.scenario
    assert s.pool_size + s.max_overflow == advice.connections


def test_rules_of_thumb_freeze_far_sooner_than_the_target():
    advice = advise(100.0, Scenario.create(stack="modern"), 86400.0, cores=2)
    for rule in advice.rules:
        assert rule.risk.model.mttf_s < 60 and rule.risk.model.mttf_ci[1] < 60
        assert rule.risk.first_passage < 60


def test_the_recommendation_meets_the_target_by_the_models_own_estimate():
    base = Scenario.create(stack="modern")
    advice = advise(40.0, base, 60.0, cores=2)
    assert advice.risk is not None and advice.risk.model.mttf_s >= 60.0
    assert advice.connections >= advice.erlang_connections
    assert advice.risk.connections == advice.connections
    text = render(advice, base)
    assert "Erlang B" in text and "model MTTF" in text


def test_saturated_loop_has_no_pool_answer_but_the_fixes_do_not_freeze():
    base = Scenario.create(stack="modern", request_cpu=0.004, query_time=0.002)
    advice = advise(200.0, base, 86400.0, cores=2)  # 200 x 6 ms of loop work = 120 %
    assert not advice.feasible
    assert "saturated" in render(advice, base)
    assert advice.fixes and all(fix.summary.freezes == 0 for fix in advice.fixes)


def test_cli_rejects_a_bad_rate_with_one_line(capsys):
    assert main(["advise", "--rate", "-3"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: --rate must be a number > 0, got '-3'"]


def test_processes_are_sized_for_the_busiest_share_and_the_service_counts_every_pool():
    base = Scenario.create(
        stack="modern", client="external", processes=2, split="even", max_connections=20
    )
    advice = advise(40.0, base, 60.0, cores=2, budget=20_000)
    service = advice.service
    assert service is not None and service.share == 0.5  # an even split: half each
    assert advice.rate == 20.0
    s = advice.recommended.scenario
    assert service.total_connections == 2 * (s.pool_size + s.max_overflow)
    assert service.check is not None and service.check.scenario.processes == 2
    text = render(advice, base)
    assert f"{service.total_connections} connections PostgreSQL must allow" in text
    assert ("short by" in text) == (service.total_connections > 20)
