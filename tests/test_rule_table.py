"""Each rule of each pack walked at its boundaries; every row names the subsection it checks.

July 2026 in Utah is MDT (UTC-6). 2026-07-22 is a Wednesday; 2026-07-24 (Pioneer Day) a
Friday; 2026-07-26 a Sunday. DST starts 2026-03-08 and ends 2026-11-01 (America/Denver).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import pytest

from callguard.policy import (
    CompanyDncRecord,
    ConsentKind,
    ConsentRecord,
    DialingMode,
    EbrRecord,
    Registration,
    Status,
)
from tests.conftest import NY_CAMPAIGN, UT_CAMPAIGN, decide

GRANTED = datetime(2026, 1, 1, tzinfo=UTC)
HB45 = "us-ut-hb45-2000"


def written() -> ConsentRecord:
    return ConsentRecord(ConsentKind.WRITTEN, GRANTED)


def outcome(verdict, rule_id):
    return next(o for o in verdict.outcomes if o.rule_id == rule_id)


# (label, kwargs for decide, expected verdict, expected deciding rule or None)
CALLING_HOURS = [
    ("H.B. 45 106(1)(f): 08:59 is before 9 a.m.",
     {"at": "2026-07-22T08:59:00-06:00"}, "BLOCK", f"{HB45}:13-26a-106(1)(f)"),
    ("H.B. 45 106(1)(f): 09:00 is callable",
     {"at": "2026-07-22T09:00:00-06:00"}, "ALLOW", None),
    ("H.B. 45 106(1)(f): 19:59 is callable",
     {"at": "2026-07-22T19:59:00-06:00"}, "ALLOW", None),
    ("H.B. 45 106(1)(f): 20:01 is after 8 p.m.",
     {"at": "2026-07-22T20:01:00-06:00"}, "BLOCK", f"{HB45}:13-26a-106(1)(f)"),
    ("64.1200(c)(1) / 13-25a-103(3): 07:59 is before 8 a.m. (federal decides: lower precedence"
     " ties go to the first pack)",
     {"at": "2026-07-22T07:59:00-06:00"}, "BLOCK", "us-federal:64.1200(c)(1)"),
    ("64.1200(c)(1): 21:01 is after 9 p.m.",
     {"at": "2026-07-22T21:01:00-06:00"}, "BLOCK", "us-federal:64.1200(c)(1)"),
    ("64.1200(c)(1): New York 08:30 EDT is inside federal hours; no Utah pack for a NY campaign"
     " to a NY number",
     {"number": "2125550123", "at": "2026-07-22T08:30:00-04:00", "campaign": NY_CAMPAIGN,
      "mode": DialingMode.MANUAL}, "ALLOW", None),
    ("H.B. 45 102(16): a Utah-origin call to New York at 08:30 EDT is before 9 a.m.",
     {"number": "2125550123", "at": "2026-07-22T08:30:00-04:00"}, "BLOCK",
     f"{HB45}:13-26a-106(1)(f)"),
]

REST_DAYS = [
    ("13-25a-103(3): Sunday 2026-07-26 blocks",
     {"at": "2026-07-26T11:00:00-06:00"}, "BLOCK", "us-ut:13-25a-103(3):sunday-holiday"),
    ("13-25a-103(3): Saturday 2026-07-25 is callable",
     {"at": "2026-07-25T11:00:00-06:00"}, "ALLOW", None),
    ("13-25a-103(3) with 63G-1-301: Pioneer Day, 24 July, blocks",
     {"at": "2026-07-24T11:00:00-06:00"}, "BLOCK", "us-ut:13-25a-103(3):sunday-holiday"),
    ("13-25a-103(3): the called party's local date decides — 17:00 UTC on 24 July is Pioneer"
     " Day in Denver",
     {"at": "2026-07-24T17:00:00+00:00"}, "BLOCK", "us-ut:13-25a-103(3):sunday-holiday"),
    ("13-25a-103(3): 05:30 UTC on 24 July is still 23 July in Denver (and after hours there)",
     {"at": "2026-07-24T05:30:00+00:00"}, "BLOCK", "us-federal:64.1200(c)(1)"),
    ("13-25a-103(3): consent to be called at other times lifts the Sunday block",
     {"at": "2026-07-26T11:00:00-06:00",
      "consents": (ConsentRecord(ConsentKind.CALLING_HOURS, GRANTED),)}, "ALLOW", None),
]

LISTS = [
    ("64.1200(c)(2): on the national registry blocks",
     {"listed": {"national": True}}, "BLOCK", "us-federal:64.1200(c)(2)"),
    ("64.1200(f)(5): EBR transaction 18 months ago lifts the federal block, but 13-25a-108 has"
     " no such exemption in our texts",
     {"listed": {"national": True}, "ebr": EbrRecord(last_transaction=date(2025, 1, 22))},
     "BLOCK", "us-ut:13-25a-108"),
    ("64.1200(f)(5): federal EBR inside 18 months after a transaction (New York)",
     {"number": "2125550123", "at": "2026-07-22T11:00:00-04:00", "campaign": NY_CAMPAIGN,
      "mode": DialingMode.MANUAL, "listed": {"national": True},
      "ebr": EbrRecord(last_transaction=date(2025, 1, 22))}, "ALLOW", None),
    ("64.1200(f)(5): federal EBR one day past 18 months after a transaction (New York)",
     {"number": "2125550123", "at": "2026-07-22T11:00:00-04:00", "campaign": NY_CAMPAIGN,
      "mode": DialingMode.MANUAL, "listed": {"national": True},
      "ebr": EbrRecord(last_transaction=date(2025, 1, 21))}, "BLOCK",
     "us-federal:64.1200(c)(2)"),
    ("64.1200(f)(5): federal EBR inside 3 months after an inquiry (New York)",
     {"number": "2125550123", "at": "2026-07-22T11:00:00-04:00", "campaign": NY_CAMPAIGN,
      "mode": DialingMode.MANUAL, "listed": {"national": True},
      "ebr": EbrRecord(last_inquiry=date(2026, 4, 22))}, "ALLOW", None),
    ("64.1200(f)(5): federal EBR outside 3 months after an inquiry (New York)",
     {"number": "2125550123", "at": "2026-07-22T11:00:00-04:00", "campaign": NY_CAMPAIGN,
      "mode": DialingMode.MANUAL, "listed": {"national": True},
      "ebr": EbrRecord(last_inquiry=date(2026, 4, 21))}, "BLOCK", "us-federal:64.1200(c)(2)"),
    ("64.1200(c)(2)(i)(D): national copy 31 days old is fresh",
     {"published": date(2026, 6, 21)}, "ALLOW", None),
    ("64.1200(c)(2)(i)(D): national copy 32 days old is stale",
     {"published": date(2026, 6, 20)}, "BLOCK", "us-federal:64.1200(c)(2)(i)(D)"),
    ("H.B. 45 105(1)(b): state list published exactly 3 months ago is fresh",
     {"published": {"ut-state": date(2026, 4, 22)}}, "ALLOW", None),
    ("H.B. 45 105(1)(b): state list published 3 months and a day ago is stale",
     {"published": {"ut-state": date(2026, 4, 21)}}, "BLOCK", f"{HB45}:13-26a-105(1)(b)"),
    ("H.B. 45 106(1)(g): on the state list blocks",
     {"listed": {"ut-state": True}}, "BLOCK", f"{HB45}:13-26a-106(1)(g)"),
    ("64.1200(c)(2): a list that does not cover the area code blocks",
     {"covered": False}, "BLOCK", "us-federal:64.1200(c)(2)"),
    ("64.1200(d)(3): the seller's own do-not-call list blocks",
     {"company_dnc": CompanyDncRecord(GRANTED)}, "BLOCK", "us-federal:64.1200(d)(3)"),
]

CONSENT = [
    ("64.1200(a)(2): predictive to a possibly wireless number needs written consent",
     {"mode": DialingMode.PREDICTIVE}, "BLOCK", "us-federal:64.1200(a)(2)"),
    ("64.1200(a)(2): written consent to this solicitor allows predictive",
     {"mode": DialingMode.PREDICTIVE, "consents": (written(),)}, "ALLOW", None),
    ("13-25a-103(2): prerecorded with written consent to this solicitor",
     {"mode": DialingMode.PRERECORDED, "consents": (written(),)}, "ALLOW", None),
    ("13-25a-103(2): autodialer consent alone does not satisfy federal 64.1200(a)(2)",
     {"mode": DialingMode.PRERECORDED,
      "consents": (ConsentRecord(ConsentKind.AUTODIALER, GRANTED),)}, "BLOCK",
     "us-federal:64.1200(a)(2)"),
    ("64.1200(a)(2): revoked written consent no longer counts",
     {"mode": DialingMode.PREDICTIVE,
      "consents": (ConsentRecord(ConsentKind.WRITTEN, GRANTED,
                                 revoked_at=datetime(2026, 3, 1, tzinfo=UTC)),)},
     "BLOCK", "us-federal:64.1200(a)(2)"),
    ("64.1200(a)(2): expired written consent no longer counts",
     {"mode": DialingMode.PREDICTIVE,
      "consents": (ConsentRecord(ConsentKind.WRITTEN, GRANTED,
                                 expires_at=datetime(2026, 7, 1, tzinfo=UTC)),)},
     "BLOCK", "us-federal:64.1200(a)(2)"),
    ("64.1200(a)(2): consent given after the call instant does not count",
     {"mode": DialingMode.PREDICTIVE,
      "consents": (ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 8, 1, tzinfo=UTC)),)},
     "BLOCK", "us-federal:64.1200(a)(2)"),
]


@pytest.mark.parametrize(("label", "kwargs", "verdict", "rule"),
                         CALLING_HOURS + REST_DAYS + LISTS + CONSENT,
                         ids=[r[0][:60] for r in CALLING_HOURS + REST_DAYS + LISTS + CONSENT])
def test_rule_table(label, kwargs, verdict, rule):
    """Each row: the statute's situation, the verdict and the deciding rule."""
    result = decide(**kwargs)
    assert result.verdict == verdict, (label, result.reason)
    assert (result.deciding.rule_id if result.deciding else None) == rule, (label, result.reason)


