"""How new connections split over server processes that share one listening socket.

The kernel hands a connection to whichever process calls accept() first; which one that is
depends on the scheduler, so the split of a burst differs from run to run (measured: the
harness's `processes` cases). The model draws, once per run, a weight for each process, and
hands each new connection to a process that is polling, chosen with those weights:

    even              every process the same weight
    weights:W0/W1/..  fixed weights, one per process (0: never accepts while another can)
    dirichlet:ALPHA   weights drawn per run from a symmetric Dirichlet(ALPHA): small ALPHA gives
                      lopsided splits (one process takes most of a burst), large ALPHA even ones

The forms are canonical text, so a Scenario keeps them as a plain string (sweep rows, params).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from sim.errors import ParseError

FORMS = "even, weights:W0/W1/... (one weight >= 0 per process, not all 0) or dirichlet:ALPHA (> 0)"


@dataclass(frozen=True)
class Split:
    """A parsed split: fixed `weights`, or a Dirichlet's `alpha` (weights drawn per run)."""

    weights: tuple[float, ...] | None = None
    alpha: float | None = None

    def draw(self, processes: int, rng: random.Random) -> tuple[float, ...]:
        """Each process's weight for one run."""
        if self.weights is not None:
            return self.weights
        if self.alpha is None:
            return (1.0,) * processes
        gammas = [rng.gammavariate(self.alpha, 1.0) for _ in range(processes)]
        total = sum(gammas)
        if total == 0:  # every draw underflowed (a tiny ALPHA): one process takes it all
            return tuple(1.0 if p == 0 else 0.0 for p in range(processes))
        return tuple(g / total for g in gammas)

    def fits(self, processes: int) -> bool:
        return self.weights is None or len(self.weights) == processes


def parse(text: str) -> Split:
    """The split a `--split` text names; ParseError saying what is wrong."""
    kind, _, arg = str(text).strip().partition(":")
    if kind == "even" and not arg:
        return Split()
    if kind == "weights" and arg:
        try:
            weights = tuple(float(w) for w in arg.split("/"))
        except ValueError:
            raise ParseError(f"weights must be numbers, got {arg!r}") from None
        if any(not math.isfinite(w) or w < 0 for w in weights) or not any(weights):
            raise ParseError(f"weights must be >= 0 and not all 0, got {arg!r}")
        return Split(weights=weights)
    if kind == "dirichlet" and arg:
        try:
            alpha = float(arg)
        except ValueError:
            raise ParseError(f"dirichlet:ALPHA needs a number, got {arg!r}") from None
        if not (math.isfinite(alpha) and alpha > 0):
            raise ParseError(f"dirichlet:ALPHA needs ALPHA > 0, got {arg!r}")
        return Split(alpha=alpha)
    raise ParseError(f"must be {FORMS}, got {text!r}")


def canonical(text: str) -> str:
    """The form's text as the Scenario keeps it (validated)."""
    parse(text)
    return str(text).strip()
