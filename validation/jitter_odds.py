"""`python -m validation.jitter_odds`: the freeze odds of the risk cases with the model's jitter
on, beside the real app's stored runs (validation/results/risk/) and the model with it off.

Per risk case and stack: the real P(freeze) over its K runs; the model paired (each run's own
send times, jitter seeded by the run's seed) with jitter off and on; the model's own Poisson
draws over MANY seeds, off and on; and one schedule (run 0's send times) replayed REPLAYS times
with jitter on, each at another seed: the spread jitter alone gives one arrival schedule; and
every run's schedule replayed PER_SCHEDULE times, counting the schedules jitter leaves undecided
(some replays froze, some not). Every probability with its Wilson 95 % interval
(sim.risk.replications.risk_of).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence

from sim.model import simulate
from sim.risk.replications import Risk, replication_seed, risk_of
from sim.scenario import Scenario
from sim.stacks import STACKS
from validation.cases import RISK_CASES
from validation.compare import measured_scenario, model_scenario
from validation.odds import root_seed
from validation.risk import stored_runs

MANY = 100
REPLAYS = 100
PER_SCHEDULE = 20


def p_text(risk: Risk) -> str:
    lo, hi = risk.p_freeze_ci
    return f"{risk.p_freeze:.2f} [{lo:.2f}, {hi:.2f}]"


def odds(scenarios: Sequence[Scenario]) -> Risk:
    return risk_of([simulate(s).summary for s in scenarios])


def case_lines(stack: str, case: str, log: Callable[[str], None]) -> list[str]:
    runs = stored_runs(stack, case)
    if not runs:
        return []
    measured = [r for _, r in runs]
    paired = [model_scenario(r, p) for p, r in runs]
    root = root_seed(runs)
    base = measured_scenario(measured[0])
    own = [base.replace(seed=replication_seed(root, k)) for k in range(MANY)]
    replay = [paired[0].replace(seed=replication_seed(root, k)) for k in range(REPLAYS)]
    loads = sorted(r.params["harness"]["loadavg"] for r in measured)
    times = 2 * (len(runs) + MANY) + REPLAYS + PER_SCHEDULE * len(runs)
    log(f"{stack}/{case}: {len(runs)} runs, the model {times} times")
    replay_off = simulate(paired[0]).summary.first_freeze_at is not None
    on = [
        odds([s.replace(jitter="off") for s in paired]),
        odds([s.replace(jitter="on") for s in paired]),
        odds([s.replace(jitter="off") for s in own]),
        odds([s.replace(jitter="on") for s in own]),
        odds([s.replace(jitter="on") for s in replay]),
    ]
    mixed, froze = 0, 0
    for scenario in paired:
        replays = [
            simulate(scenario.replace(jitter="on", seed=replication_seed(scenario.seed, k)))
            for k in range(PER_SCHEDULE)
        ]
        count = sum(r.summary.first_freeze_at is not None for r in replays)
        mixed += 0 < count < PER_SCHEDULE
        froze += count
    return [
        f"{case} {stack}: real {p_text(risk_of([r.summary for r in measured]))} over "
        f"{len(runs)} runs (load {loads[0]}-{loads[-1]})",
        f"  model paired (same send times): jitter off {p_text(on[0])}, on {p_text(on[1])}",
        f"  model over {MANY} seeds: jitter off {p_text(on[2])}, on {p_text(on[3])}",
        f"  run 0's schedule replayed {REPLAYS} times, jitter on: {p_text(on[4])} "
        f"(jitter off, one timeline: {'froze' if replay_off else 'no freeze'})",
        f"  each run's schedule replayed {PER_SCHEDULE} times, jitter on: {mixed} of "
        f"{len(paired)} schedules undecided; {froze} of {PER_SCHEDULE * len(paired)} replays froze",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stack", action="append", choices=tuple(STACKS))
    args = parser.parse_args()
    for stack in args.stack or tuple(STACKS):
        if STACKS[stack].cost_shapes is None:
            print(f"{stack}: no calibrated distributions, skipped")
            continue
        for case in RISK_CASES:
            for line in case_lines(stack, case.name, print):
                print(line, flush=True)


if __name__ == "__main__":
    main()
