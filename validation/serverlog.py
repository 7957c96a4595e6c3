"""Parse the "PSS {json}" lines the app, the probe and the external client print, into a timeline.

Everything else in the logs (the seed's "Handling i" prints, uvicorn's tracebacks for the 500s)
is kept in the raw log for people and ignored here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sim.result import RequestRecord
from validation.probe import merge_blocks

PREFIX = "PSS "
_DECODER = json.JSONDecoder()


@dataclass(frozen=True)
class Timeline:
    """Raw monotonic stamps from one run, before they are made relative to the burst."""

    burst_at: float | None = None
    done_at: float | None = None
    handled: dict[int, float] = field(default_factory=dict)
    requests: dict[int, dict[str, Any]] = field(default_factory=dict)
    blocks: tuple[tuple[float, float], ...] = ()
    info: dict[str, Any] = field(default_factory=dict)


def parse_events(lines: Iterable[str]) -> list[dict[str, Any]]:
    """The JSON payload of every well-formed PSS record, in order, wherever it sits in a line.

    `print` writes its text and its newline in two writes, so a record printed by the probe
    thread (or a worker thread) and one printed by the loop thread can share a line:
    'PSS {...}PSS {...}', or 'Handling 3PSS {...}'. Reading only whole lines lost such records
    (a freeze, or a "served" the runner then waited for until its deadline).
    """
    marker = PREFIX + "{"
    events = []
    for line in lines:
        start = line.find(marker)
        while start != -1:
            end = start + len(PREFIX)
            try:
                payload, end = _DECODER.raw_decode(line, end)
            except ValueError:
                pass
            else:
                if isinstance(payload, dict) and "kind" in payload:
                    events.append(payload)
            start = line.find(marker, end)
    return events


def timeline(events: Iterable[dict[str, Any]]) -> Timeline:
    """Fold events from the server and client logs into one Timeline (the last burst wins)."""
    burst = done = None
    handled: dict[int, float] = {}
    requests: dict[int, dict[str, Any]] = {}
    blocks: list[tuple[float, float]] = []
    info: dict[str, Any] = {}
    for e in events:
        kind = e["kind"]
        if kind == "burst":
            burst = e["t"]
        elif kind == "done":
            done = e["t"]
        elif kind == "handled":
            handled[e["i"]] = e["t"]
        elif kind == "request":
            requests[e["i"]] = e
        elif kind == "sent":
            requests.setdefault(e["i"], e)
        elif kind == "blocked":
            blocks.append((e["start"], e["end"]))
        elif kind == "ready":
            info = {k: v for k, v in e.items() if k != "kind"}
    return Timeline(burst, done, handled, requests, tuple(merge_blocks(blocks)), info)


def records(tl: Timeline, n: int) -> list[RequestRecord]:
    """One record per request 0..n-1, times relative to the burst (None where never seen)."""
    zero = tl.burst_at or 0.0

    def rel(t: float | None) -> float | None:
        return None if t is None else t - zero

    rows = []
    for i in range(n):
        req = tl.requests.get(i, {})
        rows.append(
            RequestRecord(
                i=i,
                sent_at=rel(req.get("sent_at")),
                handled_at=rel(tl.handled.get(i)),
                completed_at=rel(req.get("completed_at")),
                status=req.get("status"),
                error=req.get("error"),
            )
        )
    return rows


def relative_blocks(tl: Timeline) -> list[tuple[float, float]]:
    """Loop blocks relative to the burst; those over before it (startup) are dropped."""
    zero = tl.burst_at or 0.0
    return [(max(a - zero, 0.0), b - zero) for a, b in tl.blocks if b > zero]
