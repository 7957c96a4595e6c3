"""One sweep row per Scenario: every Scenario field, every Summary field and the row's key.

A field that takes a distribution (`async_work`, `query_time`) keeps a float column, its mean, so
heatmaps and filters treat it as a number; the form itself goes in `<field>_form` beside it (a plain
number's text for a number: never empty, so CSV reads it back the same), and `scenario_fields` puts
a row back together.

The key (`sim.sweep.keys`) decides resume; the per-scenario seed comes from the root seed and the
scenario itself, so a row never depends on which worker ran it or in what order.
"""

from __future__ import annotations

import copy
import hashlib
import types
import typing
from dataclasses import asdict, fields
from typing import Any

import pyarrow as pa

from sim import distributions
from sim.result import Summary
from sim.risk.replications import replication_seed
from sim.scenario import DISTRIBUTED, Scenario, explicit
from sim.sweep.keys import REPLICATION, Settings, build, canonical

HASH = "scenario_hash"  # the row's identity (keys.Key.identity): scenario and replication
CELL = "cell_hash"  # the scenario's identity alone, shared by its replications
# REPLICATION ("replication", keys.py): which run of its scenario, 0 at the scenario's seed
INPUTS = "inputs"  # JSON of what else shaped the row (keys.inputs)
KEY = "resume_key"  # sha256 of both: a stored row is reused only under the same key
SOURCE = "source"  # "model" or "analytic": which one produced the summary (--fast)
FORMS = {name: name + "_form" for name in DISTRIBUTED}  # each distributed field's form column


def params_of(scenario: Scenario) -> dict[str, Any]:
    """Every field's value: `to_params` without `asdict`'s deep copy, which costs as much as
    validating the Scenario and buys nothing for fields that are all scalars."""
    return dict(vars(scenario))


def row_params(scenario: Scenario) -> dict[str, Any]:
    """The scenario's columns: every field, a distributed field as its mean and its form."""
    params = params_of(scenario)
    for name, form in FORMS.items():
        value = params[name]
        params[form] = value if isinstance(value, str) else repr(value)
        params[name] = distributions.parse(value).mean
    return params


def scenario_fields(row: dict[str, Any]) -> dict[str, Any]:
    """The Scenario fields of a row, a distributed field's form in place of its mean."""
    values = {f.name: row[f.name] for f in fields(Scenario)}
    for name, form in FORMS.items():
        if row.get(form) is not None:
            values[name] = distributions.field_value(row[form])
    return values


def scenario_columns() -> list[str]:
    """Every column that describes the scenario (fields, then the forms)."""
    return [f.name for f in fields(Scenario)] + list(FORMS.values())


def seeded(scenario: Scenario) -> Scenario:
    """The scenario with its seed derived from its own seed (the root) and all other fields.

    Every other field is validated already and the derived seed is in range by construction
    (63 bits), so the copy skips `__post_init__`: re-running it cost as much as building the
    scenario did.
    """
    own = explicit(params_of(scenario), scenario.profile.split)  # as before deployment fields
    digest = hashlib.sha256(("seed:" + canonical(own)).encode()).digest()
    final = copy.copy(scenario)
    object.__setattr__(final, "seed", int.from_bytes(digest[:8], "big") >> 1)
    return final


def run_row(point: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """Worker entry point (picklable, top level): one grid point's row.

    The point is built, keyed and seeded here, in the worker, so the parent's share of a fresh
    sweep is only walking the grid. With `settings.fast`, the closed form fills the row where it
    is exact; summary fields it makes no claim about (makespan, latencies) are left empty rather
    than guessed.
    """
    from sim.analytic import predict
    from sim.model import simulate

    built, key = build(point, settings)
    scenario = seeded(built)
    if key.replication:  # as `sim run --replications` runs its k-th at run 0's seed
        scenario = scenario.replace(seed=replication_seed(scenario.seed, key.replication))
    prediction = predict(scenario) if settings.fast else None
    if prediction is None:
        summary = asdict(simulate(scenario).summary)
        source = "model"
    else:
        claimed = asdict(prediction)
        claimed["freezes"] = int(prediction.freezes)
        summary = {f.name: claimed.get(f.name) for f in fields(Summary)}
        source = "analytic"
    params = row_params(scenario)
    keys = {HASH: key.identity, INPUTS: key.inputs, KEY: key.resume}
    ids = {CELL: key.cell, REPLICATION: key.replication}
    return {**params, **summary, **keys, SOURCE: source, **ids}


def _arrow_type(hint: Any) -> pa.DataType:
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        hint = float if float in args else args[0]  # float | str: a distribution's mean
    return {int: pa.int64(), float: pa.float64(), bool: pa.bool_(), str: pa.string()}[hint]


def schema() -> pa.Schema:
    """Fixed column types, so a batch whose column is all None still has the right type."""
    columns = []
    for cls in (Scenario, Summary):
        hints = typing.get_type_hints(cls)
        columns += [pa.field(f.name, _arrow_type(hints[f.name])) for f in fields(cls)]
        if cls is Scenario:
            columns += [pa.field(form, pa.string()) for form in FORMS.values()]
    keys = [pa.field(name, pa.string()) for name in (HASH, INPUTS, KEY, SOURCE, CELL)]
    return pa.schema([*columns, *keys, pa.field(REPLICATION, pa.int64())])
