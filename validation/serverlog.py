"""Parse the "PSS {json}" lines the app, the probe and the external client print, into a timeline.

Everything else in the logs (the seed's "Handling i" prints, uvicorn's tracebacks for the 500s)
is kept in the raw log for people and ignored here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sim.result import ProcessView, RequestRecord, service_view
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
    # Several workers: their pids in start-up order, the worker that read each request, each
    # worker's own loop blocks, and the server's exception messages (the 500s' causes).
    pids: tuple[int, ...] = ()
    served_by: dict[int, int] = field(default_factory=dict)
    blocks_by_pid: dict[int, tuple[tuple[float, float], ...]] = field(default_factory=dict)
    errors: tuple[str, ...] = ()


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
    pids: list[int] = []
    served_by: dict[int, int] = {}
    by_pid: dict[int, list[tuple[float, float]]] = {}
    errors: list[str] = []
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
            by_pid.setdefault(e.get("pid", 0), []).append((e["start"], e["end"]))
        elif kind == "ready":
            info = {k: v for k, v in e.items() if k != "kind"}
            if "pid" in e and e["pid"] not in pids:
                pids.append(e["pid"])
        elif kind == "served" and "pid" in e:
            i = _request_index(e.get("query", ""))
            if i is not None:
                served_by[i] = e["pid"]
        elif kind == "error":
            errors.append(e.get("message", ""))
    return Timeline(
        burst,
        done,
        handled,
        requests,
        tuple(merge_blocks(blocks)),
        info,
        tuple(pids),
        served_by,
        {pid: tuple(merge_blocks(b)) for pid, b in by_pid.items()},
        tuple(errors),
    )


def _request_index(query: str) -> int | None:
    """`i` from a request's query string (`i=3&w=0.1`); None for the client's warm-up."""
    for part in query.split("&"):
        key, _, value = part.partition("=")
        if key == "i" and value.isdigit():
            return int(value)
    return None


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


def relative_blocks(tl: Timeline, pid: int | None = None) -> list[tuple[float, float]]:
    """Loop blocks (of worker `pid` only, if given) relative to the burst; those over before it
    (startup) are dropped."""
    zero = tl.burst_at or 0.0
    blocks = tl.blocks if pid is None else tl.blocks_by_pid.get(pid, ())
    return [(max(a - zero, 0.0), b - zero) for a, b in blocks if b > zero]


TOO_MANY_CLIENTS = "too many clients"  # PostgreSQL's FATAL, as psycopg2's OperationalError says it


def service(tl: Timeline, max_connections: int) -> dict[str, Any]:
    """The Result's `service` record from the workers' own events (sim.result.service_view)."""
    views = [
        ProcessView(
            process=k,
            requests=tuple(sorted(i for i, p in tl.served_by.items() if p == pid)),
            loop_blocked=tuple(relative_blocks(tl, pid)),
            pid=pid,
        )
        for k, pid in enumerate(tl.pids)
    ]
    refused = sum(TOO_MANY_CLIENTS in message for message in tl.errors)
    return service_view(views, max_connections, None, refused)
