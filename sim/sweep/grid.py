"""Sweep grids: axes over any Scenario field, parsed and validated by the field's own Spec.

An axis is written as on the command line, `--pool-size 1:20`, `--requests 1,5,10:100:10`,
`--endpoint async-sync-session,sync`: comma-separated items, each a value or an inclusive
`start:stop[:step]` range; `--async-work 0.05,lognormal:0.1,0.5` mixes numbers and distributions
(a form keeps its own commas). Every value goes through the field's Spec, so a bad value gets the
same one-line error as `python -m sim run`.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, published for 3.10 as tomli
    import tomli as tomllib

from sim import distributions
from sim.errors import ScenarioError
from sim.scenario import DISTRIBUTED, SPECS, Scenario
from sim.sweep.keys import REPLICATION


def _range(flag: str, item: str) -> list[str]:
    """Inclusive `start:stop[:step]` as decimal text, so 0.1:0.5:0.1 has no float drift."""
    parts = item.split(":")
    try:
        start, stop, step = (Decimal(p) for p in (parts + ["1"])[:3]) if len(parts) <= 3 else ()
    except (InvalidOperation, ValueError):
        raise ScenarioError(f"{flag}: {item!r} is not a range START:STOP[:STEP]") from None
    if step <= 0 or stop < start:
        raise ScenarioError(f"{flag}: empty range {item!r} (need START <= STOP and STEP > 0)")
    count = int((stop - start) / step) + 1
    return [str(start + k * step) for k in range(count)]


def parse_axis(name: str, text: Any) -> tuple[Any, ...]:
    """The values of one axis, each parsed and range-checked by the field's Spec."""
    if name not in SPECS:
        raise ScenarioError(f"unknown scenario field {name!r}; known: {', '.join(SPECS)}")
    spec = SPECS[name]
    raw: list[Any] = []
    items = text if isinstance(text, list) else [text]
    for item in items:
        if not isinstance(item, str):
            raw.append(item)
            continue
        split = distributions.split_axis(item) if name in DISTRIBUTED else item.split(",")
        for piece in (p.strip() for p in split):
            if not piece:
                raise ScenarioError(f"{spec.flag}: empty value in {item!r}")
            is_range = ":" in piece and name != "arrival" and not distributions.is_form(piece)
            raw.extend(_range(spec.flag, piece) if is_range else [piece])
    if not raw:
        raise ScenarioError(f"{spec.flag}: no values given")
    values = []
    for value in raw:
        parsed = spec.validate(value)
        if parsed not in values:
            values.append(parsed)
    return tuple(values)


MAX_REPLICATIONS = 100_000


def replications_of(text: Any) -> int:
    """`--replications K` (or a TOML grid's `replications`): an integer from 1 to 100000."""
    try:
        value = int(str(text).strip())
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_REPLICATIONS or isinstance(text, float | bool):
        raise ScenarioError(
            f"--replications must be an integer from 1 to {MAX_REPLICATIONS}, got {text!r}"
        )
    return value


