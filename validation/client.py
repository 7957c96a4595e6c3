"""External client: a separate process that sends the traffic to the server over loopback.

Runs in the stack's venv (Python 3.8 on era2020): stdlib + httpx + the sibling `arrivals`
module. One shared `httpx.AsyncClient`, built before the first send: the seed builds one client
per request, but there that cost (an SSL context, ~50 ms each) lands on the server's loop, which
the in-process client reproduces; here it would only stagger the sends. The pool limit is raised
so that every request in flight has its own connection at once
(`--connections`: keep-alive, new or a limit K, as the model's --client-connections).

httpx's cold first request is spent on a 404 before time zero (`warm_up`).

Three shapes of traffic: the burst (all requests at time zero), open loop (`--schedule FILE`, a
JSON list of send offsets: Poisson or a replayed trace; an entry may instead be
`{"t": offset, "w": work, "q": query}`, whose `w` and `q` go in that request's query string)
and closed loop (`--users`: each waits for its response, thinks, sends again until
`--duration`).

Prints one "PSS {json}" line per event, stamped with time.monotonic() (system-wide on Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from pathlib import Path

import httpx
from arrivals import closed_loop, open_loop


def event(kind: str, **fields) -> None:
    print("PSS " + json.dumps(dict(kind=kind, **fields)), flush=True)


async def request(client, url: str, i: int, extra: dict | None = None) -> None:
    sent_at = time.monotonic()  # the moment the request is handed to httpx
    event("sent", i=i, sent_at=sent_at)  # a run cut off before the response still has it
    try:
        resp = await client.get(url, params={"i": i, **(extra or {})})
    except Exception as exc:  # every failure is a measurement: record its type
        status, error = None, type(exc).__name__
    else:
        status, error = resp.status_code, None
    pid = None if error is not None else resp.headers.get("x-pss-pid")
    event(
        "request", i=i, sent_at=sent_at, completed_at=time.monotonic(), status=status, error=error,
        pid=None if pid is None else int(pid),
    )  # fmt: skip


async def warm_up(client, url: str) -> None:
    """One request to a path the app does not have (404, no database) before time zero.

    httpx's first request in a process costs ~0.1 s of client CPU (imports, pool set-up): left
    in, it would hold back every other send of the burst behind the first one.
    """
    try:
        await client.get(url.rstrip("/") + "/pss-warm-up")
    except httpx.HTTPError as exc:  # the burst will meet the same problem and record it
        event("warm-up", error=type(exc).__name__)


def limits(connections: str, at_once: int) -> httpx.Limits:
    """`keep-alive`: a kept-alive connection per request in flight; `new`: none kept, so every
    request opens its own; K: at most K, kept alive, requests queue for one."""
    if connections == "new":
        return httpx.Limits(max_connections=at_once, max_keepalive_connections=0)
    most = at_once if connections == "keep-alive" else int(connections)
    return httpx.Limits(max_connections=most, max_keepalive_connections=most)


async def traffic(args: argparse.Namespace, timeout: float | None) -> None:
    schedule = json.loads(Path(args.schedule).read_text()) if args.schedule else None
    at_once = len(schedule) if schedule is not None else args.users or args.requests
    extras = {}  # request i's own w and q
    if schedule is not None:
        extras = {
            i: {k: v for k, v in entry.items() if k != "t"}
            for i, entry in enumerate(schedule)
            if isinstance(entry, dict)
        }
        schedule = [entry["t"] if isinstance(entry, dict) else entry for entry in schedule]
    pool = limits(args.connections, at_once)
    async with httpx.AsyncClient(timeout=timeout, limits=pool) as client:

        async def send(i: int) -> None:
            await request(client, args.url, i, extras.get(i))

        await warm_up(client, args.url)
        start = time.monotonic()
        event("burst", t=start)
        if schedule is not None:
            sent = await open_loop(send, schedule, start)
        elif args.users:
            sent = await closed_loop(send, args.users, args.duration, args.think_time, start)
        else:
            sent = await open_loop(send, [0.0] * args.requests, start)
    event("done", t=time.monotonic(), sent=sent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=int, default=1, help="burst size")
    parser.add_argument("--schedule", help="open loop: JSON list of send offsets in seconds")
    parser.add_argument("--users", type=int, default=0, help="closed loop: concurrent users")
    parser.add_argument("--duration", type=float, default=0.0, help="closed loop: seconds")
    parser.add_argument("--think-time", type=float, default=0.0, help="closed loop: seconds")
    parser.add_argument("--timeout", default="none", help="seconds, or none")
    parser.add_argument("--connections", default="keep-alive", help="keep-alive, new or K")
    args = parser.parse_args()
    timeout = None if args.timeout == "none" else float(args.timeout)
    asyncio.get_event_loop().run_until_complete(traffic(args, timeout))


if __name__ == "__main__":
    main()
