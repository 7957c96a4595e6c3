"""Access logs to traces: when each request reached the server, for `--arrival trace:FILE`.

Two formats, one request per line:

- `nginx`: a `log_format` that starts with `$msec $request_time`, e.g.
  `log_format pss '$msec $request_time "$request" $status';`. nginx writes the line when the
  request ends: `$msec` is that moment (epoch seconds, ms resolution) and `$request_time` the
  seconds since the request's first bytes were read, so the request arrived at their difference.
- `uvicorn`: the `uvicorn.access` logger with a timestamp first, e.g. the formatter
  `%(asctime)s %(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s`, which
  prints `2024-05-01 12:00:00,123 INFO:     127.0.0.1:51234 - "GET /?i=1 HTTP/1.1" 200`.
  uvicorn logs a request when its response starts (`RequestResponseCycle.send`), not when it
  arrives, so these times are late by each request's time in the app; a log from a frozen
  server bunches them at the end of the freeze.

Send times are seconds after the first request. A log interleaves other lines (start-up
messages, warnings, tracebacks), so a line that is not a request in the format is skipped and
counted, not an error; a log with no request line at all is one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sim.errors import ParseError
from sim.traces import Trace, TraceRequest

FORMATS = ("uvicorn", "nginx")

_NGINX = re.compile(r"^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s")
_UVICORN = re.compile(
    r"^(\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d(?:[,.]\d+)?)\s.*\"[A-Z]+ \S+ HTTP/[\d.]+\" \d{3}"
)


@dataclass(frozen=True)
class Converted:
    trace: Trace
    lines: int
    skipped: int
    first_skipped: int | None  # its line number


def _arrival(line: str, fmt: str) -> float | None:
    """The epoch second the line's request arrived, None if the line is not one."""
    if fmt == "nginx":
        found = _NGINX.match(line)
        return None if found is None else float(found[1]) - float(found[2])
    found = _UVICORN.match(line)
    if found is None:
        return None
    return datetime.fromisoformat(found[1].replace(",", ".")).timestamp()


def convert(lines: Iterable[str], fmt: str, name: str) -> Converted:
    """The trace of the request lines in `lines`; ParseError if there is none."""
    arrivals, skipped, first_skipped, count = [], 0, None, 0
    for number, line in enumerate(lines, 1):
        count = number
        at = _arrival(line, fmt)
        if at is None:
            skipped += 1
            first_skipped = first_skipped or number
        else:
            arrivals.append(at)
    if not arrivals:
        where = "" if first_skipped is None else f" (line {first_skipped} is not one)"
        raise ParseError(f"{name}: no request line in the {fmt} format{where}")
    start = min(arrivals)
    requests = tuple(TraceRequest(round(at - start, 6)) for at in sorted(arrivals))
    return Converted(Trace(requests), count, skipped, first_skipped)
