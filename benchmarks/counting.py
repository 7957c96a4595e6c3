"""Count the SimPy events a model run processes, and the work it does without any, without
touching `sim/`.

`sim.model.run_model` builds its own `simpy.Environment()`; while `counted_environment` is active
that name resolves to a subclass whose `step` counts. `counted_model` also records the run's event
loops (their iterations) and the CPU costs `sim.model.cpu` moved in place instead of a timeout.
Counting costs time, so the counted run is never the timed one.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import simpy

import sim.model.cpu
from sim.model.loop import EventLoop


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


@dataclass
class ModelCounts:
    """What one counted model run did: SimPy events (per Environment), loop iterations, and CPU
    costs paid in place (no event)."""

    envs: list[CountingEnvironment] = field(default_factory=list)
    loops: list[EventLoop] = field(default_factory=list)
    in_place: int = 0

    @property
    def iterations(self) -> int:
        return sum(loop.iterations for loop in self.loops)


@contextmanager
def counted_model() -> Iterator[ModelCounts]:
    """`counted_environment`, plus every EventLoop the wiring builds and every in-place CPU cost."""
    counts = ModelCounts()
    # `sim.model.simulate` as an attribute is the function the package exports, not the module.
    wiring = importlib.import_module("sim.model.simulate")
    original_loop, original_advance = wiring.EventLoop, sim.model.cpu.advance

    class RecordedLoop(EventLoop):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            counts.loops.append(self)

    def advance(env: simpy.Environment, seconds: float) -> bool:
        moved = original_advance(env, seconds)
        counts.in_place += moved
        return moved

    wiring.EventLoop, sim.model.cpu.advance = RecordedLoop, advance
    try:
        with counted_environment() as envs:
            counts.envs = envs
            yield counts
    finally:
        wiring.EventLoop, sim.model.cpu.advance = original_loop, original_advance
