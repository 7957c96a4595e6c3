"""Per-request times: a plain number of seconds, or a distribution drawn once per request.

`--async-work` and `--query-time` take a number or one of these forms:

    exp:MEAN              exponential with mean MEAN
    lognormal:MEAN,SIGMA  lognormal whose own mean is MEAN (not exp(mu)): mu = ln(MEAN) - SIGMA²/2,
                          so a sweep over SIGMA keeps the offered load fixed and only the tail moves
    uniform:LO,HI         uniform on [LO, HI]
    empirical:FILE        one of FILE's samples (a number of seconds per line), equally likely

A request's draw comes from its own stream, `random.Random(f"{purpose}:{seed}:{i}")`: it depends
on the run's seed, the purpose (work or query) and the request's index only, so neither another
draw nor the order requests reach the endpoint can move it. A plain number draws nothing, so it
gives the same Result as before distributions existed.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sim.errors import ParseError

FORMS = "a number of seconds >= 0, exp:MEAN, lognormal:MEAN,SIGMA, uniform:LO,HI or empirical:FILE"


@dataclass(frozen=True)
class Constant:
    """A plain number: every request takes exactly `value` seconds; nothing is drawn."""

    value: float

    @property
    def mean(self) -> float:
        return self.value

    def sample(self, rng: random.Random) -> float:
        return self.value


@dataclass(frozen=True)
class Exponential:
    mean: float

    def sample(self, rng: random.Random) -> float:
        return rng.expovariate(1.0 / self.mean) if self.mean > 0 else 0.0

    def __str__(self) -> str:
        return f"exp:{self.mean!r}"


@dataclass(frozen=True)
class LogNormal:
    """`mean` is the distribution's mean, E[X] = exp(mu + sigma²/2)."""

    mean: float
    sigma: float

    @property
    def mu(self) -> float:
        return math.log(self.mean) - self.sigma**2 / 2

    def sample(self, rng: random.Random) -> float:
        return rng.lognormvariate(self.mu, self.sigma)

    def __str__(self) -> str:
        return f"lognormal:{self.mean!r},{self.sigma!r}"


@dataclass(frozen=True)
class Uniform:
    low: float
    high: float

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    def __str__(self) -> str:
        return f"uniform:{self.low!r},{self.high!r}"


@dataclass(frozen=True)
class Empirical:
    """Samples read from `path`; the path as given names it (the sweep keys its content)."""

    path: str
    samples: tuple[float, ...]

    @property
    def mean(self) -> float:
        return math.fsum(self.samples) / len(self.samples)

    def sample(self, rng: random.Random) -> float:
        return self.samples[rng.randrange(len(self.samples))]

    def __str__(self) -> str:
        return f"empirical:{self.path}"


Distribution = Constant | Exponential | LogNormal | Uniform | Empirical

# Each form's name and how many comma-separated parameters it takes.
ARITY = {"exp": 1, "lognormal": 2, "uniform": 2, "empirical": 1}


def _seconds(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ParseError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ParseError(f"{what} must be a number >= 0, got {text!r}")
    return value


def load_samples(path: str) -> tuple[float, ...]:
    """One number of seconds >= 0 per line (blank lines skipped); an error names the line."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ParseError(f"empirical:{path}: cannot read ({exc.__class__.__name__})") from None
    samples = [
        _seconds(line.strip(), f"empirical:{path} line {number}")
        for number, line in enumerate(lines, 1)
        if line.strip()
    ]
    if not samples:
        raise ParseError(f"empirical:{path}: no samples")
    return tuple(samples)


def parse(text: str | float) -> Distribution:
    """A number or one of the forms. ValueError for a bad number (the caller names the flag and
    the forms), ParseError saying what is wrong with a bad form."""
    if isinstance(text, bool):
        raise ValueError(text)
    name, colon, rest = text.strip().partition(":") if isinstance(text, str) else ("", "", "")
    if not colon:
        value = float(text)
        if not math.isfinite(value) or value < 0:
            raise ValueError(text)
        return Constant(value)
    if not name.isalpha():  # "1:2", ":x": neither a number nor a form
        raise ValueError(text)
    if name not in ARITY:
        raise ParseError(f"unknown distribution {name!r}; known: {', '.join(ARITY)}")
    if name == "empirical":
        if not rest:
            raise ParseError("empirical needs a FILE")
        return Empirical(rest, load_samples(rest))
    params = rest.split(",") if rest else []
    if len(params) != ARITY[name]:
        raise ParseError(f"{name} takes {ARITY[name]} parameter(s), got {rest!r}")
    if name == "exp":
        return Exponential(_seconds(params[0], "exp MEAN"))
    if name == "lognormal":
        mean = _seconds(params[0], "lognormal MEAN")
        if mean == 0:
            raise ParseError("lognormal MEAN must be > 0")
        return LogNormal(mean, _seconds(params[1], "lognormal SIGMA"))
    low, high = _seconds(params[0], "uniform LO"), _seconds(params[1], "uniform HI")
    if high < low:
        raise ParseError(f"uniform needs LO <= HI, got {rest!r}")
    return Uniform(low, high)


def field_value(text: str | float) -> float | str:
    """What a Scenario stores: a float for a number (sweep columns stay numeric), else the
    form's canonical text (the same distribution written two ways is one scenario)."""
    distribution = parse(text)
    if isinstance(distribution, Constant):
        return distribution.value
    return str(distribution)


def empirical_file(value: float | str) -> str | None:
    """The file an `empirical:FILE` value reads, None for every other value."""
    if isinstance(value, str) and value.strip().startswith("empirical:"):
        return value.strip().partition(":")[2]
    return None


def is_form(text: str) -> bool:
    """Whether `text` is written as a form, NAME:..., known or not (so a sweep axis reads it as
    one, not as a START:STOP range, and an unknown name gets its own error)."""
    name, colon, _ = text.strip().partition(":")
    return bool(colon) and name.isalpha()


def split_axis(text: str) -> list[str]:
    """A sweep axis's comma-separated items, a form's own commas kept with it:
    `0.05,lognormal:0.1,0.5` is [`0.05`, `lognormal:0.1,0.5`]."""
    pieces, items = text.split(","), []
    while pieces:
        piece = pieces.pop(0)
        name = piece.strip().partition(":")[0]
        if is_form(piece):
            extra = ARITY.get(name, 1) - 1
            piece = ",".join([piece, *pieces[:extra]])
            del pieces[:extra]
        items.append(piece)
    return items


def per_request(distribution: Distribution, purpose: str, seed: int) -> Callable[[int], float]:
    """Request i's draw, from the stream of (purpose, seed, i) alone; a Constant draws nothing."""
    if isinstance(distribution, Constant):
        value = distribution.value
        return lambda i: value
    return lambda i: distribution.sample(random.Random(f"{purpose}:{seed}:{i}"))
