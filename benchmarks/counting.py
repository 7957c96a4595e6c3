"""Count the SimPy events a model run processes, without touching `sim/`.

`sim.model.run_model` builds its own `simpy.Environment()`; while `counted_environment` is active
that name resolves to a subclass whose `step` counts. Counting costs time, so the counted run is
never the timed one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import simpy


class CountingEnvironment(simpy.Environment):
    """simpy.Environment whose `step` (one processed event) counts events by kind: the event mix
    says which model primitive costs the events (zero-delay timeouts are told apart, they move
    no clock and exist only to order work within an instant)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds: Counter[str] = Counter()

    @property
    def steps(self) -> int:
        return sum(self.kinds.values())

    def step(self) -> None:
        if self._queue:
            self.kinds[_kind(self._queue[0][3])] += 1
        super().step()


def _kind(event: simpy.Event) -> str:
    name = type(event).__name__
    if isinstance(event, simpy.Timeout):
        return name + ("(0)" if event._delay == 0 else "(>0)")
    return name


@contextmanager
def counted_environment() -> Iterator[list[CountingEnvironment]]:
    """Every Environment created inside the block is a CountingEnvironment, listed in the yield."""
    created: list[CountingEnvironment] = []

    class Recorded(CountingEnvironment):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            created.append(self)

    original = simpy.Environment
    simpy.Environment = Recorded  # type: ignore[misc]
    try:
        yield created
    finally:
        simpy.Environment = original  # type: ignore[misc]
