"""Where rows are computed: in this process, local worker processes, or a Dask cluster.

Each executor maps `run_row` over a batch and returns the rows in the batch's order, so the
output is the same whoever computed it.
"""

from __future__ import annotations

import functools
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Protocol

from sim.errors import ScenarioError
from sim.sweep.rows import run_row

Params = dict[str, Any]
Row = dict[str, Any]


class Executor(Protocol):
    def map(self, batch: list[Params]) -> list[Row]: ...

    def close(self) -> None: ...


class InProcess:
    """One worker: no process start-up, no pickling."""

    def __init__(self, fast: bool) -> None:
        self.fn = functools.partial(run_row, fast=fast)

    def map(self, batch: list[Params]) -> list[Row]:
        return [self.fn(p) for p in batch]

    def close(self) -> None:
        pass


class LocalProcesses:
    """concurrent.futures processes; chunks of several scenarios per task keep pickling cheap."""

    def __init__(self, workers: int, fast: bool) -> None:
        self.workers = workers
        self.fn = functools.partial(run_row, fast=fast)
        self.pool = ProcessPoolExecutor(max_workers=workers)

    def map(self, batch: list[Params]) -> list[Row]:
        chunk = max(1, len(batch) // (4 * self.workers))
        return list(self.pool.map(self.fn, batch, chunksize=chunk))

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class DaskCluster:
    """A Dask distributed scheduler at `address` (tcp://host:port), or a Client-like object."""

    def __init__(self, address: Any, fast: bool) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ScenarioError(
                "--dask needs dask.distributed: pip install 'pool-starvation-sim[dask]'"
            ) from exc
        self.fn = functools.partial(run_row, fast=fast)
        self.client = Client(address) if isinstance(address, str) else address
        self._owned = isinstance(address, str)

    def map(self, batch: list[Params]) -> list[Row]:
        futures = self.client.map(self.fn, batch, pure=False)
        return self.client.gather(futures)

    def close(self) -> None:
        if self._owned:
            self.client.close()


def make_executor(workers: int, dask: Any, fast: bool) -> Executor:
    if dask is not None:
        return DaskCluster(dask, fast)
    if workers < 1:
        raise ScenarioError(f"--workers must be an integer >= 1, got {workers}")
    return InProcess(fast) if workers == 1 else LocalProcesses(workers, fast)
