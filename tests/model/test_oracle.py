"""The oracle: every pinned Scenario still gives its Result byte for byte (tests/model/oracle)."""

from __future__ import annotations

import pytest

from tests.model import oracle


def test_every_pinned_scenario_reproduces_its_result_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(oracle.ROOT)  # trace arrivals are relative to the repository root
    entries = oracle.load()
    moved = [e.source for e in entries if oracle.digest(e.scenario) != e.sha256]
    assert not moved, f"{len(moved)} of {len(entries)} results moved, first: {moved[:5]}"


def test_the_corpus_covers_every_source() -> None:
    sources = {e.source.split()[0].split("::")[0] for e in oracle.load()}
    assert {"validation", "strategies.scenarios", "sweep", "steady"} <= sources
    assert any(s.startswith("tests/model/") for s in sources)
