"""Scenario: the frozen, validated parameters of one run, named as SQLAlchemy/FastAPI name them.

Every field has one `Field` spec (flag, parser, allowed range) shared by the CLI, the sweep's axes,
the harness and the validator, so the rules live in one place.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from sim import distributions, jitter, split
from sim.distributions import Distribution
from sim.errors import ParseError, ScenarioError
from sim.stacks import STACKS, StackProfile
from sim.traces import Trace, load

ENDPOINTS = ("async-sync-session", "sync", "async-session")
COSTS = (
    "query_time",
    "connect_time",
    "warmup_time",
    "request_cpu",
    "callback_cpu",
    "thread_handoff",
    "client_setup_cpu",
    "client_request_cpu",
)
CLIENTS = ("in-process", "external")
CLIENT_CONNECTIONS = "keep-alive, new or a number of keep-alive connections from 1 to 100000"
LOOPS = ("auto", "asyncio", "uvloop")


@dataclass(frozen=True)
class Arrival:
    """A parsed `--arrival`: burst, poisson:RATE, closed:USERS or trace:FILE."""

    kind: str
    rate: float = 0.0
    users: int = 0
    replay: Trace | None = None  # trace:FILE's requests (sim/traces.py)

    @property
    def trace(self) -> tuple[float, ...]:
        """A trace's send times, in order; () for the other kinds."""
        return () if self.replay is None else self.replay.times


def _parse_none_or_float(text: Any) -> float | None:
    if text is None or (isinstance(text, str) and text.strip().lower() in ("none", "")):
        return None
    return _float(text)


def _int(text: Any) -> int:
    if isinstance(text, bool):
        raise ValueError(text)
    if isinstance(text, float) and not text.is_integer():
        raise ValueError(text)
    return int(text) if not isinstance(text, str) else int(text.strip())


def _float(text: Any) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


@dataclass(frozen=True)
class Spec:
    """How one Scenario field is given on the command line and what it accepts."""

    name: str
    parse: Callable[[Any], Any]
    ok: Callable[[Any], bool]
    allowed: str
    help: str

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    def validate(self, value: Any) -> Any:
        """The parsed value, or ScenarioError naming the flag and the allowed range."""
        try:
            parsed = self.parse(value)
            good = self.ok(parsed)
        except ParseError as exc:
            raise ScenarioError(f"{self.flag}: {exc}") from None
        except (TypeError, ValueError, AttributeError):
            good = False
        if not good:
            raise ScenarioError(f"{self.flag} must be {self.allowed}, got {value!r}")
        return parsed


def _client_connections(text: Any) -> str:
    """`keep-alive` (httpx's pool, a connection per request in flight), `new` (a connection per
    request, closed after it) or K (httpx.Limits(max_connections=K): requests queue for one)."""
    value = str(text).strip()
    if value in ("keep-alive", "new"):
        return value
    return str(_int(value))


def _client_connections_ok(value: str) -> bool:
    return value in ("keep-alive", "new") or 1 <= int(value) <= 100_000


def _arrival_ok(text: str) -> bool:
    try:
        parse_arrival(text)
    except ParseError:
        raise
    except (ValueError, TypeError):
        return False
    return True


def _choice(options: tuple[str, ...]) -> Callable[[Any], bool]:
    return lambda v: v in options


