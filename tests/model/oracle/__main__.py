"""Regenerate the oracle corpus: `python -m tests.model.oracle --regenerate` (from the repo root).

Only for a change that is meant to move results; its commit says which moved and why. The corpus
draws from four places: every validation case as `compare` runs it (measured send times copied to
`traces/`), every Scenario the hand-worked tests in tests/model run, a few hundred Scenarios from
the shared hypothesis strategies (derandomized, so the draw is the same each time), a sample of
the sweep grids, and a few steady Poisson runs of a few hundred requests each.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from hypothesis import Phase, given, settings

import sim.model
from sim.result import Result
from sim.scenario import Scenario, load_trace
from tests.model.oracle import CORPUS, ROOT, TRACES, Entry, digest, load
from validation.compare import model_scenario

RANDOM_EXAMPLES = 2000
GRID_STRIDE = 5  # every 5th scenario of each sweep grid
HAND_WORKED = ("test_clients", "test_loop", "test_pool", "test_server", "test_simulate")


def validation_cases() -> Iterator[tuple[str, Scenario]]:
    for path in sorted((ROOT / "validation" / "results").glob("*/*.json")):
        name = f"{path.parent.name}-{path.stem}"
        scenario = model_scenario(Result.from_json(path.read_text()), path)
        if scenario.arrival.startswith("trace:"):
            trace = TRACES / f"{name}.json"
            _write(trace, json.dumps(list(load_trace(str(path)))) + "\n")
            scenario = scenario.replace(arrival=f"trace:{trace.relative_to(ROOT)}")
        yield f"validation {name}", scenario


def hand_worked() -> Iterator[tuple[str, Scenario]]:
    """Run the hand-worked tests with `run_model` wrapped, recording what each one simulates."""
    import pytest

    # `sim.model.simulate` as an attribute is the function the package exports, not the module.
    wiring = importlib.import_module("sim.model.simulate")
    seen: list[tuple[str, Scenario]] = []
    original = wiring.run_model

    def recording(scenario: Scenario):  # noqa: ANN202 - stands in for run_model
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").split(" ")[0]
        seen.append((test, scenario))
        return original(scenario)

    wiring.run_model = sim.model.run_model = recording
    try:
        files = [str(ROOT / "tests" / "model" / f"{name}.py") for name in HAND_WORKED]
        if pytest.main(["-q", "-p", "no:cacheprovider", *files]) != 0:
            sys.exit("the hand-worked tests fail; fix them before pinning their results")
    finally:
        wiring.run_model = sim.model.run_model = original
    yield from seen


def random_scenarios() -> Iterator[tuple[str, Scenario]]:
    from tests.strategies import scenarios

    drawn: list[Scenario] = []

    @settings(
        derandomize=True, database=None, max_examples=RANDOM_EXAMPLES, phases=[Phase.generate]
    )
    @given(scenarios())
    def draw(scenario: Scenario) -> None:
        drawn.append(scenario)

    draw()
    for n, scenario in enumerate(drawn):
        yield f"strategies.scenarios #{n}", scenario


def sweep_grids() -> Iterator[tuple[str, Scenario]]:
    """The default sweep grid as `python -m sim sweep` runs it, and the same grid with the
    seed's in-process client on today's stack: every GRID_STRIDE-th scenario of each."""
    from sim.sweep import DEFAULT_GRID
    from sim.sweep.rows import seeded

    grids = {
        "default": DEFAULT_GRID,
        "in-process modern": DEFAULT_GRID.override({"client": "in-process", "stack": "modern"}),
    }
    for name, grid in grids.items():
        for n, scenario in enumerate(grid.scenarios()):
            if n % GRID_STRIDE == 0:
                yield f"sweep grid {name} #{n}", seeded(scenario)


def steady_runs() -> Iterator[tuple[str, Scenario]]:
    """Poisson traffic of a few hundred requests on each stack, endpoint and client; the last
    one past capacity, so freezes and timeouts recur in steady traffic."""
    runs = [
        {"stack": "modern", "client": "external", "arrival": "poisson:50", "duration": 10.0},
        {"stack": "era2020", "client": "external", "arrival": "poisson:50", "duration": 10.0},
        {"stack": "era2020", "client": "in-process", "arrival": "poisson:10", "duration": 20.0},
        {"stack": "modern", "endpoint": "async-session", "client": "external",
         "arrival": "poisson:80", "duration": 5.0},
        {"stack": "era2020", "endpoint": "sync", "client": "external", "arrival": "poisson:20",
         "duration": 10.0, "async_work": 0.05},
        {"stack": "modern", "client": "external", "arrival": "poisson:200", "duration": 3.0,
         "pool_timeout": 0.5, "client_timeout": 2.0},
    ]  # fmt: skip
    for n, values in enumerate(runs):
        yield f"steady #{n}", Scenario.create(cpus=2, seed=n, **values)


def _write(path: Path, text: str) -> None:
    """Temp file then rename: an interrupted run leaves the old file whole."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def regenerate() -> int:
    os.chdir(ROOT)  # trace paths in the corpus are relative to the repository root
    entries, seen = [], set()
    for source, scenario in [
        *validation_cases(),
        *hand_worked(),
        *random_scenarios(),
        *sweep_grids(),
        *steady_runs(),
    ]:
        params = scenario.to_params()
        key = json.dumps(params, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        entries.append({"source": source, "params": params, "sha256": digest(scenario)})
    moved, gone = _moved(load(), entries)
    _write(CORPUS, json.dumps(entries, indent=0) + "\n")
    print(f"{len(entries)} scenarios pinned in {CORPUS.relative_to(ROOT)}")
    for source, count in sorted(moved.items()):
        print(f"  {count} moved: {source}")
    for source, count in sorted(gone.items()):
        print(f"  {count} no longer drawn: {source}")
    return 0


def _moved(old: list[Entry], new: list[dict]) -> tuple[Counter[str], Counter[str]]:
    """Per source kind (the source without its '#n'), how many scenarios pinned before have
    another digest now (what the commit must explain), and how many are no longer in the
    corpus (hypothesis may draw other examples once the strategies or Scenario change)."""
    before = {json.dumps(e.params, sort_keys=True): e.sha256 for e in old}
    after = {json.dumps(e["params"], sort_keys=True): e["sha256"] for e in new}
    kinds = {json.dumps(e.params, sort_keys=True): _kind(e.source) for e in old}
    moved = Counter(kinds[k] for k, sha in before.items() if k in after and after[k] != sha)
    gone = Counter(kinds[k] for k in before if k not in after)
    return moved, gone


def _kind(source: str) -> str:
    """A source without its example number or test name: 'strategies.scenarios',
    'tests/model/test_loop.py', 'validation modern-uvloop'."""
    return source.split(" #")[0].split("::")[0]


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.model.oracle", description=__doc__)
    parser.add_argument(
        "--regenerate", action="store_true", help="re-run every scenario and rewrite the corpus"
    )
    args = parser.parse_args()
    if not args.regenerate:
        parser.print_help()
        return 2
    return regenerate()


if __name__ == "__main__":
    sys.exit(main())
