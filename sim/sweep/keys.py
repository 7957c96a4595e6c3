"""What a sweep row depends on: a resumed sweep reuses a row only when none of it has moved.

A row's key has two parts. Its identity: every Scenario field as the grid set it, costs the point
leaves to the stack (or a --profile) recorded as such, and the replication index (`--replications
K` gives each scenario K rows, run k at a seed derived from run 0's). And its inputs: the
settings of the run (--fast), the values those left-over costs took, the digest of every file the
scenario reads, and the model's version. The inputs are stored per row as JSON, so when a
scenario is on disk under other inputs the sweep can say which of them changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from sim.scenario import COSTS, Scenario

PACKAGE = "pool-starvation-sim"


@dataclass(frozen=True)
class Settings:
    """What a sweep run adds to every grid point: --fast, and a --profile's fields (its stack,
    loop and costs), under the point's own fields as the stack's calibrated costs are."""

    fast: bool = False
    defaults: tuple[tuple[str, Any], ...] = ()


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@functools.cache
def model_version() -> str:
    """The package version and a digest of the model's source (sim/model/, sim/stacks.py): a
    row computed by other model code is another row. Read once per process."""
    try:
        version = metadata.version(PACKAGE)
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        version = "0+uninstalled"
    package = Path(__file__).resolve().parents[1]
    sources = sorted((package / "model").glob("*.py")) + [package / "stacks.py"]
    digest = hashlib.sha256()
    for path in sources:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return f"{version}+{digest.hexdigest()[:16]}"


@functools.cache
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_digest(path: str) -> str:
    """sha256 of a file's bytes; read again only when its size or modification time moves."""
    resolved = Path(path).resolve()
    stat = resolved.stat()
    return _file_digest(resolved, stat.st_mtime_ns, stat.st_size)


def identity(scenario: Scenario, defaulted: Collection[str] = ()) -> str:
    """sha256 of every Scenario field, the costs in `defaulted` (left to the stack or profile)
    as null: stable across runs and machines, and the same when only a calibration moves."""
    params = scenario.identity()
    params.update(dict.fromkeys(defaulted))
    return sha256(canonical(params))


def inputs(scenario: Scenario, defaulted: Collection[str], fast: bool) -> str:
    """Canonical JSON of everything besides the scenario's own fields that shapes its row."""
    return canonical(
        {
            "fast": fast,
            "costs": {name: getattr(scenario, name) for name in sorted(defaulted)},
            "files": {name: file_digest(path) for name, path in scenario.files_read().items()},
            "model": model_version(),
        }
    )


# The key of a grid point dict that is no Scenario field: which replication of its scenario.
REPLICATION = "replication"


@dataclass(frozen=True)
class Key:
    cell: str  # the scenario's identity, shared by its replications
    replication: int
    inputs: str

    @property
    def identity(self) -> str:
        """The row's identity: replication 0's is the scenario's own (the row a sweep without
        replications writes, so its rows resume), replication k's adds k. The count K is not
        part of it: run k is the same run whatever K, so raising K reuses the runs done."""
        if self.replication == 0:
            return self.cell
        return sha256(f"{self.cell}\0replication:{self.replication}")

    @property
    def resume(self) -> str:
        """The full key: a stored row is reused only under this."""
        return sha256(self.identity + "\0" + self.inputs)


def build(point: Mapping[str, Any], settings: Settings) -> tuple[Scenario, Key]:
    """The point's Scenario (profile fields under the point's own) and its key."""
    fields = {k: v for k, v in point.items() if k != REPLICATION}
    scenario = Scenario.create(**{**dict(settings.defaults), **fields})
    defaulted = [name for name in COSTS if name not in fields]
    key = Key(
        identity(scenario, defaulted),
        point.get(REPLICATION, 0),
        inputs(scenario, defaulted, settings.fast),
    )
    return scenario, key


REASONS = {
    "fast": "--fast changed",
    "costs": "calibrated costs changed",
    "model": "model version changed",
}


@functools.lru_cache(maxsize=256)
def changes(stored: str, current: str) -> tuple[str, ...]:
    """Why a row stored with inputs `stored` is not reused under `current`, one phrase per
    changed input (the distinct inputs of a sweep are few, so the answers are cached)."""
    old, new = json.loads(stored), json.loads(current)
    reasons = [REASONS[name] for name in REASONS if old.get(name) != new.get(name)]
    files = old.get("files", {}), new["files"]
    for name in sorted(set(files[0]) | set(files[1])):
        if files[0].get(name) != files[1].get(name):
            reasons.append(f"file read by --{name.replace('_', '-')} changed")
    return tuple(reasons)
