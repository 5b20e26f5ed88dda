"""Review 39: a consent window an older callguard stored with a UTC offset (hoff16).

The gate fails closed on such a consent (it cannot tell which hours the person agreed to),
but the raise came from the first consent looked at: another consent on record that holds
the call's hours, found after it, was never read, so the call BLOCKed ``internal error``
although a readable consent lifted the rule (which was found first decided the verdict).
And the reason's fix began with ``consent revoke``: a revocation recorded as the person's,
which from the revoke-all date (2027-01-31) ends every consent to automated calls."""

from __future__ import annotations

import json
import sqlite3

from tests.test_cli import cli

NUMBER = "8015550177"
CAMPAIGN = ("--campaign", "ut-solar-manual")
LATE = "2026-12-07T21:30:00-07:00"  # a Monday after 9 p.m. in Utah: needs a consent


def _lists(data_dir) -> None:
    for name in ("national", "ut-state"):
        listing = data_dir / "list.txt"
        listing.write_text("8015550199\n")
        assert cli("dnc", "import", str(listing), "--list", name, "--published", "2026-12-05",
                   "--covers", "all", data_dir=data_dir).returncode == 0


def _add(data_dir, window: str, granted: str) -> None:
    assert cli("consent", "add", NUMBER, *CAMPAIGN, "--kind", "calling-hours", "--window",
               window, "--granted", granted, data_dir=data_dir).returncode == 0


def _unreadable_then_readable(data_dir, window: str) -> None:
    """The old consent (id 1, its window stored with +00:00), then the same consent
    recorded again with a readable window (id 2), the old one left as it is."""
    _lists(data_dir)
    _add(data_dir, "20:00-23:00", "2026-12-01T10:00:00-07:00")
    with sqlite3.connect(data_dir / "records.sqlite3") as db:
        db.execute("UPDATE consent SET window_start = '20:00:00+00:00'")
    _add(data_dir, window, "2026-12-01T10:00:01-07:00")


def _check(data_dir, at):
    result = cli("check", NUMBER, *CAMPAIGN, "--at", at, "--json", data_dir=data_dir)
    return result.returncode, json.loads(result.stdout)


def test_a_readable_consent_after_an_unreadable_one_lifts_the_hours(tmp_path):
    _unreadable_then_readable(tmp_path, "20:00-23:00")
    code, verdict = _check(tmp_path, LATE)
    assert verdict["verdict"] == "ALLOW", verdict
    assert code == 0


def test_outside_the_readable_window_the_rule_blocks_not_an_internal_error(tmp_path):
    """Re-recorded with other hours: a call outside them is the calling-hours rule's BLOCK
    (the unreadable consent lifts nothing), not 're-record the consent' once more."""
    _unreadable_then_readable(tmp_path, "20:00-21:15")
    _code, verdict = _check(tmp_path, LATE)
    assert verdict["verdict"] == "BLOCK", verdict
    assert "internal-error" not in json.dumps(verdict), verdict
    assert "after 9:00 p.m." in verdict["reason"]
    assert NUMBER not in verdict["reason"]


def test_the_fix_named_records_no_revocation(tmp_path):
    """The reason names `consent add` as the fix and warns against a revocation: one
    recorded to repair a record is read as the person's (64.1200(a)(10) revoke-all)."""
    _lists(tmp_path)
    _add(tmp_path, "20:00-23:00", "2026-12-01T10:00:00-07:00")
    with sqlite3.connect(tmp_path / "records.sqlite3") as db:
        db.execute("UPDATE consent SET window_start = '20:00:00+00:00'")
    code, verdict = _check(tmp_path, LATE)
    assert code == 1  # the calling-hours rule's BLOCK naming the fix (examiner 8; was exit 3)
    assert verdict["verdict"] == "BLOCK"
    reason = verdict["reason"]
    add = reason.index("consent add")
    assert "revoke" not in reason[:add], reason  # the first step is not a revocation
    assert "ends every consent to automated calls" in reason
    assert NUMBER not in reason
