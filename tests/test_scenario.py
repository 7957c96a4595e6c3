"""The Scenario validator accepts exactly the documented ranges (DESIGN.md, Scenario table) and
rejects the rest with one line naming the flag and the allowed range."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sim.distributions import is_form
from sim.errors import ScenarioError
from sim.scenario import COSTS, DISTRIBUTED, SPECS, Scenario
from tests.strategies import (
    choice_inputs,
    command_line,
    integer_inputs,
    junk_inputs,
    number_inputs,
    scenarios,
)


def _int(value: Any) -> int | None:
    """An integer as the docs mean it: an int, an integral float, or a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _in(lo: float, hi: float = math.inf, lo_open: bool = False):
    return lambda v: v is not None and (v > lo if lo_open else v >= lo) and v <= hi


INTEGER_RANGES = {
    "pool_size": (_in(0), ">= 0"),
    "max_overflow": (_in(-1), ">= -1"),
    "requests": (_in(1, 1_000_000), "from 1 to 1000000"),
    "cpus": (_in(1, 1024), "from 1 to 1024"),
    "seed": (_in(0, 2**63 - 1), "from 0 to 2**63-1"),
}
NUMBER_RANGES = {
    "pool_timeout": (_in(0, lo_open=True), "> 0"),
    "async_work": (_in(0), ">= 0"),
    "duration": (_in(0, lo_open=True), "> 0"),
    "think_time": (_in(0), ">= 0"),
    "freeze_threshold": (_in(0, lo_open=True), "> 0"),
    **{name: (_in(0), ">= 0") for name in COSTS},
}
CHOICES = {
    "endpoint": {"async-sync-session", "sync", "async-session"},
    "stack": {"era2020", "modern"},
    "loop": {"auto", "asyncio", "uvloop"},
    "client": {"in-process", "external"},
}


def _accepts(name: str, value: Any) -> bool:
    """The documented rule, written independently of sim.scenario.SPECS."""
    if value is None and name in COSTS:
        return True  # a cost left unset takes the stack's calibrated value
    if name in INTEGER_RANGES:
        return INTEGER_RANGES[name][0](_int(value))
    if name in NUMBER_RANGES:
        return NUMBER_RANGES[name][0](_number(value))
    if name == "client_timeout":
        if value is None or (isinstance(value, str) and value.strip().lower() in ("none", "")):
            return True
        return _in(0, lo_open=True)(_number(value))
    if name in CHOICES:
        return value in CHOICES[name]
    raise AssertionError(name)


def _check(name: str, value: Any) -> None:
    if _accepts(name, value):
        Scenario.create(**{name: value})
        return
    with pytest.raises(ScenarioError) as info:
        Scenario.create(**{name: value})
    message = str(info.value)
    flag = "--" + name.replace("_", "-")
    assert "\n" not in message
    assert message.startswith(f"{flag} must be ")
    assert message.endswith(f"got {value!r}")
    hint = {**INTEGER_RANGES, **NUMBER_RANGES}.get(name, (None, ""))[1]
    assert hint in message


@given(st.sampled_from(sorted(INTEGER_RANGES)), st.one_of(integer_inputs, junk_inputs))
def test_integer_fields_accept_exactly_their_documented_range(name, value):
    _check(name, value)


@given(
    st.sampled_from(sorted(NUMBER_RANGES) + ["client_timeout"]),
    st.one_of(number_inputs, junk_inputs.filter(lambda v: not isinstance(v, bool))),
)
def test_number_fields_accept_exactly_their_documented_range(name, value):
    # NAME:... on --async-work / --query-time is a distribution form: tests/test_distributions.py
    assume(not (name in DISTRIBUTED and isinstance(value, str) and is_form(value)))
    _check(name, value)


@given(st.sampled_from(["client", "endpoint", "loop"]), choice_inputs)
def test_choice_fields_accept_exactly_their_documented_options(name, value):
    _check(name, value)


@given(choice_inputs)
def test_stack_accepts_exactly_its_documented_options(value):
    _check("stack", value)


