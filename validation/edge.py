"""`python -m validation.edge`: why the model under-predicts P(freeze) near the edge on modern.

The Freeze probability table compares the real app's P(freeze) over K runs with the model's
over 200 seeds. Between the two sit three steps, each a count of freezes per K runs taken
from REPORT.json's rows (no model run):
- seeds: the model's own draws on the K seeds the real runs used, against its 200 seeds (the
  luck of the K schedules; `luck` is the binomial chance of that many or more at the model's
  200-seed P);
- sends: the model on each run's measured send times (paired) against its own draws on the
  same seeds (the client's lateness and bunching);
- app: the real runs against the paired model, with how many froze in the real app only and
  in the model only.

Then, run by run with the model paired as compare runs it (jitter off), what the app and the
model did on the same sends before the first freeze either of them had (from COLD_START on):
the wait from the send to "Handling" (the loop's queue, checkout and query), the hold from
"Handling" to the response (the async work, respond, teardown), and the probe's loop stalls
(STALL_MIN up to the freeze threshold). For each real first freeze after the cold start: the
requests handled before it, and whether a stall ended within STALL_LEAD of it, against the
share of the watched time that lies that close after a stall (the chance a freeze would have
met one by coincidence).

`--jitter J` also replays every run's sends J times with the model's calibrated jitter on
(sim/jitter.py, the full collection included; seeds replication_seed(run seed, j)), and again
with the full collection left out, for the expected number of freezes each gives.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import statistics
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.result import RequestRecord, Result
from sim.risk.replications import replication_seed
from sim.scenario import Scenario
from sim.stacks import STACKS, FullCollection
from validation.arrivals import poisson_times
from validation.cases import COLD_START, RISK_CASES
from validation.compare import HERE, model_scenario, predict
from validation.probe import BLOCK_MIN
from validation.risk import RISK_RESULTS, stored_runs

STALL_MIN = BLOCK_MIN  # the shortest loop block the probe reports (validation/probe.py)
STALL_LEAD = 0.5  # seconds from a stall's end to a first freeze it may have started


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The nearest-rank q-quantile; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def binomial_tail(n: int, k: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p)."""
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(max(k, 0), n + 1))


@dataclass(frozen=True)
class Steps:
    """One risk case's gap, in freezes per K runs, from the model's 200 seeds to the real app."""

    case: str
    k: int
    real: int
    paired: int
    same_seeds: int
    many: float  # the model's 200-seed P(freeze) times K
    luck: float  # P(>= same_seeds of K | the 200-seed P)
    real_only: int  # runs that froze in the real app and not in the paired model
    model_only: int

    @property
    def seeds(self) -> float:
        return self.same_seeds - self.many

    @property
    def sends(self) -> int:
        return self.paired - self.same_seeds

    @property
    def app(self) -> int:
        return self.real - self.paired


def steps(row: Mapping[str, Any]) -> Steps:
    """The steps of one REPORT.json freeze_odds row. Real-only and model-only follow from the
    counts and the runs where both agree (`paired_same`)."""
    k = row["measured"]["replications"]

    def froze(risk: Mapping[str, Any]) -> int:
        return round(risk["p_freeze"] * risk["replications"])

    real, paired = froze(row["measured"]), froze(row["paired"])
    differ = k - row["paired_same"]
    real_only = (differ + real - paired) // 2
    p_many = row["many"]["p_freeze"]
    return Steps(
        case=row["case"],
        k=k,
        real=real,
        paired=paired,
        same_seeds=froze(row["same_seeds"]),
        many=p_many * k,
        luck=binomial_tail(k, froze(row["same_seeds"]), p_many),
        real_only=real_only,
        model_only=differ - real_only,
    )


def peak_held(requests: Sequence[RequestRecord], start: float, end: float) -> int:
    """Most answered requests between "Handling" and their response at once, in [start, end]."""
    edges = []
    for r in requests:
        if r.handled_at is None or r.completed_at is None or r.status is None:
            continue
        if r.completed_at >= start and r.handled_at <= end:
            edges += [(r.handled_at, 1), (r.completed_at, -1)]
    held = peak = 0
    for _, step in sorted(edges, key=lambda e: (e[0], e[1])):
        held += step
        peak = max(peak, held)
    return peak


