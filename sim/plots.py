"""Pictures: freeze heatmaps over two swept axes, and one run's per-request Gantt timeline.

Both are drawn for a reader who never saw the code: units on every axis and colour bar, the
model's freeze boundary and the closed form's drawn together and labelled, the seed marked.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from sim.analytic import freezes  # noqa: E402
from sim.errors import ScenarioError  # noqa: E402
from sim.result import Result  # noqa: E402
from sim.scenario import Scenario, parse_arrival  # noqa: E402
from sim.sweep.rows import scenario_columns, scenario_fields  # noqa: E402

LABELS = {
    "arrival": "Poisson arrival rate (requests/s)",
    "frozen_fraction": "share of the time the event loop was frozen",
    "frozen_seconds": "total time the event loop was frozen (s)",
    "handled_before_freeze": "requests handled before the first freeze",
    "server_errors": "HTTP 500 responses (pool time-outs)",
    "ok": "HTTP 200 responses",
    "makespan": "time until the last response (s)",
    "freezes": "number of freezes",
    "first_freeze_at": "first freeze starts at (s)",
    "latency_p50": "median latency of 200s (s)",
    "latency_p99": "99th-percentile latency of 200s (s)",
    "pool_size": "pool_size (connections kept)",
    "max_overflow": "max_overflow (extra connections)",
    "requests": "requests in the burst",
    "pool_timeout": "pool_timeout (s)",
    "async_work": "async work after the query (s)",
}
SEED = Scenario()  # the seed's own settings: pool 5 + overflow 10, a burst of 20


@dataclass(frozen=True)
class Facet:
    """One categorical combination: the fixed values of every column besides x and y."""

    where: dict[str, Any]

    def title(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.where.items())

    def slug(self) -> str:
        return "".join(f"-{k}={v}" for k, v in self.where.items()).replace("/", "_")


def _save(fig: Figure, out: Path) -> Path:
    """Write the PNG beside its final name, then rename: never a half-written picture."""
    out = Path(out)
    partial = out.with_name(f".{out.name}.partial")
    fig.savefig(partial, dpi=110, format="png")
    plt.close(fig)
    partial.replace(out)
    return out


def _label(name: str) -> str:
    return LABELS.get(name, name)


def _column(table: pa.Table, name: str) -> list[Any]:
    if name not in table.column_names:
        raise ScenarioError(f"no column {name!r}; columns: {', '.join(table.column_names)}")
    return table.column(name).to_pylist()


def filter_rows(table: pa.Table, where: dict[str, Any]) -> pa.Table:
    """Rows whose columns equal the given values (text from --where is cast to the column)."""
    for name, value in where.items():
        column = pa.array(_column(table, name), type=table.schema.field(name).type)
        try:
            wanted = pa.scalar(value).cast(column.type) if not isinstance(value, str) else value
            if isinstance(value, str) and not pa.types.is_string(column.type):
                wanted = pa.scalar(float(value)).cast(column.type)
        except (ValueError, pa.ArrowInvalid) as exc:
            raise ScenarioError(f"--where {name}={value}: not a {column.type} ({exc})") from exc
        table = table.filter(pc.equal(column, wanted))
    return table


def facets(table: pa.Table, x: str, y: str, ignore: tuple[str, ...] = ()) -> Iterator[Facet]:
    """Every combination of the Scenario columns that vary, other than x and y."""
    varying = [
        name
        for name in scenario_columns()
        if name in table.column_names
        and name not in (x, y, "seed", *ignore)
        and len(set(_column(table, name))) > 1
    ]
    combos = sorted({tuple(row[n] for n in varying) for row in table.select(varying).to_pylist()})
    for combo in combos or [()]:
        yield Facet(dict(zip(varying, combo, strict=True)))


def _edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges halfway between centres, so each cell sits on its own value."""
    if len(centres) == 1:
        return np.array([centres[0] - 0.5, centres[0] + 0.5])
    mids = (centres[:-1] + centres[1:]) / 2
    return np.concatenate([[2 * centres[0] - mids[0]], mids, [2 * centres[-1] - mids[-1]]])


