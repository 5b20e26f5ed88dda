"""A consent, business-relationship or do-not-call record whose stored time was edited by
hand (hsto19).

``UPDATE company_dnc SET added_at = '2026-12-06 11:18:17'`` (no UTC offset), or a date
that is no date: compared with the call's instant it raised TypeError, and the call was
BLOCKed as ``callguard:internal-error (TypeError)``, naming no record and no fix. It is
BLOCKed with the record and the fix named; other numbers are decided as before.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import orjson
import pytest

from callguard.errors import StoreError
from callguard.stores.redis import records as redis_records
from tests.test_cli_ux import cli, import_lists
from tests.test_http import AT

CAMPAIGN = "ut-solar-manual"
NUMBER, OTHER = "8015550123", "8015550124"


def _check(root: Path, number: str) -> dict:
    return json.loads(cli(root, "check", number, "--campaign", CAMPAIGN, "--at", AT,
                          "--json").stdout)


def _edit(root: Path, sql: str) -> None:
    db = sqlite3.connect(root / "records.sqlite3")
    with db:
        assert db.execute(sql).rowcount == 1
    db.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    import_lists(tmp_path)
    return tmp_path


def test_a_do_not_call_time_without_offset_blocks_naming_the_record(root: Path) -> None:
    assert cli(root, "internal-dnc", "add", NUMBER, "--campaign", CAMPAIGN).returncode == 0
    _edit(root, "UPDATE company_dnc SET added_at = '2026-12-01 11:18:17'")
    blocked = _check(root, NUMBER)
    assert blocked["verdict"] == "BLOCK"
    assert blocked["rule"] != "callguard:internal-error", blocked["reason"]
    assert "company do-not-call record" in blocked["reason"]
    assert "added_at '2026-12-01 11:18:17' has no UTC offset" in blocked["reason"]
    assert "2026-12-01T11:18:17+00:00" in blocked["reason"]  # the fix, as it is written
    assert "555" not in blocked["reason"]
    assert _check(root, OTHER)["verdict"] == "ALLOW"  # others decided as before


def test_a_consent_time_without_offset_blocks_naming_the_record(root: Path) -> None:
    """The number is listed: its consent is read (and would lift the listing)."""
    assert cli(root, "consent", "add", "8015550199", "--campaign", CAMPAIGN, "--kind",
               "written", "--granted", "2026-11-01T12:00:00Z").returncode == 0
    _edit(root, "UPDATE consent SET granted_at = '2026-11-01T12:00:00'")
    blocked = _check(root, "8015550199")
    assert blocked["verdict"] == "BLOCK"
    assert blocked["rule"] != "callguard:internal-error", blocked["reason"]
    assert "written consent of the number: its granted_at" in blocked["reason"]


def test_a_relationship_date_that_is_no_date_blocks_naming_the_record(root: Path) -> None:
    assert cli(root, "ebr", "add", "8015550199", "--campaign", CAMPAIGN,
               "--last-transaction", "2026-11-01").returncode == 0
    _edit(root, "UPDATE ebr SET last_transaction = '11/01/2026'")
    blocked = _check(root, "8015550199")
    assert blocked["verdict"] == "BLOCK"
    assert blocked["rule"] != "callguard:internal-error", blocked["reason"]
    assert "business relationship record of the number: its last_transaction" in (
        blocked["reason"])


def test_the_redis_records_are_read_alike() -> None:
    """The Redis backend's records (a hash rewritten by hand) are read by the same rule."""
    with pytest.raises(StoreError, match="do-not-call record of the number: its added_at"):
        redis_records._dnc(orjson.dumps({"added_at": "2026-12-01 11:18:17", "source": "x"}))
    with pytest.raises(StoreError, match="autodialer consent of the number: its granted_at"):
        redis_records._consent(orjson.dumps({"kind": "autodialer",
                                             "granted_at": "2026-12-01T11:18:17"}))
    with pytest.raises(StoreError, match="relationship record of the number: its ended_at"):
        redis_records._ebr(orjson.dumps({"ended_at": "yesterday"}))
