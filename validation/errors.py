"""User-facing harness failures, each turned into one line by the CLI (and a skip by the tests)."""


class HarnessUnavailable(RuntimeError):
    """Something the harness needs is missing here (PostgreSQL, an interpreter); says what."""


class HarnessFailure(RuntimeError):
    """A run went wrong: a process died, or a bounded wait ran out."""
