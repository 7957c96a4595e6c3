"""Mean time to the first freeze (MTTF) of a server under steady Poisson traffic.

Both estimators start the server warm (`episodes`):
  - "replications": run K episodes until the first freeze (or a horizon) and average; the
    direct answer, affordable while freezes come within minutes of simulated traffic;
  - "splitting": multilevel splitting (Garvels & Kroese 1998; L'Ecuyer, Le Gland, Lezaud &
    Tuffin 2009) for rare freezes: the rate of freezes in steady state as the rate of
    excursions above the mean load times the product of the chances that an excursion climbs
    each level of an importance function to the next, then freezes. Fixed success per stage
    (inverse binomial sampling) keeps every stage unbiased however rare its step; batches are
    independent repetitions whose spread bounds the interval.
A freeze that needs no full pool (a loop saturated by request CPU alone) is outside the
splitting's levels: the estimator counts such branches and says so, and `auto` then uses
replications.

MTTF = 1 / (freezes per second), and P(freeze within t) = 1 - exp(-t / MTTF): the limit for
rare freezes of a process that forgets its past (Keilson 1979), and what the two methods are
tested against each other with.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from scipy import special

from sim.queueing import hold_time
from sim.risk.episodes import Episode, poisson, replay, run_episode
from sim.risk.intervals import (
    Z,
    exponential_mean,
    mean_interval,
    poisson_upper,
    student_t,
    wilson,
)
from sim.risk.text import duration
from sim.scenario import Scenario

WITHIN = (60.0, 3600.0, 86400.0)
METHODS = ("auto", "replications", "splitting")
SPLITTING = "splitting (multilevel, fixed success, steady-state excursions)"
LEVEL_STEP = 5.0  # each stage about 1 in 5: a good split (L'Ecuyer et al. 2009 suggest ~e^-1.6)
HITS = 48  # successes per stage and batch: fewer leave too few ancestors to branch from
# Arrivals of each batch's stationary base run: a tenth of the budget, within these bounds
# (enough excursions to branch from; the stages, not the base, are where the budget goes).
BASE_REQUESTS = (2_000, 20_000)
MEMORY_HOLDS = 4  # a replay window of 4 of the longest holds: older sends left no trace
# Work budget in simulated requests: what brings the seed pool's ~1 day and ~1 year MTTFs
# within FACTOR, in ~30 s of CPU (benchmarks/RESULTS.md, section 6, reports both).
BUDGET = 400_000
PILOT = 20
# Interval width the adaptive estimators stop at: within a factor 2 of the estimate each way.
FACTOR = 2.0


@dataclass(frozen=True)
class MTTF:
    # None: not estimated within the budget, the interval's lower bound still holds.
    mttf_s: float | None
    mttf_ci: tuple[float, float | None]
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


def _within(mttf: float | None, ci: tuple[float, float | None]) -> tuple[dict, dict]:
    """P(freeze within t) for an exponential first freeze of mean `mttf`; None where the mean
    is unknown (only the bound that the interval's lower end gives is known then)."""

    def p(mean: float | None, t: float) -> float | None:
        if mean is None:
            return None
        return 0.0 if math.isinf(mean) else round(1 - math.exp(-t / mean), 6) if mean > 0 else 1.0

    lo, hi = ci
    p_within = {f"{t:g}": p(mttf, t) for t in WITHIN}
    p_ci = {f"{t:g}": (0.0 if hi is None else p(hi, t), p(lo, t)) for t in WITHIN}
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
    settled: Callable[[int, int], bool] = lambda runs, froze: False,
) -> MTTF:
    """K episodes until the first freeze or `horizon` s; fewer once `budget` requests ran, or
    once `settled(runs so far, how many froze)` says the rest cannot change what is asked."""
    spend = Spend(budget)
    scenario = _steady(scenario, rate)
    ends: list[float] = []
    freezes: list[float] = []
    for k in range(runs):
        rng = random.Random(f"replications:{scenario.seed}:{k}")
        left = max(spend.limit - spend.requests, 1)  # a run never overdraws the budget much
        episode = run_episode(scenario, poisson(rate, 0.0, rng), horizon=min(horizon, left / rate))
        spend.add(len(episode.sent))
        if episode.freeze_at is not None:
            freezes.append(episode.freeze_at)
        ends.append(episode.freeze_at if episode.freeze_at is not None else episode.end)
        report(f"replications {k + 1}/{runs}: {len(freezes)} froze")
        if (spend.exhausted and k >= 1) or settled(k + 1, len(freezes)):
            break
    if len(freezes) == len(ends):  # every run froze: the plain mean of complete observations
        mean, (lo, hi) = mean_interval(freezes)
        ci = (max(lo, 0.0), hi) if len(freezes) > 1 else (0.0, math.inf)
    else:
        mean, ci = exponential_mean(math.fsum(ends), len(freezes))
    return _finish(mean, ci, "replications", len(ends), math.fsum(ends), spend, len(freezes))


