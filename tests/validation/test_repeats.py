"""validation.repeats: a burst case's stored sets of runs beside the model paired on each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from validation.repeats import RepeatRow, repeat_rows, repeats_table

STORED = Path(__file__).parents[2] / "validation" / "results" / "modern" / "uvloop.json"
# today's costs on a machine ~2.5x faster than the committed calibration's
FAST = {"connect_time": 0.0028741, "query_time": 6.84e-05, "request_cpu": 0.0012094}


def _set(root: Path, name: str, runs: int, profile: dict | None = None) -> Path:
    folder = root / "modern" / "uvloop-runs" / name
    folder.mkdir(parents=True)
    for k in range(runs):
        shutil.copy(STORED, folder / f"{k}.json")
    if profile is not None:
        (folder / "profile.json").write_text(json.dumps({"costs": profile}))
    return folder


def test_each_set_is_paired_run_by_run_on_the_committed_and_its_own_costs(tmp_path):
    _set(tmp_path, "slow", 2)
    _set(tmp_path, "fast", 1, FAST)
    _set(tmp_path, "empty", 0)
    rows = repeat_rows(["modern"], tmp_path, log=lambda line: None)
    assert [r.runs for r in rows] == ["fast", "slow"]  # a set without runs is no row
    fast, slow = rows
    assert slow.measured == ((20, 20, 0), (20, 20, 0))
    assert slow.own is None
    assert slow.committed == ((15, 17, 3), (15, 17, 3))  # the stored miss
    assert fast.own is not None and fast.own != fast.committed  # the costs reached the model
    assert fast.same(fast.committed) == 0


def test_the_table_tallies_outcomes_and_counts_exact_runs():
    row = RepeatRow(
        "modern",
        "uvloop",
        "2026-12-04",
        measured=((15, 16, 4), (15, 17, 3), (15, 17, 3)),
        committed=((15, 17, 3),) * 3,
        own=((15, 16, 4),) * 3,
        loadavg=(0.3, 0.4, 0.5),
    )
    line = repeats_table([row])[-2]
    assert line == (
        "| uvloop | modern | 2026-12-04 | 3 | 15 / 16 / 4: 1, 15 / 17 / 3: 2 | 15 / 17 / 3: 3 "
        "| 2/3 | 15 / 16 / 4: 3 | 1/3 | 0.3 / 0.4 / 0.5 |"
    )


def test_no_sets_no_section(tmp_path):
    assert repeats_table(repeat_rows(["modern"], tmp_path, log=lambda line: None)) == []


def test_a_stack_without_sets_has_no_rows(tmp_path):
    _set(tmp_path, "only-modern", 1)
    assert repeat_rows(["era2020"], tmp_path, log=lambda line: None) == []
