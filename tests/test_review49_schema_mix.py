"""A log and archive holding schema-1 and schema-2 decisions side by side (an upgrade).

Before schema 2 a `check --at` question could not be told from a call: those records
stay calls. A schema-2 question is counted apart whether it was read from the archive or
from the unarchived log, and a schema-2 call (no ``places_call``) is a call.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime

import orjson

from bench.synthetic_records import KEY, key_id, number_hash
from callguard.compliance.segments import stamp_name
from tests.log_files import cli, config

NUMBER = "8015550123"


def _decision(schema: int, front: str, at: str, serial: int, **more: object) -> bytes:
    record = {"schema": schema, "event": "decision", "logged_at": at[:-1] + "Z",
              "node": "node-a", "decision_id": f"01a23e7a-fbf2-7ba3-93ae-75792444e{serial:03d}",
              "at": at, "front": front, "verdict": "ALLOW", "campaign": "ut-solar-manual",
              "solicitor": "beehive-solar", "mode": "manual",
              "number_hash": number_hash("+18015550123", KEY), "number_last4": "0123",
              "key_id": key_id(KEY), "zones": [], "packs": [], "lists": {}, **more,
              "latency_us": 5}
    return orjson.dumps(record) + b"\n"


def test_a_mix_across_archive_and_log_counts_each_as_it_says(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    log = data / "compliance.jsonl"
    # archived: a schema-1 cli answer (a call, as far as anyone can tell) and a schema-2
    # question, on the 7th
    log.write_bytes(_decision(1, "cli", "2026-12-07T17:00:00.000Z", 1)
                    + _decision(2, "cli", "2026-12-07T17:01:00.000Z", 2, places_call=False))
    log.rename(stamp_name(log, datetime(2026, 12, 7, 18, tzinfo=UTC)))
    assert cli("archive", "--compact-all", config_path=path).returncode == 0
    # unarchived: a schema-2 call and a schema-2 question, on the 8th
    log.write_bytes(_decision(2, "http", "2026-12-08T17:00:00.000Z", 3)
                    + _decision(2, "cli", "2026-12-08T17:01:00.000Z", 4, places_call=False))
    said = json.loads(cli("report", "--json", "--tz", "UTC", config_path=path).stdout)
    assert (said["calls"], said["questions"], said["decisions"]) == (2, 2, 4), said
    assert [(d["day"], d["decisions"]) for d in said["question_days"]] == [
        ("2026-12-07", 1), ("2026-12-08", 1)]
    rows = list(csv.DictReader(io.StringIO(
        cli("report", "--csv", "--tz", "UTC", config_path=path).stdout)))
    kinds = sorted((r["day"], r["kind"], r["count"]) for r in rows)
    assert kinds == [("2026-12-07", "call", "1"), ("2026-12-07", "question", "1"),
                     ("2026-12-08", "call", "1"), ("2026-12-08", "question", "1")], kinds
    document = json.loads(cli("evidence", NUMBER, "--json", config_path=path).stdout)
    assert [d.get("places_call") for d in document["decisions"]] == [None, False, None,
                                                                    False]