@given(
    st.one_of(
        st.sampled_from(["burst", "poisson:0.5", "closed:3", "poisson:0", "closed:0", "burst:1"]),
        st.builds(lambda r: f"poisson:{r}", st.floats(allow_nan=True, allow_infinity=True)),
        st.builds(lambda u: f"closed:{u}", st.integers(-5, 50)),
        st.text(max_size=10),
    )
)
def test_arrival_accepts_burst_poisson_rate_and_closed_users_only(arrival):
    kind, _, arg = arrival.partition(":")
    documented = (
        (kind == "burst" and not arg)
        or (kind == "poisson" and (_number(arg) or 0) > 0)
        or (kind == "closed" and (_int(arg) or 0) >= 1)
    )
    if documented:
        assert Scenario.create(arrival=arrival).arrival == arrival
    else:
        with pytest.raises(ScenarioError, match=r"^--arrival must be burst, poisson:RATE"):
            Scenario.create(arrival=arrival)


def test_arrival_trace_reads_send_times_from_a_list_or_a_result(tmp_path):
    times = tmp_path / "times.json"
    times.write_text(json.dumps([0.2, 0.0, 0.1]))
    assert Scenario.create(arrival=f"trace:{times}").arrival_spec.trace == (0.0, 0.1, 0.2)
    result = tmp_path / "result.json"
    result.write_text(json.dumps({"requests": [{"sent_at": 0.5}, {"sent_at": None}]}))
    assert Scenario.create(arrival=f"trace:{result}").arrival_spec.trace == (0.5,)


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("[]", ": no requests"),
        ("[-1.0]", " record 1: sent_at must be a number of seconds >= 0, got -1.0"),
        ("[0.1, null]", " record 2: sent_at must be"),
        ('["a"]', " record 1: sent_at must be"),
        ("not json", " line 1: not JSON"),
    ],
)
def test_arrival_trace_rejects_empty_negative_or_unreadable_files(tmp_path, content, why):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    with pytest.raises(ScenarioError, match=f"^--arrival: {bad}{why}"):
        Scenario.create(arrival=f"trace:{bad}")
    with pytest.raises(ScenarioError, match=r"missing.json: cannot read \(FileNotFoundError\)$"):
        Scenario.create(arrival=f"trace:{tmp_path / 'missing.json'}")


def test_arrival_trace_rejects_an_object_without_requests(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"no": 1}')
    with pytest.raises(
        ScenarioError, match="a JSON object must be a Result with a `requests` list"
    ):
        Scenario.create(arrival=f"trace:{bad}")


def test_unknown_field_is_named_in_the_error():
    with pytest.raises(ScenarioError, match="unknown scenario field 'pool'"):
        Scenario.create(pool=3)


def test_loop_auto_resolves_to_the_stacks_default():
    assert Scenario.create(stack="era2020").loop == "uvloop"
    assert Scenario.create(stack="modern").loop == "asyncio"


def test_capacity_is_size_plus_overflow_or_infinite():
    assert Scenario.create(pool_size=5, max_overflow=10).capacity == 15
    assert Scenario.create(pool_size=0, max_overflow=3).capacity == 3
    assert Scenario.create(max_overflow=-1).capacity == math.inf


def test_era2020_threads_follow_the_cpu_count_and_modern_has_forty():
    # concurrent.futures' default: min(32, cpu + 4); anyio's CapacityLimiter(40).
    assert Scenario.create(stack="era2020", cpus=2).threads == 6
    assert Scenario.create(stack="era2020", cpus=64).threads == 32
    assert Scenario.create(stack="modern", cpus=2).threads == 40


def test_every_field_has_a_flag_and_an_allowed_range():
    assert set(SPECS) == {f for f in Scenario.__dataclass_fields__}
    assert all(spec.allowed for spec in SPECS.values())


@given(scenarios())
def test_command_line_helper_reproduces_the_scenario(scenario):
    # The line the properties print for a counterexample must build the very same Scenario.
    from sim.cli import build_parser, scenario_from_args

    argv = command_line(scenario).split()[3:]
    assert scenario_from_args(build_parser().parse_args(argv)) == scenario
