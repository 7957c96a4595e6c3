"""The sample access log the access-log replay case starts from (validation/workloads/).

Made by code, not recorded from a server: the send times are drawn (Poisson traffic with two
short spikes, the shape that makes the seed's endpoint freeze), and each line is written as
nginx would write it with `log_format pss '$msec $request_time "$request" $status';` (the
format `python -m sim trace-from-log --format nginx` reads, sim/accesslog.py): `$msec` is when
the request ended, so a line's `$msec` is its arrival plus a drawn `$request_time`, rounded to
the millisecond as nginx does. A few lines that are not requests (a reload notice, a health
check logged without a request time) stand in for what real logs interleave: trace-from-log
skips and counts them. Regenerate with

    python -m validation.sample_log > validation/workloads/access.log
    python -m sim trace-from-log validation/workloads/access.log --format nginx \\
        --out validation/workloads/access-trace.csv
"""

from __future__ import annotations

import random
import sys
from dataclasses import dataclass

EPOCH = 1764806400.0  # 2025-12-04 00:00:00 UTC: where the log's clock starts


@dataclass(frozen=True)
class Traffic:
    rate: float = 5.0  # baseline Poisson arrivals, req/s
    duration: float = 50.0  # seconds of baseline traffic
    spikes: tuple[tuple[float, int, float], ...] = ((15.0, 17, 0.05), (35.0, 19, 0.1))
    # (at, requests, over seconds): a cron job or a retry storm's requests, spread uniformly
    seed: int = 11


def arrivals(traffic: Traffic) -> list[float]:
    """Seconds after the log's start at which each request arrived, ascending."""
    rng = random.Random(traffic.seed)
    times, t = [], rng.expovariate(traffic.rate)
    while t < traffic.duration:
        times.append(t)
        t += rng.expovariate(traffic.rate)
    for at, count, spread in traffic.spikes:
        times += [at + rng.uniform(0.0, spread) for _ in range(count)]
    return sorted(times)


def lines(traffic: Traffic) -> list[str]:
    """The log: one nginx line per request, in the order nginx writes them (by end time)."""
    rng = random.Random(traffic.seed + 1)
    ended = []
    for k, at in enumerate(arrivals(traffic)):
        took = round(0.1 + rng.lognormvariate(-6.0, 0.5), 3)  # the seed's 0.1 s await and a bit
        ended.append((round(EPOCH + at + took, 3), took, f'"GET /?i={k} HTTP/1.1" 200'))
    ended.sort()
    out = [f"{end:.3f} {took:.3f} {request}" for end, took, request in ended]
    out.insert(len(out) // 3, "2025/12/04 00:00:10 [notice] 1234#1234: signal process started")
    out.insert(2 * len(out) // 3, f'{ended[len(ended) // 2][0]:.3f} - "GET /healthz HTTP/1.1" 200')
    return out


def main() -> int:
    sys.stdout.write("\n".join(lines(Traffic())) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