def coordinate(name: str, value: Any) -> float:
    """A cell's position on an axis: the value, or for `arrival` its Poisson rate, so a sweep
    over `--arrival poisson:1,poisson:2,...` draws rate as a numeric axis."""
    if name == "arrival":
        spec = parse_arrival(value)
        if spec.kind != "poisson":
            raise ScenarioError(
                f"--x/--y arrival: only poisson:RATE values lie on an axis, got {value}"
            )
        return spec.rate
    return float(value)


def _grid(table: pa.Table, x: str, y: str, z: str) -> tuple[np.ndarray, ...]:
    """z on the (x, y) cells, with the model's freeze and collapse masks and the closed form's
    freeze mask (NaN where it makes no claim: it speaks of bursts only)."""
    _column(table, z)
    xs = np.array(sorted({coordinate(x, v) for v in _column(table, x)}), dtype=float)
    ys = np.array(sorted({coordinate(y, v) for v in _column(table, y)}), dtype=float)
    values = np.full((len(ys), len(xs)), np.nan)
    model_freeze = np.full_like(values, np.nan)
    collapse = np.full_like(values, np.nan)
    analytic_freeze = np.full_like(values, np.nan)
    names = [n for n in scenario_columns() if n in table.column_names]
    filled: set[tuple[int, int]] = set()
    for row in table.to_pylist():
        i = np.searchsorted(ys, coordinate(y, row[y]))
        j = np.searchsorted(xs, coordinate(x, row[x]))
        if (i, j) in filled:
            varying = [
                n
                for n in [*names, "replication"]
                if n in table.column_names
                and n not in (x, y, "seed")
                and len(set(_column(table, n))) > 1
            ]
            raise ScenarioError(
                f"several rows per ({x}, {y}) cell: fix {', '.join(varying)} with --where"
            )
        filled.add((i, j))
        values[i, j] = np.nan if row[z] is None else row[z]
        model_freeze[i, j] = float((row.get("freezes") or 0) > 0)
        collapse[i, j] = float(row.get("recovered") is False)
        if row["arrival"] == "burst":
            analytic_freeze[i, j] = float(freezes(Scenario.create(**scenario_fields(row))))
    return xs, ys, values, model_freeze, collapse, analytic_freeze


def heatmap(
    table: pa.Table, x: str, y: str, z: str, where: dict[str, Any], out: Path, title: str = ""
) -> Path:
    """`heatmap_figure`, written to `out` as PNG."""
    return _save(heatmap_figure(table, x, y, z, where, title), out)


def heatmap_figure(
    table: pa.Table, x: str, y: str, z: str, where: dict[str, Any], title: str = ""
) -> Figure:
    """z over (x, y) for the rows matching `where`; boundaries as contours; the seed starred."""
    rows = filter_rows(table, where)
    if rows.num_rows == 0:
        raise ScenarioError(f"no rows match {where}")
    xs, ys, values, model_freeze, collapse, analytic_freeze = _grid(rows, x, y, z)
    fig, ax = plt.subplots(figsize=(8, 6), constrained_layout=True)
    mesh = ax.pcolormesh(_edges(xs), _edges(ys), values, cmap="magma", shading="flat")
    fig.colorbar(mesh, ax=ax, label=_label(z))
    handles: list[Any] = []
    if len(xs) > 1 and len(ys) > 1:
        handles += _contour(ax, xs, ys, model_freeze, MODEL_FREEZE)
        handles += _contour(ax, xs, ys, collapse, MODEL_COLLAPSE)
        handles += _contour(ax, xs, ys, analytic_freeze, CLOSED_FORM_FREEZE)
    handles += _mark_seed(ax, rows, x, y, where)
    if np.isfinite(analytic_freeze).any() and np.nanmax(analytic_freeze) == 0:
        handles.append(Patch(color="none", label="closed form: no freeze anywhere here"))
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    for axis, values in ((ax.xaxis, xs), (ax.yaxis, ys)):
        if np.all(values == np.round(values)):
            axis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(title or f"{_label(z)}\n{Facet(where).title()}", fontsize=10)
    ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.85)
    return fig


@dataclass(frozen=True)
class Boundary:
    """How one boundary is drawn; `label` is its legend entry and its artist's gid."""

    label: str
    colour: str
    style: str
    width: float


