"""CPU work holding a thread: the SimPy timeout it waits out, skipped when nothing else is due.

The loop thread and the worker threads spend most of their events on short CPU costs; when no other
event can come first, the timeout is pure overhead and the clock moves on in place.
"""

from __future__ import annotations

import simpy


def advance(env: simpy.Environment, seconds: float) -> bool:
    """Move the clock on by `seconds` in place if no other event is due before then.

    SimPy's next `step()` would pop a timeout of `seconds` and resume its thread at once, nothing
    having happened meanwhile: the clock moves on in place instead (the same `now + delay` sum
    `Environment.schedule` makes), one event fewer. A thread resumes from an event it alone
    waits on, so no other callback of that event sees the later clock.
    """
    end = env.now + seconds
    if env.peek() > end:
        env._now = end  # noqa: SLF001 - what Environment.step does on popping the timeout
        return True
    return False


def cpu(env: simpy.Environment, seconds: float) -> tuple[simpy.Timeout, ...]:
    """Hold the calling thread for `seconds` of work, as `yield from cpu(env, seconds)`: the
    timeout to wait out, or nothing when the clock moved on in place (a tuple, not a
    generator: most costs are paid in place, and building a generator for them is the cost)."""
    if seconds > 0 and not advance(env, seconds):
        return (env.timeout(seconds),)
    return ()
