"""The CSV of `report` and `evidence` says what their JSON and page say beside the figures.

Counsel is often handed the CSV alone (it opens in a spreadsheet). It carried no sources
(which archive, which log), no hashing-key fingerprint, and no house-policy mark: a rule of
H.B. 45 (2000, as introduced) read as a section of the Utah Code. And `evidence` with no
archive said "(no archive)" without the directory it looked in: a wrong --data-dir read
as "nothing was ever archived".
"""

from __future__ import annotations

import csv
import io
import json

from tests.log_files import cli, house_policy_block

NUMBER = "8015550123"
HOUSE_RULE = "us-ut-hb45-2000:13-26a-106(1)(f)"


def _rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_report_csv_names_its_sources_and_marks_a_house_policy(tmp_path):
    path = house_policy_block(tmp_path, NUMBER)
    data = tmp_path / "data"
    result = cli("report", "--csv", config_path=path)
    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    ruled = [r for r in rows if r["rule"] == HOUSE_RULE]
    assert ruled, rows
    assert {r["law"] for r in ruled} == {"house policy, not enacted law"}
    log = (data / "compliance.jsonl").resolve()
    for row in rows:
        assert f"unarchived records of {log}" in row["read_from"], row
        assert f"none at {(data / 'archive').resolve()}" in row["read_from"], row


def test_evidence_csv_carries_the_key_the_law_mark_and_the_sources(tmp_path):
    path = house_policy_block(tmp_path, NUMBER)
    data = tmp_path / "data"
    result = cli("evidence", NUMBER, "--format", "csv", config_path=path)
    assert result.returncode == 0, result.stderr
    rows = _rows(result.stdout)
    decisions = [r for r in rows if r["event"] == "decision"]
    assert len(decisions) == 1
    said = json.loads(cli("evidence", NUMBER, "--json", config_path=path).stdout)
    key = said["query"]["key_id"]
    assert key
    assert decisions[0]["key_id"] == key
    assert decisions[0]["rule"] == HOUSE_RULE
    assert decisions[0]["law"] == "house policy, not enacted law"
    missing = str((data / "archive").resolve())
    assert all(f"no archive at {missing}" in r["read_from"] for r in rows), rows
    assert said["sources"]["archive_missing"] == missing
    assert "us-ut-hb45-2000" in said["not_enacted_law"]
    # the terminal and the page say where the archive was looked for, and mark the rule
    text = cli("evidence", NUMBER, config_path=path).stdout
    assert f"no archive at {missing}" in " ".join(text.split())
    page = tmp_path / "e.html"
    assert cli("evidence", NUMBER, "--format", "html", "--output", str(page),
               config_path=path).returncode == 0
    shown = page.read_text()
    assert f"no archive at {missing}" in shown
    assert f"{HOUSE_RULE} (house policy, not enacted law)" in shown
