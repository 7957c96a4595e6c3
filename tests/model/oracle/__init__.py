"""The model's regression oracle: Scenarios whose Result JSON is pinned by its SHA-256.

A change meant to leave results alone (a faster loop, fewer events) must reproduce every digest
byte for byte; a change meant to move them regenerates the corpus (`python -m tests.model.oracle
--regenerate`) and says in its commit which results moved and why. Each entry keeps every
Scenario field explicit, so re-calibrated stack defaults or re-measured validation cases never
change what the oracle runs. Trace arrivals point at copies under `traces/`, relative to the
repository root.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.model import run_model
from sim.scenario import Scenario

HERE = Path(__file__).parent
CORPUS = HERE / "corpus.json"
TRACES = HERE / "traces"
ROOT = HERE.parents[2]


@dataclass(frozen=True)
class Entry:
    """One pinned run: where the Scenario came from, its fields, the digest of its Result."""

    source: str
    params: dict[str, Any]
    sha256: str

    @property
    def scenario(self) -> Scenario:
        return Scenario.create(**self.params)


def digest(scenario: Scenario) -> str:
    """SHA-256 of the Result JSON and the pool's observations the invariants read."""
    result, observed = run_model(scenario)
    text = result.to_json() + json.dumps(observed.__dict__, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def load() -> list[Entry]:
    return [Entry(**entry) for entry in json.loads(CORPUS.read_text())]
