"""Examiner 10: what the rules cite and owe around consent (revocation, line release).

A consent ended by the revocation of another kind: the blocking reason cites the law in
force on the call's date.

47 CFR 64.1200(a)(10) took effect on 2025-04-11. A call dated earlier (a replay, `check
--at`, a statute case of early 2025) was blocked by the same right under the FCC's 2015
Declaratory Ruling (FCC 15-72); its reason cited (a)(10), a rule not yet in force.
Pure: the real packs, synthetic instants, no clock.
"""

from __future__ import annotations

from datetime import UTC, datetime

from callguard.policy import CallAttempt, ConsentKind, ConsentRecord, DialingMode, FactKind, Facts
from callguard.policy.engine import call_date
from callguard.policy.rules import Context
from callguard.policy.rules.exemptions import Exemptions
from callguard.policy.zones import local_times, resolve_zones
from tests.conftest import PARSER, UT_CAMPAIGN

GRANTED = datetime(2024, 12, 1, 15, tzinfo=UTC)
REVOKED = datetime(2025, 2, 3, 15, tzinfo=UTC)


def reason(at: str) -> str:
    """Why a written consent no longer lifts a rule, for a Utah prerecorded call at ``at``,
    after the autodialer consent of the same seller was revoked."""
    written = ConsentRecord(ConsentKind.WRITTEN, GRANTED)
    oral = ConsentRecord(ConsentKind.AUTODIALER, GRANTED, revoked_at=REVOKED)
    attempt = CallAttempt(PARSER.parse("8015550123"), UT_CAMPAIGN, DialingMode.PRERECORDED,
                          datetime.fromisoformat(at))
    zones = resolve_zones(attempt.number, None, max_zones=4, every_zone_fallback=False)
    local = local_times(attempt.at, zones.zones)
    ctx = Context(attempt, Facts(consents=(written, oral), fetched=frozenset(FactKind)),
                  local, zones.unknown_reason, call_date(attempt, local))
    exemptions = Exemptions(frozenset({ConsentKind.WRITTEN}), None)
    assert exemptions.ended_by(ctx, written) is oral
    return exemptions.withdrawn(ctx)


def test_a_call_before_2025_04_11_cites_the_2015_ruling_not_a_rule_not_yet_in_force():
    text = reason("2025-04-10T11:00:00-06:00")
    assert "ended by the revocation of autodialer consent 2025-02-03 15:00Z (FCC 15-72" in text
    assert "codified as 47 CFR 64.1200(a)(10) from 2025-04-11" in text
    assert "(47 CFR 64.1200(a)(10): revoking" not in text
    # ACA Int'l upheld the ruling's revocation holding only (it set aside the autodialer
    # reading and the reassigned-number safe harbor): the reason says which part stands.
    assert "(its revocation holding upheld, ACA Int'l v. FCC, 885 F.3d 687" in text


def test_a_call_from_2025_04_11_cites_64_1200_a_10():
    text = reason("2025-04-11T11:00:00-06:00")
    assert ("ended by the revocation of autodialer consent 2025-02-03 15:00Z (47 CFR "
            "64.1200(a)(10): revoking consent to automated calls") in text
    assert "FCC 15-72" not in text


def test_a_manual_utah_call_carries_the_25_second_release():
    """13-25a-103(5)(e): the solicitor who 'makes an unsolicited telephone call' shall 'hang up
    the phone' within 25 seconds of the called person ending the call — a live (manual) call
    too, not only an automated dialing system (the federal 5 s reaches prerecorded calls only)."""
    from callguard.policy import DialingMode as Mode
    from tests.conftest import decide

    result = decide(mode=Mode.MANUAL)
    assert result.allowed
    assert result.obligations.line_release_seconds == 25
    assert result.obligations.line_release_citation == "Utah Code 13-25a-103(5)(e)"
