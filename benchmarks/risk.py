"""`sim risk` on the seed's pool: the CPU it takes and the interval it reaches, from MTTFs of a
minute to a year.

The budget is a count of simulated requests (sim.risk.mttf.BUDGET), so the estimate and its
interval are the same on any machine; only the CPU seconds are this machine's. The rates are
inputs chosen so the model's MTTF lands near each order of magnitude (the MTTF column shows
where it did land).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from benchmarks.figures import Figure
from sim.risk.mttf import BUDGET, FACTOR, MTTF, estimate
from sim.scenario import Scenario

# Today's stack, the seed's endpoint and pool (5+10), an external client: `sim risk --stack
# modern --rate R` with every other flag at its default.
SEED_POOL = Scenario.create(stack="modern", client="external")
# Rate per MTTF order: (label, req/s).
RATES = (("~1 min", 55.0), ("~1 h", 37.0), ("~1 day", 29.0), ("~1 year", 21.0))
CPU_TARGET = 30.0  # seconds of CPU on one core, the budget for any MTTF up to a year


@dataclass(frozen=True)
class RiskRun:
    label: str
    rate: float
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


def risk_runs(rates: tuple[tuple[str, float], ...] = RATES, budget: int = BUDGET) -> list[RiskRun]:
    runs = []
    for label, rate in rates:
        start = time.process_time()
        found = estimate(SEED_POOL, rate, budget=budget)
        runs.append(RiskRun(label, rate, found, time.process_time() - start))
    return runs


def interval_figures(runs: list[RiskRun]) -> list[Figure]:
    """Per MTTF order: the interval's reach against the wanted factor (machine-independent)."""
    return [
        Figure(
            name=f"sim risk interval, MTTF {r.label}",
            value=r.factor,
            reference=FACTOR,
            unit="x",
            reference_name=f"factor {FACTOR:g} each way",
            target=1.0,
            direction="max",
        )
        for r in runs
    ]
