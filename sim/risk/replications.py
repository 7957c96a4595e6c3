"""K independent runs of one Scenario: the odds of a freeze, of a collapse, and when.

Replication 0 runs at the user's `--seed` (so it is the run a plain `sim run` prints); replication
k > 0 at a seed derived from it and k. What the seed moves is whatever the model draws: Poisson
send times, the 2020 client's scrambled start order.
"""

from __future__ import annotations

import functools
import hashlib
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from scipy import stats

from sim.result import Result, Summary
from sim.risk.intervals import LEVEL, mean_interval, wilson
from sim.scenario import Scenario

if TYPE_CHECKING:
    from sim.sweep.executors import Calls

QUANTILES = (0.1, 0.5, 0.9)


def replication_seed(seed: int, k: int) -> int:
    """Seed of replication k: the root itself for k = 0, else 63 bits of sha256(root, k)."""
    if k == 0:
        return seed
    digest = hashlib.sha256(f"replication:{seed}:{k}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> 1


@dataclass(frozen=True)
class Risk:
    replications: int
    p_freeze: float
    p_freeze_ci: tuple[float, float]
    p_collapse: float
    p_collapse_ci: tuple[float, float]
    # First-freeze time quantiles over all runs, a run that never froze counting as later than
    # any: None where the quantile falls on such a run ("not within the run").
    first_freeze_quantiles: dict[str, float | None]
    # Distribution-free 95 % intervals of those quantiles, from order statistics; None as an
    # upper end where it falls on a run that never froze.
    first_freeze_quantiles_ci: dict[str, tuple[float | None, float | None]]
    frozen_fraction: float
    frozen_fraction_ci: tuple[float, float]
    error_rate: float
    error_rate_ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        data = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}
        data["first_freeze_quantiles_ci"] = {
            q: list(pair) for q, pair in self.first_freeze_quantiles_ci.items()
        }
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Risk:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}
        values["first_freeze_quantiles_ci"] = {
            q: tuple(pair) for q, pair in data["first_freeze_quantiles_ci"].items()
        }
        return cls(**values)


def risk_of(summaries: Sequence[Summary]) -> Risk:
    k = len(summaries)
    froze = [s.first_freeze_at for s in summaries if s.first_freeze_at is not None]
    collapsed = sum(1 for s in summaries if s.recovered is False)
    ordered = sorted(froze) + [math.inf] * (k - len(froze))
    quantiles, quantiles_ci = {}, {}
    for q in QUANTILES:
        quantiles[f"{q:g}"] = _finite(ordered[max(1, math.ceil(q * k)) - 1])
        quantiles_ci[f"{q:g}"] = _order_interval(ordered, q)
    frozen, frozen_ci = mean_interval([s.frozen_fraction for s in summaries])
    errors, errors_ci = mean_interval([s.error_rate for s in summaries])
    return Risk(
        replications=k,
        p_freeze=round(len(froze) / k, 6),
        p_freeze_ci=_rounded(wilson(len(froze), k)),
        p_collapse=round(collapsed / k, 6),
        p_collapse_ci=_rounded(wilson(collapsed, k)),
        first_freeze_quantiles=quantiles,
        first_freeze_quantiles_ci=quantiles_ci,
        frozen_fraction=round(frozen, 6),
        frozen_fraction_ci=_rounded((max(0.0, frozen_ci[0]), min(1.0, frozen_ci[1]))),
        error_rate=round(errors, 6),
        error_rate_ci=_rounded((max(0.0, errors_ci[0]), min(1.0, errors_ci[1]))),
    )


def _finite(value: float) -> float | None:
    return None if math.isinf(value) else value


def _order_interval(ordered: Sequence[float], q: float) -> tuple[float | None, float | None]:
    """The order statistics X(l) <= X(u) with P(X(l) <= q-quantile <= X(u)) >= 95 %: l and u
    from Binomial(n, q) (Conover 1999, 3.2), 0 below the first sample, None past the last."""
    n = len(ordered)
    tail = (1 - LEVEL) / 2
    low = int(stats.binom.ppf(tail, n, q))
    high = int(stats.binom.ppf(1 - tail, n, q)) + 1
    lo = 0.0 if low < 1 else _finite(ordered[low - 1])
    hi = _finite(ordered[high - 1]) if high <= n else None
    return (lo, hi)


def _rounded(pair: tuple[float, float]) -> tuple[float, float]:
    return (round(pair[0], 6), round(pair[1], 6))


def replicate(
    scenario: Scenario,
    replications: int,
    simulate: Callable[[Scenario], Result],
    advance: Callable[[], None] = lambda: None,
    calls: Calls = map,
    paced: Callable[[float], None] = lambda seconds: None,
) -> tuple[Result, Risk]:
    """The run at the scenario's own seed, and the risk over all `replications` runs.

    Runs 1..K-1 go through `calls` (an executor's ordered map: local processes or a Dask
    cluster), which hands back only their Summaries; they come back in seed order, so the
    risk is the same wherever they ran. `paced` hears the first run's CPU seconds before the
    others start: a caller may refuse a job that would take too long."""
    started = time.process_time()
    first = simulate(scenario)
    paced(time.process_time() - started)
    summaries = [first.summary]
    advance()
    others = [
        scenario.replace(seed=replication_seed(scenario.seed, k)) for k in range(1, replications)
    ]
    for summary in calls(functools.partial(summary_of, simulate), others):
        summaries.append(summary)
        advance()
    return first, risk_of(summaries)


def summary_of(simulate: Callable[[Scenario], Result], scenario: Scenario) -> Summary:
    """One replication's Summary: what the risk needs, small enough to ship between processes."""
    return simulate(scenario).summary