@dataclass(frozen=True)
class Latency:
    """A run's 200s sent and answered in a window: medians and 90 % points, seconds."""

    n: int
    wait50: float
    wait90: float
    hold50: float
    hold90: float
    peak: int


def latency(result: Result, start: float, end: float) -> Latency:
    done = [
        r
        for r in result.requests
        if r.status == 200
        and r.sent_at is not None
        and r.handled_at is not None
        and r.completed_at is not None
        and start <= r.sent_at
        and r.completed_at < end
    ]
    wait = [r.handled_at - r.sent_at for r in done]  # type: ignore[operator]
    hold = [r.completed_at - r.handled_at for r in done]  # type: ignore[operator]
    return Latency(
        n=len(done),
        wait50=nearest_rank(wait, 0.5),
        wait90=nearest_rank(wait, 0.9),
        hold50=nearest_rank(hold, 0.5),
        hold90=nearest_rank(hold, 0.9),
        peak=peak_held(result.requests, start, end),
    )


def stalls(result: Result, start: float, end: float, threshold: float) -> list[tuple[float, float]]:
    """The probe's loop blocks of STALL_MIN up to the freeze threshold starting in [start, end)."""
    return [
        (a, b)
        for a, b in result.loop_blocked
        if start <= a < end and STALL_MIN <= b - a < threshold
    ]


def near_after(blocks: Sequence[tuple[float, float]], t: float, lead: float = STALL_LEAD) -> bool:
    """A block ended within `lead` seconds before `t` (or overlaps it)."""
    return any(b <= t + 1e-9 and t - b <= lead or a <= t < b for a, b in blocks)


def covered(blocks: Sequence[tuple[float, float]], start: float, end: float, lead: float) -> float:
    """Seconds of [start, end) that lie within `lead` after a block's end (or inside one)."""
    spans = sorted((max(a, start), min(b + lead, end)) for a, b in blocks)
    total, reach = 0.0, start
    for a, b in spans:
        a = max(a, reach)
        if b > a:
            total += b - a
            reach = b
    return total


def send_lags(result: Result) -> list[float]:
    """How late each measured send left after its Poisson schedule (validation.arrivals draws
    it from the run's seed, as the client did), seconds."""
    rate = float(result.params["arrival"].split(":", 1)[1])
    planned = poisson_times(rate, result.params["duration"], result.params["seed"])
    sent = {r.i: r.sent_at for r in result.requests}
    return [sent[i] - t for i, t in enumerate(planned) if sent.get(i) is not None]


@dataclass(frozen=True)
class RunPair:
    """One stored real run beside the model on its measured send times."""

    k: int
    load: float
    real_at: float | None  # first freeze, seconds
    model_at: float | None
    real: Latency
    model: Latency
    handled_at_freeze: int | None  # requests handled before the real first freeze
    stall_before: (
        bool | None
    )  # a real stall ended within STALL_LEAD before it (after the cold start)
    stalls: int  # real stalls before the end of the window
    model_stalls: int
    window: float  # seconds watched, from COLD_START to the real first freeze or the end
    near_stall: float  # seconds of the window within STALL_LEAD after a real stall
    handled_watched: int  # real requests handled in the window
    lag50: float  # the real sends' lateness behind their schedule, median and 99 % point
    lag99: float


def watched_end(real: Result) -> float:
    """Where a real run's watch for stalls ends: its first freeze, or the end of its traffic."""
    at = real.summary.first_freeze_at
    return at if at is not None else real.params["duration"]


def threshold(result: Result) -> float:
    return result.params["freeze_threshold"]


