"""External client: a separate process that fires the burst at the server over loopback.

Runs in the stack's venv (Python 3.8 on era2020): stdlib + httpx only. One shared
`httpx.AsyncClient`, built before the burst: the seed builds one client per request, but there
that cost (an SSL context, ~50 ms each) lands on the server's loop, which the in-process client
reproduces; here it would only stagger the sends, so all requests leave at time zero instead.
The pool limit is raised so that every request has its own connection at once.

Prints one "PSS {json}" line per event, stamped with time.monotonic() (system-wide on Linux).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time

import httpx


def event(kind: str, **fields) -> None:
    print("PSS " + json.dumps(dict(kind=kind, **fields)), flush=True)


async def request(client, url: str, i: int) -> None:
    sent_at = time.monotonic()
    try:
        resp = await client.get(url, params={"i": i})
    except Exception as exc:  # every failure is a measurement: record its type
        event(
            "request",
            i=i,
            sent_at=sent_at,
            completed_at=time.monotonic(),
            status=None,
            error=type(exc).__name__,
        )
        return
    event(
        "request",
        i=i,
        sent_at=sent_at,
        completed_at=time.monotonic(),
        status=resp.status_code,
        error=None,
    )


async def burst(url: str, requests: int, timeout: float | None) -> None:
    async with httpx.AsyncClient(
        timeout=timeout,
        limits=httpx.Limits(max_connections=requests, max_keepalive_connections=requests),
    ) as client:
        event("burst", t=time.monotonic())
        tasks = [asyncio.ensure_future(request(client, url, i)) for i in range(requests)]
        await asyncio.wait(tasks)
    event("done", t=time.monotonic())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests", type=int, required=True)
    parser.add_argument("--timeout", default="none", help="seconds, or none")
    args = parser.parse_args()
    timeout = None if args.timeout == "none" else float(args.timeout)
    asyncio.get_event_loop().run_until_complete(burst(args.url, args.requests, timeout))


if __name__ == "__main__":
    main()
