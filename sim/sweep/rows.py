"""One sweep row per Scenario: every Scenario field, every Summary field and the scenario's hash.

The hash keys resume; the per-scenario seed comes from the root seed and the scenario itself, so a
row never depends on which worker ran it or in what order.
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from dataclasses import asdict, fields
from typing import Any

import pyarrow as pa

from sim.result import Summary
from sim.scenario import Scenario

HASH = "scenario_hash"
SOURCE = "source"  # "model" or "analytic": which one produced the summary (--fast)


def canonical(params: dict[str, Any]) -> str:
    return json.dumps(params, sort_keys=True, separators=(",", ":"))


def scenario_hash(scenario: Scenario) -> str:
    """sha256 of the canonical JSON of every Scenario field: stable across runs and machines."""
    return hashlib.sha256(canonical(scenario.to_params()).encode()).hexdigest()


def seeded(scenario: Scenario) -> Scenario:
    """The scenario with its seed derived from its own seed (the root) and all other fields."""
    digest = hashlib.sha256(("seed:" + canonical(scenario.to_params())).encode()).digest()
    return scenario.replace(seed=int.from_bytes(digest[:8], "big") >> 1)


def run_row(params: dict[str, Any], fast: bool = False) -> dict[str, Any]:
    """Worker entry point (picklable, top level): one scenario's row.

    With `fast`, the closed form fills the row where it is exact; summary fields it makes no
    claim about (makespan, latencies) are left empty rather than guessed.
    """
    from sim.analytic import predict
    from sim.model import simulate

    scenario = Scenario.create(**params)
    prediction = predict(scenario) if fast else None
    if prediction is None:
        summary = asdict(simulate(scenario).summary)
        source = "model"
    else:
        claimed = asdict(prediction)
        claimed["freezes"] = int(prediction.freezes)
        summary = {f.name: claimed.get(f.name) for f in fields(Summary)}
        source = "analytic"
    return {**params, **summary, HASH: scenario_hash(scenario), SOURCE: source}


def _arrow_type(hint: Any) -> pa.DataType:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = args[0]
    return {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}[hint]


def schema() -> pa.Schema:
    """Fixed column types, so a batch whose column is all None still has the right type."""
    columns = []
    for cls in (Scenario, Summary):
        hints = typing.get_type_hints(cls)
        columns += [pa.field(f.name, _arrow_type(hints[f.name])) for f in fields(cls)]
    return pa.schema(columns + [pa.field(HASH, pa.string()), pa.field(SOURCE, pa.string())])
