"""An archive that holds nothing yet is said so (session 27, hrev118; hoff24's item D).

`archive` on a node whose log is only its current file (not closed, so not archived)
commits an empty manifest: `evidence` then named "0 archived day(s) (the archive at
DIR)", which reads as an archive that was searched and had nothing on that day, not as
one that never received a record."""

from __future__ import annotations

import orjson

from tests.log_files import cli, config


def test_evidence_says_the_archive_holds_nothing_yet(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    checked = cli("check", "+18015550101", "--campaign", "ut-solar-manual",
                  "--at", "2026-12-07T17:30:00Z", "--json", config_path=path)
    decision = orjson.loads(checked.stdout)["decision_id"]
    archived = cli("archive", config_path=path)
    assert archived.returncode == 0, archived.stderr
    assert (data / "archive" / "manifest.json").exists()  # committed, with nothing in it
    text = cli("evidence", "--decision", decision, config_path=path)
    assert text.returncode == 0, text.stderr
    said = " ".join(text.stdout.split())
    assert f"(the archive at {(data / 'archive').resolve()}, which holds nothing yet)" in said
    as_json = cli("evidence", "--decision", decision, "--format", "json", config_path=path)
    sources = orjson.loads(as_json.stdout)["sources"]
    assert "which holds nothing yet" in sources["note"]
    assert sources["archive_empty"] is True