class TestUtahBusinessRelationship:
    """13-25a-103(2) with 13-25a-102(4): an EBR lasts 18 months after the last contact."""

    RULE = "us-ut:13-25a-103(2)"

    def test_inside_18_months_after_an_inquiry_satisfies_utah(self):
        """Inquiry on 2025-01-22, call on 2026-07-22: exactly 18 months, still valid."""
        result = decide(mode=DialingMode.PRERECORDED,
                        ebr=EbrRecord(last_inquiry=date(2025, 1, 22)))
        assert outcome(result, self.RULE).status is Status.PASS
        # Federal 64.1200(a)(3) still needs written consent for prerecorded calls.
        assert result.deciding.rule_id == "us-federal:64.1200(a)(2)"

    def test_outside_18_months_blocks_under_utah(self):
        """Inquiry on 2025-01-21: 18 months and a day."""
        result = decide(mode=DialingMode.PRERECORDED,
                        ebr=EbrRecord(last_inquiry=date(2025, 1, 21)))
        assert outcome(result, self.RULE).status is Status.BLOCK

    def test_ended_relationship_does_not_count(self):
        """A do-not-call request ends the relationship (64.1200(f)(5)(i), 13-25a-102(4))."""
        result = decide(mode=DialingMode.PRERECORDED,
                        ebr=EbrRecord(last_transaction=date(2026, 7, 1),
                                      ended_at=datetime(2026, 7, 10, tzinfo=UTC)))
        assert outcome(result, self.RULE).status is Status.BLOCK

    def test_hb45_relationship_has_no_duration(self):
        """Proposed 13-26a-102(7): until terminated; a 2015 transaction still passes 107."""
        result = decide(mode=DialingMode.PRERECORDED,
                        ebr=EbrRecord(last_transaction=date(2015, 1, 1)))
        assert outcome(result, f"{HB45}:13-26a-107").status is Status.PASS
        assert outcome(result, self.RULE).status is Status.BLOCK


