"""One sweep row per Scenario: every Scenario field, every Summary field and the scenario's hash.

The hash keys resume; the per-scenario seed comes from the root seed and the scenario itself, so a
row never depends on which worker ran it or in what order.
"""

from __future__ import annotations

import copy
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


def params_of(scenario: Scenario) -> dict[str, Any]:
    """Every field's value: `to_params` without `asdict`'s deep copy, which costs as much as
    validating the Scenario and buys nothing for fields that are all scalars."""
    return dict(vars(scenario))


def scenario_hash(scenario: Scenario) -> str:
    """sha256 of the canonical JSON of every Scenario field: stable across runs and machines."""
    return hashlib.sha256(canonical(params_of(scenario)).encode()).hexdigest()


def seeded(scenario: Scenario) -> Scenario:
    """The scenario with its seed derived from its own seed (the root) and all other fields.

    Every other field is validated already and the derived seed is in range by construction
    (63 bits), so the copy skips `__post_init__`: re-running it cost as much as building the
    scenario did.
    """
    digest = hashlib.sha256(("seed:" + canonical(params_of(scenario))).encode()).digest()
    final = copy.copy(scenario)
    object.__setattr__(final, "seed", int.from_bytes(digest[:8], "big") >> 1)
    return final


def run_row(point: dict[str, Any], fast: bool = False) -> dict[str, Any]:
    """Worker entry point (picklable, top level): one grid point's row.

    The point is built and seeded here, in the worker, so the parent's share of the sweep is
    only walking the grid. With `fast`, the closed form fills the row where it is exact; summary
    fields it makes no claim about (makespan, latencies) are left empty rather than guessed.
    """
    from sim.analytic import predict
    from sim.model import simulate

    scenario = seeded(Scenario.create(**point))
    prediction = predict(scenario) if fast else None
    if prediction is None:
        summary = asdict(simulate(scenario).summary)
        source = "model"
    else:
        claimed = asdict(prediction)
        claimed["freezes"] = int(prediction.freezes)
        summary = {f.name: claimed.get(f.name) for f in fields(Summary)}
        source = "analytic"
    params = params_of(scenario)
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