SPECS: dict[str, Spec] = {
    s.name: s
    for s in (
        Spec(
            "pool_size",
            _int,
            lambda v: v >= 0,
            "an integer >= 0 (0 = keep every returned connection)",
            "QueuePool pool_size",
        ),
        Spec(
            "max_overflow",
            _int,
            lambda v: v >= -1,
            "an integer >= -1 (-1 = unlimited)",
            "QueuePool max_overflow",
        ),
        Spec(
            "pool_timeout",
            _float,
            lambda v: v > 0,
            "a number of seconds > 0",
            "seconds a checkout waits before TimeoutError",
        ),
        Spec(
            "requests",
            _int,
            lambda v: 1 <= v <= 1_000_000,
            "an integer from 1 to 1000000",
            "burst size (poisson and closed traffic run for --duration instead)",
        ),
        Spec(
            "async_work",
            distributions.field_value,
            lambda v: True,
            distributions.FORMS,
            "seconds awaited after the query, per request",
        ),
        Spec(
            "query_time",
            distributions.field_value,
            lambda v: True,
            distributions.FORMS,
            "time one SELECT takes on the connection, per request",
        ),
        Spec(
            "connect_time",
            _float,
            lambda v: v >= 0,
            "a number of seconds >= 0",
            "time to open a new DBAPI connection",
        ),
        Spec(
            "warmup_time",
            _float,
            lambda v: v >= 0,
            "a number of seconds >= 0",
            "extra time of the first connection after start-up (dialect.initialize, first "
            "compiles), on the thread that opens it",
        ),
        Spec(
            "request_cpu",
            _float,
            lambda v: v >= 0,
            "a number of seconds >= 0",
            "loop CPU per request: HTTP parse, routing, serialisation",
        ),
        Spec(
            "callback_cpu",
            _float,
            lambda v: v >= 0,
            "a number of seconds >= 0",
            "loop CPU of one callback (a future's set_result, a task's wake-up)",
        ),
        Spec(
            "thread_handoff",
            _float,
            lambda v: v >= 0,
            "a number of seconds >= 0",
            "latency of handing a call to a worker thread and back",
        ),
        Spec(
            "client_setup_cpu",
            _float,
            lambda v: v >= 0,
            "a number of seconds >= 0",
            "in-process client: loop CPU to build one httpx.AsyncClient (SSL context)",
        ),
        Spec(
            "client_request_cpu",
            _float,
            lambda v: v >= 0,
            "a number of seconds >= 0",
            "in-process client: loop CPU to send one request and read its response",
        ),
        Spec(
            "endpoint", str, _choice(ENDPOINTS), "one of " + ", ".join(ENDPOINTS), "endpoint style"
        ),
        Spec(
            "stack", str, _choice(tuple(STACKS)), "one of " + ", ".join(STACKS), "semantics profile"
        ),
        Spec(
            "loop",
            str,
            _choice(LOOPS),
            "one of " + ", ".join(LOOPS),
            "event loop implementation (auto = the stack's default)",
        ),
        Spec("client", str, _choice(CLIENTS), "one of " + ", ".join(CLIENTS), "client kind"),
        Spec(
            "arrival",
            str,
            _arrival_ok,
            "burst, poisson:RATE (RATE > 0), closed:USERS (USERS >= 1) or trace:FILE",
            "how requests arrive",
        ),
        Spec(
            "duration",
            _float,
            lambda v: v > 0,
            "a number of seconds > 0",
            "length of poisson/closed traffic",
        ),
        Spec(
            "think_time",
            _float,
            lambda v: v >= 0,
            "a number of seconds >= 0",
            "closed-loop users: pause between a response and the next request",
        ),
        Spec(
            "client_timeout",
            _parse_none_or_float,
            lambda v: v is None or v > 0,
            "a number of seconds > 0, or none",
            "client read time-out",
        ),
        Spec(
            "cpus",
            _int,
            lambda v: 1 <= v <= 1024,
            "an integer from 1 to 1024",
            "CPU count that sizes era2020's default thread pool",
        ),
        Spec(
            "seed",
            _int,
            lambda v: 0 <= v < 2**63,
            "an integer from 0 to 2**63-1",
            "seed for every random draw",
        ),
        Spec(
            "jitter",
            str,
            _choice(jitter.MODES),
            "on or off",
            "on: each cost drawn from its calibrated distribution (sim/jitter.py); off: every "
            "cost its calibrated value, exact deterministic timelines",
        ),
        Spec(
            "freeze_threshold",
            _float,
            lambda v: v > 0,
            "a number of seconds > 0",
            "a loop block at least this long counts as a freeze",
        ),
        Spec(
            "processes",
            _int,
            lambda v: 1 <= v <= 64,
            "an integer from 1 to 64",
            "server processes behind one listening socket (uvicorn --workers N, gunicorn -w N), "
            "each its own loop, thread limiter and pool",
        ),
        Spec(
            "split",
            split.canonical,
            lambda v: True,
            split.FORMS,
            "how new connections split over the processes that are polling (sim/split.py)",
        ),
        Spec(
            "client_connections",
            _client_connections,
            _client_connections_ok,
            CLIENT_CONNECTIONS,
            "external client's connections (httpx pool limits); a kept-alive connection stays "
            "with the process that accepted it",
        ),
        Spec(
            "max_connections",
            _int,
            lambda v: 1 <= v <= 1_000_000,
            "an integer from 1 to 1000000",
            "PostgreSQL's max_connections, shared by every process's pools (the app's role is a "
            "superuser in the harness; an ordinary role gets max_connections minus "
            "superuser_reserved_connections)",
        ),
    )
}
# The service's shape around one server process. Left at their defaults they change nothing a
# single-process run did, so `to_params` leaves them out and such a Result reads as before.
DEPLOYMENT = ("processes", "split", "client_connections", "max_connections")


