"""`pytest benchmarks/ -m benchmark`: the full run, RESULTS.md written, one test per target.

Marked `benchmark`, which the default test run deselects (pyproject addopts), so no timing ever
decides the ordinary suite; here a missed target fails its test, as the report marks it.
"""

from __future__ import annotations

import re

import pytest

from benchmarks.__main__ import RESULTS
from benchmarks.analytic import FAST_PATH
from benchmarks.figures import Figure
from benchmarks.model import EVENTS, GROWTH, THROUGHPUT
from benchmarks.report import Results, _row, render
from benchmarks.suite import FULL, run
from benchmarks.sweep import MEMORY, SCALING, STARTUP

pytestmark = pytest.mark.benchmark


@pytest.fixture(scope="module")
def results() -> Results:
    measured = run(FULL, "pytest benchmarks/ -m benchmark")
    RESULTS.write_text(render(measured))
    return measured


def figure(results: Results, name: str) -> Figure:
    return next(f for f in results.figures if f.name == name)


def test_model_reaches_half_of_simpy_mmc_throughput(results: Results) -> None:
    f = figure(results, THROUGHPUT)
    assert f.met, f"{f.ratio:.3g} of M/M/c"


def test_results_md_reports_every_figure_measured(results: Results) -> None:
    written = RESULTS.read_text()
    assert all(_row(f) in written for f in results.figures)


def _count(note: str, what: str) -> int:
    return int(re.search(rf"(\d+) {what}", note).group(1))


def test_events_per_second_is_requests_per_second_times_events_per_request(
    results: Results,
) -> None:
    # Both figures divide by the same timed model run, so their quotient is the event count
    # (counted in a separate untimed run) over the requests served.
    events, requests = figure(results, EVENTS), figure(results, THROUGHPUT)
    per_request = _count(events.note, "events") / _count(requests.note, "requests")
    assert events.value / requests.value == pytest.approx(per_request, rel=1e-9)


def test_model_events_cost_no_less_than_a_bare_simpy_timeout(results: Results) -> None:
    # The bare loop does nothing but schedule and fire timeouts: a model event that came out
    # cheaper would mean events were counted that never ran.
    assert 0 < figure(results, EVENTS).ratio <= 1


def test_wall_time_grows_linearly_with_requests(results: Results) -> None:
    f = figure(results, GROWTH)
    assert f.met, f"slope {f.value:.3f}"


def test_two_workers_sweep_at_least_1_7_times_faster_than_one(results: Results) -> None:
    f = figure(results, SCALING)
    assert f.met, f"{f.ratio:.2f}x"


def test_worker_start_up_is_a_cold_pool_against_the_mean_scenario(results: Results) -> None:
    # A cold pool's first rows take longer than the same rows on warm workers, and the
    # reference is the 1-worker sweep's seconds per scenario of the same run.
    f, sweep = figure(results, STARTUP), figure(results, SCALING)
    assert f.value > 0
    assert f.reference == pytest.approx(1 / sweep.reference / len(FULL.grid), rel=1e-9)


def test_sweep_peak_memory_stays_flat_with_scenario_count(results: Results) -> None:
    f = figure(results, MEMORY)
    assert f.met, f"{f.ratio:.2f}x"


def test_analytic_fast_path_is_100_times_the_model_where_exact(results: Results) -> None:
    f = figure(results, FAST_PATH)
    assert f.met, f"{f.ratio:.0f}x"


def test_sim_risk_reaches_a_factor_2_interval_at_every_mttf_order(results: Results) -> None:
    missed = [
        f"{f.name}: {f.value:.2f}x"
        for f in results.figures
        if f.name.startswith("sim risk interval") and not f.met
    ]
    assert not missed, missed
