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


def test_a_regeneration_names_what_moved_by_kind_of_source() -> None:
    from tests.model.oracle.__main__ import _moved

    old = [
        oracle.Entry("strategies.scenarios #1", {"seed": 1}, "a"),
        oracle.Entry("strategies.scenarios #2", {"seed": 2}, "b"),
        oracle.Entry("tests/model/test_loop.py::test_x", {"seed": 3}, "c"),
        oracle.Entry("validation modern-uvloop", {"seed": 4}, "d"),
    ]
    new = [
        {"source": "strategies.scenarios #1", "params": {"seed": 1}, "sha256": "a"},
        {"source": "strategies.scenarios #2", "params": {"seed": 2}, "sha256": "moved"},
        {"source": "tests/model/test_loop.py::test_x", "params": {"seed": 3}, "sha256": "c2"},
    ]
    moved, gone = _moved(old, new)
    assert moved == {"strategies.scenarios": 1, "tests/model/test_loop.py": 1}
    assert gone == {"validation modern-uvloop": 1}
