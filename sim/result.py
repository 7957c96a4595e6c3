"""The Result schema shared by the model and the validation harness (one module, one format).

Times are seconds from the moment the burst is fired. A request's `handled_at` is when its
"Handling i" print happens; `loop_blocked` lists every interval the loop thread did not answer
for more than BLOCK_MIN seconds; a freeze is such an interval of at least `freeze_threshold`.
`first_freeze_at` and `handled_before_freeze` refer to the first freeze that began once a
request had been sent; `freezes` and `frozen_seconds` count them all.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

BLOCK_MIN = 0.05


@dataclass(frozen=True)
class RequestRecord:
    i: int
    sent_at: float | None
    handled_at: float | None
    completed_at: float | None
    status: int | None
    error: str | None


@dataclass(frozen=True)
class Summary:
    handled_before_freeze: int
    freezes: int
    frozen_seconds: float
    first_freeze_at: float | None
    makespan: float
    ok: int
    server_errors: int
    client_errors: int
    latency_p50: float | None
    latency_p99: float | None
    # Steady-traffic view. recovered: None if the loop never froze or nothing was sent after
    # the first freeze began; else whether a request sent after the last freeze got a 200.
    frozen_fraction: float = 0.0
    throughput: float = 0.0
    error_rate: float = 0.0
    recovered: bool | None = None


@dataclass(frozen=True)
class Result:
    params: dict[str, Any]
    requests: tuple[RequestRecord, ...]
    loop_blocked: tuple[tuple[float, float], ...]
    summary: Summary
    # With replications (sim/risk/replications.py): the odds over all runs, this one included.
    risk: dict[str, Any] | None = None
    # Several server processes, or connections PostgreSQL refused: `service_view`'s record.
    service: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = {
            "params": dict(self.params),
            "requests": [asdict(r) for r in self.requests],
            "loop_blocked": [list(b) for b in self.loop_blocked],
            "summary": asdict(self.summary),
        }
        if self.risk is not None:
            data["risk"] = dict(self.risk)
        if self.service is not None:
            data["service"] = dict(self.service)
        return data

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        return cls(
            params=dict(data["params"]),
            requests=tuple(RequestRecord(**r) for r in data["requests"]),
            loop_blocked=tuple((float(a), float(b)) for a, b in data["loop_blocked"]),
            summary=Summary(**data["summary"]),
            risk=data.get("risk"),
            service=data.get("service"),
        )

    @classmethod
    def from_json(cls, text: str) -> Result:
        return cls.from_dict(json.loads(text))


@dataclass(frozen=True)
class ProcessView:
    """One server process: which requests it read, and its own loop's blocks."""

    process: int
    requests: tuple[int, ...]
    loop_blocked: tuple[tuple[float, float], ...]
    pid: int | None = None  # the harness's worker pid


def service_view(
    processes: Sequence[ProcessView], max_connections: int, peak: int | None, refused: int | None
) -> dict[str, Any]:
    """The Result's `service` record: per process, and the database's connection count.

    With several processes the Result's `loop_blocked` holds every process's blocks (they may
    overlap), so `freezes` counts process freezes and `frozen_seconds` process-seconds frozen.
    `refused_connections` counts connects PostgreSQL refused ("too many clients"), each a 500;
    the harness gives None where it cannot see them.
    """
    return {
        "processes": [
            {
                "process": p.process,
                **({} if p.pid is None else {"pid": p.pid}),
                "requests": list(p.requests),
                "loop_blocked": [[_round(a, 6), _round(b, 6)] for a, b in p.loop_blocked],
            }
            for p in processes
        ],
        "max_connections": max_connections,
        "peak_connections": peak,
        "refused_connections": refused,
    }


def build_result(
    params: dict[str, Any],
    requests: Iterable[RequestRecord],
    loop_blocked: Iterable[tuple[float, float]],
    freeze_threshold: float,
    digits: int = 6,
    service: dict[str, Any] | None = None,
) -> Result:
    """Round times (so model output is stable text) and derive the summary from the timeline."""
    rows = tuple(
        sorted(
            (
                RequestRecord(
                    i=r.i,
                    sent_at=_round(r.sent_at, digits),
                    handled_at=_round(r.handled_at, digits),
                    completed_at=_round(r.completed_at, digits),
                    status=r.status,
                    error=r.error,
                )
                for r in requests
            ),
            key=lambda r: r.i,
        )
    )
    blocks = tuple(
        (_round(a, digits), _round(b, digits)) for a, b in loop_blocked if b - a > BLOCK_MIN
    )
    summary = summarize(rows, blocks, freeze_threshold)
    return Result(params, rows, blocks, summary, service=service)


def summarize(
    requests: Sequence[RequestRecord],
    loop_blocked: Sequence[tuple[float, float]],
    freeze_threshold: float,
) -> Summary:
    freezes = [(a, b) for a, b in loop_blocked if b - a >= freeze_threshold]
    # The first freeze that met requests in flight: a block that began before anything was
    # sent (the in-process client building its httpx clients on the loop) froze no request.
    first_sent = min((r.sent_at for r in requests if r.sent_at is not None), default=0.0)
    in_flight = [a for a, _ in freezes if a >= first_sent]
    first = in_flight[0] if in_flight else None
    # A freeze is declared once the loop has not answered for freeze_threshold: requests
    # handled before that moment (those of the iteration that ends in the blocking checkout)
    # got through. Later blocks merged into the same interval do not move it.
    declared = first + freeze_threshold if first is not None else math.inf
    before = sum(1 for r in requests if r.handled_at is not None and r.handled_at < declared)
    ends = [r.completed_at for r in requests if r.completed_at is not None]
    makespan = max(ends, default=0.0)
    ok = sum(1 for r in requests if r.status == 200)
    failed = sum(1 for r in requests if r.status != 200)
    latencies = sorted(
        r.completed_at - r.sent_at
        for r in requests
        if r.completed_at is not None and r.sent_at is not None and r.status == 200
    )
    return Summary(
        handled_before_freeze=before,
        freezes=len(freezes),
        frozen_seconds=round(sum(b - a for a, b in freezes), 6),
        first_freeze_at=first,
        makespan=round(makespan, 6),
        ok=ok,
        server_errors=sum(1 for r in requests if r.status is not None and r.status >= 500),
        client_errors=sum(1 for r in requests if r.status is None),
        latency_p50=_quantile(latencies, 0.50),
        latency_p99=_quantile(latencies, 0.99),
        frozen_fraction=round(sum(b - a for a, b in freezes) / makespan, 6) if makespan else 0.0,
        throughput=round(ok / makespan, 6) if makespan else 0.0,
        error_rate=round(failed / len(requests), 6) if requests else 0.0,
        recovered=_recovered(requests, freezes),
    )


def _recovered(
    requests: Sequence[RequestRecord], freezes: Sequence[tuple[float, float]]
) -> bool | None:
    """Did the server come back by itself: was a request sent after its last freeze served?"""
    if not freezes:
        return None
    sent_after_first = [r for r in requests if r.sent_at is not None and r.sent_at > freezes[0][0]]
    if not sent_after_first:
        return None
    last_end = freezes[-1][1]
    return any(r.status == 200 for r in sent_after_first if r.sent_at >= last_end)


def _quantile(sorted_values: Sequence[float], q: float) -> float | None:
    """Nearest-rank quantile: a value that actually occurred, no interpolation."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return round(sorted_values[rank - 1], 6)


def _round(value: float | None, digits: int) -> float | None:
    """Rounded, and always a float: SimPy's time starts as the int 0, JSON would keep it so."""
    return None if value is None else float(round(value, digits))
