"""A `check --at` question is told apart from a call, in its record and in the report.

A decision record did not say whether a call was placed on its answer: an officer's
`callguard check --at` questions about an instant were counted by `report` as calls placed
(the report could only warn that a "cli" figure might hold questions). Schema 2 of the
decision record says ``"places_call": false`` for them; the report counts them apart.
"""

from __future__ import annotations

import csv
import io
import json
import re

import orjson
from jsonschema import Draft202012Validator

from callguard.resources import record_schemas_dir
from tests.log_files import cli, config

NUMBER = "8015550123"


def _schema() -> Draft202012Validator:
    return Draft202012Validator(json.loads((record_schemas_dir() / "decision.json").read_text()))


def _decisions(data) -> list[dict]:
    lines = (data / "compliance.jsonl").read_bytes().splitlines()
    return [r for r in map(orjson.loads, lines) if r.get("event") == "decision"]


def test_a_question_says_so_in_its_record_and_is_not_a_call(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    for hour in ("10", "11", "12"):
        asked = cli("check", NUMBER, "--campaign", "ut-solar-manual", "--at",
                    f"2026-12-07T{hour}:00:00-07:00", config_path=path)
        assert asked.returncode in (0, 1), asked.stderr
    records = _decisions(data)
    assert len(records) == 3
    schema = _schema()
    for record in records:
        assert record["schema"] == 2
        assert record["places_call"] is False
        errors = [e.message for e in schema.iter_errors(record)]
        assert not errors, errors
    said = json.loads(cli("report", "--json", config_path=path).stdout)
    assert said["calls"] == 0, said
    assert said["questions"] == 3
    assert said["decisions"] == 3
    assert [d["decisions"] for d in said["question_days"]] == [3]
    assert said["fronts_note"].startswith("calls by front: none; 3 `callguard check --at` "
                                          "question(s) counted apart")
    rows = list(csv.DictReader(io.StringIO(cli("report", "--csv", config_path=path).stdout)))
    assert {r["kind"] for r in rows if r["count"] != "0"} == {"question"}
    text = cli("report", config_path=path).stdout
    assert "0 calls, 0 scrub decisions and 3 check --at questions counted apart" in text
    # the day x campaign table shows them in their own column, not as 0 of everything
    assert re.search(r"│ ut-solar-manual │ 0 +│ 0 +│ 0 +│ 3 +│", text), text
    page = tmp_path / "r.html"
    assert cli("report", "--html", str(page), config_path=path).returncode == 0
    assert "3 `check --at` questions counted apart" in page.read_text()
    tailed = cli("tail", "-n", "all", config_path=path).stdout
    assert tailed.count("(question: no call placed)") == 3, tailed
    explained = cli("explain", records[0]["decision_id"], config_path=path)
    assert "a question: no call placed" in " ".join(explained.stdout.split()), explained.stderr
    # evidence says so beside the verdict: counsel read an officer's question as a call
    shown = " ".join(cli("evidence", NUMBER, config_path=path).stdout.split())
    assert shown.count("(a question: no call placed)") == 3, shown
    document = json.loads(cli("evidence", NUMBER, "--json", config_path=path).stdout)
    assert [d["places_call"] for d in document["decisions"]] == [False] * 3
    # archived, the same answer (places_call stays in the row's body)
    from datetime import UTC, datetime

    from callguard.compliance.segments import stamp_name
    log = data / "compliance.jsonl"
    log.rename(stamp_name(log, datetime.now(UTC)))
    assert cli("archive", "--compact-all", config_path=path).returncode == 0
    said = json.loads(cli("report", "--json", config_path=path).stdout)
    assert (said["calls"], said["questions"]) == (0, 3), said
    page = tmp_path / "e.html"
    assert cli("evidence", NUMBER, "--format", "html", "--output", str(page),
               config_path=path).returncode == 0
    assert page.read_text().count("(a question: no call placed)") == 3


def test_a_schema_1_decision_cannot_claim_places_call():
    """places_call exists from schema 2: a schema-1 record with it is not one callguard
    wrote; a schema-2 record without it is a call placed on an ALLOW."""
    record = {"schema": 1, "event": "decision", "logged_at": "2026-12-07T17:00:00.001Z",
              "node": "n", "decision_id": "01a23e7a-fbf2-7ba3-93ae-75792444eda8",
              "at": "2026-12-07T17:00:00.000Z", "front": "cli", "verdict": "ALLOW",
              "campaign": "c", "number_hash": "0" * 64, "number_last4": "0123",
              "key_id": "0badf00d", "zones": [], "packs": [], "lists": {}, "latency_us": 5}
    schema = _schema()
    assert not list(schema.iter_errors(record))
    assert list(schema.iter_errors({**record, "places_call": False}))
    assert not list(schema.iter_errors({**record, "schema": 2, "places_call": False}))
    assert list(schema.iter_errors({**record, "schema": 2, "places_call": True}))
