"""`--dask ADDRESS` on a real multi-process Dask cluster: the scheduler's address string, as a
user on another machine would pass it, gives the rows a local run gives."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import sim
from sim.cli import main
from sim.sweep import Grid, run_sweep
from sim.sweep.executors import make_executor
from sim.sweep.keys import Settings
from sim.sweep.progress import Silent
from sim.sweep.store import read_results

distributed = pytest.importorskip("distributed")

AXES = {"pool_size": "1:3", "requests": "1:6", "endpoint": "async-sync-session,async-session"}
FIXED = {"max_overflow": 0, "pool_timeout": 2.0, "client": "external"}


# A LocalCluster(processes=True) in a process of its own: its worker processes (and
# multiprocessing's resource tracker) are children of that process, not of the test run, and
# all end with it. It prints the scheduler's address and closes when its stdin does.
CLUSTER = """
import sys
from distributed import LocalCluster
with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as c:
    print(c.scheduler_address, flush=True)
    sys.stdin.read()
"""


@pytest.fixture(scope="module")
def address() -> Iterator[str]:
    """A scheduler and two single-threaded worker processes, as `dask scheduler` plus
    `dask worker` would run them on other machines, reached by address only."""
    root = str(Path(__file__).resolve().parents[1])
    path = [root, *filter(None, [os.environ.get("PYTHONPATH")])]
    cluster = subprocess.Popen(
        [sys.executable, "-c", CLUSTER],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(path)},
    )
    try:
        assert cluster.stdout is not None and cluster.stdin is not None
        yield cluster.stdout.readline().strip()
        cluster.stdin.close()
        cluster.wait(timeout=60)
    finally:
        if cluster.poll() is None:
            cluster.kill()
            cluster.wait()


def _rows(out: Path, dask: str | None) -> list[dict]:
    grid = Grid.build(AXES, FIXED)
    run_sweep(grid, out, make_executor(1, dask, Settings()), progress=Silent)
    return read_results(out / "results.parquet").to_pylist()


def test_the_cluster_workers_run_this_checkout_of_the_model(address: str) -> None:
    """Otherwise the comparison below would pit one copy of the model against another."""
    with distributed.Client(address) as client:
        files = client.run(lambda: __import__("sim").__file__)
    assert len(files) == 2 and set(files.values()) == {sim.__file__}


def test_rows_over_a_process_cluster_by_address_equal_the_local_rows(
    tmp_path: Path, address: str
) -> None:
    assert address.startswith("tcp://")
    assert _rows(tmp_path / "dask", address) == _rows(tmp_path / "local", None)


def test_the_cli_sweeps_on_the_cluster_given_by_address(tmp_path: Path, address: str) -> None:
    flags = [f for name, value in AXES.items() for f in (f"--{name.replace('_', '-')}", value)]
    fixed = [
        f for name, value in FIXED.items() for f in (f"--{name.replace('_', '-')}", str(value))
    ]
    common = [*flags, *fixed, "--quiet"]
    assert main(["sweep", *common, "--out", str(tmp_path / "d"), "--dask", address]) == 0
    assert main(["sweep", *common, "--out", str(tmp_path / "l"), "--workers", "1"]) == 0
    dask = read_results(tmp_path / "d" / "results.parquet").to_pylist()
    assert dask == read_results(tmp_path / "l" / "results.parquet").to_pylist()


def test_run_replications_on_the_cluster_give_the_local_risk(address: str, capsys) -> None:
    flags = ["run", "--stack", "modern", "--arrival", "poisson:55", "--duration", "5"]
    flags += ["--pool-timeout", "1", "--replications", "6", "--json"]
    assert main([*flags, "--dask", address]) == 0
    on_cluster = json.loads(capsys.readouterr().out)
    assert main([*flags, "--workers", "1"]) == 0
    assert on_cluster == json.loads(capsys.readouterr().out)
    assert on_cluster["risk"]["replications"] == 6


class _OtherModelClient:
    """A Client whose one worker runs other model code."""

    def run(self, fn):
        return {"tcp://127.0.0.1:1": "0.0.0+0000000000000000"}


def test_a_worker_with_other_model_code_is_refused_by_name() -> None:
    from sim.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"worker tcp://127.0.0.1:1 runs model 0.0.0"):
        make_executor(1, _OtherModelClient(), Settings())
