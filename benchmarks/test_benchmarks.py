"""`pytest benchmarks/ -m benchmark`: the full run, RESULTS.md written, one test per target.

Marked `benchmark`, which the default test run deselects (pyproject addopts), so no timing ever
decides the ordinary suite; here a missed target fails its test, as the report marks it.
"""

from __future__ import annotations

import pytest

from benchmarks.__main__ import RESULTS
from benchmarks.analytic import FAST_PATH
from benchmarks.figures import Figure
from benchmarks.model import EVENTS, GROWTH, THROUGHPUT
from benchmarks.report import Results, render
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


def test_model_events_per_second_is_measured_against_a_bare_loop(results: Results) -> None:
    assert figure(results, EVENTS).ratio > 0


def test_wall_time_grows_linearly_with_requests(results: Results) -> None:
    f = figure(results, GROWTH)
    assert f.met, f"slope {f.value:.3f}"


def test_two_workers_sweep_at_least_1_7_times_faster_than_one(results: Results) -> None:
    f = figure(results, SCALING)
    assert f.met, f"{f.ratio:.2f}x"


def test_worker_start_up_is_measured(results: Results) -> None:
    assert figure(results, STARTUP).value > 0


def test_sweep_peak_memory_stays_flat_with_scenario_count(results: Results) -> None:
    f = figure(results, MEMORY)
    assert f.met, f"{f.ratio:.2f}x"


def test_analytic_fast_path_is_100_times_the_model_where_exact(results: Results) -> None:
    f = figure(results, FAST_PATH)
    assert f.met, f"{f.ratio:.0f}x"
