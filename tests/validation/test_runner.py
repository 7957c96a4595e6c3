"""What the runner asks of the real app and its client, without starting either."""

from __future__ import annotations

import json

import pytest

from sim.errors import ScenarioError
from sim.scenario import Scenario
from validation.arrivals import poisson_times
from validation.runner import _lost, _traffic_args, check_runnable, deadline_for


def test_in_process_client_refuses_steady_traffic_naming_the_client_flag():
    with pytest.raises(ScenarioError, match="--client external"):
        check_runnable(Scenario.create(arrival="poisson:2", client="in-process"))


def test_poisson_traffic_goes_to_the_client_as_the_seeded_schedule(tmp_path):
    scenario = Scenario.create(arrival="poisson:2", duration=5.0, seed=4, client="external")
    args = _traffic_args(scenario, tmp_path)
    assert args[0] == "--schedule"
    assert json.loads((tmp_path / "schedule.json").read_text()) == poisson_times(2.0, 5.0, 4)


def test_closed_traffic_goes_to_the_client_as_users():
    scenario = Scenario.create(arrival="closed:3", duration=4.0, think_time=0.5, client="external")
    assert _traffic_args(scenario, None) == [
        "--users", "3", "--duration", "4.0", "--think-time", "0.5",
    ]  # fmt: skip


def test_a_burst_goes_to_the_client_as_its_size(tmp_path):
    assert _traffic_args(Scenario.create(requests=7), tmp_path) == ["--requests", "7"]


def test_the_deadline_covers_sending_and_draining_every_request():
    steady = Scenario.create(arrival="poisson:4", duration=8.0, seed=2, pool_timeout=1.0)
    per_request = 1.0 + steady.async_work + 1.0
    n = len(poisson_times(4.0, 8.0, 2))
    assert deadline_for(steady) == pytest.approx(30.0 + 8.0 + n * per_request)


def test_a_run_cuts_off_only_an_external_client():
    from validation.runner import run

    with pytest.raises(ScenarioError, match="--client external"):
        run(Scenario.create(client="in-process"), cut_off=5.0)


def _cut(tmp_path, client_cmd, burst_ago, cut_off=1.0, blocked=(), freeze=None):
    """`_wait_or_cut` on stand-in processes; `blocked`: the probe's reports in the server log,
    each (start, length) in seconds after the burst."""
    import subprocess
    import time

    from validation.runner import Server, _wait_or_cut

    log, server_log = tmp_path / "client.log", tmp_path / "server.log"
    burst = time.monotonic() - burst_ago
    log.write_text("PSS " + json.dumps({"kind": "burst", "t": burst}) + "\n")
    reports = [{"kind": "blocked", "start": burst + a, "end": burst + a + n} for a, n in blocked]
    server_log.write_text("".join(f"Handling 1PSS {json.dumps(r)}\n" for r in reports))
    with subprocess.Popen(["sleep", "30"]) as server, subprocess.Popen(client_cmd) as client:
        try:
            return _wait_or_cut(
                client, Server(server, 0, server_log), log, cut_off, time.monotonic() + 10, freeze
            )
        finally:
            client.kill()
            server.kill()


def test_a_client_still_sending_past_the_cut_off_is_cut_off_there(tmp_path):
    assert _cut(tmp_path, ["sleep", "30"], burst_ago=5.0) == 1.0


def test_a_client_done_before_the_cut_off_ends_the_run_as_usual(tmp_path):
    assert _cut(tmp_path, ["true"], burst_ago=0.0) is None


def test_a_run_stopping_at_its_first_freeze_stops_its_grace_after_the_freeze_is_seen(tmp_path):
    stopped = _cut(tmp_path, ["sleep", "30"], 2.0, cut_off=20.0, blocked=[(0.3, 0.6)],
                   freeze=(0.5, 0.25))  # fmt: skip
    assert 2.0 + 0.25 <= stopped < 2.0 + 0.25 + 1.0


def test_blocks_shorter_than_the_threshold_do_not_stop_a_run_at_its_first_freeze(tmp_path):
    stopped = _cut(tmp_path, ["sleep", "30"], 0.5, cut_off=1.5, blocked=[(0.1, 0.4), (0.2, 0.45)],
                   freeze=(0.5, 0.1))  # fmt: skip
    assert stopped == 1.5


def test_stopping_at_the_first_freeze_needs_a_cut_off():
    from validation.runner import run

    with pytest.raises(ScenarioError, match="first freeze"):
        run(Scenario.create(arrival="poisson:2", client="external"), after_freeze=1.0)


def test_the_log_tail_reads_each_whole_line_once(tmp_path):
    from validation.runner import LogTail

    log = tmp_path / "server.log"
    log.write_text("one\ntw")
    tail = LogTail(log)
    assert tail.lines() == ["one"]
    with log.open("a") as f:
        f.write("o\nthree\n")
    assert tail.lines() == ["two", "three"]
    assert tail.lines() == []


def test_a_traces_work_and_query_go_to_the_client_per_request(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("sent_at,work,query\n0.0,0.2,0.02\n0.5,,\n")
    scenario = Scenario.create(arrival=f"trace:{trace}", client="external", async_work=0.1)
    assert _traffic_args(scenario, tmp_path) == ["--schedule", str(tmp_path / "schedule.json")]
    sent = json.loads((tmp_path / "schedule.json").read_text())
    assert sent == [{"t": 0.0, "w": 0.2, "q": 0.02}, {"t": 0.5, "w": 0.1, "q": scenario.query_time}]


def test_a_drawn_work_goes_to_the_client_as_the_models_draws(tmp_path):
    """The client sends what the model's server takes: Scenario.per_request, per index."""
    scenario = Scenario.create(requests=3, client="external", async_work="exp:0.1")
    _traffic_args(scenario, tmp_path)
    sent = json.loads((tmp_path / "schedule.json").read_text())
    work = scenario.per_request("work")
    assert sent == [{"t": 0.0, "w": work(i)} for i in range(3)]
    assert len({entry["w"] for entry in sent}) == 3


def test_per_request_values_need_the_external_clients_open_loop(tmp_path):
    with pytest.raises(ScenarioError, match="^--async-work/--query-time per request"):
        check_runnable(Scenario.create(async_work="exp:0.1", client="in-process"))
    trace = tmp_path / "t.csv"
    trace.write_text("sent_at,endpoint\n0.0,sync\n")
    with pytest.raises(ScenarioError, match="the app serves one --endpoint"):
        check_runnable(Scenario.create(arrival=f"trace:{trace}", client="external"))


def test_requests_lost_on_a_connection_the_server_was_closing_are_not_waited_for(tmp_path):
    # Measured on uvloop (steady-above-uvloop): three requests sent on kept connections whose
    # 500 had just been read got ReadError, and the server never saw them.
    log = tmp_path / "client.log"
    lines = [
        {"kind": "request", "i": 0, "status": 500, "error": None},
        {"kind": "request", "i": 1, "status": None, "error": "ReadError"},
        {"kind": "request", "i": 2, "status": None, "error": "RemoteProtocolError"},
        {"kind": "request", "i": 3, "status": None, "error": "ReadTimeout"},
    ]
    log.write_text("".join("PSS " + json.dumps(e) + "\n" for e in lines))
    assert _lost(log) == 2
