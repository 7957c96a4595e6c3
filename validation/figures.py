"""The agreement counts the docs quote, computed from REPORT.json's rows, never typed by hand.

README.md and FINDINGS.md hold each count between markers, `<!-- agreement:bursts -->25 of
33<!-- /agreement -->` (invisible once rendered); `compare` rewrites them from the report it
has just written, and a test holds the committed docs to the committed REPORT.json.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = re.compile(r"(<!-- agreement:([\w-]+) -->)(.*?)(<!-- /agreement -->)")


@dataclass(frozen=True)
class Count:
    agree: int
    of: int

    def __str__(self) -> str:
        return f"{self.agree} of {self.of}"


def agreement_counts(rows: Iterable[Mapping[str, Any]]) -> dict[str, Count]:
    """Counts over REPORT.json rows: every case, bursts, steady traffic, the hold-outs (never
    tuned on), and bursts judged on the model run with the burst at t=0 instead of the measured
    send times."""
    rows = list(rows)
    bursts = [r for r in rows if not r["steady"]]
    steady = [r for r in rows if r["steady"]]
    held = [r for r in rows if r.get("hold_out")]
    return {
        "all": Count(sum(bool(r["agree"]) for r in rows), len(rows)),
        "bursts": Count(sum(bool(r["agree"]) for r in bursts), len(bursts)),
        "steady": Count(sum(bool(r["agree"]) for r in steady), len(steady)),
        "hold-outs": Count(sum(bool(r["agree"]) for r in held), len(held)),
        "bursts-at-zero": Count(sum(bool(r["agree_at_zero"]) for r in bursts), len(bursts)),
    }


def fill(text: str, counts: Mapping[str, Count]) -> str:
    """`text` with every marker's content replaced by the count it names."""

    def count(match: re.Match[str]) -> str:
        key = match.group(2)
        if key not in counts:
            raise ValueError(f"unknown agreement count {key!r}; known: {', '.join(counts)}")
        return f"{match.group(1)}{counts[key]}{match.group(4)}"

    return MARKER.sub(count, text)


def write_atomic(path: Path, text: str) -> None:
    """Write beside `path`, then rename: a reader never sees half a file."""
    partial = path.with_name(path.name + ".tmp")
    partial.write_text(text)
    os.replace(partial, path)


def rewrite(path: Path, counts: Mapping[str, Count]) -> None:
    """Refresh the counts a document quotes; an unchanged document is left untouched."""
    text = path.read_text()
    try:
        filled = fill(text, counts)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    if filled != text:
        write_atomic(path, filled)
