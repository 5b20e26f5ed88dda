"""A call dated ahead of when it was logged (an HTTP check's ``at``) is in the report of
its day before archiving as after (review hrev18).

`report --since` read the unarchived records from two days before --since on, by when
they were logged: an HTTP check logged on 1 November about a call on 15 December was in
the unfiltered report and in the archived one of 15 December, but not in that day's
report while the log still held it.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import orjson

from callguard.compliance.segments import stamp_name
from tests.log_files import cli, config, synthetic


def _decisions(path, *window: str) -> int:
    result = cli("report", "--json", *window, config_path=path)
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["calls"])


def test_a_call_dated_weeks_after_it_was_logged_is_in_its_days_report(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    template = next(orjson.loads(line) for line in synthetic(2, start=datetime(
        2026, 11, 1, tzinfo=UTC), days=1) if b'"decision"' in line)
    record = {**template, "logged_at": "2026-11-01T18:00:00.000Z",
              "at": "2026-12-15T18:00:00.000Z", "front": "http", "verdict": "ALLOW",
              "campaign": "ut-solar-manual",
              "decision_id": str(uuid.UUID(int=(0x01A2 << 112) | (7 << 76) | (2 << 62)))}
    for key in ("rule", "reason", "outcomes"):
        record.pop(key, None)

    def another(index: int, logged: str, at: str, front: str) -> bytes:
        return orjson.dumps({**record, "logged_at": logged, "at": at, "front": front,
                             "decision_id": str(uuid.UUID(int=(0x01A2 << 112) | (7 << 76)
                                                          | (2 << 62) | index))}) + b"\n"

    log = data / "compliance.jsonl"
    log.write_bytes(orjson.dumps(record) + b"\n"  # asked on 1 November for 15 December
                    # a FastAGI call of 1 November, and one of the 15th: each counted once
                    + another(1, "2026-11-01T19:00:00.000Z", "2026-11-01T19:00:00.000Z",
                              "fastagi")
                    + another(2, "2026-12-15T19:00:00.000Z", "2026-12-15T19:00:00.000Z",
                              "fastagi"))
    that_day = ("--since", "2026-12-15", "--until", "2026-12-16")
    logged_day = ("--since", "2026-11-01", "--until", "2026-11-02")
    assert _decisions(path) == 3
    assert (_decisions(path, *that_day), _decisions(path, *logged_day)) == (2, 1)
    log.rename(stamp_name(log, datetime(2026, 12, 16, tzinfo=UTC)))  # closed, as rotated
    archived = cli("archive", "--compact-all", "--json", config_path=path)
    assert archived.returncode == 0, archived.stderr
    assert (_decisions(path, *that_day), _decisions(path, *logged_day)) == (2, 1)
