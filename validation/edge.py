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
from validation.cases import COLD_START, RISK_CASES
from validation.compare import HERE, model_scenario, predict
from validation.risk import RISK_RESULTS, stored_runs

STALL_MIN = 0.03  # seconds: a loop block the probe reports, well above one request's CPU
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
    window: float  # seconds watched, from COLD_START to the first freeze of either or the end
    near_stall: float  # seconds of the window within STALL_LEAD after a real stall


def pair(k: int, real: Result, model: Result) -> RunPair:
    t_real, t_model = real.summary.first_freeze_at, model.summary.first_freeze_at
    end = min([t for t in (t_real, t_model) if t is not None] or [real.params["duration"]])
    real_end = t_real if t_real is not None else real.params["duration"]
    threshold = real.params["freeze_threshold"]
    blocks = stalls(real, COLD_START, real_end, threshold)
    warm = t_real is not None and t_real >= COLD_START
    return RunPair(
        k=k,
        load=real.params.get("harness", {}).get("loadavg", math.nan),
        real_at=t_real,
        model_at=t_model,
        real=latency(real, COLD_START, end),
        model=latency(model, COLD_START, end),
        handled_at_freeze=(
            None
            if t_real is None
            else sum(r.handled_at is not None and r.handled_at < t_real for r in real.requests)
        ),
        stall_before=near_after(blocks, t_real) if warm else None,  # type: ignore[arg-type]
        stalls=len(blocks),
        model_stalls=len(stalls(model, COLD_START, real_end, threshold)),
        window=max(real_end - COLD_START, 0.0),
        near_stall=covered(blocks, COLD_START, real_end, STALL_LEAD),
    )


def pairs(
    stack: str, case: str, simulate: Callable[..., Result] = predict, root: Path = RISK_RESULTS
) -> list[RunPair]:
    return [
        pair(int(path.stem), real, simulate(model_scenario(real, path)))
        for path, real in stored_runs(stack, case, root)
    ]


@contextlib.contextmanager
def without_collection(stack: str) -> Iterator[None]:
    """The stack's profile with no full collection, for the duration (the model reads
    STACKS[stack] through Scenario.profile)."""
    from sim.stacks import STACKS, FullCollection

    kept = STACKS[stack]
    STACKS[stack] = dataclasses.replace(kept, full_collection=FullCollection(0, 1, 0.0))
    try:
        yield
    finally:
        STACKS[stack] = kept


def jitter_freezes(
    stack: str,
    case: str,
    replays: int,
    simulate: Callable[..., Result] = predict,
    root: Path = RISK_RESULTS,
) -> list[float]:
    """Per stored run: the share of `replays` jittered replays of its sends that froze."""
    shares = []
    for path, real in stored_runs(stack, case, root):
        scenario = model_scenario(real, path).replace(jitter="on")
        seeds = [replication_seed(real.params["seed"], j) for j in range(replays)]
        froze = [
            simulate(scenario.replace(seed=s)).summary.first_freeze_at is not None for s in seeds
        ]
        shares.append(sum(froze) / replays)
    return shares


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
        f"{_ms(med([r.model.hold90 for r in with_data]))}"
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


def _at(t: float | None) -> str:
    return "none" if t is None else f"{t:.2f} s"


def report(stack: str, replays: int, report_json: Path = HERE / "REPORT.json") -> list[str]:
    rows = json.loads(report_json.read_text())["freeze_odds"]
    single = {c.name for c in RISK_CASES if c.overrides.get("processes", 1) == 1}
    mine = [r for r in rows if r["stack"] == stack and r["case"] in single]
    lines = [f"# python -m validation.edge --stack {stack} --jitter {replays}", ""]
    lines += ["Steps from the model's 200 seeds to the real app (freezes per K runs):"]
    found = [steps(r) for r in mine]
    lines += [steps_text(s) for s in found]
    lines.append(steps_text(total(found)))
    for row in mine:
        lines += ["", *pairs_text(row["case"], pairs(stack, row["case"]))]
        if replays:
            on = jitter_freezes(stack, row["case"], replays)
            with without_collection(stack):
                off = jitter_freezes(stack, row["case"], replays)
            lines.append(
                f"  jittered paired replays ({replays} per run): expected freezes {sum(on):.1f}, "
                f"without the full collection {sum(off):.1f}"
            )
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
