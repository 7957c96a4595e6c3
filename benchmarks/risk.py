"""`sim risk` on the seed's pool: the CPU it takes and the interval it reaches, from MTTFs of a
minute to a year.

The budget is a count of simulated requests (sim.risk.mttf.BUDGET), so the estimate and its
interval are the same on any machine; only the CPU seconds are this machine's. The rates are
inputs chosen so the model's MTTF lands near each order of magnitude (the MTTF column shows
where it did land).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from benchmarks.figures import Figure
from sim.risk.mttf import BUDGET, FACTOR, MTTF, estimate, replications
from sim.scenario import Scenario

# Today's stack, the seed's endpoint and pool (5+10), an external client: `sim risk --stack
# modern --rate R` with every other flag at its default.
SEED_POOL = Scenario.create(stack="modern", client="external")
# Rate per MTTF order: (label, req/s).
RATES = (("~1 min", 55.0), ("~1 h", 37.0), ("~1 day", 29.0), ("~1 year", 21.0))
CPU_TARGET = 30.0  # seconds of CPU on one core, the budget for any MTTF up to a year
# Seeds per order: one seed's interval is one draw from a heavy-tailed spread (the splitting's
# batch estimates at ~1 day range over a factor 50), so the target is judged on the widest.
SEEDS = 3
# Splitting against brute force on the seed pool, at the order where brute force still pays:
# episodes each run to its first freeze (the "replications" estimator, no horizon in reach).
CROSS_CHECK = ("~1 h", 37.0)
CROSS_EPISODES = 20


@dataclass(frozen=True)
class RiskRun:
    label: str
    rate: float
    seed: int
    found: MTTF
    cpu_s: float

    @property
    def factor(self) -> float:
        """How far the interval reaches from the estimate, the wider side (inf: no estimate)."""
        lo, hi = self.found.mttf_ci
        mean = self.found.mttf_s
        if mean is None or hi is None or lo <= 0:
            return float("inf")
        return max(mean / lo, hi / mean)


def risk_runs(
    rates: tuple[tuple[str, float], ...] = RATES, budget: int = BUDGET, seeds: int = SEEDS
) -> list[RiskRun]:
    runs = []
    for label, rate in rates:
        for seed in range(SEED_POOL.seed, SEED_POOL.seed + seeds):
            start = time.process_time()
            found = estimate(SEED_POOL.replace(seed=seed), rate, budget=budget)
            runs.append(RiskRun(label, rate, seed, found, time.process_time() - start))
    return runs


def widest(runs: list[RiskRun]) -> list[RiskRun]:
    """Per MTTF order, the seed whose interval reaches furthest: what the target is judged on."""
    by_order: dict[str, RiskRun] = {}
    for r in runs:
        if r.label not in by_order or r.factor > by_order[r.label].factor:
            by_order[r.label] = r
    return list(by_order.values())


def interval_figures(runs: list[RiskRun]) -> list[Figure]:
    """Per MTTF order: the widest interval's reach over the seeds against the wanted factor
    (machine-independent)."""
    return [
        Figure(
            name=f"sim risk interval, MTTF {r.label}",
            value=r.factor,
            reference=FACTOR,
            unit="x",
            reference_name=f"factor {FACTOR:g} each way, the widest of {SEEDS} seeds",
            target=1.0,
            direction="max",
        )
        for r in widest(runs)
    ]


@dataclass(frozen=True)
class CrossCheck:
    rate: float
    direct: MTTF
    split: MTTF
    cpu_s: float  # the brute force's

    @property
    def overlap(self) -> bool:
        (a, b), (c, d) = self.direct.mttf_ci, self.split.mttf_ci
        return a <= (math.inf if d is None else d) and c <= (math.inf if b is None else b)


def cross_check(runs: list[RiskRun], episodes: int = CROSS_EPISODES) -> CrossCheck | None:
    """Brute force at CROSS_CHECK's rate beside the splitting run of the first seed there."""
    label, rate = CROSS_CHECK
    split = next((r.found for r in runs if r.label == label and r.seed == SEED_POOL.seed), None)
    if split is None:
        return None
    start = time.process_time()
    direct = replications(SEED_POOL, rate, runs=episodes, horizon=math.inf, budget=10**12)
    return CrossCheck(rate, direct, split, time.process_time() - start)
