"""Where rows are computed: in this process, local worker processes, or a Dask cluster.

Each executor takes a batch and hands back a `Pending` whose rows come in the batch's order, so
the output is the same whoever computed it. Submitting returns at once (except in-process), so
the sweep keeps the next batches queued while it writes the last one and no worker idles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

from sim.errors import ScenarioError
from sim.sweep.keys import Settings, model_version
from sim.sweep.rows import run_row

Params = dict[str, Any]
Row = dict[str, Any]


class Pending(Protocol):
    def result(self) -> list[Row]: ...


# Map a picklable function over items in the workers: results in the items' order, each as
# soon as it and those before it are done (the per-cell MTTF estimates of `sweep.cells`).
Calls = Callable[[Callable[[Any], Any], list[Any]], Iterator[Any]]


class Executor(Protocol):
    settings: Settings  # what every row is computed under, and keyed on

    def submit(self, batch: list[Params]) -> Pending: ...

    def calls(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]: ...

    @property
    def parallel(self) -> int:
        """How many calls run at once."""
        ...

    def close(self) -> None: ...


class Done:
    """Rows computed already."""

    def __init__(self, rows: list[Row]) -> None:
        self.rows = rows

    def result(self) -> list[Row]:
        return self.rows


class InProcess:
    """One worker: no process start-up, no pickling; a batch is computed when submitted."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def submit(self, batch: list[Params]) -> Pending:
        return Done(run_chunk(batch, self.settings))

    def calls(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        return map(fn, items)

    @property
    def parallel(self) -> int:
        return 1

    def close(self) -> None:
        pass


def run_chunk(chunk: list[Params], settings: Settings) -> list[Row]:
    """Worker entry point for several rows: one pickled task per chunk, not per scenario."""
    return [run_row(p, settings) for p in chunk]


def _chunk_size(items: int, workers: int) -> int:
    """About four chunks per worker: a fast worker takes over a slow one's share."""
    return max(1, items // (4 * workers))


def _chunks(batch: list[Params], workers: int) -> list[list[Params]]:
    size = _chunk_size(len(batch), workers)
    return [batch[i : i + size] for i in range(0, len(batch), size)]


class Chunks:
    """A batch's chunk futures, joined back in order."""

    def __init__(self, futures: list[Future[list[Row]]]) -> None:
        self.futures = futures

    def result(self) -> list[Row]:
        return [row for future in self.futures for row in future.result()]


class LocalProcesses:
    """concurrent.futures processes; chunks of several scenarios per task keep pickling cheap,
    and several chunks per worker let a fast worker take over a slow one's share."""

    def __init__(self, workers: int, settings: Settings) -> None:
        self.workers = workers
        self.settings = settings
        self.pool = ProcessPoolExecutor(max_workers=workers)

    def submit(self, batch: list[Params]) -> Pending:
        chunks = _chunks(batch, self.workers)
        return Chunks([self.pool.submit(run_chunk, chunk, self.settings) for chunk in chunks])

    def calls(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        return self.pool.map(fn, items, chunksize=_chunk_size(len(items), self.workers))

    @property
    def parallel(self) -> int:
        return self.workers

    def map(self, batch: list[Params]) -> list[Row]:
        """One batch, waited for (the benchmarks time a cold pool's first rows with it)."""
        return self.submit(batch).result()

    def close(self) -> None:
        self.pool.shutdown(cancel_futures=True)


class Gathered:
    """Dask futures for one batch's chunks, gathered and joined back in order."""

    def __init__(self, client: Any, futures: list[Any]) -> None:
        self.client = client
        self.futures = futures

    def result(self) -> list[Row]:
        return [row for chunk in self.client.gather(self.futures) for row in chunk]


class DaskCluster:
    """A Dask distributed scheduler at `address` (tcp://host:port), or a Client-like object."""

    def __init__(self, address: Any, settings: Settings) -> None:
        try:
            from distributed import Client
        except ImportError as exc:
            raise ScenarioError(
                "--dask needs dask.distributed: pip install 'pool-starvation-sim[dask]'"
            ) from exc
        self.settings = settings
        self.client = Client(address) if isinstance(address, str) else address
        self._owned = isinstance(address, str)
        self._check_versions()

    def _check_versions(self) -> None:
        """Every worker must run this model: rows are keyed on this process's model version, so
        a worker with other model code would hand back rows stored under the wrong key."""
        here = model_version()
        for worker, version in self.client.run(model_version).items():
            if version != here:
                self.close()
                raise ScenarioError(
                    f"--dask: worker {worker} runs model {version}, this process {here}; "
                    "install the same checkout on every worker"
                )

    def submit(self, batch: list[Params]) -> Pending:
        """Chunks as for local processes, sized on the threads the cluster has now: one task
        per scenario would cost the scheduler more than the scenario."""
        chunks = _chunks(batch, self.parallel)
        return Gathered(
            self.client, self.client.map(run_chunk, chunks, settings=self.settings, pure=False)
        )

    def calls(self, fn: Callable[[Any], Any], items: list[Any]) -> Iterator[Any]:
        return (future.result() for future in self.client.map(fn, items, pure=False))

    @property
    def parallel(self) -> int:
        """The threads the cluster has now."""
        return max(1, sum(self.client.nthreads().values()))

    def close(self) -> None:
        if self._owned:
            self.client.close()


def make_executor(workers: int, dask: Any, settings: Settings) -> Executor:
    if dask is not None:
        return DaskCluster(dask, settings)
    if workers < 1:
        raise ScenarioError(f"--workers must be an integer >= 1, got {workers}")
    return InProcess(settings) if workers == 1 else LocalProcesses(workers, settings)
