"""Send times of the external client: seeded Poisson draws, open loop, closed-loop users.

The loops run on a virtual clock (a sleep parks the coroutine until the test's scheduler moves
time to its wake-up), so the timings are exact and nothing really waits.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest

from sim.model.clients import send_times
from sim.scenario import Scenario
from validation.arrivals import closed_loop, open_loop, poisson_times


class VirtualTime:
    """A clock and a sleep for the code under test; `run` advances time only when every
    coroutine is parked, to the earliest wake-up."""

    def __init__(self) -> None:
        self.now = 0.0
        self._wakeups: list = []
        self._order = itertools.count()

    def clock(self) -> float:
        return self.now

    async def sleep(self, delay: float) -> None:
        wake = asyncio.get_running_loop().create_future()
        heapq.heappush(self._wakeups, (self.now + delay, next(self._order), wake))
        await wake

    def run(self, coro):
        async def drive():
            task = asyncio.ensure_future(coro)
            while not task.done():
                for _ in range(20):  # let every runnable coroutine reach its next sleep
                    await asyncio.sleep(0)
                if self._wakeups and not task.done():
                    self.now, _, wake = heapq.heappop(self._wakeups)
                    wake.set_result(None)
            return task.result()

        return asyncio.run(drive())


def test_poisson_times_are_reproducible_from_the_seed():
    assert poisson_times(3.0, 10.0, seed=7) == poisson_times(3.0, 10.0, seed=7)
    assert poisson_times(3.0, 10.0, seed=7) != poisson_times(3.0, 10.0, seed=8)


def test_poisson_times_increase_within_the_duration():
    times = poisson_times(5.0, 4.0, seed=1)
    assert times == sorted(times) and times[0] > 0 and times[-1] < 4.0


def test_poisson_times_average_the_rate_over_many_seeds():
    counts = [len(poisson_times(2.0, 10.0, seed)) for seed in range(200)]
    assert sum(counts) / len(counts) == pytest.approx(20.0, rel=0.05)


def test_poisson_times_are_the_models_draw_for_the_same_seed():
    scenario = Scenario.create(arrival="poisson:2.5", duration=12.0, seed=3)
    assert poisson_times(2.5, 12.0, seed=3) == pytest.approx(send_times(scenario))


def test_open_loop_sends_on_schedule_without_waiting_for_earlier_requests():
    vt = VirtualTime()
    started: dict[int, float] = {}
    finished: dict[int, float] = {}

    async def send(i: int) -> None:
        started[i] = vt.clock()
        await vt.sleep(10.0 if i == 0 else 0.1)  # request 0 hangs far past the others
        finished[i] = vt.clock()

    sent = vt.run(open_loop(send, [0.5, 1.0, 2.5], start=0.0, clock=vt.clock, sleep=vt.sleep))
    assert sent == 3
    assert started == {0: 0.5, 1: 1.0, 2: 2.5}
    assert finished[2] < finished[0] == 10.5


def test_open_loop_does_not_drift_when_the_sender_runs_late():
    vt = VirtualTime()
    started = []

    async def send(i: int) -> None:
        started.append(vt.clock())

    vt.now = 1.2  # the first sends are already overdue: they go at once, the rest on time
    vt.run(open_loop(send, [0.5, 1.0, 2.0], start=0.0, clock=vt.clock, sleep=vt.sleep))
    assert started == [1.2, 1.2, 2.0]


def test_burst_is_an_open_loop_at_time_zero():
    vt = VirtualTime()
    started = []

    async def send(i: int) -> None:
        started.append((i, vt.clock()))

    vt.run(open_loop(send, [0.0] * 4, start=0.0, clock=vt.clock, sleep=vt.sleep))
    assert started == [(0, 0.0), (1, 0.0), (2, 0.0), (3, 0.0)]


def test_closed_loop_users_wait_for_the_response_then_think():
    vt = VirtualTime()
    log = []

    async def send(i: int) -> None:
        log.append(("send", i, vt.clock()))
        await vt.sleep(0.3)  # the response takes 0.3 s
        log.append(("end", i, vt.clock()))

    sent = vt.run(
        closed_loop(
            send, 2, duration=1.0, think_time=0.2, start=0.0, clock=vt.clock, sleep=vt.sleep
        )
    )
    # Each user: send at 0, response at 0.3, think to 0.5, send, response at 0.8, think to 1.0:
    # the duration is over, so it stops. Requests are numbered in the order they leave.
    assert sent == 4
    assert [e for e in log if e[0] == "send"] == [
        ("send", 0, 0.0),
        ("send", 1, 0.0),
        ("send", 2, 0.5),
        ("send", 3, 0.5),
    ]
    in_flight = max(
        sum(1 for k, _, t in log if k == "send" and t <= now)
        - sum(1 for k, _, t in log if k == "end" and t <= now)
        for _, _, now in log
    )
    assert in_flight == 2


def test_closed_loop_sends_nothing_after_the_duration():
    vt = VirtualTime()
    sends = []

    async def send(i: int) -> None:
        sends.append(vt.clock())
        await vt.sleep(0.7)

    vt.run(
        closed_loop(
            send, 3, duration=2.0, think_time=0.0, start=0.0, clock=vt.clock, sleep=vt.sleep
        )
    )
    assert sends and max(sends) < 2.0
    assert len(sends) == 3 * 3  # at 0, 0.7 and 1.4 for each user