MODEL_FREEZE = Boundary("model: where the loop starts to freeze", "cyan", "-", 5)
MODEL_COLLAPSE = Boundary("model: where it stops recovering", "white", ":", 3)
CLOSED_FORM_FREEZE = Boundary("closed form: requests > pool + overflow", "lime", "--", 2)
SEED_LABEL = "the seed: pool_size 5, max_overflow 10, 20 requests"


def _contour(
    ax: Any, xs: np.ndarray, ys: np.ndarray, mask: np.ndarray, line: Boundary
) -> list[Line2D]:
    """The 0.5 level between cell centres: the line runs between the last calm and first
    frozen cell."""
    if not np.isfinite(mask).any() or np.nanmin(mask) == np.nanmax(mask):
        return []
    drawn = ax.contour(
        xs, ys, mask, levels=[0.5], colors=line.colour, linestyles=line.style, linewidths=line.width
    )
    drawn.set_gid(line.label)
    style = {"color": line.colour, "linestyle": line.style, "linewidth": line.width}
    return [Line2D([], [], label=line.label, **style)]


def _mark_seed(ax: Any, rows: pa.Table, x: str, y: str, where: dict[str, Any]) -> list[Line2D]:
    """Star the seed's point if this picture contains its pool and burst settings."""
    seed = {n: getattr(SEED, n) for n in ("pool_size", "max_overflow", "requests")}
    if x not in seed or y not in seed:
        return []
    others = {n: v for n, v in seed.items() if n not in (x, y)}
    fixed = {n: where.get(n, _single(rows, n)) for n in others}
    if fixed != others:
        return []
    ax.plot(
        seed[x],
        seed[y],
        marker="*",
        markersize=16,
        color="white",
        markeredgecolor="black",
        gid=SEED_LABEL,
    )
    return [
        Line2D(
            [],
            [],
            marker="*",
            markersize=12,
            color="white",
            markeredgecolor="black",
            linestyle="none",
            label=SEED_LABEL,
        )
    ]


def _single(rows: pa.Table, name: str) -> Any:
    values = set(_column(rows, name))
    return values.pop() if len(values) == 1 else None


STATES = {
    "waiting": "#9ecae1",
    "holding a connection": "#3182bd",
    "HTTP 500": "#de2d26",
    "client time-out": "#fd8d3c",
    "done (200)": "#31a354",
}


def gantt(result: Result, out: Path) -> Path:
    """`gantt_figure`, written to `out` as PNG."""
    return _save(gantt_figure(result), out)


def gantt_figure(result: Result) -> Figure:
    """One bar per request: waiting until handled, then holding; its end marked by outcome."""
    reqs = result.requests
    end = max(result.summary.makespan, 1e-6)
    height = min(12, 2 + 0.22 * len(reqs))
    fig, ax = plt.subplots(figsize=(10, height), constrained_layout=True)
    threshold = result.params["freeze_threshold"]
    for a, b in result.loop_blocked:
        if b - a >= threshold:
            ax.axvspan(a, b, color="0.85", zorder=0, gid="loop frozen")
    for r in reqs:
        start = r.sent_at or 0.0
        stop = r.completed_at if r.completed_at is not None else end
        mid = r.handled_at if r.handled_at is not None else stop
        ax.barh(r.i, mid - start, left=start, color=STATES["waiting"], height=0.8)
        ax.barh(r.i, stop - mid, left=mid, color=STATES["holding a connection"], height=0.8)
        outcome = (
            "HTTP 500"
            if r.status is not None and r.status >= 500
            else "done (200)"
            if r.status == 200
            else "client time-out"
        )
        ax.plot(
            stop,
            r.i,
            marker="|" if outcome == "done (200)" else "x",
            markersize=8,
            color=STATES[outcome],
            markeredgewidth=2,
            gid=outcome,
        )
    handles = [Patch(color=c, label=n) for n, c in STATES.items()]
    handles.append(Patch(color="0.85", label=f"loop frozen (blocked >= {threshold:g} s)"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.08), ncol=3, fontsize=8)
    ax.set_xlim(0, end * 1.01)
    ax.set_xlabel("seconds since the burst was fired")
    ax.set_ylabel("request number")
    ax.invert_yaxis()
    p = result.params
    ax.set_title(
        f"pool_size {p['pool_size']}, max_overflow {p['max_overflow']}, pool_timeout "
        f"{p['pool_timeout']} s, {p['requests']} requests, endpoint {p['endpoint']}, "
        f"client {p['client']}",
        fontsize=9,
    )
    return fig


