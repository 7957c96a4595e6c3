"""Mean time to the first freeze (MTTF) of a server under steady Poisson traffic.

Both estimators start from the regeneration state of `episodes` (warm, empty) and use that
   MTTF = E[min(tau, T)] / P(T < tau)
for a regenerative process (tau: one cycle from empty to empty, T: time to the first freeze):
  - "replications": run K episodes until the first freeze (or a horizon) and average; the
    direct answer, affordable while freezes come within minutes of simulated traffic;
  - "splitting": multilevel splitting (Garvels & Kroese 1998; L'Ecuyer, Le Gland, Lezaud &
    Tuffin 2009) on the number of connections checked out, with a fixed number of successes
    per stage (inverse binomial sampling, unbiased at each stage). Branches from the states
    that reached k connections run to k + 1 or back to empty, up to pool_size + max_overflow;
    the last stage runs to a freeze or back to empty. P(T < tau) is the product of the
    stages' estimates, E[min(tau, T)] the mean of plain cycles. Batches are independent
    repetitions of the whole procedure; their spread gives the interval.
A freeze that needs no full pool (a loop saturated by request CPU alone) is outside the
splitting's levels: the estimator counts such branches and says so, and `auto` then uses
replications.

P(freeze within t) assumes the first freeze is exponential in t with this mean: the limit
for rare freezes from a regenerative process (Keilson 1979), and what the two methods are
tested against each other with.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy import stats

from sim.risk.episodes import poisson, replay, run_episode
from sim.risk.intervals import Z, exponential_mean, mean_interval, wilson
from sim.scenario import Scenario

WITHIN = (60.0, 3600.0, 86400.0)
METHODS = ("auto", "replications", "splitting")
SPLITTING = "splitting (multilevel, fixed success, on connections checked out; regenerative)"
LEVEL_STEP = 5.0  # each stage about 1 in 5: a good split (L'Ecuyer et al. 2009 suggest ~e^-1.6)
HITS = 48  # successes per stage and batch: fewer leave too few ancestors to branch from
CYCLES = 400  # plain cycles for E[min(tau, T)]
# Work budget in simulated requests: ~30 s of CPU on this machine's model at 2026-12.
BUDGET = 300_000
PILOT = 20
# Interval width the adaptive estimators stop at: within a factor 2 of the estimate each way.
FACTOR = 2.0


@dataclass(frozen=True)
class MTTF:
    mttf_s: float
    mttf_ci: tuple[float, float]
    p_within: dict[str, float]
    p_within_ci: dict[str, tuple[float, float]]
    method: str
    replications: int  # episodes run (cycles and branches for splitting)
    simulated_s: float
    requests: int  # requests simulated, the budget's unit
    freezes: int  # freezes seen (replications), or branches that froze (splitting)
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["mttf_ci"] = list(self.mttf_ci)
        data["p_within_ci"] = {k: list(v) for k, v in self.p_within_ci.items()}
        data["notes"] = list(self.notes)
        return data


Report = Callable[[str], None]


def _quiet(_: str) -> None:
    return None


def _within(mttf: float, ci: tuple[float, float]) -> tuple[dict, dict]:
    def p(mean: float, t: float) -> float:
        return 0.0 if math.isinf(mean) else 1 - math.exp(-t / mean) if mean > 0 else 1.0

    lo, hi = ci
    p_within = {f"{t:g}": round(p(mttf, t), 6) for t in WITHIN}
    p_ci = {f"{t:g}": (round(p(hi, t), 6), round(p(lo, t), 6)) for t in WITHIN}
    return p_within, p_ci


class Spend:
    """The work budget, in simulated requests: unlike CPU seconds it stops every run at the
    same point on any machine, so the same seed gives the same estimate."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.requests = 0

    def add(self, requests: int) -> None:
        self.requests += requests

    @property
    def exhausted(self) -> bool:
        return self.requests >= self.limit


def _finish(mean, ci, method, runs, simulated, spend: Spend, freezes: int, notes=()) -> MTTF:
    p_within, p_ci = _within(mean, ci)
    return MTTF(
        mttf_s=mean,
        mttf_ci=ci,
        p_within=p_within,
        p_within_ci=p_ci,
        method=method,
        replications=runs,
        simulated_s=round(simulated, 3),
        requests=spend.requests,
        freezes=freezes,
        notes=tuple(notes),
    )


def _steady(scenario: Scenario, rate: float) -> Scenario:
    return scenario.replace(client="external", arrival=f"poisson:{rate:g}")


