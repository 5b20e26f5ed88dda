"""A revocation of consent to automated calls ends every such consent (47 CFR 64.1200(a)(10)).

Before, ``consent revoke --kind autodialer`` ("stop robocalling me") ended only autodialer
consent: a standing written consent went on allowing prerecorded and predictive calls.
Pure: the real packs, synthetic instants, no clock.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from callguard.policy import (
    AUTOMATED_CONSENT,
    CallAttempt,
    ConsentKind,
    ConsentRecord,
    DialingMode,
    FactKind,
    Facts,
    revocation_ends,
)
from callguard.policy.engine import call_date
from callguard.policy.rules import Context
from callguard.policy.rules.exemptions import Exemptions
from callguard.policy.zones import local_times, resolve_zones
from tests.conftest import PACKS, PARSER, UT_CAMPAIGN, decide

GRANTED = datetime(2026, 1, 1, tzinfo=UTC)
REVOKED = datetime(2026, 3, 1, tzinfo=UTC)
CALL = "2026-07-22T11:00:00-06:00"  # a Wednesday in Utah, in hours
W = ConsentKind.WRITTEN
A = ConsentKind.AUTODIALER


def written() -> ConsentRecord:
    return ConsentRecord(W, GRANTED)


def revoked(kind: ConsentKind, at: datetime = REVOKED) -> ConsentRecord:
    window = (datetime(2026, 1, 1, 21).time(), datetime(2026, 1, 1, 22).time())
    return ConsentRecord(kind, GRANTED, revoked_at=at,
                         window=window if kind is ConsentKind.CALLING_HOURS else None)


def context(at: str, consents: tuple[ConsentRecord, ...], judged: datetime | None = None,
            number: str = "8015550123") -> Context:
    attempt = CallAttempt(PARSER.parse(number), UT_CAMPAIGN, DialingMode.PRERECORDED,
                          datetime.fromisoformat(at), records_at=judged)
    zones = resolve_zones(attempt.number, None, max_zones=4, every_zone_fallback=False)
    local = local_times(attempt.at, zones.zones)
    return Context(attempt, Facts(consents=consents, fetched=frozenset(FactKind)), local,
                   zones.unknown_reason, call_date(attempt, local))


def test_which_kinds_a_revocation_ends():
    """Either automated kind ends both; calling-hours and fax only themselves; None all."""
    assert revocation_ends(A) == revocation_ends(W) == AUTOMATED_CONSENT == {A, W}
    assert revocation_ends(ConsentKind.CALLING_HOURS) == {ConsentKind.CALLING_HOURS}
    assert revocation_ends(ConsentKind.FAX) == {ConsentKind.FAX}
    assert revocation_ends(None) == set(ConsentKind)


@pytest.mark.parametrize("mode", [DialingMode.PRERECORDED, DialingMode.PREDICTIVE])
def test_stop_robocalling_recorded_as_autodialer_ends_the_written_consent(mode):
    """The harm: the written consent still allowed the call. Now every rule that rested on
    it blocks, and the reason names which revocation ended which consent."""
    assert decide(mode=mode, consents=(written(),)).allowed  # the control: it did allow
    verdict = decide(mode=mode, consents=(written(), revoked(A)))
    assert not verdict.allowed
    assert verdict.deciding is not None
    assert verdict.deciding.rule_id == "us-federal:64.1200(a)(2)"
    assert ("written consent of 2026-01-01 ended by the revocation of autodialer consent "
            "2026-03-01 00:00Z (47 CFR 64.1200(a)(10)") in verdict.reason


def test_a_revoked_written_consent_ends_the_autodialer_consent():
    """Utah's 13-25a-103(2) rests on prior express (autodialer) consent: a revoked written
    consent to the same seller ends it too."""
    verdict = decide(mode=DialingMode.PRERECORDED,
                     consents=(ConsentRecord(A, GRANTED), revoked(W)))
    assert not verdict.allowed
    assert "us-ut:13-25a-103(2)" in {o.rule_id for o in verdict.blocking}


def test_a_consent_given_after_the_revocation_counts_again():
    later = ConsentRecord(W, datetime(2026, 4, 1, tzinfo=UTC))
    assert decide(mode=DialingMode.PRERECORDED, consents=(later, revoked(A))).allowed


def test_a_consent_given_at_the_revocations_instant_is_ended():
    """Which came first cannot be told: fails closed."""
    same = ConsentRecord(W, REVOKED)
    assert not decide(mode=DialingMode.PRERECORDED, consents=(same, revoked(A))).allowed


def test_calling_hours_and_fax_revocations_end_nothing_else_before_the_revoke_all_date():
    for kind in (ConsentKind.CALLING_HOURS, ConsentKind.FAX):
        assert decide(mode=DialingMode.PRERECORDED, consents=(written(), revoked(kind))).allowed


def test_a_revocation_after_the_call_but_before_the_gate_judges_it_binds():
    """The gate judges a call placed now at its own clock (``judged_at``)."""
    exemptions = Exemptions(frozenset({W}), None)
    after = datetime(2026, 7, 23, tzinfo=UTC)
    record = written()
    replay = context(CALL, (record, revoked(A, after)))
    assert exemptions.ended_by(replay, record) is None
    now = context(CALL, (record, revoked(A, after)), judged=after)
    assert exemptions.ended_by(now, record) is not None


def test_revoke_all_is_the_rules_date_not_a_constant():
    """From ``revoke_all_from`` a revocation of any kind ends every automated consent given
    before it; a rule without the date (a state pack, or a federal one before 2026.12.8)
    does not; a revocation made before the date does not."""
    record = written()
    fax = revoked(ConsentKind.FAX, datetime(2027, 2, 1, 15, tzinfo=UTC))
    ctx = context("2027-02-03T11:00:00-07:00", (record, fax))
    assert Exemptions(frozenset({W}), None).ended_by(ctx, record) is None
    dated = Exemptions(frozenset({W}), None, date(2027, 1, 31))
    assert dated.ended_by(ctx, record) is fax
    assert "ended by the revocation of fax consent 2027-02-01 15:00Z (47 CFR 64.1200(a)(10) " \
           "revoke-all, from 2027-01-31" in dated.withdrawn(ctx)
    early = revoked(ConsentKind.FAX, datetime(2027, 1, 30, 15, tzinfo=UTC))
    assert dated.ended_by(context("2027-02-03T11:00:00-07:00", (record, early)), record) is None
    # The Utah number's date decides: 2027-01-31T05:00Z is 30 January, 22:00 in Denver.
    edge = revoked(ConsentKind.FAX, datetime(2027, 1, 31, 5, tzinfo=UTC))
    assert dated.ended_by(context("2027-02-03T11:00:00-07:00", (record, edge)), record) is None
    # A calling-hours consent is not a consent to automated calls: revoke-all leaves it.
    night = ConsentRecord(ConsentKind.CALLING_HOURS, GRANTED)
    assert dated.ended_by(context("2027-02-03T11:00:00-07:00", (night, fax)), night) is None


def test_the_federal_pack_carries_the_revoke_all_date_on_its_robocall_rules():
    dated = {r.rule_id: getattr(r, "exemptions", None) for r in PACKS["us-federal"].rules}
    for rule in ("us-federal:64.1200(a)(2)", "us-federal:64.1200(a)(3)"):
        exemptions = dated[rule]
        assert exemptions is not None
        assert exemptions.revoke_all_from == date(2027, 1, 31)
    registry = dated["us-federal:64.1200(c)(2)"]
    assert registry is not None
    assert registry.revoke_all_from is None  # revoke-all speaks of robocalls only


def test_the_revoked_consent_itself_is_named_in_the_reason():
    """A consent revoked by name (or by the write of another kind) says when."""
    verdict = decide(mode=DialingMode.PRERECORDED, consents=(revoked(W),))
    assert "written consent of 2026-01-01 revoked 2026-03-01 00:00Z" in verdict.reason


@pytest.mark.parametrize(("number", "at", "rule"), [
    ("3055550123", "2026-07-22T12:00:00-04:00", "us-fl:501.059(8)(a)"),
    ("4105550123", "2026-07-22T12:00:00-04:00", "us-md:14-4502(a)(3)"),
    ("4055550123", "2026-07-22T12:00:00-05:00", "us-ok:775C.3:automated"),
])
def test_the_same_revocation_ends_each_states_written_consent(number, at, rule):
    """Florida's, Maryland's and Oklahoma's prior express written consent is the same
    record: "stop robocalling me" ends it for their rules too (each state's rule named
    among the blocking ones; other rules, without the state lists here, block too)."""
    campaign = replace(UT_CAMPAIGN, packs=("us-federal", "us-fl", "us-md", "us-ok"))
    consents = (written(), revoked(A))
    standing = decide(number, at, campaign=campaign, mode=DialingMode.PREDICTIVE,
                      consents=(written(),))
    assert rule not in {o.rule_id for o in standing.blocking}  # the control
    verdict = decide(number, at, campaign=campaign, mode=DialingMode.PREDICTIVE,
                     consents=consents)
    assert rule in {o.rule_id for o in verdict.blocking}
