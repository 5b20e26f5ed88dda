"""Properties of the policy over generated calls (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.policy import (
    CompanyDncRecord,
    ConsentKind,
    ConsentRecord,
    DialingMode,
    EbrRecord,
)
from callguard.policy.rules import RegistryList
from tests.conftest import NY_CAMPAIGN, PACKS, PARSER, UT_CAMPAIGN, decide

NUMBERS = st.sampled_from(["8015550123", "3855550123", "4355550123", "2125550123",
                           "4155550123", "3035550123", "8005550123"])
INSTANTS = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2026, 12, 31),
                        timezones=st.just(UTC))
MODES = st.sampled_from(list(DialingMode))
CAMPAIGNS = st.sampled_from([UT_CAMPAIGN, NY_CAMPAIGN])
CONSENTS = st.lists(st.builds(
    ConsentRecord, kind=st.sampled_from(list(ConsentKind)),
    granted_at=st.just(datetime(2025, 1, 1, tzinfo=UTC))), max_size=3).map(tuple)


def _decide(number, at, campaign, mode, **facts):
    facts = {"published": (at - timedelta(days=3)).date(), **facts}
    return decide(number, at.isoformat(), campaign=campaign, mode=mode, **facts)


@settings(max_examples=300, deadline=None)
@given(number=NUMBERS, at=INSTANTS, campaign=CAMPAIGNS, mode=MODES, consents=CONSENTS,
       listed_on=st.sampled_from(["national", "ut-state"]))
def test_listed_without_exemption_is_never_allowed(number, at, campaign, mode, consents,
                                                   listed_on):
    """A number on an applicable list, with no EBR and no written consent, is blocked."""
    consents = tuple(c for c in consents if c.kind is not ConsentKind.WRITTEN)
    verdict = _decide(number, at, campaign, mode, listed={listed_on: True}, consents=consents)
    applies = {p.pack_id for p in verdict.packs if p.applies}
    # The list binds when a registry-list rule reading it is in an applying pack and covers
    # this mode (the federal registry rule covers voice calls; H.B. 45's also faxes).
    # A rule restricted to called parties of one state (H.B. 45's 105(3): "that part of the
    # national registry that relates to this state") binds only numbers of that state.
    area = PARSER.parse(number).area_code
    list_applies = any(
        rule.rule_id.split(":", 1)[0] in applies and listed_on in rule.list_names
        and mode in rule.modes and isinstance(rule, RegistryList)
        and (rule.called_party_state is None or area in rule.area_codes)
        for pack in PACKS.values() for rule in pack.rules)
    if list_applies:
        assert not verdict.allowed, verdict.reason


BLOCKING_FACTS = st.sampled_from([
    {"listed": {"national": True}},
    {"listed": {"ut-state": True}},
    {"company_dnc": CompanyDncRecord(datetime(2025, 1, 1, tzinfo=UTC))},
    {"covered": False},
    {"published": date(2025, 1, 1)},
])


@settings(max_examples=300, deadline=None)
@given(number=NUMBERS, at=INSTANTS, campaign=CAMPAIGNS, mode=MODES, consents=CONSENTS,
       extra=BLOCKING_FACTS, with_ebr=st.booleans())
def test_adding_a_blocking_fact_never_turns_block_into_allow(number, at, campaign, mode,
                                                             consents, extra, with_ebr):
    """Monotonic: if the call is blocked, a further blocking fact keeps it blocked."""
    ebr = EbrRecord(last_transaction=(at - timedelta(days=30)).date()) if with_ebr else None
    base = _decide(number, at, campaign, mode, consents=consents, ebr=ebr)
    worse = _decide(number, at, campaign, mode, consents=consents, ebr=ebr, **extra)
    if not base.allowed:
        assert not worse.allowed, worse.reason
    assert worse.allowed <= base.allowed


OFFSETS = st.integers(min_value=-12 * 4, max_value=14 * 4).map(
    lambda quarters: timezone(timedelta(minutes=15 * quarters)))


@settings(max_examples=300, deadline=None)
@given(number=NUMBERS, at=INSTANTS, campaign=CAMPAIGNS, mode=MODES, consents=CONSENTS,
       offset=OFFSETS, age=st.integers(min_value=0, max_value=40),
       ebr_age=st.integers(min_value=0, max_value=600))
def test_the_offset_an_instant_is_written_in_never_changes_the_verdict(
        number, at, campaign, mode, consents, offset, age, ebr_age):
    """Issue 17 kind 3: one instant, one verdict — dates are the called party's, not the
    writer's (list age, EBR terms, registration, pack dates)."""
    published = (at - timedelta(days=age)).date()
    ebr = EbrRecord(last_transaction=(at - timedelta(days=ebr_age)).date())
    facts = {"published": published, "consents": consents, "ebr": ebr,
             "listed": {"national": True}}
    utc = decide(number, at.isoformat(), campaign=campaign, mode=mode, **facts)
    other = decide(number, at.astimezone(offset).isoformat(), campaign=campaign, mode=mode,
                   **facts)
    assert (utc.verdict, utc.deciding) == (other.verdict, other.deciding)
    assert [(o.rule_id, o.status) for o in utc.outcomes] == [
        (o.rule_id, o.status) for o in other.outcomes]