Entrance = tuple[tuple[float, ...], float]  # the sends that lead to a state, and its moment


class _OutOfBudget(Exception):
    """The budget ran out inside a batch: the batch is dropped, an upper bound on its rate
    of freezes kept: the excursions' rate at its Poisson upper bound times every stage run so
    far, the one cut short included, at its Wilson upper bound (the stages not reached at 1)."""

    def __init__(self, bound: float) -> None:
        self.bound = bound


def log_poisson_tail(k: int, mu: float) -> float:
    """log P(Poisson(mu) >= k), accurate far into the tail where the plain sum underflows:
    the leading term times a fast-converging series for mu < k (scipy's logsf costs 15x)."""
    if k <= 0:
        return 0.0
    if mu >= k:
        return math.log(special.gammainc(k, mu))
    term = total = 1.0
    j = 0
    while term > 1e-12 * total:
        j += 1
        term *= mu / (k + j)
        total += term
    return -mu + k * math.log(mu) - math.lgamma(k + 1) + math.log(total)


@dataclass(frozen=True)
class Potential:
    """Importance of a state: log P(the arrivals that would fill the pool come before the
    oldest held connection is checked in), taking each hold to last `hold` seconds.

    Counting connections alone ranks a pool of 14 fresh holds with one of 14 about to end, and
    the branches from the second rarely climb: their spread made levels on the count unreliable
    here (MTTF estimates 5x apart between batches at 30 req/s on 5+10). Any importance function
    keeps splitting unbiased; a good one keeps it precise (the log of the probability of
    reaching the rare set is the ideal one: Garvels & Kroese 1998).
    """

    rate: float
    hold: float
    capacity: int

    def __call__(self, now: float, checkouts: Sequence[float]) -> float:
        # A hold past its expected end (the loop is late) counts as ending in 1 % of a hold.
        residual = self.hold - (now - checkouts[0]) if checkouts else self.hold
        residual = max(residual, self.hold / 100)
        return log_poisson_tail(self.capacity + 1 - len(checkouts), self.rate * residual)

    def ladder(self) -> list[float]:
        """From one fresh hold to a full pool of fresh holds, a factor LEVEL_STEP apart."""
        low = self(0.0, [0.0])
        high = self(0.0, [0.0] * self.capacity)
        count = max(1, math.ceil((high - low) / math.log(LEVEL_STEP)))
        return [low + (high - low) * k / count for k in range(count + 1)]