class TestDaylightSaving:
    """Local time follows the zone's DST rules (13-25a-103(3), 64.1200(c)(1))."""

    def test_dst_start_week_0859_mdt_blocks_under_hb45(self):
        """2026-03-09 (the Monday after DST starts): 14:59 UTC is 08:59 MDT, before 9 a.m."""
        result = decide(at="2026-03-09T14:59:00+00:00", published=date(2026, 3, 1))
        assert result.deciding.rule_id == f"{HB45}:13-26a-106(1)(f)"

    def test_dst_start_week_same_utc_a_week_earlier_is_0759_mst(self):
        """2026-03-02, still MST: 14:59 UTC is 07:59, before the federal 8 a.m."""
        result = decide(at="2026-03-02T14:59:00+00:00", published=date(2026, 3, 1))
        assert result.deciding.rule_id == "us-federal:64.1200(c)(1)"

    def test_dst_end_week_2001_mst_blocks_under_hb45(self):
        """2026-11-02 (after DST ends): 03:01 UTC on 3 Nov is 20:01 MST on 2 Nov."""
        result = decide(at="2026-11-03T03:01:00+00:00", published=date(2026, 10, 20))
        assert result.deciding.rule_id == f"{HB45}:13-26a-106(1)(f)"

    def test_dst_end_week_1959_mst_allowed(self):
        """2026-11-02 19:59 MST (02:59 UTC on 3 Nov) is inside every window."""
        result = decide(at="2026-11-03T02:59:00+00:00", published=date(2026, 10, 20))
        assert result.allowed, result.reason


