"""Plain-text renderings of the odds, for `sim run --replications` and `sim risk`."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sim.risk.mttf import MTTF


def duration(seconds: float | None) -> str:
    """Seconds in the unit a reader thinks in: 45 s, 12 min, 3.2 h, 5 days, 2.1 years."""
    if seconds is None:
        return "unknown"
    if math.isinf(seconds):
        return "never"
    for unit, size in (("year", 365 * 86400), ("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = f"{seconds / size:.3g}"
            plural = "s" if unit in ("year", "day") and value != "1" else ""
            return f"{value} {unit}{plural}"
    return f"{seconds:.3g} s"


def _pct(p: float) -> str:
    return f"{100 * p:.3g}%"


def _ci(pair: Any, show=_pct) -> str:
    return f"[{show(pair[0])}, {show(pair[1])}]"


def risk_text(risk: dict[str, Any], duration_s: float) -> str:
    """The `risk` object of a Result with replications, as a reader wants it."""
    q, q_ci = risk["first_freeze_quantiles"], risk["first_freeze_quantiles_ci"]
    later = f"later than the run ({duration(duration_s)})"

    def at(t: float | None) -> str:
        return "after the run" if t is None else f"{t:.3f} s"

    def when(key: str) -> str:
        shown = later if q[key] is None else f"{q[key]:.3f} s"
        lo, hi = q_ci[key]
        return f"{shown} [{at(lo)}, {at(hi)}]"

    return "\n".join(
        [
            f"over {risk['replications']} replications (95% intervals):",
            f"  P(freeze within the run): {_pct(risk['p_freeze'])} {_ci(risk['p_freeze_ci'])}",
            f"  P(collapse, no recovery while traffic lasts): {_pct(risk['p_collapse'])} "
            f"{_ci(risk['p_collapse_ci'])}",
            f"  first freeze: 10% by {when('0.1')}, 50% by {when('0.5')}, 90% by {when('0.9')}",
            f"  frozen fraction: {_pct(risk['frozen_fraction'])} "
            f"{_ci(risk['frozen_fraction_ci'])}; error rate {_pct(risk['error_rate'])} "
            f"{_ci(risk['error_rate_ci'])}",
        ]
    )


def mttf_text(estimate: MTTF, rate: float) -> str:
    lo, hi = estimate.mttf_ci
    if estimate.mttf_s is None:
        head = f"more than {duration(lo)} (a lower bound: the budget ran out)"
    elif math.isinf(estimate.mttf_s) and 0 < lo < math.inf:
        head = (
            f"no freeze in {duration(estimate.simulated_s)} simulated: more than "
            f"{duration(lo)} (95% lower bound)"
        )
    else:
        head = f"{duration(estimate.mttf_s)} (95% interval {duration(lo)} to {duration(hi)})"
    lines = [f"mean time to the first freeze at {rate:g} req/s: {head}"]
    for t, p in estimate.p_within.items():
        p_lo, p_hi = estimate.p_within_ci[t]
        shown = f"at most {_pct(p_hi)}" if p is None else f"{_pct(p)} [{_pct(p_lo)}, {_pct(p_hi)}]"
        lines.append(f"  P(freeze within {duration(float(t))}): {shown}")
    lines.append(
        f"method: {estimate.method}; {estimate.replications} episodes, "
        f"{estimate.requests} requests over {duration(estimate.simulated_s)} simulated"
    )
    lines += [f"note: {note}" for note in estimate.notes]
    return "\n".join(lines)
