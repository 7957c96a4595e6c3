"""ASCII rendering of a Result: a short summary and one timeline row per request."""

from __future__ import annotations

from sim.result import Result

LEGEND = (
    "legend: . waiting   = handled (holding a connection)   X 500   T client time-out"
    "   # loop frozen"
)


def summary_text(result: Result) -> str:
    s = result.summary
    p = result.params
    lines = [
        f"pool_size={p['pool_size']} max_overflow={p['max_overflow']} "
        f"pool_timeout={p['pool_timeout']}s requests={p['requests']} endpoint={p['endpoint']} "
        f"stack={p['stack']} loop={p['loop']} client={p['client']} arrival={p['arrival']}",
        f"handled before first freeze: {s.handled_before_freeze}",
        f"freezes: {s.freezes}, frozen {s.frozen_seconds:.3f} s" + _freeze_list(result),
        f"responses: {s.ok} x 200, {s.server_errors} x 5xx, {s.client_errors} client errors; "
        f"makespan {s.makespan:.3f} s",
    ]
    if s.latency_p50 is not None:
        lines.append(f"latency of 200s: p50 {s.latency_p50:.3f} s, p99 {s.latency_p99:.3f} s")
    if result.service is not None:
        lines += _service_lines(result.service)
    return "\n".join(lines)


def _service_lines(service: dict) -> list[str]:
    """Per process: what it read and its longest loop block; PostgreSQL's connection count."""
    lines = []
    for p in service["processes"]:
        longest = max((b - a for a, b in p["loop_blocked"]), default=0.0)
        lines.append(
            f"process {p['process']}: read {len(p['requests'])} requests, "
            f"longest loop block {longest:.2f} s"
        )
    peak = service["peak_connections"]
    lines.append(
        f"PostgreSQL: max_connections {service['max_connections']}"
        + ("" if peak is None else f", peak {peak}")
        + f", refused {service['refused_connections']} (too many clients, each a 500)"
    )
    return lines


def _freeze_list(result: Result, shown: int = 4) -> str:
    """Each freeze's start and length: an in-process client's own set-up shows up here too."""
    threshold = result.params["freeze_threshold"]
    spans = [(a, b - a) for a, b in result.loop_blocked if b - a >= threshold]
    if not spans:
        return ""
    text = ", ".join(f"{length:.2f} s at {start:.2f} s" for start, length in spans[:shown])
    more = f", +{len(spans) - shown} more" if len(spans) > shown else ""
    return f" ({text}{more})"


def timeline_text(result: Result, width: int = 72, max_rows: int = 40) -> str:
    """One row per request over [0, makespan]; frozen spans drawn as '#' on the top row."""
    end = max(result.summary.makespan, 1e-9)
    scale = width / end

    def col(t: float) -> int:
        return min(width - 1, max(0, int(t * scale)))

    frozen = [" "] * width
    for a, b in result.loop_blocked:
        if b - a >= result.params["freeze_threshold"]:
            for c in range(col(a), col(b) + 1):
                frozen[c] = "#"
    rows = [f"{'loop':>6} |{''.join(frozen)}|"]
    shown = result.requests[:max_rows]
    for r in shown:
        cells = [" "] * width
        start = r.sent_at if r.sent_at is not None else 0.0
        stop = r.completed_at if r.completed_at is not None else end
        mid = r.handled_at if r.handled_at is not None else stop
        for c in range(col(start), col(mid) + 1):
            cells[c] = "."
        for c in range(col(mid), col(stop) + 1):
            cells[c] = "="
        if r.status is not None and r.status >= 500:
            cells[col(stop)] = "X"
        elif r.status is None and r.error:
            cells[col(stop)] = "T"
        rows.append(f"{r.i:>6} |{''.join(cells)}|")
    if len(result.requests) > max_rows:
        rows.append(f"   ... {len(result.requests) - max_rows} more requests")
    rows.append(f"{'':>6}  0 s{'':{width - 12}}{end:8.2f} s")
    rows.append(LEGEND)
    return "\n".join(rows)