class TestSolicitorSpecificConsent:
    """Consent binds one solicitor (13-25a-103(2): 'from a specific solicitor')."""

    def test_consent_to_another_solicitor_does_not_count(self):
        """Records are looked up per solicitor; another seller's consent never reaches us."""
        mine = decide(mode=DialingMode.PREDICTIVE, consents=(written(),))
        other = decide(mode=DialingMode.PREDICTIVE, consents=())  # the store returns none
        assert mine.allowed
        assert other.deciding.rule_id == "us-federal:64.1200(a)(2)"

    def test_calling_hours_consent_window_must_hold(self):
        """13-25a-103(3): consent to 07:00-22:00 lifts a 07:30 block; to 07:45-22:00 it does not."""
        early = "2026-07-22T07:30:00-06:00"
        wide = ConsentRecord(ConsentKind.CALLING_HOURS, GRANTED, window=(time(7), time(22)))
        narrow = ConsentRecord(ConsentKind.CALLING_HOURS, GRANTED, window=(time(7, 45), time(22)))
        assert decide(at=early, consents=(wide,)).allowed
        assert not decide(at=early, consents=(narrow,)).allowed


class TestScopeAndRegistration:
    """Which packs apply, and H.B. 45's registration rule (106(1)(a), 104)."""

    def test_utah_packs_skip_a_new_york_call_from_new_york(self):
        """Neither Utah pack applies: called party and origin are outside Utah."""
        result = decide("2125550123", "2026-07-22T11:00:00-04:00", campaign=NY_CAMPAIGN,
                        mode=DialingMode.MANUAL)
        applies = {p.pack_id: p.applies for p in result.packs}
        assert applies == {"us-federal": True, "us-ut": False, HB45: False}

    def test_crm_postal_code_in_utah_brings_the_utah_packs(self):
        """13-25a-108: a non-Utah number whose holder is known to be in Utah."""
        result = decide("2125550123", "2026-07-22T11:00:00-04:00", campaign=NY_CAMPAIGN,
                        mode=DialingMode.MANUAL, location="84101")
        assert all(p.applies for p in result.packs)
        assert "America/Denver" in result.time_zones

    def test_expired_registration_blocks_under_hb45(self):
        """H.B. 45 106(1)(a): a lapsed registration is no registration."""
        from dataclasses import replace

        lapsed = replace(UT_CAMPAIGN, registration=Registration("UT-TS-1", date(2026, 7, 21)))
        result = decide(campaign=lapsed)
        assert result.deciding.rule_id == f"{HB45}:13-26a-106(1)(a)"

    def test_claimed_exemption_under_104_passes(self):
        """H.B. 45 104(1)(c): an insurer claims the exemption (called party in Utah)."""
        result = decide("8015550123", campaign=NY_CAMPAIGN, mode=DialingMode.MANUAL)
        assert outcome(result, f"{HB45}:13-26a-106(1)(a)").status is Status.EXEMPT

    def test_no_caller_id_blocks(self):
        """H.B. 45 106(4), 13-25a-103(6), 64.1601(e): no number to present, no call."""
        from dataclasses import replace

        result = decide(campaign=replace(UT_CAMPAIGN, caller_id=""))
        assert result.deciding.rule_id == "us-federal:64.1601(e)"


class TestObligations:
    """Duties after dialling: the shortest line release, the longest ring."""

    def test_prerecorded_release_is_federal_5_seconds(self):
        """47 U.S.C. 227(d)(3)(B) (5 s) is stricter than 13-25a-103(5)(e) (25 s)."""
        result = decide(mode=DialingMode.PRERECORDED, consents=(written(),))
        assert result.obligations.line_release_seconds == 5
        assert result.obligations.line_release_citation == "47 U.S.C. 227(d)(3)(B)"

    def test_predictive_release_is_utah_25_seconds_and_ring_15(self):
        """13-25a-103(5)(e) 25 s; 64.1200(a)(6) 15 s / 4 rings."""
        result = decide(mode=DialingMode.PREDICTIVE, consents=(written(),))
        assert result.obligations.line_release_seconds == 25
        assert (result.obligations.min_ring_seconds, result.obligations.min_rings) == (15, 4)


