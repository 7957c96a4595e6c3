"""README.md's `console` blocks are tests: each `$ python -m sim ...` line is run and what it
prints must be the lines that follow it, so the README cannot drift from the code (sybil)."""

from __future__ import annotations

import contextlib
import difflib
import io
import shlex

from sybil import Example, Sybil
from sybil.parsers.markdown import CodeBlockParser

from sim.cli import main

PROMPT = "$ "
PROGRAM = ["python", "-m", "sim"]


def commands(block: str) -> list[tuple[str, str]]:
    """(command, expected output) pairs: a prompt line, then the lines up to the next prompt."""
    pairs: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith(PROMPT):
            pairs.append((line.removeprefix(PROMPT), []))
        elif pairs:
            pairs[-1][1].append(line)
        else:
            raise ValueError(f"console block must start with {PROMPT!r}, got {line!r}")
    return [(command, "\n".join(lines).rstrip("\n")) for command, lines in pairs]


def run_sim(command: str) -> str:
    """`python -m sim ...` in this process (this checkout's `sim`), stdout captured."""
    argv = shlex.split(command)
    if argv[: len(PROGRAM)] != PROGRAM:
        raise ValueError(f"console blocks run `python -m sim` only, got {command!r}")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv[len(PROGRAM) :])
    if code != 0:
        raise AssertionError(f"{command!r} exited {code}")
    return out.getvalue().rstrip("\n")


def evaluate_console(example: Example) -> str | None:
    """Sybil evaluator: None when every command prints its block, else a diff per command."""
    failures = []
    for command, expected in commands(example.parsed):
        printed = run_sim(command)
        if printed != expected:
            diff = difflib.unified_diff(
                expected.splitlines(), printed.splitlines(), "README", "printed", lineterm=""
            )
            failures.append(f"$ {command}\n" + "\n".join(diff))
    return "\n\n".join(failures) or None


pytest_collect_file = Sybil(
    parsers=[CodeBlockParser(language="console", evaluator=evaluate_console)],
    patterns=["README.md"],
).pytest()
