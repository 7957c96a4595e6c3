"""Calibrated jitter: each cost the model pays drawn from its measured distribution.

`python -m validation calibrate` times every call behind query_time, connect_time,
thread_handoff and request_cpu, and the `asyncio.sleep` overshoot, and keeps their quantiles at
LEVELS (validation/profiles/<stack>.json, "jitter"). A cost's shape is its quantiles over its
own calibrated value (the median; request_cpu's mean, as calibrate measures it), so a cost set by
flag keeps the measured spread around the new value; the overshoot is kept in seconds. A draw is
the quantile function at a uniform u, linear between LEVELS.

With jitter off every cost is its value and the overshoot 0: the exact timelines the hand-worked
tests pin. Each cost draws from its own stream, random.Random(f"jitter:{name}:{seed}"), so a
draw added for one cost never moves another's.
"""

from __future__ import annotations

import bisect
import random
from collections.abc import Sequence

# Quantile levels: every 5 % in the body, closer together in both tails.
LEVELS: tuple[float, ...] = (
    0.0, 0.01, 0.025, 0.05,
    *(round(0.05 * k, 2) for k in range(2, 19)),
    0.95, 0.975, 0.99, 0.995, 1.0,
)  # fmt: skip
JITTERED = ("query_time", "connect_time", "thread_handoff", "request_cpu")
MODES = ("on", "off")


def check_quantiles(values: Sequence[float], what: str, signed: bool = False) -> tuple[float, ...]:
    """`values` as quantiles at LEVELS: one per level, finite, non-decreasing, and >= 0 unless
    `signed` (uvloop's millisecond timers can end a sleep early: a negative overshoot)."""
    values = tuple(float(v) for v in values)
    if len(values) != len(LEVELS):
        raise ValueError(f"{what}: {len(values)} quantiles, expected {len(LEVELS)} (LEVELS)")
    low = -float("inf") if signed else 0.0
    if any(not low <= v < float("inf") for v in values):
        raise ValueError(f"{what}: quantiles must be finite" + ("" if signed else " and >= 0"))
    if any(b < a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"{what}: quantiles must not decrease")
    return values


def quantile(values: Sequence[float], u: float) -> float:
    """The quantile function through `values` (at LEVELS) at u in [0, 1)."""
    i = bisect.bisect_right(LEVELS, u) - 1
    low, high = values[i], values[i + 1]
    return low + (high - low) * (u - LEVELS[i]) / (LEVELS[i + 1] - LEVELS[i])


class Cost:
    """One cost as the model pays it: `value`, times a draw from `shape` when jittered."""

    __slots__ = ("value", "_shape", "_rng")

    def __init__(
        self,
        value: float,
        shape: Sequence[float] | None = None,
        stream: str = "",
        signed: bool = False,
    ) -> None:
        self.value = value
        self._shape = None if shape is None else check_quantiles(shape, stream or "shape", signed)
        self._rng = None if shape is None else random.Random(stream)

    @property
    def jittered(self) -> bool:
        return self._shape is not None

    def draw(self) -> float:
        if self._shape is None:
            return self.value
        return self.value * quantile(self._shape, self._rng.random())  # type: ignore[union-attr]


def stream(name: str, seed: int, process: int = 0) -> str:
    """The seed of `name`'s own stream in the run seeded `seed`, in server process `process`
    (the first process's is the one-process run's)."""
    return f"jitter:{name}:{seed}" + (f":{process}" if process else "")


def as_cost(value: float | Cost) -> Cost:
    """A plain number of seconds as a Cost that never varies."""
    return value if isinstance(value, Cost) else Cost(value)
