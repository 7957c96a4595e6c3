"""Run every benchmark at one size (full or --quick) and collect the Results for the report."""

from __future__ import annotations

from dataclasses import dataclass

from benchmarks import gaps
from benchmarks.machine import describe
from benchmarks.model import growth, profile, throughput
from benchmarks.report import Results, growth_section, profile_section, throughput_section


@dataclass(frozen=True)
class Size:
    """How much work each benchmark does: the full run fits in ~10 minutes, quick in ~1."""

    requests: int
    repeat: int
    growth: tuple[int, ...]


FULL = Size(requests=10_000, repeat=3, growth=(100, 300, 1_000, 3_000, 10_000, 30_000, 100_000))
QUICK = Size(requests=2_000, repeat=3, growth=(100, 300, 1_000, 3_000, 10_000))


def run(size: Size, command: str) -> Results:
    t = throughput(size.requests, size.repeat)
    p = profile(size.requests)
    g = growth(size.growth, size.repeat)
    figures = (t.requests, t.events, g.figure)
    return Results(
        machine=describe(),
        command=command,
        figures=figures,
        sections=(throughput_section(t), profile_section(p), growth_section(g)),
        gaps={t.requests.name: gaps.model_speed(t)},
    )
