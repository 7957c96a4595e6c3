"""compare runs the model on what was measured: steady traffic replays the measured send times."""

from __future__ import annotations

from sim.result import RequestRecord, build_result
from sim.scenario import Scenario
from validation.compare import model_scenario


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