def first_freeze_vs_rate(base: Scenario, rates: list[float], seeds: int, out: Path) -> Path:
    """`first_freeze_figure`, written to `out` as PNG."""
    return _save(first_freeze_figure(base, rates, seeds), out)


def first_freeze_figure(base: Scenario, rates: list[float], seeds: int) -> Figure:
    """Mean time to the first freeze against the arrival rate: the model (mean over seeds, from
    an empty pool) between the two queueing estimates of sim/queueing.py. A run with no freeze
    within its duration counts as its duration, so high points are lower bounds (open marks)."""
    from sim.model import simulate
    from sim.queueing import blocked_arrival_interval, mean_time_to_first_freeze

    fig, ax = plt.subplots(figsize=(8, 5))
    model, censored = [], []
    for rate in rates:
        duration = 30.0
        runs = [
            simulate(
                base.replace(
                    arrival=f"poisson:{rate:g}", duration=duration, seed=seed, client="external"
                )
            ).summary.first_freeze_at
            for seed in range(seeds)
        ]
        model.append(float(np.mean([duration if t is None else t for t in runs])))
        censored.append(any(t is None for t in runs))
    mm = [mean_time_to_first_freeze(r, base) for r in rates]
    gap = [blocked_arrival_interval(r, base) for r in rates]
    ax.plot(rates, mm, "-", color="tab:blue", label="M/M/c/c first passage (upper estimate)")
    ax.plot(rates, gap, "--", color="tab:green", label="1 / (rate x Erlang B) (lower bound)")
    for rate, value, cut in zip(rates, model, censored, strict=True):
        ax.plot(rate, value, "o", color="tab:red", mfc="white" if cut else "tab:red", gid="model")
    ax.plot([], [], "o", color="tab:red", label=f"model, mean of {seeds} seeds")
    if any(censored):
        ax.plot(
            [], [], "o", color="tab:red", mfc="white", label="model, a seed saw no freeze in 30 s"
        )
    ax.set_yscale("log")
    ax.set_xlabel("arrival rate (requests/s, Poisson)")
    ax.set_ylabel("mean time to the first freeze (s)")
    ax.set_title(
        f"First freeze vs traffic: pool {base.pool_size} + {base.max_overflow}, "
        f"{base.work.mean:g} s async work, {base.stack}"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    return fig


PROBABILITY_LEVELS = (0.05, 0.5, 0.95)
RISK_LABELS = {
    "p_freeze": "P(freeze within the run)",
    "p_collapse": "P(collapse: no recovery while traffic lasts)",
}
ERLANG_DAY = "Erlang B: 1 / (rate x B(c, A)) = 1 day"
CAPACITY = ("pool_size", "max_overflow")


def risk_map(table: pa.Table, x: str, y: str, z: str, where: dict[str, Any], out: Path) -> Path:
    """`risk_figure`, written to `out` as PNG."""
    return _save(risk_figure(table, x, y, z, where), out)


def _mttf_field(rows: list[dict[str, Any]], cell: Any, level: float, shape: tuple) -> np.ndarray:
    """log10 of each cell's MTTF as far as it is known against `level`: the estimate, or a lower
    bound where it lies above the level (the cell is then known to be above it), else NaN."""
    field = np.full(shape, np.nan)
    for row in rows:
        i, j = cell(row)
        if row["mttf_s"] is not None:
            field[i, j] = math.log10(max(row["mttf_s"], 1e-9))
        elif row["mttf_lo"] is not None and row["mttf_lo"] > level:
            field[i, j] = math.log10(min(row["mttf_lo"], 1e30))
    return field


def erlang_day(base: Scenario, capacities: list[int]) -> list[tuple[float, int]]:
    """For each capacity c, the rate at which Erlang B's mean gap between blocked arrivals,
    1 / (rate x B(c, rate x hold)), is a day (bisection in log rate: the gap falls with rate)."""
    from sim.queueing import blocked_arrival_interval

    points = []
    for c in capacities:
        scenario = base.replace(pool_size=c, max_overflow=0)
        lo, hi = 1e-6, 1e6
        for _ in range(80):
            mid = math.sqrt(lo * hi)
            lo, hi = (mid, hi) if blocked_arrival_interval(mid, scenario) > 86400 else (lo, mid)
        points.append((math.sqrt(lo * hi), c))
    return points


def risk_figure(table: pa.Table, x: str, y: str, z: str, where: dict[str, Any]) -> Figure:
    """A probability from a replicated sweep's cells over (x, y), contoured at 5, 50 and 95 %.

    Over Poisson rate x capacity (pool_size or max_overflow) the rate goes on x and the figure
    adds the model's MTTF contours at 1 min, 1 h and 1 day and Erlang B's 1-day line."""
    from sim.risk.mttf import WITHIN
    from sim.risk.text import duration

    rows = filter_rows(table, where)
    if rows.num_rows == 0:
        raise ScenarioError(f"no rows match {where}")
    if y == "arrival":
        x, y = y, x
    records = rows.to_pylist()
    xs = np.array(sorted({coordinate(x, r[x]) for r in records}), dtype=float)
    ys = np.array(sorted({coordinate(y, r[y]) for r in records}), dtype=float)

    def cell(row: dict[str, Any]) -> tuple[int, int]:
        at = (
            np.searchsorted(ys, coordinate(y, row[y])),
            np.searchsorted(xs, coordinate(x, row[x])),
        )
        return int(at[0]), int(at[1])

    values = np.full((len(ys), len(xs)), np.nan)
    for row in records:
        values[cell(row)] = np.nan if row[z] is None else row[z]
    logarithmic = x == "arrival" and xs[0] > 0 and xs[-1] / xs[0] >= 8
    x_edges = 10 ** _edges(np.log10(xs)) if logarithmic else _edges(xs)
    fig, ax = plt.subplots(figsize=(8, 6), constrained_layout=True)
    mesh = ax.pcolormesh(x_edges, _edges(ys), values, cmap="magma", vmin=0, vmax=1)
    fig.colorbar(mesh, ax=ax, label=RISK_LABELS.get(z, z))
    if logarithmic:
        ax.set_xscale("log")
    handles: list[Any] = []
    grid = len(xs) > 1 and len(ys) > 1
    for level, style in zip(PROBABILITY_LEVELS, (":", "-", "--"), strict=True):
        if grid and np.nanmin(values) < level < np.nanmax(values):
            drawn = ax.contour(xs, ys, values, levels=[level], colors="cyan", linestyles=style)
            drawn.set_gid(f"{z} = {level:g}")
            handles.append(Line2D([], [], color="cyan", linestyle=style, label=f"{z} = {level:g}"))
    if grid and x == "arrival" and y in CAPACITY and "mttf_s" in rows.column_names:
        for level, colour in zip(WITHIN, ("lime", "yellow", "white"), strict=True):
            field = _mttf_field(records, cell, level, values.shape)
            known = field[np.isfinite(field)]
            if known.size and known.min() < math.log10(level) < known.max():
                drawn = ax.contour(xs, ys, field, levels=[math.log10(level)], colors=colour,
                                   linewidths=2.5)  # fmt: skip
                drawn.set_gid(f"model MTTF = {duration(level)}")
                handles.append(Line2D([], [], color=colour, linewidth=2.5,
                                      label=f"model MTTF = {duration(level)}"))  # fmt: skip
        base = Scenario.create(**scenario_fields(records[0]))
        other = records[0]["max_overflow" if y == "pool_size" else "pool_size"]
        capacities = range(int(ys[0]) + other, int(ys[-1]) + other + 1)
        line = [(rate, c - other) for rate, c in erlang_day(base, list(capacities))]
        ax.plot(*zip(*line, strict=True), color="deepskyblue", linestyle="--", linewidth=2,
                marker=".", gid=ERLANG_DAY)  # fmt: skip
        handles.append(Line2D([], [], color="deepskyblue", linestyle="--", label=ERLANG_DAY))
        ax.set_xlim(x_edges[0], x_edges[-1])
        handles.append(
            Patch(color="none", label="MTTF lines end where only a lower bound is known")
        )
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    if np.all(ys == np.round(ys)):
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    first = records[0]
    ax.set_title(
        f"{RISK_LABELS.get(z, z)}: {first['replications']} runs of {first['duration']:g} s "
        f"per cell\n{Facet(where).title()}",
        fontsize=10,
    )
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize=8, framealpha=0.85)
    return fig
