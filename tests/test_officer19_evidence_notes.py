"""A saved evidence document says what its answer could not include (session 22).

Looked up with another hashing key than the nodes', `evidence NUMBER --output F` wrote a
document of no decision; the reason (the records were hashed with another key, this lookup
cannot match them) was said on standard error only, and exit 1. The file handed to counsel,
read years later, said "decisions: none" for a number that was called: the caveats are
written into every format.
"""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.log_files import cli, config

NUMBER = "8015550123"
OTHER_KEY = "5a" * 32  # not the synthetic records' key (KEY_HEX)


@pytest.fixture
def asked(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    made = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
               "2026-12-07T10:00:00-07:00", config_path=path)
    assert made.returncode in (0, 1), made.stderr
    return path


@pytest.mark.parametrize("form", ["json", "html", "csv", "text"])
def test_a_lookup_with_another_key_says_so_in_the_file(asked, tmp_path, form):
    out = tmp_path / f"evidence.{form}"
    ran = cli("evidence", NUMBER, "--format", form, "--output", str(out), config_path=asked,
              key=OTHER_KEY)
    assert ran.returncode == 1, ran.stderr  # incomplete, as before
    assert "hashed with other keys" in ran.stderr
    text = out.read_text()
    if form == "json":
        document = json.loads(text)
        assert document["decisions"] == []
        assert document["incomplete"] is True
        assert any("hashed with other keys" in note for note in document["notes"])
    elif form == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        notes = [r for r in rows if r["event"] == "note"]
        assert notes, rows
        assert "hashed with other keys" in notes[0]["detail"]
    else:
        assert "hashed with other keys" in " ".join(text.split()), text


def test_a_complete_answer_has_no_note(asked, tmp_path):
    ran = cli("evidence", NUMBER, "--format", "json", config_path=asked)
    assert ran.returncode == 0, ran.stderr
    document = json.loads(ran.stdout)
    assert (document["notes"], document["incomplete"]) == ([], False)
    assert len(document["decisions"]) == 1
    rows = list(csv.DictReader(io.StringIO(
        cli("evidence", NUMBER, "--format", "csv", config_path=asked).stdout)))
    assert not [r for r in rows if r["event"] == "note"]


def test_a_decision_found_nowhere_says_so_in_the_file(asked, tmp_path):
    out = tmp_path / "e.json"
    ran = cli("evidence", "--decision", "01a24b12-0ff6-7a84-b8b7-8b466519721a", "--format",
              "json", "--output", str(out), config_path=asked)
    assert ran.returncode == 1, ran.stderr
    document = json.loads(out.read_text())
    assert document["incomplete"] is True
    assert any(n.startswith("no decision 01a24b12-0ff6-7a84-b8b7-8b466519721a")
               for n in document["notes"]), document["notes"]
