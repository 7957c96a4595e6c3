"""A compact set of scenario hashes: the first 8 bytes of each, sorted in one numpy array.

Resume and assembly only ask "is this scenario already on disk / already written?". A set of
64-character hex strings answers that at ~500 bytes per scenario, which made a sweep's peak
memory grow with its grid; 8 bytes per scenario keeps it flat. Two scenarios sharing a 64-bit
prefix is a 1 in 10^8 chance at a million rows.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def digests(hashes: Iterable[str]) -> np.ndarray:
    """The 8-byte prefix of each hex sha256, in the given order."""
    return np.array([int(h[:16], 16) for h in hashes], dtype=np.uint64)


class Digests:
    """Sorted, unique uint64 digests; membership and insertion a whole array at a time."""

    def __init__(self, values: np.ndarray | None = None) -> None:
        self.values = np.unique(values) if values is not None else np.empty(0, np.uint64)

    def __len__(self) -> int:
        return len(self.values)

    def contains(self, keys: np.ndarray) -> np.ndarray:
        """A boolean mask: which of `keys` are in the set."""
        at = np.searchsorted(self.values, keys)
        found = np.zeros(len(keys), dtype=bool)
        inside = at < len(self.values)
        found[inside] = self.values[at[inside]] == keys[inside]
        return found

    def add(self, keys: np.ndarray) -> None:
        """Merge `keys` in, one linear pass: a sort of the whole set per batch would grow
        quadratically in the number of batches."""
        new = np.unique(keys)
        new = new[~self.contains(new)]
        self.values = np.insert(self.values, np.searchsorted(self.values, new), new)


def first_new(keys: np.ndarray, seen: Digests) -> np.ndarray:
    """A mask of the keys not in `seen` and not repeated earlier in `keys`: first copies only."""
    keep = np.zeros(len(keys), dtype=bool)
    _, first = np.unique(keys, return_index=True)
    keep[first] = True
    return keep & ~seen.contains(keys)


class Latest:
    """For each scenario digest, the inputs its last stored row was computed with.

    Sorted digests with an aligned 4-byte code into the distinct inputs, which are few (one per
    run's settings and file contents): about 12 bytes a row, so a resumed sweep stays flat too.
    """

    def __init__(self, scenarios: np.ndarray, codes: np.ndarray, inputs: list[str]) -> None:
        """`scenarios` and `codes` in the order the rows were written: later rows win."""
        last, first_from_end = np.unique(scenarios[::-1], return_index=True)
        self.scenarios = last
        self.codes = codes[len(scenarios) - 1 - first_from_end]
        self.inputs = inputs

    def lookup(self, keys: np.ndarray) -> list[str | None]:
        """The stored inputs of each key's scenario, None where none is stored."""
        at = np.minimum(np.searchsorted(self.scenarios, keys), max(len(self.scenarios) - 1, 0))
        found = self.scenarios[at] == keys if len(self.scenarios) else np.zeros(len(keys), bool)
        return [self.inputs[self.codes[a]] if f else None for a, f in zip(at, found, strict=True)]
