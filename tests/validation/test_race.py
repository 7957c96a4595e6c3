"""validation.race: the write-versus-time-out table of a kept run."""

from __future__ import annotations

import json

import pytest

from validation.race import main, table


def _line(kind: str, **fields) -> str:
    return "PSS " + json.dumps({"kind": kind, **fields}) + "\n"


def test_each_request_shows_its_time_out_deadline_its_write_and_its_outcome(tmp_path):
    (tmp_path / "server.log").write_text(
        _line("burst", t=100.0)
        + _line("served", t=102.0, query="i=1")
        + _line("blocked", start=100.1, end=110.0)
        + _line("request", i=0, sent_at=100.0, completed_at=110.0, status=None, error="ReadTimeout")
        + _line("request", i=1, sent_at=100.0, completed_at=110.0, status=500, error=None)
    )
    params = {"stack": "era2020", "loop": "uvloop", "client": "in-process", "client_timeout": 4.0}
    (tmp_path / "result.json").write_text(json.dumps({"params": params}))
    lines = table(tmp_path).splitlines()
    assert lines[2].split() == ["0", "0.000", "4.000", "-", "10.000", "ReadTimeout"]
    assert lines[3].split() == ["1", "0.000", "4.000", "2.000", "10.000", "500"]
    assert lines[4] == "loop blocked    0.100 ..   10.000 s"


def test_a_folder_without_a_kept_run_is_a_one_line_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path)])
    assert exit_.value.code == 2
    assert capsys.readouterr().err.startswith("error: run_dir:")