def replications(
    scenario: Scenario,
    rate: float,
    runs: int = 100,
    horizon: float = 3600.0,
    budget: int = BUDGET,
    report: Report = _quiet,
) -> MTTF:
    """K episodes until the first freeze or `horizon` s; fewer once `budget` requests ran."""
    spend = Spend(budget)
    scenario = _steady(scenario, rate)
    ends: list[float] = []
    freezes: list[float] = []
    for k in range(runs):
        rng = random.Random(f"replications:{scenario.seed}:{k}")
        episode = run_episode(scenario, poisson(rate, 0.0, rng), horizon=horizon)
        spend.add(len(episode.sent))
        if episode.freeze_at is not None:
            freezes.append(episode.freeze_at)
        ends.append(episode.freeze_at if episode.freeze_at is not None else episode.end)
        report(f"replications {k + 1}/{runs}: {len(freezes)} froze")
        if spend.exhausted and k >= 1:
            break
    if len(freezes) == len(ends):  # every run froze: the plain mean of complete observations
        mean, (lo, hi) = mean_interval(freezes)
        ci = (max(lo, 0.0), hi) if len(freezes) > 1 else (0.0, math.inf)
    else:
        mean, ci = exponential_mean(math.fsum(ends), len(freezes))
    return _finish(mean, ci, "replications", len(ends), math.fsum(ends), spend, len(freezes))


Entrance = tuple[tuple[float, ...], float]  # the sends that lead to a state, and its moment


class _OutOfBudget(Exception):
    """The budget ran out inside a batch: the batch is dropped, its partial odds kept."""

    def __init__(self, bound: float) -> None:
        self.bound = bound  # an upper bound on P(T < tau) from the stages run so far


@dataclass(frozen=True)
class Potential:
    """Importance of a state: log P(the arrivals that would fill the pool come before the
    oldest held connection is checked in), taking each hold to last `hold` seconds.

    Counting connections alone ranks a pool of 14 fresh holds with one of 14 about to end, and
    the branches from the second rarely climb: their spread is what made plain levels on the
    count unreliable here (MTTF estimates 5x apart between batches at 30 req/s on 5+10). Any
    importance function keeps splitting unbiased; a good one keeps it precise (the log of the
    probability of reaching the rare set is the ideal one: Garvels & Kroese 1998).
    """

    rate: float
    hold: float
    capacity: int

    def __call__(self, now: float, checkouts: Sequence[float]) -> float:
        # A hold past its expected end (the loop is late) counts as ending in 1 % of a hold.
        residual = self.hold - (now - checkouts[0]) if checkouts else self.hold
        residual = max(residual, self.hold / 100)
        need = self.capacity + 1 - len(checkouts)
        return float(stats.poisson.logsf(need - 1, self.rate * residual))

    def levels(self) -> list[float]:
        """From one fresh hold to a full pool of fresh holds, a factor LEVEL_STEP apart."""
        low = self(0.0, [0.0])
        high = self(0.0, [0.0] * self.capacity)
        count = max(1, math.ceil((high - low) / math.log(LEVEL_STEP)))
        return [low + (high - low) * k / count for k in range(1, count + 1)]


@dataclass
class _Batch:
    """One fixed-success splitting run: each stage runs branches until HITS of them reach the
    next level, so a rare step costs more branches instead of ending the run with none."""

    scenario: Scenario
    rate: float
    potential: Potential
    rng: random.Random
    spend: Spend
    runs: int = 0
    simulated: float = 0.0
    saturated: int = 0

    def stage(
        self, states: list[Entrance], target: float | None, bound: float
    ) -> tuple[float, int, list[Entrance]]:
        """(P(next level | a state of `states`), the entrance states of the next level).

        Inverse binomial sampling: trials until HITS successes, (HITS-1)/(trials-1) unbiased.
        """
        hits: list[Entrance] = []
        trials = 0
        while len(hits) < HITS:
            if self.spend.exhausted:
                raise _OutOfBudget(bound * wilson(len(hits), trials)[1])
            prefix, at = self.rng.choice(states)
            times = replay(prefix, self.rate, at, self.rng)
            episode = run_episode(
                self.scenario,
                times,
                horizon=math.inf,
                level=target,
                importance=self.potential,
                until_empty=True,
            )
            trials += 1
            self.runs += 1
            self.spend.add(len(episode.sent))
            self.simulated += episode.end - at
            wanted = "freeze" if target is None else "level"
            if episode.reason == wanted:
                hits.append((episode.sent, episode.end))
            elif episode.reason == "freeze":
                self.saturated += 1
        return (HITS - 1) / (trials - 1), trials, hits

    def run(self) -> tuple[float, float]:
        """P(T < tau), from empty to each level in turn, then to a freeze; and the estimate's
        relative variance, from each stage's (Finney 1949: p(1-p)/(N-2) for inverse sampling)
        as if the stages were independent."""
        p, relvar, states = 1.0, 1.0, [((), 0.0)]
        for target in [*self.potential.levels(), None]:
            step, trials, states = self.stage(states, target, p)
            p *= step
            if step < 1:
                relvar *= 1 + (1 - step) / (step * (trials - 2))
        return p, relvar - 1