@dataclass(frozen=True)
class Grid:
    """Fixed fields plus axes; the cartesian product of the axes, in axis order, is the sweep.
    Each point (a cell) is run `replications` times, run k at a seed derived from run 0's."""

    axes: dict[str, tuple[Any, ...]]
    fixed: dict[str, Any] = field(default_factory=dict)
    replications: int = 1

    @classmethod
    def build(
        cls, axes: Mapping[str, Any], fixed: Mapping[str, Any] | None = None, replications: Any = 1
    ) -> Grid:
        parsed = {name: parse_axis(name, text) for name, text in axes.items()}
        single = {k: v[0] for k, v in parsed.items() if len(v) == 1}
        multi = {k: v for k, v in parsed.items() if len(v) > 1}
        base = dict(fixed or {})
        Scenario.create(**base)  # unknown or bad fixed fields fail here, before any work
        return cls(axes=multi, fixed={**base, **single}, replications=replications_of(replications))

    def replicated(self, replications: Any) -> Grid:
        return replace(self, replications=replications_of(replications))

    def override(self, axes: Mapping[str, Any]) -> Grid:
        """This grid with some fields replaced (command-line flags over a TOML or default grid);
        replaced axes keep their place, so the first two axes stay the pictures' x and y."""
        given = Grid.build(axes)
        merged = {k: given.axes.get(k, v) for k, v in self.axes.items() if k not in given.fixed}
        merged.update({k: v for k, v in given.axes.items() if k not in merged})
        fixed = {k: v for k, v in self.fixed.items() if k not in given.axes}
        return Grid(axes=merged, fixed={**fixed, **given.fixed}, replications=self.replications)

    def __len__(self) -> int:
        """The cells: one per point of the axes' product."""
        total = 1
        for values in self.axes.values():
            total *= len(values)
        return total

    @property
    def rows(self) -> int:
        return len(self) * self.replications

    def points(self) -> Iterator[dict[str, Any]]:
        """Each point's fields as given, in grid order, lazily: a sweep hands these to its
        workers unbuilt, so walking even a huge grid costs the parent next to nothing."""
        names = list(self.axes)
        for combo in itertools.product(*self.axes.values()):
            yield {**self.fixed, **dict(zip(names, combo, strict=True))}

    def jobs(self) -> Iterator[dict[str, Any]]:
        """Each row to compute: every point once per replication, the replications of a cell
        next to each other (`keys.REPLICATION` says which)."""
        for point in self.points():
            for k in range(self.replications):
                yield {**point, REPLICATION: k} if k else point

    def scenarios(self) -> Iterator[Scenario]:
        return (Scenario.create(**point) for point in self.points())

    def describe(self) -> list[str]:
        """One line per axis and one for the fixed fields, for reports."""
        lines = [f"{name}: {_compact(values)}" for name, values in self.axes.items()]
        if self.fixed:
            lines.append("fixed: " + ", ".join(f"{k}={v}" for k, v in self.fixed.items()))
        if self.replications > 1:
            lines.append(f"replications: {self.replications} per cell")
        return lines


def _compact(values: tuple[Any, ...]) -> str:
    if len(values) > 4 and all(isinstance(v, int) for v in values):
        steps = {b - a for a, b in itertools.pairwise(values)}
        if len(steps) == 1:
            return f"{values[0]}..{values[-1]} step {steps.pop()} ({len(values)} values)"
    return ", ".join(str(v) for v in values)


def grid_from_toml(path: str | Path) -> Grid:
    """A saved grid: `[axes]` (lists or axis strings) and `[fixed]` (single values)."""
    try:
        data = tomllib.loads(Path(path).read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ScenarioError(f"--grid {path}: cannot read a TOML grid ({exc})") from exc
    unknown = sorted(set(data) - {"axes", "fixed", "replications"})
    if unknown:
        raise ScenarioError(
            f"--grid {path}: unknown key {unknown[0]!r}; use [axes], [fixed] and replications"
        )
    return Grid.build(data.get("axes", {}), data.get("fixed", {}), data.get("replications", 1))


# The seed's neighbourhood. The external client keeps the picture about the pool: the seed's
# in-process client spends client_setup_cpu per request on the loop before sending, which alone
# is a >= 1 s freeze from 20 requests up, whatever the pool (see report.md).
DEFAULT_GRID = Grid.build(
    {
        "pool_size": "1:20",
        "requests": "1:60",
        "max_overflow": "0,10",
        "endpoint": "async-sync-session,async-session",
    },
    {"pool_timeout": 30.0, "client": "external"},
)


# The picture the project exists for: P(freeze) and the model's MTTF over steady traffic and pool
# capacity, on the seed's endpoint and today's stack. max_overflow 0 makes pool_size the capacity
# (what Erlang B counts); pool_timeout 1 s lets a freeze end within the run, so collapse is a
# boundary of its own (the first freeze does not depend on it). Rates double from 0.5 to 64/s:
# for capacities 2..12 that spans a first freeze within a second to beyond a day. 20 runs of
# 10 s per cell and 20000 requests of splitting per cell fit the default sweep's 2 minutes on 2
# cores; a capacity above 12 needs more than that budget near its 1 h and 1 day lines (16
# connections at 16 req/s: only "> 2.95 h" from 15000 requests).
RISK_MAP_DIR = "risk-map"  # under the default sweep's --out
RISK_MAP = Grid.build(
    {
        "arrival": ",".join(f"poisson:{rate:g}" for rate in (0.5, 1, 2, 4, 8, 16, 32, 64)),
        "pool_size": "2:12:2",
    },
    {
        "max_overflow": 0,
        "pool_timeout": 1.0,
        "endpoint": "async-sync-session",
        "stack": "modern",
        "client": "external",
        "duration": 10.0,
    },
    replications=20,
)