def pair(k: int, real: Result, model: Result) -> RunPair:
    t_real, t_model = real.summary.first_freeze_at, model.summary.first_freeze_at
    end = min([t for t in (t_real, t_model) if t is not None] or [real.params["duration"]])
    real_end = watched_end(real)
    blocks = stalls(real, COLD_START, real_end, threshold(real))
    warm = t_real is not None and t_real >= COLD_START
    lags = send_lags(real)
    return RunPair(
        k=k,
        load=real.params.get("harness", {}).get("loadavg", math.nan),
        real_at=t_real,
        model_at=t_model,
        real=latency(real, COLD_START, end),
        model=latency(model, COLD_START, end),
        handled_at_freeze=None if t_real is None else handled(real, 0.0, t_real),
        stall_before=near_after(blocks, t_real) if warm else None,  # type: ignore[arg-type]
        stalls=len(blocks),
        model_stalls=len(stalls(model, COLD_START, real_end, threshold(real))),
        window=max(real_end - COLD_START, 0.0),
        near_stall=covered(blocks, COLD_START, real_end, STALL_LEAD),
        handled_watched=handled(real, COLD_START, real_end),
        lag50=nearest_rank(lags, 0.5),
        lag99=nearest_rank(lags, 0.99),
    )


def handled(result: Result, start: float, end: float) -> int:
    return sum(r.handled_at is not None and start <= r.handled_at < end for r in result.requests)


def pairs(
    stack: str, case: str, simulate: Callable[..., Result] = predict, root: Path = RISK_RESULTS
) -> list[RunPair]:
    return [
        pair(int(path.stem), real, simulate(model_scenario(real, path)))
        for path, real in stored_runs(stack, case, root)
    ]


@contextlib.contextmanager
def collection(stack: str, full: FullCollection) -> Iterator[None]:
    """The stack's profile with `full` as its full collection, for the duration (the model
    reads STACKS[stack] through Scenario.profile)."""
    kept = STACKS[stack]
    STACKS[stack] = dataclasses.replace(kept, full_collection=full)
    try:
        yield
    finally:
        STACKS[stack] = kept


NO_COLLECTION = FullCollection(first=0, every=1, seconds=0.0)


@dataclass(frozen=True)
class WhatIf:
    """One change to the paired model: Scenario fields, jitter on or off, and the full
    collection (None: the stack's calibrated one; a function of the replay j and of the run's
    stall spacing in requests: a stall of its own)."""

    label: str
    fields: Mapping[str, Callable[[Any], Any]] = dataclasses.field(default_factory=dict)
    jitter: str = "off"
    stall: Callable[[int, int, int], FullCollection] | None = None
    at_measured_rate: bool = False  # the stall comes every `every` requests, as measured


def periodic_stall(seconds: float) -> Callable[[int, int, int], FullCollection]:
    """A stall of `seconds` every `every` requests, replay j of J at phase (j + 1/2)/J: the
    measured stall rate laid on the model as its full collection is (counted by requests)."""

    def stall(j: int, replays: int, every: int) -> FullCollection:
        return FullCollection(first=int(every * (j + 0.5) / replays), every=every, seconds=seconds)

    return stall


def what_ifs(stall_seconds: float) -> tuple[WhatIf, ...]:
    return (
        WhatIf("none (jitter off, as compare runs it)"),
        WhatIf("request_cpu x3", {"request_cpu": lambda s: 3 * s.request_cpu}),
        WhatIf("async_work +10 ms", {"async_work": lambda s: s.async_work + 0.010}),
        WhatIf("jitter on (calibrated, the full collection at its request count)", jitter="on"),
        WhatIf("jitter on without the full collection", jitter="on",
               stall=lambda j, n, every: NO_COLLECTION),
        WhatIf(f"jitter on, a {stall_seconds * 1e3:.0f} ms stall at the case's measured stall "
               "rate, random phase", jitter="on", stall=periodic_stall(stall_seconds),
               at_measured_rate=True),
    )  # fmt: skip


def replay_freezes(
    scenario: Scenario,
    seed: int,
    what: WhatIf,
    replays: int,
    every: int,
    simulate: Callable[..., Result] = predict,
) -> float:
    """The share of the paired model's replays under `what` that froze: one replay when
    nothing in it is drawn, else `replays` at replication_seed(seed, j)."""
    changed = scenario.replace(
        jitter=what.jitter, **{name: f(scenario) for name, f in what.fields.items()}
    )
    count = replays if what.jitter == "on" else 1
    froze = 0
    for j in range(count):
        run = changed.replace(seed=replication_seed(seed, j)) if what.jitter == "on" else changed
        if what.stall is None:
            result = simulate(run)
        else:
            with collection(scenario.stack, what.stall(j, count, every)):
                result = simulate(run)
        froze += result.summary.first_freeze_at is not None
    return froze / count