class TestLocalTimeUnknown:
    """A number without usable geography needs the CRM's location."""

    def test_toll_free_without_location_blocks(self):
        """Fallback 'block': the called party's local time is unknown."""
        result = decide("8005550123")
        assert not result.allowed
        assert "local time unknown" in result.reason

    def test_toll_free_with_crm_zone_is_judged_there(self):
        """With the CRM zone the calling-hours rules can hold."""
        result = decide("8005550123", location="America/Denver", listed={})
        assert result.time_zones == ("America/Denver",)
        assert outcome(result, "us-federal:64.1200(c)(1)").status is Status.PASS

    def test_every_candidate_zone_must_hold(self):
        """Number in Denver, CRM in New York: 08:30 MDT is 10:30 EDT, but 20:30 EDT at 18:30 MDT."""
        ok = decide("8015550123", "2026-07-22T11:00:00-06:00", location="10001")
        late = decide("8015550123", "2026-07-22T18:30:00-06:00", location="10001")
        assert ok.allowed, ok.reason
        assert set(late.time_zones) == {"America/Denver", "America/New_York"}
        assert late.deciding.rule_id == f"{HB45}:13-26a-106(1)(f)"
        assert "America/New_York" in late.deciding.reason


class TestFax:
    """H.B. 45 (2000, as introduced) counts a fax as a telephone call (proposed
    13-26a-102(13)-(14)) and adds proposed 13-26a-108: consent to this solicitor or a
    relationship. The enacted and federal packs encode voice rules only."""

    FAX_RULE = f"{HB45}:13-26a-108(1)"

    def fax_consent(self) -> ConsentRecord:
        return ConsentRecord(ConsentKind.FAX, GRANTED)

    def test_fax_without_consent_or_relationship_blocks_under_108(self):
        result = decide(mode=DialingMode.FAX)
        assert result.deciding is not None
        assert result.deciding.rule_id == self.FAX_RULE
        assert "fax calls need fax consent to beehive-solar" in result.deciding.reason

    def test_fax_consent_allows_and_voice_rules_do_not_apply(self):
        result = decide(mode=DialingMode.FAX, consents=(self.fax_consent(),))
        assert result.allowed, result.reason
        assert outcome(result, self.FAX_RULE).status is Status.PASS
        assert outcome(result, self.FAX_RULE).reason == "fax consent given 2026-01-01"
        federal = outcome(result, "us-federal:64.1200(c)(1)")
        assert federal.status is Status.NOT_APPLICABLE
        assert "covers manual, predictive, prerecorded calls only" in federal.reason

    def test_voice_consent_does_not_cover_faxes(self):
        result = decide(mode=DialingMode.FAX, consents=(written(),))
        assert result.deciding is not None
        assert result.deciding.rule_id == self.FAX_RULE

    def test_relationship_allows_a_fax_under_108_2_b(self):
        result = decide(mode=DialingMode.FAX, ebr=EbrRecord(last_transaction=date(2026, 6, 1)))
        assert result.allowed, result.reason

    def test_fax_at_0830_blocks_under_the_bills_hours(self):
        result = decide(mode=DialingMode.FAX, at="2026-07-22T08:30:00-06:00",
                        consents=(self.fax_consent(),))
        assert result.deciding is not None
        assert result.deciding.rule_id == f"{HB45}:13-26a-106(1)(f)"

    def test_fax_to_a_listed_number_blocks_under_106_1_g(self):
        result = decide(mode=DialingMode.FAX, consents=(self.fax_consent(),),
                        listed={"ut-state": True})
        assert result.deciding is not None
        assert result.deciding.rule_id == f"{HB45}:13-26a-106(1)(g)"

    def test_fax_no_pack_covers_fails_closed(self):
        result = decide("2125550123", "2026-07-22T11:00:00-04:00", campaign=NY_CAMPAIGN,
                        mode=DialingMode.FAX)
        assert not result.allowed
        assert result.deciding is not None
        assert result.deciding.rule_id == "callguard:no-pack"
        assert "covers fax calls" in result.deciding.reason
