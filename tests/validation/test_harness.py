"""The real app on a real PostgreSQL, a few short cases per stack, against the model.

Marked `harness`: slow (seconds per case), and skipped with the reason when PostgreSQL or a
stack's interpreter is missing here.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest

from sim.model import simulate
from validation import runner
from validation.agreement import Check, checks
from validation.arrivals import poisson_times
from validation.cases import CASES
from validation.compare import measured_scenario, model_scenario, scenario_for
from validation.envs import ensure_env
from validation.errors import HarnessUnavailable
from validation.postgres import database
from validation.procs import pid_alive

pytestmark = pytest.mark.harness

STACKS = ("era2020", "modern")
# Over capacity, which requests make the first wave is a race of a few hundred microseconds the
# real app runs differently from run to run (validation/FINDINGS.md): one request more or less
# may block. There the test holds the model to within one request of the measurement; the
# exact figures of recorded runs are compare's business (validation/REPORT.md).
EXACT = ("under-capacity",)
WITHIN_ONE = ("over-capacity", "pool-1")
# The outcomes a busy machine cannot move: which requests block, how many 200s and 500s, and
# whether the loop froze. Timings (makespan, completion times) stretch with CPU contention the
# model does not have: on 2 cores beside a CPU hog the real under-capacity burst's completion
# error grew from 0.03 s to 0.07-0.22 s against the 0.1 s rule. They are judged apart, below.
OUTCOMES = ("handled_before_freeze", "ok", "server_errors", "frozen_seconds")
# Agreement on what varies (timings, the race at a wave's edge, recovery): the case is measured
# RUNS times and must agree in at least AGREE of them, every run printed, so one run on a
# momentarily busy machine neither passes nor fails it.
RUNS, AGREE = 3, 2


@pytest.fixture(scope="module")
def db():
    try:
        with database() as running:
            yield running
    except HarnessUnavailable as exc:
        pytest.skip(str(exc))


def _env_or_skip(stack: str) -> None:
    try:
        ensure_env(stack)
    except HarnessUnavailable as exc:
        pytest.skip(str(exc))


def _measure_and_predict(stack: str, name: str, db, tmp_path: Path):
    """A short case measured now; the model replays its send times, as compare does."""
    _env_or_skip(stack)
    case = next(c for c in CASES if c.name == name)
    # pool_timeout 1 s keeps CI short; the freeze threshold goes below it, because the probe
    # sees a 1 s pool wait as ~0.99 s (its ping leaves a few ms after the loop stops answering).
    scenario = scenario_for(stack, case).replace(pool_timeout=1.0, freeze_threshold=0.5)
    measured = runner.run(scenario, db=db).result
    from sim.model import simulate

    path = tmp_path / "measured.json"
    path.write_text(measured.to_json())
    return scenario, measured, simulate(model_scenario(measured, path))


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", EXACT)
def test_real_app_has_the_models_outcome(stack, name, db, tmp_path):
    _, measured, predicted = _measure_and_predict(stack, name, db, tmp_path)
    judged = [c for c in checks(measured, predicted) if c.metric in OUTCOMES]
    assert len(judged) == len(OUTCOMES)
    assert [c for c in judged if not c.ok] == []


def _most_runs_agree(label: str, judge) -> None:
    """Call `judge` RUNS times (each measures afresh and returns its checks); AGREE must pass."""
    runs = [judge(k) for k in range(RUNS)]
    for k, run in enumerate(runs):
        print(f"{label} run {k + 1}/{RUNS}: " + ", ".join(
            f"{c.metric} {c.measured} vs {c.predicted} {'ok' if c.ok else 'MISS'}" for c in run
        ))  # fmt: skip
    agreed = sum(all(c.ok for c in run) for run in runs)
    assert agreed >= AGREE, f"{label}: agreed in {agreed} of {RUNS} runs"


def _run_dir(tmp_path: Path, k: int) -> Path:
    path = tmp_path / f"run-{k}"
    path.mkdir()
    return path


@pytest.mark.agreement
@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", EXACT)
def test_real_app_agrees_with_the_model_in_most_runs(stack, name, db, tmp_path):
    """Every check of compare, timings included."""
    _most_runs_agree(
        f"{stack}/{name}",
        lambda k: checks(*_measure_and_predict(stack, name, db, _run_dir(tmp_path, k))[1:]),
    )


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", WITHIN_ONE)
def test_real_app_freezes_and_times_out_over_capacity_as_the_model(stack, name, db, tmp_path):
    """What no race moves: both freeze, both send 500s, neither handles more than the pool
    before a connection can have come back."""
    scenario, measured, predicted = _measure_and_predict(stack, name, db, tmp_path)
    for result in (measured, predicted):
        s = result.summary
        assert s.freezes >= 1 and s.server_errors >= 1
        assert s.handled_before_freeze <= scenario.capacity + _sent_after_a_return(result)
        assert s.ok + s.server_errors + s.client_errors == scenario.requests


def _sent_after_a_return(result) -> int:
    """Requests sent after the first 200 was complete, whose holder had returned its connection
    by then: on a busy machine the client's burst spreads out and a late request may take a
    connection back from the pool (measured: 18 handled on 15 at load ~4)."""
    done = [r.completed_at for r in result.requests if r.status == 200 and r.completed_at]
    if not done:
        return 0
    first = min(done)
    return sum(1 for r in result.requests if r.sent_at is not None and r.sent_at > first)


def _within_one(scenario, measured, predicted) -> list[Check]:
    m, p = measured.summary, predicted.summary
    frozen_rule = scenario.pool_timeout + 0.25
    return [
        Check("ok", m.ok, p.ok, abs(m.ok - p.ok) <= 1, "within 1"),
        Check("server_errors", m.server_errors, p.server_errors,
              abs(m.server_errors - p.server_errors) <= 1, "within 1"),
        Check("frozen_seconds", m.frozen_seconds, p.frozen_seconds,
              abs(m.frozen_seconds - p.frozen_seconds) <= frozen_rule, f"within {frozen_rule}"),
    ]  # fmt: skip


# The seed's 20-request burst is left out here: on era2020 the first wave took 15 requests in
# one run and 19 in the next two (ok 19, one 500, 1.1 s frozen) on an idle machine, so no rule
# over a few runs judges the model without judging the race; its recorded runs are compare's
# (validation/REPORT.md, FINDINGS.md), the default suite asserts what no race moves.
@pytest.mark.agreement
@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("name", ("pool-1",))
def test_real_app_is_within_one_request_of_the_model_in_most_runs(stack, name, db, tmp_path):
    _most_runs_agree(
        f"{stack}/{name}",
        lambda k: _within_one(*_measure_and_predict(stack, name, db, _run_dir(tmp_path, k))),
    )


def _steady(db, tmp_path: Path):
    """Five seconds of Poisson traffic with one freeze in it (the steady-below case, shortened),
    measured now and replayed into the model."""
    _env_or_skip("modern")
    case = next(c for c in CASES if c.name == "steady-below")
    scenario = scenario_for("modern", case).replace(duration=5.0)
    measured = runner.run(scenario, db=db).result
    from sim.model import simulate

    path = tmp_path / "measured.json"
    path.write_text(measured.to_json())
    return scenario, measured, simulate(model_scenario(measured, path))


def test_steady_traffic_ends_every_request_once(db, tmp_path):
    scenario, measured, predicted = _steady(db, tmp_path)
    sent = poisson_times(scenario.arrival_spec.rate, 5.0, scenario.seed)
    for result in (measured, predicted):
        assert [r.i for r in result.requests] == list(range(len(sent)))
        assert all(r.completed_at is not None for r in result.requests)
        assert all((r.status is None) != (r.error is None) for r in result.requests)


@pytest.mark.agreement
def test_steady_traffic_agrees_on_recovery_in_most_runs(db, tmp_path):
    def judge(k: int) -> list[Check]:
        _, measured, predicted = _steady(db, _run_dir(tmp_path, k))
        m, p = measured.summary.recovered, predicted.summary.recovered
        return [Check("recovered", m, p, m == p, "exact")]

    _most_runs_agree("modern/steady-below", judge)


def _children_of(pid: int) -> set[int]:
    kids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                kids.add(int(stat.parent.name))
    return kids


def _postmaster(port: int) -> set[int]:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            args = cmdline.read_bytes().split(b"\0")
            if b"postgres" in args[0] and f"-p {port}".encode() in b" ".join(args):
                return {int(cmdline.parent.name)}
    return set()


def test_nothing_is_left_running_after_a_run_that_fails_half_way(monkeypatch):
    """Fail once the server, the database and the external client all run; all must be gone."""
    _env_or_skip("modern")
    seen: dict = {}
    real_database, real_wait = runner.database, runner._wait

    @contextlib.contextmanager
    def spy_database(url=None):
        with real_database(url) as running:
            seen["port"] = int(running.url.rsplit(":", 1)[1].split("/")[0])
            yield running

    def failing_wait(done, server, deadline, what):
        if what != "external client":
            return real_wait(done, server, deadline, what)
        postmaster = _postmaster(seen["port"])
        backends = set().union(*(_children_of(p) for p in postmaster))
        seen["pids"] = _children_of(os.getpid()) | postmaster | backends
        raise RuntimeError("injected failure after the server and client started")

    monkeypatch.setattr(runner, "database", spy_database)
    monkeypatch.setattr(runner, "_wait", failing_wait)
    case = next(c for c in CASES if c.name == "over-capacity")
    with pytest.raises(RuntimeError, match="injected"):
        try:
            runner.run(scenario_for("modern", case).replace(pool_timeout=1.0))
        except HarnessUnavailable as exc:
            pytest.skip(str(exc))
    assert len(seen["pids"]) >= 3  # server, client, postmaster at least
    assert [p for p in seen["pids"] if pid_alive(p)] == []


@pytest.mark.parametrize("stack", STACKS)
def test_two_workers_each_read_their_own_requests_and_refusals_are_counted(db, stack):
    """uvicorn --workers 2: every request is read by one of the two workers (by its pid), and
    a PostgreSQL with room for fewer connections than the burst needs refuses the rest, each a
    500, as the model counts them."""
    _env_or_skip(stack)
    scenario = scenario_for(stack, CASES[0]).replace(
        processes=2, requests=12, pool_size=10, max_overflow=0, max_connections=6
    )
    result = runner.run(scenario, db).result
    service = result.service
    assert service is not None and len(service["processes"]) == 2
    read = sorted(i for p in service["processes"] for i in p["requests"])
    assert read == list(range(12))
    # 6 connections for 12 requests that each hold one through their 0.1 s of work: 6 refused
    # whatever the split, since no pool runs dry before PostgreSQL does; 7 if one worker read
    # nothing, its start-up connection (create_all) idle in its pool all along, which the
    # model's empty pools do not hold (sim/model/postgres.py).
    refused = service["refused_connections"]
    assert refused == result.summary.server_errors
    assert refused == (7 if min(len(p["requests"]) for p in service["processes"]) == 0 else 6)
    assert simulate(measured_scenario(result)).service["refused_connections"] == 6