def stall_spacing(rows: Sequence[RunPair]) -> int | None:
    """Requests handled per real stall before the first freezes, over a case's runs."""
    count = sum(r.stalls for r in rows)
    return None if count == 0 else round(sum(r.handled_watched for r in rows) / count)


def stall_seconds(stack: str, cases: Sequence[str], root: Path = RISK_RESULTS) -> float:
    """The median length of the real stalls before the first freezes, over the cases."""
    lengths = []
    for case in cases:
        for _, real in stored_runs(stack, case, root):
            end = watched_end(real)
            lengths += [b - a for a, b in stalls(real, COLD_START, end, threshold(real))]
    return statistics.median(lengths) if lengths else 0.0


def _ms(x: float) -> str:
    return "-" if math.isnan(x) else f"{1e3 * x:.1f}"


def total(found: Sequence[Steps]) -> Steps:
    """The steps summed over cases (no luck: the cases' P differ)."""

    def add(name: str) -> Any:
        return sum(getattr(s, name) for s in found)

    counts = ("k", "real", "paired", "same_seeds", "many")
    return Steps("all", *(add(f) for f in counts), math.nan, add("real_only"), add("model_only"))


def steps_text(s: Steps) -> str:
    return (
        f"{s.case}: K={s.k}; model 200 seeds {s.many:.1f}, model on the K seeds {s.same_seeds} "
        f"(seeds {s.seeds:+.1f}"
        + ("" if math.isnan(s.luck) else f"; luck P(>= {s.same_seeds}) = {s.luck:.3f}")
        + f"), paired {s.paired} "
        f"(sends {s.sends:+d}), real {s.real} (app {s.app:+d}: real only {s.real_only}, "
        f"model only {s.model_only})"
    )


def pairs_text(case: str, rows: Sequence[RunPair]) -> list[str]:
    def med(values: Sequence[float]) -> float:
        values = [v for v in values if not math.isnan(v)]
        return statistics.median(values) if values else math.nan

    lines = [f"{case}: run by run (real / model paired, ms; stalls >= {STALL_MIN * 1e3:g} ms)"]
    for r in rows:
        lines.append(
            f"  run {r.k}: load {r.load:.2f}; first freeze {_at(r.real_at)} / {_at(r.model_at)}; "
            f"wait 50% {_ms(r.real.wait50)} / {_ms(r.model.wait50)}, 90% {_ms(r.real.wait90)} / "
            f"{_ms(r.model.wait90)}; hold 50% {_ms(r.real.hold50)} / {_ms(r.model.hold50)}, "
            f"90% {_ms(r.real.hold90)} / {_ms(r.model.hold90)}; peak {r.real.peak} / "
            f"{r.model.peak}; stalls {r.stalls} / {r.model_stalls}"
            + ("" if r.handled_at_freeze is None else f"; handled before it {r.handled_at_freeze}")
            + ("" if r.stall_before is None else f"; stall just before: {r.stall_before}")
        )
    with_data = [r for r in rows if r.real.n and r.model.n]
    lines.append(
        f"  medians over runs: wait 50% {_ms(med([r.real.wait50 for r in with_data]))} / "
        f"{_ms(med([r.model.wait50 for r in with_data]))}, hold 50% "
        f"{_ms(med([r.real.hold50 for r in with_data]))} / "
        f"{_ms(med([r.model.hold50 for r in with_data]))}, hold 90% "
        f"{_ms(med([r.real.hold90 for r in with_data]))} / "
        f"{_ms(med([r.model.hold90 for r in with_data]))}; sends late behind their schedule "
        f"50% {_ms(med([r.lag50 for r in rows]))}, 99% {_ms(med([r.lag99 for r in rows]))}"
    )
    warm = [r for r in rows if r.stall_before is not None]
    window = sum(r.window for r in rows)
    near = sum(r.near_stall for r in rows)
    lines.append(
        f"  real first freezes after the cold start: {len(warm)}, "
        f"{sum(bool(r.stall_before) for r in warm)} within {STALL_LEAD:g} s after a stall; "
        f"stalls {sum(r.stalls for r in rows)} in {window:.0f} s watched, "
        f"{near / window if window else math.nan:.3f} of it within {STALL_LEAD:g} s after one"
    )
    return lines


