"""Recorded traffic for `--arrival trace:FILE`: send times, and per request its own work, query
time and endpoint style when the recording has them.

Accepted files:
- JSON: a list of send times in seconds; a Result (model or harness) whose `requests` rows carry
  `sent_at`; or a list of records `{"sent_at": 0.1, "work": 0.05, "query": 0.002,
  "endpoint": "sync"}`, every key but `sent_at` optional.
- CSV (a `.csv` name): a header naming `sent_at` and any of `work`, `query`, `endpoint`; an empty
  cell leaves that request to the scenario's own `--async-work`, `--query-time`, `--endpoint`.

Requests are replayed in order of `sent_at` (ties keep the file's order): request i is the i-th.
An unreadable record is a ParseError naming the file and its line (CSV) or record number (JSON).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.errors import ParseError

COLUMNS = ("sent_at", "work", "query", "endpoint")


@dataclass(frozen=True)
class TraceRequest:
    """One recorded request; None leaves a value to the scenario."""

    sent_at: float
    work: float | None = None
    query: float | None = None
    endpoint: str | None = None


@dataclass(frozen=True)
class Trace:
    requests: tuple[TraceRequest, ...]

    @property
    def times(self) -> tuple[float, ...]:
        return tuple(r.sent_at for r in self.requests)

    def column(self, name: str) -> tuple[Any, ...] | None:
        """Each request's `name` (work, query or endpoint), None when no request sets it."""
        values = tuple(getattr(r, name) for r in self.requests)
        return values if any(v is not None for v in values) else None


def _seconds(value: Any, where: str, name: str) -> float:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not math.isfinite(seconds) or seconds < 0:
        raise ParseError(f"{where}: {name} must be a number of seconds >= 0, got {value!r}")
    return seconds


def _request(record: dict[str, Any], where: str, endpoints: tuple[str, ...]) -> TraceRequest:
    unknown = sorted(set(record) - set(COLUMNS))
    if unknown:
        raise ParseError(f"{where}: unknown column {unknown[0]!r}; known: {', '.join(COLUMNS)}")
    if record.get("sent_at") in (None, ""):
        raise ParseError(f"{where}: no sent_at")
    given = {k: v for k, v in record.items() if v not in (None, "")}
    endpoint = given.get("endpoint")
    if endpoint is not None and endpoint not in endpoints:
        allowed = ", ".join(endpoints)
        raise ParseError(f"{where}: endpoint must be one of {allowed}, got {endpoint!r}")
    return TraceRequest(
        sent_at=_seconds(given["sent_at"], where, "sent_at"),
        work=None if "work" not in given else _seconds(given["work"], where, "work"),
        query=None if "query" not in given else _seconds(given["query"], where, "query"),
        endpoint=endpoint,
    )


def _from_json(path: str, text: str, endpoints: tuple[str, ...]) -> Iterable[TraceRequest]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ParseError(f"{path} line {exc.lineno}: not JSON ({exc.msg})") from None
    if isinstance(data, dict):  # a Result: the rows that were sent
        rows = data.get("requests")
        if not isinstance(rows, list):
            raise ParseError(f"{path}: a JSON object must be a Result with a `requests` list")
        data = [r["sent_at"] for r in rows if isinstance(r, dict) and r.get("sent_at") is not None]
    if not isinstance(data, list):
        raise ParseError(f"{path}: not a list of send times or of records")
    for number, item in enumerate(data, 1):
        where = f"{path} record {number}"
        if isinstance(item, dict):
            yield _request(item, where, endpoints)
        else:
            yield TraceRequest(_seconds(item, where, "sent_at"))


def _from_csv(path: str, text: str, endpoints: tuple[str, ...]) -> Iterable[TraceRequest]:
    reader = csv.DictReader(text.splitlines())
    if not reader.fieldnames or "sent_at" not in reader.fieldnames:
        raise ParseError(
            f"{path} line 1: the header must name sent_at (and any of work, query, endpoint)"
        )
    for row in reader:
        where = f"{path} line {reader.line_num}"
        if None in row:
            raise ParseError(f"{where}: more cells than the header has columns")
        yield _request({k.strip(): (v or "").strip() for k, v in row.items()}, where, endpoints)


def load(path: str, endpoints: tuple[str, ...]) -> Trace:
    """The trace in `path`, requests in order of send time; ParseError if it cannot be read.
    `endpoints`: the styles an `endpoint` cell may name."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"{path}: cannot read ({exc.__class__.__name__})") from None
    read = _from_csv if path.lower().endswith(".csv") else _from_json
    requests = sorted(read(path, text, endpoints), key=lambda r: r.sent_at)
    if not requests:
        raise ParseError(f"{path}: no requests")
    return Trace(tuple(requests))


def write_csv(trace: Trace) -> str:
    """The trace as CSV with the columns some request sets (`sent_at` always)."""
    names = [n for n in COLUMNS if n == "sent_at" or trace.column(n) is not None]
    lines = [",".join(names)]
    for r in trace.requests:
        cells = (getattr(r, n) for n in names)
        lines.append(",".join("" if v is None else str(v) for v in cells))
    return "\n".join(lines) + "\n"
