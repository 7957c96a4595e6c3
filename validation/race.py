"""`python -m validation.race RUN_DIR`: when each response was written and each time-out was due.

For a run kept by `python -m validation run --out DIR` (DIR/run-k holds server.log, client.log
and result.json): per request, the send, its client time-out's deadline, the moment the app was
done with it ("served": after the response went to transport.write and, on the 2020 stack, after
the dependency's exit that follows a 500), the moment the client read it or gave up, and the
outcome, beside the loop's blocks. An in-process client's read and its time-out timer are
callbacks on the loop they wait on, so when both are due at the end of a freeze, the loop's order
decides, not the clock: the table shows which were read and which timed out once it ended.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from urllib.parse import parse_qs

from validation.serverlog import parse_events, relative_blocks, timeline


def served_at(events: list[dict]) -> dict[int, float]:
    """The app's "served" stamp of each traffic request, by its `i=` query parameter."""
    served = {}
    for e in events:
        if e["kind"] == "served" and "i=" in e.get("query", ""):
            served[int(parse_qs(e["query"])["i"][0])] = e["t"]
    return served


def table(run_dir: Path) -> str:
    text = "".join(
        (run_dir / name).read_text(errors="replace")
        for name in ("server.log", "client.log")
        if (run_dir / name).exists()
    )
    events = parse_events(text.splitlines())
    tl = timeline(events)
    zero = tl.burst_at or 0.0
    params = json.loads((run_dir / "result.json").read_text())["params"]
    timeout = params.get("client_timeout")
    served = served_at(events)

    def rel(t: float | None) -> str:
        return f"{'-':>8}" if t is None else f"{t - zero:8.3f}"

    lines = [
        f"{params['stack']} {params['loop']} {params['client']} client, time-out {timeout} s",
        "   i     sent  time-out    served      read  outcome",
    ]
    for i in sorted(tl.requests):
        req = tl.requests[i]
        due = None if timeout is None or req.get("sent_at") is None else req["sent_at"] + timeout
        outcome = req.get("status") or req.get("error") or "-"
        lines.append(
            f"{i:4d} {rel(req.get('sent_at'))}  {rel(due)}  {rel(served.get(i))}"
            f"  {rel(req.get('completed_at'))}  {outcome}"
        )
    lines += [f"loop blocked {a:8.3f} .. {b:8.3f} s" for a, b in relative_blocks(tl)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m validation.race", description=__doc__)
    parser.add_argument("run_dir", type=Path, help="a run kept by `validation run --out`")
    args = parser.parse_args(argv)
    if not (args.run_dir / "result.json").is_file():
        parser.exit(2, f"error: run_dir: {args.run_dir} holds no result.json of a kept run\n")
    print(table(args.run_dir))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
