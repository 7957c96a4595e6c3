"""What would close each missed target, derived from the run's own event mix and profile.

The text names the model code that creates each kind of event; the counts come from this run, so
the advice shrinks (and disappears) as the model sheds those events.
"""

from __future__ import annotations

from benchmarks.model import Throughput


def model_speed(t: Throughput) -> str:
    """Throughput is events/s over events per request: name the avoidable events first."""
    per = {kind: count / t.served for kind, count in t.event_mix.items()}
    total = sum(per.values())
    advice = [
        f"the model spends {total:.1f} SimPy events per request against M/M/c's "
        f"{t.mmc_events_per_customer:.1f} per customer, and runs at "
        f"{t.events.ratio:.2f} of a bare timeout loop's events/s."
    ]
    if per.get("Timeout(0)", 0) > 0.5:
        advice.append(
            f"{per['Timeout(0)']:.1f} zero-delay timeouts per request come from "
            "`EventLoop._select` yielding `env.timeout(0)` on every iteration with work ready; "
            "it is only needed when another event is due at this instant, so guarding it with "
            "`if env.peek() <= env.now` keeps the order and the Result byte for byte."
        )
    if per.get("Condition", 0) > 0.1:
        advice.append(
            f"{per['Condition']:.1f} Conditions per request come from the idle `_select` "
            "waiting on `self._wakeup | timeout`; appending a callback that succeeds that "
            "iteration's wake-up event to the timer's callbacks does the same without a "
            "Condition."
        )
    processes = per.get("Process", 0) + per.get("Initialize", 0)
    if processes > 0.5:
        advice.append(
            f"{processes:.1f} Process/Initialize events per request are a SimPy process per "
            "worker-thread call (`threads._in_thread`), two per request on the modern stack; "
            "a long-lived worker process fed from a queue would remove both events per call."
        )
    assert t.requests.target is not None
    advice.append(
        "Even with all of these the model would need about "
        f"{total * t.requests.ratio / t.requests.target:.1f} events per request at today's "
        "per-event pace to reach 0.4, so the target also needs the per-event Python work in "
        "`_run_once`/`_run_ready`/`_run` (generator delegation three levels deep per callback) "
        "flattened into one loop."
    )
    return " ".join(advice)
