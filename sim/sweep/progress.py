"""The sweep's progress on stderr (tqdm): rows done, rate, ETA; nothing when stderr is not a
terminal, as for every other long command."""

from __future__ import annotations

import sys
from typing import TextIO

from tqdm import tqdm


class Progress:
    def __init__(
        self, total: int, done: int = 0, stream: TextIO | None = None, unit: str = "rows"
    ) -> None:
        self.total = total
        self.done = done
        self._bar = tqdm(
            total=total,
            initial=done,
            unit=f" {unit}",
            file=stream if stream is not None else sys.stderr,
            disable=None,
            leave=False,
            dynamic_ncols=True,
        )

    def advance(self, rows: int) -> None:
        self.done += rows
        self._bar.update(rows)

    def skip(self, rows: int) -> None:
        """Rows an earlier run finished: counted as done, left out of the rate (tqdm's rate
        is over the rows past `initial`)."""
        self.done += rows
        self._bar.initial += rows
        self._bar.update(rows)

    def close(self) -> None:
        self._bar.close()


class Silent(Progress):
    """`--quiet`: count, draw nothing."""

    def __init__(
        self, total: int, done: int = 0, stream: TextIO | None = None, unit: str = "rows"
    ) -> None:
        self.total = total
        self.done = done

    def advance(self, rows: int) -> None:
        self.done += rows

    def skip(self, rows: int) -> None:
        self.done += rows

    def close(self) -> None:
        pass
