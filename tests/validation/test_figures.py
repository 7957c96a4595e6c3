"""The counts README.md and FINDINGS.md quote are the committed REPORT.json's, filled in by code."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import pytest

from validation.compare import DOCUMENTS, HERE
from validation.figures import MARKER, Count, agreement_counts, fill, rewrite

REPORT = json.loads((HERE / "REPORT.json").read_text())
COUNTS = agreement_counts(REPORT["rows"])
TYPED_COUNT = re.compile(r"\b\d+ of (the )?\d+\b")
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def _row(agree, steady=False, at_zero=None, hold_out=False):
    return {"agree": agree, "steady": steady, "agree_at_zero": at_zero, "hold_out": hold_out}


def test_counts_cover_every_row_bursts_steady_and_hold_outs_apart():
    rows = [
        _row(True, at_zero=False),
        _row(False, at_zero=False, hold_out=True),
        _row(True, steady=True, hold_out=True),
        _row(True, steady=True, hold_out=True),
    ]
    assert agreement_counts(rows) == {
        "all": Count(3, 4),
        "bursts": Count(1, 2),
        "steady": Count(2, 2),
        "hold-outs": Count(2, 3),
        "bursts-at-zero": Count(0, 2),
    }


def test_fill_replaces_a_stale_count_and_keeps_the_markers():
    text = "agree: <!-- agreement:bursts -->9 of 9<!-- /agreement -->."
    assert fill(text, {"bursts": Count(25, 33)}) == (
        "agree: <!-- agreement:bursts -->25 of 33<!-- /agreement -->."
    )


def test_fill_names_an_unknown_count():
    with pytest.raises(ValueError, match="'burst'"):
        fill("<!-- agreement:burst -->1 of 2<!-- /agreement -->", {"bursts": Count(1, 2)})


def test_rewrite_leaves_an_up_to_date_document_untouched(tmp_path):
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- agreement:all -->1 of 2<!-- /agreement -->")
    rewrite(doc, {"all": Count(1, 2)})
    before = doc.stat().st_mtime_ns
    rewrite(doc, {"all": Count(1, 2)})
    assert doc.stat().st_mtime_ns == before
    rewrite(doc, {"all": Count(2, 2)})
    assert doc.read_text() == "<!-- agreement:all -->2 of 2<!-- /agreement -->"


def test_report_json_counts_are_those_of_its_rows():
    assert REPORT["counts"] == {key: asdict(count) for key, count in COUNTS.items()}


def test_report_md_headline_is_the_report_json_count():
    assert f"**{COUNTS['all']} case runs agree**" in (HERE / "REPORT.md").read_text()


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_documents_quote_exactly_the_committed_report(document):
    text = document.read_text()
    assert MARKER.search(text), f"{document.name} quotes no agreement count"
    assert fill(text, COUNTS) == text, "a count typed by hand: run `python -m validation compare`"


def _prose(text: str) -> str:
    """`text` less its code (fenced or indented blocks): commands may state rules like 2 of 3."""
    unfenced = FENCED.sub("", text)
    return "\n".join(line for line in unfenced.splitlines() if not line.startswith("    "))


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_no_count_is_typed_by_hand(document):
    outside = MARKER.sub("", _prose(document.read_text()))
    assert [m.group(0) for m in TYPED_COUNT.finditer(outside)] == []


def test_a_count_typed_in_prose_is_found_and_one_in_code_is_not():
    text = "Agree: 35 of 43.\n\n    pytest -m agreement   # 2 of 3 runs\n\n```\n1 of 2\n```\n"
    assert [m.group(0) for m in TYPED_COUNT.finditer(_prose(text))] == ["35 of 43"]