@dataclass
class Tally:
    """A what-if's expected freezes and runs agreeing, summed over cases."""

    freezes: float = 0.0
    agree: float = 0.0
    runs: int = 0
    real: int = 0
    cases: int = 0

    def add(self, shares: Sequence[float], real: Sequence[bool]) -> None:
        self.freezes += sum(shares)
        self.agree += sum(x if f else 1 - x for x, f in zip(shares, real, strict=True))
        self.runs += len(real)
        self.real += sum(real)
        self.cases += 1


def what_if_text(
    stack: str,
    case: str,
    rows: Sequence[RunPair],
    replays: int,
    seconds: float,
    tallies: dict[str, Tally],
) -> list[str]:
    """The paired model's expected freezes under each what-if, beside the real count; each
    is added to its tally."""
    runs = stored_runs(stack, case)
    real = [r.real_at is not None for r in rows]
    every = stall_spacing(rows)
    lines = [
        f"  what-ifs on the paired model ({replays} replays per run where jitter is on; real "
        f"froze {sum(real)}, stall every {every} requests):"
    ]
    for what in what_ifs(seconds):
        if what.at_measured_rate and every is None:
            lines.append(f"    {what.label}: no stall measured")
            continue
        shares = [
            replay_freezes(model_scenario(r, p), r.params["seed"], what, replays, every or 1)
            for p, r in runs
        ]
        one = Tally()
        one.add(shares, real)
        tallies.setdefault(what.label, Tally()).add(shares, real)
        lines.append(f"    {what.label}: {tally_text(one)}")
    return lines


def tally_text(t: Tally) -> str:
    return (
        f"expected freezes {t.freezes:.1f}, expected runs agreeing with the real app {t.agree:.1f}"
    )


def _at(t: float | None) -> str:
    return "none" if t is None else f"{t:.2f} s"


def report(stack: str, replays: int, report_json: Path = HERE / "REPORT.json") -> list[str]:
    """Every section, for the stack's one-process risk cases in REPORT.json."""
    rows = json.loads(report_json.read_text())["freeze_odds"]
    single = {c.name for c in RISK_CASES if c.overrides.get("processes", 1) == 1}
    mine = [r for r in rows if r["stack"] == stack and r["case"] in single]
    lines = [f"# python -m validation.edge --stack {stack} --jitter {replays}", ""]
    lines += ["Steps from the model's 200 seeds to the real app (freezes per K runs):"]
    found = [steps(r) for r in mine]
    lines += [steps_text(s) for s in found]
    lines.append(steps_text(total(found)))
    seconds = stall_seconds(stack, [r["case"] for r in mine])
    tallies: dict[str, Tally] = {}
    for row in mine:
        rows = pairs(stack, row["case"])
        lines += ["", *pairs_text(row["case"], rows)]
        if replays:
            lines += what_if_text(stack, row["case"], rows, replays, seconds, tallies)
    if tallies:
        lines += ["", "What-ifs summed over the cases (the paired model, real froze in brackets):"]
        lines += [
            f"  {label}: over {t.cases} cases, {t.runs} runs (real {t.real}): {tally_text(t)}"
            for label, t in tallies.items()
        ]
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="modern", choices=("era2020", "modern"))
    parser.add_argument("--jitter", type=int, default=0, help="jittered replays per run, 0..100")
    parser.add_argument("--out", type=Path, help="also write the text here")
    args = parser.parse_args(argv)
    if not 0 <= args.jitter <= 100:
        parser.exit(2, f"--jitter must be an integer 0..100, got {args.jitter}\n")
    text = "\n".join(report(args.stack, args.jitter)) + "\n"
    print(text, end="")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
