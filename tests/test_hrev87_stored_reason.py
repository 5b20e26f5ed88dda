"""`consent show` / `evidence` say why a consent is not valid now as the gate's blocking
reason says it (``Exemptions.withdrawn``): a consent the called party revoked, or one that
expired, before a later do-not-call request or disconnect was said "withdrawn by the
do-not-call request" or "void: the number was permanently disconnected" — the gate names
the revocation ("revoked INSTANT"), and an expired consent it names not at all. A standing
consent before them is still said withdrawn / void (hoff20)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from callguard.cli.records import Reassigned, sheet_data, valid_text
from callguard.policy.model import CompanyDncRecord, ConsentKind, ConsentRecord
from callguard.stores.writes import RecordSheet, StoredConsent

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
WRITTEN = ConsentKind("written")


def _sheet(*records: ConsentRecord, dnc: datetime | None = None) -> RecordSheet:
    return RecordSheet(tuple(StoredConsent(r, "web form", "ref-1") for r in records), None,
                       None if dnc is None else CompanyDncRecord(dnc, "phone"))


def test_a_revoked_consent_is_not_said_withdrawn_by_a_later_request():
    revoked = ConsentRecord(WRITTEN, datetime(2026, 1, 1, tzinfo=UTC),
                            revoked_at=datetime(2026, 2, 1, tzinfo=UTC))
    standing = ConsentRecord(WRITTEN, datetime(2026, 1, 2, tzinfo=UTC))
    after = ConsentRecord(WRITTEN, datetime(2026, 4, 1, tzinfo=UTC))
    data = sheet_data(_sheet(revoked, standing, after, dnc=datetime(2026, 3, 1, tzinfo=UTC)),
                      (), NOW)
    first, second, third = data["consents"]
    assert first["withdrawn_by_request"] is None
    assert "withdrawn" not in valid_text(first)
    assert second["withdrawn_by_request"]
    assert not second["valid_now"]
    assert third["valid_now"]  # given after the request: counts again


def test_an_expired_consent_is_not_said_void_by_a_later_disconnect():
    expired = ConsentRecord(WRITTEN, datetime(2026, 1, 1, tzinfo=UTC),
                            expires_at=datetime(2026, 2, 1, tzinfo=UTC))
    standing = ConsentRecord(WRITTEN, datetime(2026, 1, 2, tzinfo=UTC))
    gone = Reassigned("attr-reassigned v1", date(2026, 3, 1), ("America/Denver",))
    first, second = sheet_data(_sheet(expired, standing), (), NOW, gone)["consents"]
    assert first["void_reassigned"] is None
    assert "disconnected" not in valid_text(first)
    assert second["void_reassigned"]
    assert not second["valid_now"]


def test_a_consent_void_for_a_call_placed_west_of_the_number_is_said():
    """Given 2026-02-02 00:30 in Denver, 2026-02-01 23:30 in Los Angeles: `check --tz
    America/Los_Angeles` BLOCKs it void (64.1200(c)(2): "written consent of 2026-02-02
    void: the number was permanently disconnected on 2026-02-01"); `consent show` said
    "valid now: yes" and nothing else."""
    gone = Reassigned("attr-reassigned v1", date(2026, 2, 1), ("America/Denver",))
    edge = ConsentRecord(WRITTEN, datetime(2026, 2, 2, 7, 30, tzinfo=UTC))
    later = ConsentRecord(WRITTEN, datetime(2026, 2, 3, 12, tzinfo=UTC))
    first, second = sheet_data(_sheet(edge, later), (), NOW, gone)["consents"]
    assert first["valid_now"]  # as the gate reads it in Denver's time alone
    assert "on or before 2026-02-01" in first["void_in_other_zones"]
    assert "void for a call" in valid_text(first)
    assert second["void_in_other_zones"] is None
    assert valid_text(second) == "[green]yes[/]"
