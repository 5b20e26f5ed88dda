"""A lost reassigned-number copy voids what it could have voided, in every rule (hrev115).

hrea24 made a lost ``attr-reassigned`` copy unread, and ``ReassignedNumbers`` BLOCKs a
predictive or prerecorded call resting on a consent. But the rule is not in the plan of a
manual call (``modes``), and a loaded copy's voiding reaches every rule through
``exemptions`` (the registry rule 64.1200(c)(2)(ii), its EBR, the states' consent
exemptions): with the copy unread those still honoured a consent or relationship the lost
copy may have voided. Shown before the fix: a manual call to a registered number resting
on a written consent, and a predictive one resting on a relationship, were ALLOWed.
Now an exemption (consent or relationship) lifts nothing while the copy is unread, and
the blocking rule says why. Pure core, synthetic attempt.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from callguard.policy import CallAttempt, DialingMode
from callguard.policy.engine import Policy, PolicySettings
from callguard.policy.model import (
    ConsentKind,
    ConsentRecord,
    EbrRecord,
    FactKind,
    Facts,
    ListCheck,
)
from callguard.policy.rules.number_kind import REASSIGNED_LIST
from tests.conftest import NY_CAMPAIGN, PACKS, PARSER

CALL = datetime.fromisoformat("2026-07-22T11:00:00-04:00")
CONSENT = ConsentRecord(ConsentKind.WRITTEN, datetime.fromisoformat("2025-01-10T12:00:00+00:00"))
EBR = EbrRecord(last_transaction=date(2026, 5, 1))
POLICY = Policy(PACKS, PolicySettings())
NUMBER = "2125550123"


def _decide(mode: DialingMode, *, unread: bool, consents=(), ebr=None):
    attempt = CallAttempt(PARSER.parse(NUMBER), NY_CAMPAIGN, mode, CALL,
                          unread=frozenset({REASSIGNED_LIST}) if unread else frozenset())
    plan = POLICY.plan(attempt)
    lists: dict[str, ListCheck | None] = {
        name: ListCheck(name, 1, CALL.date() - timedelta(days=1), name == "national", True)
        for name in plan.list_names}
    lists[REASSIGNED_LIST] = None
    return POLICY.decide(plan, Facts(lists, consents, ebr=ebr, fetched=frozenset(FactKind)))


def test_never_loaded_a_consent_or_relationship_still_lifts_the_registry_block():
    """The control: with no copy ever loaded, both calls are ALLOWed (as before)."""
    assert _decide(DialingMode.MANUAL, unread=False, consents=(CONSENT,)).allowed
    assert _decide(DialingMode.MANUAL, unread=False, ebr=EBR).allowed


def test_a_manual_call_resting_on_a_consent_is_blocked_on_a_lost_copy():
    verdict = _decide(DialingMode.MANUAL, unread=True, consents=(CONSENT,))
    assert not verdict.allowed, verdict.reason  # before: ALLOW on the consent
    assert REASSIGNED_LIST in verdict.reason, verdict.reason
    assert "64.1200(m)" in verdict.reason, verdict.reason
    assert NUMBER not in verdict.reason
    assert "5550123" not in verdict.reason


def test_a_call_resting_on_a_relationship_is_blocked_on_a_lost_copy():
    for mode in (DialingMode.MANUAL, DialingMode.PREDICTIVE):
        verdict = _decide(mode, unread=True, ebr=EBR)
        assert not verdict.allowed, (mode, verdict.reason)  # before: ALLOW on the EBR
        assert REASSIGNED_LIST in verdict.reason, verdict.reason
