"""Schema 2 is the decision's alone: a record of another kind saying 2 is not one we know.

Schema numbers are per kind since the decision went to 2 (``places_call``) and every other
kind stayed at 1. The readers took ``schema`` 2 as known for every kind, so a later
callguard that changes, say, the ``record`` event (a consent or do-not-call change) and
marks it 2 would have its records read by this one as if they were schema 1 — the
documented contract is that a reader refuses, with a clear message, a schema it does not
know (docs/record-format.md).
"""

from __future__ import annotations

import duckdb

from callguard.compliance.archive.ingest import ArchiveRun, Batch
from callguard.compliance.archive.store import Archive
from callguard.compliance.reader import ReadStats

_RECORD = {"schema": 2, "event": "record", "logged_at": "2026-12-07T17:00:00.002Z",
           "node": "n", "action": "company-dnc-added", "solicitor": "acme",
           "number_hash": "0" * 64, "number_last4": "0123", "changed": 1}
_DECISION = {"schema": 2, "event": "decision", "logged_at": "2026-12-07T17:00:00.002Z",
             "node": "n", "decision_id": "01a23e7a-fbf2-7ba3-93ae-75792444eda8",
             "at": "2026-12-07T17:00:00.000Z", "front": "cli", "verdict": "ALLOW",
             "campaign": "c", "places_call": False, "latency_us": 5}


def test_readers_refuse_schema_2_of_a_kind_still_at_1():
    stats = ReadStats()
    assert stats.observe(dict(_DECISION))
    assert stats.observe({**_RECORD, "schema": 1})
    assert not stats.observe(dict(_RECORD))
    assert stats.unknown_schema == {"2 (record)": 1}


def test_the_archiver_leaves_them_where_they_are(tmp_path):
    run = ArchiveRun()
    batch = Batch(Archive(tmp_path / "archive"), duckdb.connect(), run)
    batch.add(dict(_DECISION))
    batch.add(dict(_RECORD))
    assert (run.decisions, run.events, run.refused) == (1, 0, 1)