@dataclass(frozen=True)
class Scenario:
    """One run's parameters. Construct through `Scenario.create` to get validation and parsing."""

    pool_size: int = 5
    max_overflow: int = 10
    pool_timeout: float = 30.0
    requests: int = 20
    # A float, or a distribution's canonical text (sim/distributions.py): see `work`, `query`.
    async_work: float | str = 0.1
    # Costs: None takes the stack's calibrated value (sim/stacks.py, `validation calibrate`).
    query_time: float | str | None = None
    connect_time: float | None = None
    warmup_time: float | None = None
    request_cpu: float | None = None
    callback_cpu: float | None = None
    thread_handoff: float | None = None
    client_setup_cpu: float | None = None
    client_request_cpu: float | None = None
    endpoint: str = "async-sync-session"
    stack: str = "era2020"
    loop: str = "auto"
    client: str = "in-process"
    arrival: str = "burst"
    duration: float = 10.0
    think_time: float = 0.0
    client_timeout: float | None = None
    cpus: int = field(default_factory=lambda: os.cpu_count() or 1)
    seed: int = 0
    jitter: str = "off"
    freeze_threshold: float = 1.0
    processes: int = 1
    split: str | None = None  # None takes the stack's calibrated split (StackProfile.split)
    client_connections: str = "keep-alive"
    max_connections: int = 100

    def __post_init__(self) -> None:
        if self.stack not in STACKS:  # first: the cost defaults come from the stack
            spec = SPECS["stack"]
            raise ScenarioError(f"{spec.flag} must be {spec.allowed}, got {self.stack!r}")
        stack = STACKS[self.stack]
        for f in fields(self):
            spec = SPECS[f.name]
            value = getattr(self, f.name)
            if value is None and f.name in COSTS:
                value = stack.costs[f.name]
            if value is None and f.name == "split":
                value = stack.split
            object.__setattr__(self, f.name, spec.validate(value))
        if self.loop == "auto":
            object.__setattr__(self, "loop", self.profile.default_loop)
        if self.jitter == "on" and self.profile.cost_shapes is None:
            raise ScenarioError(
                f"--jitter on needs {self.stack}'s calibrated distributions "
                f"(python -m validation calibrate --stack {self.stack})"
            )
        if self.arrival.startswith("closed:") and self.think_time == 0 and self.work.mean == 0:
            # Each user's cycle must take time, or closed-loop traffic never leaves t = 0.
            raise ScenarioError(
                "--think-time must be > 0 with --arrival closed:USERS when --async-work is 0"
            )
        if not self.split_spec.fits(self.processes):
            raise ScenarioError(
                f"--split weights:... needs one weight per process ({self.processes}), "
                f"got {self.split!r}"
            )
        if self.client != "external" and (
            self.processes > 1 or self.client_connections != "keep-alive"
        ):
            raise ScenarioError(
                "--processes > 1 and --client-connections need --client external: the "
                "in-process client lives on one process's loop and opens a connection per request"
            )

    @classmethod
    def create(cls, **values: Any) -> Scenario:
        unknown = sorted(set(values) - set(SPECS))
        if unknown:
            raise ScenarioError(f"unknown scenario field {unknown[0]!r}; known: {', '.join(SPECS)}")
        return cls(**values)

    @classmethod
    def from_profile(cls, path: str | Path, **overrides: Any) -> Scenario:
        """A `validation calibrate` profile's fields (`profile_fields`), then the overrides."""
        return cls.create(**{**profile_fields(path), **overrides})

    @property
    def profile(self) -> StackProfile:
        return STACKS[self.stack]

    @property
    def capacity(self) -> float:
        """Most connections open at once: pool_size + max_overflow, inf for max_overflow -1.

        pool_size 0 lifts only the limit on idle connections kept (QueuePool's queue gets no
        maxsize); the overflow counter still caps the total at max_overflow.
        """
        if self.max_overflow == -1:
            return math.inf
        return self.pool_size + self.max_overflow

    @property
    def threads(self) -> int:
        return self.profile.threads(self.cpus)

    @property
    def work(self) -> Distribution:
        """The async work each request awaits; `.mean` wherever one number stands for it."""
        return distributions.parse(self.async_work)

    @property
    def query(self) -> Distribution:
        """The query time of each request; `.mean` wherever one number stands for it."""
        return distributions.parse(self.query_time)

    @property
    def split_spec(self) -> split.Split:
        return split.parse(self.split)

    @property
    def arrival_spec(self) -> Arrival:
        return parse_arrival(self.arrival)

    def per_request(self, name: str) -> Callable[[int], Any]:
        """Request i's `work` or `query` seconds, or its `endpoint`: the trace's value where it
        records one, else the scenario's own, drawn per request for a distribution. The model
        and the harness's client both take these, so both see the same work."""
        own: Callable[[int], Any] = {
            "work": lambda: distributions.per_request(self.work, "work", self.seed),
            "query": lambda: distributions.per_request(self.query, "query", self.seed),
            "endpoint": lambda: lambda i: self.endpoint,
        }[name]()
        replay = self.arrival_spec.replay
        recorded = None if replay is None else replay.column(name)
        if recorded is None:
            return own
        return lambda i: own(i) if recorded[i] is None else recorded[i]

    def files_read(self) -> dict[str, str]:
        """The files this scenario's run reads, by field: what it predicts moves with them."""
        named = {name: path_in(getattr(self, name)) for name, path_in in FILE_FIELDS.items()}
        return {name: path for name, path in named.items() if path is not None}

    def to_params(self) -> dict[str, Any]:
        return without_neutral(asdict(self), self.profile.split)

    def identity(self) -> dict[str, Any]:
        """Every field's value (no deep copy: all are scalars), less the NEUTRAL ones: what
        keys a sweep's row and derives its seed."""
        return without_neutral(dict(vars(self)), self.profile.split)

    def replace(self, **changes: Any) -> Scenario:
        return replace(self, **changes)