def _cycles(
    scenario: Scenario, rate: float, count: int, rng: random.Random
) -> tuple[list[float], list[float]]:
    """Plain regeneration cycles, empty to empty (or to a first freeze): min(tau, T) of each,
    and every connection's hold in them."""
    lengths, holds = [], []
    for _ in range(count):
        episode = run_episode(scenario, poisson(rate, 0.0, rng), horizon=math.inf, until_empty=True)
        lengths.append(episode.freeze_at if episode.freeze_at is not None else episode.end)
        holds += episode.holds
    return lengths, holds


def splitting(
    scenario: Scenario,
    rate: float,
    min_batches: int = 4,
    max_batches: int = 200,
    budget: int = BUDGET,
    report: Report = _quiet,
) -> MTTF:
    """Batches of fixed-success splitting until the interval is within FACTOR, or the budget."""
    spend = Spend(budget)
    scenario = _steady(scenario, rate)
    capacity = scenario.capacity
    if math.isinf(capacity) or scenario.endpoint != "async-sync-session":
        reason = (
            "max_overflow -1: the pool never runs dry"
            if math.isinf(capacity)
            else f"endpoint {scenario.endpoint}: a checkout never waits on the loop thread"
        )
        return _finish(math.inf, (math.inf, math.inf), SPLITTING, 0, 0.0, spend, 0, [reason])
    cycles, holds = _cycles(scenario, rate, CYCLES, random.Random(f"cycles:{scenario.seed}"))
    # The hold as the model runs it (awaited work, query, response, the teardown's thread hop).
    potential = Potential(rate, statistics.median(holds), int(capacity))
    estimates: list[tuple[float, float]] = []
    runs, simulated, saturated = len(cycles), math.fsum(cycles), 0
    notes: list[str] = []
    mean, ci = math.inf, (0.0, math.inf)
    for b in range(max_batches):
        rng = random.Random(f"splitting:{scenario.seed}:{b}")
        batch = _Batch(scenario, rate, potential, rng, spend)
        try:
            estimates.append(batch.run())
        except _OutOfBudget as out:
            if not estimates:
                m = mean_interval(cycles)[0]
                mean, ci = math.inf, (m / out.bound if out.bound > 0 else math.inf, math.inf)
                notes.append("the budget ran out inside the first batch: a lower bound only")
            break
        finally:
            runs, simulated = runs + batch.runs, simulated + batch.simulated
            saturated += batch.saturated
        mean, ci = _ratio(cycles, estimates)
        report(f"splitting batch {b + 1}: MTTF {_show(mean)} [{_show(ci[0])}, {_show(ci[1])}]")
        if len(estimates) >= min_batches and ci[1] <= FACTOR * mean:
            break
    if saturated:
        notes.append(f"{saturated} branches froze before the pool was full (loop saturation)")
    return _finish(mean, ci, SPLITTING, runs, simulated, spend, HITS * len(estimates), notes)


def _ratio(
    cycles: list[float], estimates: list[tuple[float, float]]
) -> tuple[float, tuple[float, float]]:
    """E[min(tau, T)] / P(T < tau), with a log-normal interval whose variance is the larger of
    the stage-wise one and, from 4 batches on, the batches' own spread (it also sees the
    correlation between branches of one ancestor, which the stage-wise one ignores)."""
    m, (m_lo, _) = mean_interval(cycles)
    ps = [p for p, _ in estimates]
    p = math.fsum(ps) / len(ps)
    if p <= 0:
        return math.inf, (0.0, math.inf)
    var = math.fsum(q * q * v for q, v in estimates) / len(ps) ** 2
    if len(ps) >= 4:
        var = max(var, math.fsum((q - p) ** 2 for q in ps) / (len(ps) - 1) / len(ps))
    rel_m = (m - m_lo) / (Z * m) if m > 0 else 0.0
    sigma = math.sqrt(math.log1p(var / (p * p) + rel_m * rel_m))
    mean = m / p
    return mean, (mean * math.exp(-Z * sigma), mean * math.exp(Z * sigma))


def _show(seconds: float) -> str:
    return "inf" if math.isinf(seconds) else f"{seconds:.4g}s"


def estimate(
    scenario: Scenario,
    rate: float,
    method: str = "auto",
    budget: int = BUDGET,
    report: Report = _quiet,
) -> MTTF:
    """`auto`: a pilot of PILOT replications of ~2000 requests each (outside the budget);
    replications if half of them froze (freezes frequent enough to watch), else splitting."""
    if method == "replications":
        return replications(scenario, rate, budget=budget, report=report)
    if method == "splitting":
        return splitting(scenario, rate, budget=budget, report=report)
    pilot = replications(scenario, rate, runs=PILOT, horizon=2000 / rate, report=report)
    if pilot.freezes >= PILOT // 2 or scenario.endpoint != "async-sync-session":
        return replications(scenario, rate, budget=budget, report=report)
    return splitting(scenario, rate, budget=budget, report=report)
