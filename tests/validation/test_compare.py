"""compare runs the model on what was measured: steady traffic replays the measured send times;
bursts are judged a second time with every request sent at t=0."""

from __future__ import annotations

import dataclasses

from sim.result import RequestRecord, build_result
from sim.scenario import Scenario
from validation.compare import judge, measured_scenario, model_scenario


def _measured(arrival: str, tmp_path, client: str = "external"):
    params = {**Scenario.create(arrival=arrival, client=client).to_params(), "harness": {}}
    rows = [RequestRecord(i, s, s, s + 0.1, 200, None) for i, s in enumerate([0.31, 0.05, 1.7])]
    result = build_result(params, rows, [], 1.0)
    path = tmp_path / "case.json"
    path.write_text(result.to_json())
    return result, path


def test_steady_traffic_is_replayed_from_the_measured_send_times(tmp_path):
    result, path = _measured("poisson:2", tmp_path)
    scenario = model_scenario(result, path)
    assert scenario.arrival == f"trace:{path}"
    assert scenario.arrival_spec.trace == (0.05, 0.31, 1.7)


def test_an_external_burst_is_replayed_too(tmp_path):
    result, path = _measured("burst", tmp_path)
    assert model_scenario(result, path).arrival == f"trace:{path}"


def test_an_in_process_burst_is_run_as_measured(tmp_path):
    result, path = _measured("burst", tmp_path, client="in-process")
    assert model_scenario(result, path).arrival == "burst"


def _mae(found):
    return next(c for c in found if c.metric == "completion_mae").measured


def test_an_external_burst_is_judged_again_as_sent_at_zero(tmp_path):
    result, path = _measured("burst", tmp_path)
    replayed = judge(result, path, steady=False)[0]
    assert sorted(r.sent_at for r in replayed.requests) == [0.05, 0.31, 1.7]
    exact = dataclasses.replace(replayed, params={**replayed.params, "arrival": "burst"})
    path.write_text(exact.to_json())  # a measured burst the replay predicts exactly
    _, found, at_zero = judge(exact, path, steady=False)
    assert _mae(found) == 0.0
    assert _mae(at_zero) > 0.2  # the sends at 0.31 s and 1.7 s predicted at 0


def test_an_in_process_burst_is_judged_once(tmp_path):
    result, path = _measured("burst", tmp_path, client="in-process")
    _, found, at_zero = judge(result, path, steady=False)
    assert at_zero == found


def test_steady_traffic_has_no_burst_at_zero(tmp_path):
    result, path = _measured("poisson:2", tmp_path)
    assert judge(result, path, steady=True)[2] == ()


def test_a_traces_per_request_work_goes_with_each_measured_send_time(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("sent_at,work,query\n0.0,0.2,0.01\n0.3,0.4,\n1.5,,0.05\n")
    result, path = _measured(f"trace:{trace}", tmp_path)
    scenario = model_scenario(result, path)
    replay = scenario.arrival_spec.replay
    # measured: request 0 at 0.31, 1 at 0.05, 2 at 1.7; each keeps its own columns
    assert replay.times == (0.05, 0.31, 1.7)
    assert replay.column("work") == (0.4, 0.2, None)
    assert replay.column("query") == (None, 0.01, 0.05)


def test_a_drawn_query_time_is_what_the_app_ran_so_the_model_keeps_it():
    params = Scenario.create(query_time="uniform:0.02,0.02", client="external").to_params()
    result = build_result({**params, "harness": {}}, [], [], 1.0)
    assert measured_scenario(result).query_time == "uniform:0.02,0.02"


def test_a_plain_query_time_was_only_a_model_input_so_todays_calibration_replaces_it():
    calibrated = Scenario.create().query_time
    params = Scenario.create(query_time=calibrated * 7).to_params()
    result = build_result({**params, "harness": {}}, [], [], 1.0)
    assert measured_scenario(result).query_time == calibrated
