"""One cached venv per stack, built once from its pinned requirements with the right interpreter.

The cache key is a hash of the requirements file, so editing a pin builds a fresh venv and never
mutates one a measurement was taken in.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from validation.errors import HarnessUnavailable

STACKS_DIR = Path(__file__).parent / "stacks"
CACHE = Path.home() / ".cache" / "pool-starvation-sim" / "venvs"
BUILD_TIMEOUT = 900.0


@dataclass(frozen=True)
class StackEnv:
    """A built venv: its interpreter and the requirements it was built from."""

    stack: str
    python: Path
    requirements: Path


# The interpreter each stack runs on: era2020 is Python 3.8, as in September 2020.
INTERPRETERS = {"era2020": "3.8", "modern": "3.11"}


def requirements_file(stack: str) -> Path:
    return STACKS_DIR / f"{stack}.txt"


def find_interpreter(version: str) -> Path | None:
    """`pythonX.Y` on PATH (if it really runs), else pyenv's install, else this interpreter."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return Path(sys.executable)
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(
        str(p)
        for p in (Path.home() / ".pyenv" / "versions").glob(f"{version}.*/bin/python{version}")
    )
    for candidate in filter(None, candidates):
        probe = subprocess.run(
            [candidate, "-c", "import sys; print(sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if probe.returncode == 0:
            return Path(candidate)
    return None


def venv_dir(stack: str) -> Path:
    digest = hashlib.sha256(requirements_file(stack).read_bytes()).hexdigest()[:12]
    return CACHE / f"{stack}-{digest}"


def ensure_env(stack: str) -> StackEnv:
    """Return the stack's venv, building it first if the cache has no complete one.

    Venvs hard-code their own path, so the build happens in place; a marker written last tells a
    finished venv from one a killed build left behind.
    """
    requirements = requirements_file(stack)
    if stack not in INTERPRETERS or not requirements.exists():
        raise HarnessUnavailable(f"no pinned requirements for stack {stack!r}")
    target = venv_dir(stack)
    python = target / "bin" / "python"
    marker = target / ".complete"
    if marker.exists():
        return StackEnv(stack, python, requirements)
    interpreter = find_interpreter(INTERPRETERS[stack])
    if interpreter is None:
        raise HarnessUnavailable(
            f"stack {stack} needs python{INTERPRETERS[stack]} (on PATH or under ~/.pyenv/versions)"
        )
    shutil.rmtree(target, ignore_errors=True)
    _run([str(interpreter), "-m", "venv", str(target)])
    _run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "-r", str(requirements)])
    marker.write_text(requirements.read_text())
    return StackEnv(stack, python, requirements)


def _run(cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
        raise HarnessUnavailable(f"building venv failed: {' '.join(cmd[:3])}: {tail}")