@dataclass
class _Batch:
    """One splitting run from a stationary base run.

    The base run (warm, its share of BASE_REQUESTS arrivals) is cut into excursions above
    `floor` (the mean number of connections held); each excursion's first entrance into the
    start level is a state to branch from, and their count over the base run's length is the
    rate of excursions. Each stage then runs branches until HITS of them reach the next level (fixed
    success, inverse binomial sampling) or the pool drains to the floor; the last stage runs
    to a freeze. Freezes per second = excursions per second x the product of the stages'
    estimates (the rate of a rare set in steady state: Garvels 2000, ch. 2).
    """

    scenario: Scenario
    rate: float
    potential: Potential
    floor: int
    memory: float
    rng: random.Random
    spend: Spend
    runs: int = 0
    simulated: float = 0.0
    saturated: int = 0

    def base(self, ladder: list[float]) -> tuple[float, float, list[Entrance], float]:
        """(base run seconds, start level, its entrance states, excursions per second)."""
        low, high = BASE_REQUESTS
        horizon = min(high, max(low, self.spend.limit // 10)) / self.rate
        episode = run_episode(
            self.scenario,
            poisson(self.rate, 0.0, self.rng),
            horizon=horizon,
            importance=self.potential,
            floor=self.floor,
            marks=ladder,
        )
        self._count(episode, 0.0)
        seconds = episode.freeze_at if episode.freeze_at is not None else episode.end
        # The highest level the base run entered often enough to branch from.
        k = max((k for k, m in enumerate(episode.marked) if len(m) >= HITS), default=0)
        entered = [(episode.sent, t) for t in episode.marked[k] if t <= seconds]
        return seconds, ladder[k], entered, len(entered) / seconds

    def stage(
        self, states: list[Entrance], target: float | None, rate: float
    ) -> tuple[float, int, list]:
        """(P(next level | a state of `states`), trials, the next level's entrance states);
        `rate`, an upper bound on the freezes per second so far, bounds the batch if the budget
        runs out."""
        hits: list[Entrance] = []
        trials = 0
        while len(hits) < HITS:
            if self.spend.exhausted:
                raise _OutOfBudget(rate * wilson(len(hits), trials)[1])
            prefix, moment = self.rng.choice(states)
            times, at = replay(prefix, self.rate, moment, self.memory, self.rng)
            episode = run_episode(
                self.scenario,
                times,
                horizon=math.inf,
                level=target,
                importance=self.potential,
                floor=self.floor,
                after=at,
            )
            trials += 1
            self._count(episode, at)
            wanted = "freeze" if target is None else "level"
            if episode.reason == wanted:
                hits.append((episode.sent, episode.end))
            elif episode.reason == "freeze":
                self.saturated += 1
        return (HITS - 1) / (trials - 1), trials, hits

    def _count(self, episode: Episode, at: float) -> None:
        self.runs += 1
        self.simulated += episode.end - at
        self.spend.add(len(episode.sent))

    def run(self, ladder: list[float]) -> tuple[float, float]:
        """Freezes per second, and the estimate's relative variance: the excursions' count as
        Poisson, each stage's as if independent (Finney 1949: p(1-p)/(N-2) for inverse
        sampling)."""
        seconds, start, states, excursions = self.base(ladder)
        upper = poisson_upper(len(states)) / seconds
        if not states:  # not one excursion reached the start level
            raise _OutOfBudget(upper)
        rate, relvar = excursions, 1 + 1 / len(states)
        for target in [*(level for level in ladder if level > start), None]:
            step, trials, states = self.stage(states, target, upper)
            rate *= step
            upper *= wilson(HITS, trials)[1]
            if step < 1:
                relvar *= 1 + (1 - step) / (step * (trials - 2))
        return rate, relvar - 1


def splitting(
    scenario: Scenario,
    rate: float,
    min_batches: int = 4,
    max_batches: int = 200,
    budget: int = BUDGET,
    report: Report = _quiet,
) -> MTTF:
    """Batches of splitting until the interval is within FACTOR, or the budget is spent."""
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
    # The hold as the model runs it (awaited work, query, response, the teardown's thread hop),
    # from a short warm run: what the importance function and the replay window are sized on.
    warm = run_episode(scenario, poisson(rate, 0.0, random.Random(f"holds:{scenario.seed}")),
                       horizon=200 / rate)  # fmt: skip
    hold = statistics.median(warm.holds) if warm.holds else hold_time(scenario)
    potential = Potential(rate, hold, int(capacity))
    floor = min(int(capacity) - 1, math.floor(rate * hold))
    memory = MEMORY_HOLDS * max(warm.holds, default=hold)
    ladder = potential.ladder()
    estimates: list[tuple[float, float]] = []
    runs, simulated, saturated = 1, warm.end, 0
    notes: list[str] = []
    mean: float | None = math.inf
    ci: tuple[float, float | None] = (0.0, math.inf)
    for b in range(max_batches):
        # The budget pays for batches alone, so what it has spent is what the finished ones
        # cost. A batch it cuts short is dropped: stop rather than start one that the budget
        # left would not pay for at their mean cost.
        if estimates and spend.limit - spend.requests < spend.requests / len(estimates):
            notes.append(
                f"stopped after {len(estimates)} batches: the budget left would not pay for another"
            )
            break
        rng = random.Random(f"splitting:{scenario.seed}:{b}")
        batch = _Batch(scenario, rate, potential, floor, memory, rng, spend)
        try:
            estimates.append(batch.run(ladder))
        except _OutOfBudget as out:
            if not estimates:
                mean, ci = None, (1 / out.bound if out.bound > 0 else math.inf, None)
                notes.append("the budget ran out inside the first batch: a lower bound only")
            break
        finally:
            runs, simulated = runs + batch.runs, simulated + batch.simulated
            saturated += batch.saturated
        mean, ci = _interval(estimates)
        report(
            f"splitting batch {b + 1}: MTTF {duration(mean)} [{duration(ci[0])}, {duration(ci[1])}]"
        )
        if len(estimates) >= min_batches and ci[1] <= FACTOR * mean:
            break
    if 0 < len(estimates) < min_batches:
        notes.append(
            f"the budget allowed {len(estimates)} of the {min_batches} batches wanted: the "
            "interval is the stage-wise one, which ignores the branches' shared ancestors"
        )
    if saturated:
        notes.append(f"{saturated} branches froze before the pool was full (loop saturation)")
    return _finish(mean, ci, SPLITTING, runs, simulated, spend, HITS * len(estimates), notes)


def _interval(estimates: list[tuple[float, float]]) -> tuple[float, tuple[float, float]]:
    """1 / (freezes per second), with a log-normal interval whose variance is the larger of
    the stage-wise one and, from 4 batches on, the batches' own spread (it also sees the
    correlation between branches of one ancestor, which the stage-wise one ignores). The
    spread is estimated from the few batches themselves, so it takes Student's t quantile
    (batch means: Law & Kelton, Simulation Modeling and Analysis, ch. 9), not the normal one."""
    rates = [r for r, _ in estimates]
    rate = math.fsum(rates) / len(rates)
    if rate <= 0:
        return math.inf, (0.0, math.inf)
    var = math.fsum(r * r * v for r, v in estimates) / len(rates) ** 2
    quantile = Z
    if len(rates) >= 4:
        spread = math.fsum((r - rate) ** 2 for r in rates) / (len(rates) - 1) / len(rates)
        if spread > var:
            var, quantile = spread, student_t(len(rates) - 1)
    sigma = math.sqrt(math.log1p(var / (rate * rate)))
    mean = 1 / rate
    return mean, (mean * math.exp(-quantile * sigma), mean * math.exp(quantile * sigma))


def estimate(
    scenario: Scenario,
    rate: float,
    method: str = "auto",
    budget: int = BUDGET,
    report: Report = _quiet,
) -> MTTF:
    """`auto`: a pilot of PILOT replications of ~2000 requests each (outside the budget);
    replications if half of them froze (freezes frequent enough to watch), else splitting. The
    pilot stops once its count decides that."""
    if method == "replications":
        return replications(scenario, rate, budget=budget, report=report)
    if method == "splitting":
        return splitting(scenario, rate, budget=budget, report=report)
    if scenario.endpoint != "async-sync-session":  # no pool freeze: watch for a saturated loop
        return replications(scenario, rate, budget=budget, report=report)
    half = PILOT // 2
    pilot = replications(
        scenario,
        rate,
        runs=PILOT,
        horizon=2000 / rate,
        report=report,
        settled=lambda runs, froze: froze >= half or froze + PILOT - runs < half,
    )
    if pilot.freezes >= half:
        return replications(scenario, rate, budget=budget, report=report)
    return splitting(scenario, rate, budget=budget, report=report)