# Fields added after results were pinned, at the value that keeps those results (jitter off,
# the DEPLOYMENT fields at their defaults, the split the stack's own): left out of params and
# sweep keys there, so every stored Result, key and derived seed stays as it was.
NEUTRAL: dict[str, Any] = {
    "jitter": "off",
    **{f.name: f.default for f in fields(Scenario) if f.name in DEPLOYMENT},
}


def without_neutral(params: dict[str, Any], split: str) -> dict[str, Any]:
    """`params` less the fields at their NEUTRAL value (`split`, the stack's, for the split)."""
    neutral = {**NEUTRAL, "split": split}
    return {k: v for k, v in params.items() if k not in neutral or v != neutral[k]}


def profile_fields(path: str | Path) -> dict[str, Any]:
    """The fields a `validation calibrate` profile sets: the stack it measured, the loop it ran
    (`machine.loop`) and its costs, which were measured on that stack and loop."""
    try:
        data = json.loads(Path(path).read_text())
        found = {"stack": data.get("stack"), "loop": data.get("machine", {}).get("loop")}
        fields = {**{k: v for k, v in found.items() if v is not None}, **data["costs"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ScenarioError(f"--profile {path}: not a calibration profile ({exc})") from exc
    try:
        Scenario.create(**fields)
    except ScenarioError as exc:
        raise ScenarioError(f"--profile {path}: {exc}") from exc
    return fields


def parse_arrival(text: str) -> Arrival:
    """Parse `--arrival`; raise ValueError on anything outside the documented forms."""
    kind, _, arg = str(text).partition(":")
    if kind == "burst" and not arg:
        return Arrival("burst")
    if kind == "poisson":
        rate = _float(arg)
        if rate > 0:
            return Arrival("poisson", rate=rate)
    if kind == "closed":
        users = _int(arg)
        if users >= 1:
            return Arrival("closed", users=users)
    if kind == "trace" and arg:
        return Arrival("trace", replay=load(arg, ENDPOINTS))
    raise ValueError(text)


def trace_file(text: str) -> str | None:
    """The file an `--arrival trace:FILE` replays, None for the other forms."""
    kind, _, arg = str(text).partition(":")
    return arg if kind == "trace" else None


# The fields whose value can name a file the model reads, and how to find its path in the value.
FILE_FIELDS: dict[str, Callable[[Any], str | None]] = {
    "arrival": trace_file,
    "async_work": distributions.empirical_file,
    "query_time": distributions.empirical_file,
}
DISTRIBUTED = ("async_work", "query_time")  # the fields that take a distribution's forms


def load_trace(path: str) -> tuple[float, ...]:
    """A trace file's send times, in order (sim/traces.py reads every form)."""
    return load(path, ENDPOINTS).times
