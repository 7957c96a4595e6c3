"""Does a predicted Result agree with a measured one? The criteria of the validation issue, pure.

- handled before the first freeze, count of 200s, count of 5xx: exact;
- total frozen seconds and makespan: within max(0.25 s, 10 % of the measured value);
- per-request completion times: median absolute error <= 0.1 s *outside freezes*: each time is
  first mapped to "unfrozen time" (the time minus the frozen seconds before it, on its own
  Result's freezes), so an error in a freeze's length, already judged above, is not counted twice.

Steady traffic (the steady-traffic issue) is judged on what a user of a live server sees: whether
it came back by itself after freezing (recovered, exact) and the fraction of time it was frozen
(within 20 %, or 0.02 where both are near zero). Counts of 200s and 500s over a whole run are
reported, not judged: one extra timeout early in a collapse shifts every later count.

Freeze odds (validation.odds) are judged on P(freeze within the run): the measured Wilson 95 %
interval and the model's (over many seeds) overlap, lo_real <= hi_model and lo_model <= hi_real.
Overlap, not containment: with K = 20 runs the measured interval is about +-0.2 wide, and the
model's own interval is not a point either.

The freeze probability section states the stricter rule the issue asks for: the model's
P(freeze) over its many seeds inside the measured Wilson interval (`OddsRow.inside`); a
schedule replayed K times, the model's outcome on it (0 or 1: the model has no jitter) inside
the measured interval (`SameSeedRow`); long runs, `sim risk`'s MTTF inside the measured exact
Poisson interval (`LongRow`).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from sim.result import Result
from sim.risk.replications import Risk

ABS_TOLERANCE = 0.25
REL_TOLERANCE = 0.10
COMPLETION_MAE = 0.1
FROZEN_REL_TOLERANCE = 0.20
FROZEN_ABS_TOLERANCE = 0.02


@dataclass(frozen=True)
class Check:
    metric: str
    measured: Any
    predicted: Any
    ok: bool
    rule: str


def within(measured: float, predicted: float) -> bool:
    return abs(measured - predicted) <= max(ABS_TOLERANCE, REL_TOLERANCE * abs(measured))


def freezes(result: Result) -> list[tuple[float, float]]:
    threshold = result.params.get("freeze_threshold", 1.0)
    return [(a, b) for a, b in result.loop_blocked if b - a >= threshold]


def unfrozen(t: float, frozen: list[tuple[float, float]]) -> float:
    """`t` less the frozen time before it."""
    return t - sum(max(0.0, min(b, t) - a) for a, b in frozen)


def completion_error(measured: Result, predicted: Result) -> float | None:
    """Median |measured - predicted| completion time outside freezes, over requests both end."""
    fm, fp = freezes(measured), freezes(predicted)
    by_i = {r.i: r for r in predicted.requests}
    errors = [
        abs(unfrozen(m.completed_at, fm) - unfrozen(p.completed_at, fp))
        for m in measured.requests
        if (p := by_i.get(m.i)) is not None
        and m.completed_at is not None
        and p.completed_at is not None
    ]
    return statistics.median(errors) if errors else None


def checks(measured: Result, predicted: Result) -> list[Check]:
    ms, ps = measured.summary, predicted.summary
    exact = [
        Check(name, getattr(ms, name), getattr(ps, name),
              getattr(ms, name) == getattr(ps, name), "exact")
        for name in ("handled_before_freeze", "ok", "server_errors")
    ]  # fmt: skip
    close = [
        Check(name, getattr(ms, name), getattr(ps, name),
              within(getattr(ms, name), getattr(ps, name)), "max(0.25 s, 10 %)")
        for name in ("frozen_seconds", "makespan")
    ]  # fmt: skip
    mae = completion_error(measured, predicted)
    completion = Check(
        "completion_mae", mae, 0.0, mae is not None and mae <= COMPLETION_MAE, "<= 0.1 s"
    )
    return [*exact, *close, completion]


def steady_checks(measured: Result, predicted: Result) -> list[Check]:
    ms, ps = measured.summary, predicted.summary
    frozen_ok = abs(ms.frozen_fraction - ps.frozen_fraction) <= max(
        FROZEN_ABS_TOLERANCE, FROZEN_REL_TOLERANCE * ms.frozen_fraction
    )
    return [
        Check("recovered", ms.recovered, ps.recovered, ms.recovered == ps.recovered, "exact"),
        Check(
            "frozen_fraction", ms.frozen_fraction, ps.frozen_fraction, frozen_ok, "max(0.02, 20 %)"
        ),
    ]


@dataclass(frozen=True)
class Row:
    """One case on one stack: the measurement, the prediction and their agreement.

    `at_zero` judges a burst's second prediction, with every request sent at t=0 as the model
    assumes without a measurement, instead of the measured send times: what replaying them buys.
    """

    stack: str
    case: str
    what: str
    measured: Result | None
    predicted: Result | None
    checks: tuple[Check, ...]
    note: str = ""
    steady: bool = False
    at_zero: tuple[Check, ...] = ()
    hold_out: bool = False  # measured, never tuned on

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    @property
    def ok_at_zero(self) -> bool | None:
        """None where there is no burst prediction to judge (steady traffic, a failed run)."""
        return all(c.ok for c in self.at_zero) if self.at_zero else None


@dataclass(frozen=True)
class OddsRow:
    """One risk case on one stack: the real app's odds and the model's."""

    stack: str
    case: str
    what: str
    measured: Risk
    paired: Risk
    paired_same: int  # runs where the model, on the run's send times, froze iff the app did
    same_seeds: Risk
    many: Risk
    loadavg: tuple[float, float, float]  # min, median, max of the 1-min load before each run
    cut_off: int  # runs stopped after the traffic with requests still out
    # First freezes in the cold start (the first COLD_START s, the pool still opening its
    # connections), in the real runs and in the model's many seeds.
    cold_start: tuple[int, int]
    root: int | None = None  # the root seed replication 0 ran at
    hold_out: bool = False  # measured, never tuned on
    # The first-freeze times of the runs that froze, ascending: real, model's many seeds.
    first_freezes: tuple[tuple[float, ...], tuple[float, ...]] = ((), ())

    @property
    def agree(self) -> bool:
        return overlap(self.measured.p_freeze_ci, self.many.p_freeze_ci)

    @property
    def inside(self) -> bool:
        """The model's P(freeze) over its many seeds inside the measured interval."""
        lo, hi = self.measured.p_freeze_ci
        return lo <= self.many.p_freeze <= hi

    @property
    def agree_paired(self) -> bool:
        return overlap(self.measured.p_freeze_ci, self.paired.p_freeze_ci)


def overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Two closed intervals share a point."""
    return a[0] <= b[1] and b[0] <= a[1]


@dataclass(frozen=True)
class SameSeedRow:
    """One send schedule replayed K times on the real app: the spread left is the server's."""

    stack: str
    case: str
    seed: int
    measured: Risk
    model_freeze_at: float | None  # the model on the schedule; deterministic, so 0 or 1 froze
    paired: Risk  # the model on each run's measured send times (the client's own jitter)
    loadavg: tuple[float, float, float]

    @property
    def model_p(self) -> float:
        return 0.0 if self.model_freeze_at is None else 1.0

    @property
    def inside(self) -> bool:
        lo, hi = self.measured.p_freeze_ci
        return lo <= self.model_p <= hi


@dataclass(frozen=True)
class Exposure:
    """Runs watched until their first freeze or their end: the exponential mean time to the
    first freeze and its exact interval (sim.risk.intervals.exponential_mean)."""

    runs: int
    seconds: float
    freezes: int
    mttf: float
    mttf_ci: tuple[float, float]


@dataclass(frozen=True)
class LongRow:
    """Long runs below the edge: the measured mean time to the first freeze beside the model's,
    from a cold start (as every real run starts) and after it (as `sim risk`'s warm episodes)."""

    stack: str
    case: str
    what: str
    measured: Exposure
    measured_warm: Exposure  # the first COLD_START s of each run left out
    model: Exposure  # the model's own draws from the same root seed, cold started
    risk_mttf: float | None  # `sim risk`'s estimate (warm start), its interval and method
    risk_mttf_ci: tuple[float, float | None]
    risk_method: str
    cold_start: tuple[int, int]  # first freezes within COLD_START s: real, model
    loadavg: tuple[float, float, float]

    @property
    def inside(self) -> bool:
        lo, hi = self.measured_warm.mttf_ci
        return self.risk_mttf is not None and lo <= self.risk_mttf <= hi
