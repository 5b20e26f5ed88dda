"""A copy dated by the day of its import where that day has begun is 0 days old where it has
not (``callguard.policy.rules.base.copy_day``; lead, session 26).

README's daily cron dates the national copy with ``$(date +%F)`` at 05:00: on a UTC host that
is UTC's date while it is still the evening before in Hawaii and Alaska. Judged on the called
party's date the copy read as "from the future" and BLOCKed their calls from 19:00 (Hawaii) to
21:00 every day; the attribute lists (wireless, ported) made every such number of unknown
kind. The statute cases are ``us-federal.lead26.tests.toml``; these are the pure function and
the attribute lists, run by the shipped case runner as ``test_att20_number_kind`` runs it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from callguard.policy.rules.base import copy_day, latest_date
from tests.test_att20_number_kind import _with_kind_lists, check

AT = datetime(2026, 12, 7, 5, 30, tzinfo=UTC)  # 19:30 HST on 6 December; 19:30 on 7 Dec at UTC+14


def test_the_latest_date_anywhere_is_utc_plus_14():
    assert latest_date(AT) == date(2026, 12, 7)
    assert latest_date(datetime(2026, 12, 7, 10, 0, tzinfo=UTC)) == date(2026, 12, 8)
    assert latest_date(datetime(2026, 12, 7, 9, 59, 59, tzinfo=UTC)) == date(2026, 12, 7)


def test_a_copy_of_the_day_begun_elsewhere_is_judged_on_its_own_date():
    assert copy_day(date(2026, 12, 6), date(2026, 12, 7), AT) == date(2026, 12, 7)


def test_a_copy_dated_later_than_anywhere_keeps_the_call_s_date():
    assert copy_day(date(2026, 12, 6), date(2026, 12, 8), AT) == date(2026, 12, 6)


def test_an_older_copy_and_an_undated_one_keep_the_call_s_date():
    assert copy_day(date(2026, 12, 6), date(2026, 11, 30), AT) == date(2026, 12, 6)
    assert copy_day(date(2026, 12, 6), None, AT) == date(2026, 12, 6)


def test_a_honolulu_landline_is_shown_wireline_by_wireless_copies_imported_at_05_utc():
    """Before: "kind unknown: attr-wireless v1 is dated 2026-12-07, after the date of the
    call", so 64.1200(a)(2) asked a predictive call for written consent (BLOCK)."""
    check("""
name = "64.1200(a)(2): wireless copies dated 7 Dec read for a call at 19:30 HST on 6 Dec"
words = "64.1200(a)(2) reaches the lines of (a)(1)(i)-(iii)"
at = 2026-12-07T05:30:00Z
campaign = "ny-predictive"
number = "8085550123"
expect = "ALLOW"
[cases.lists]
attr-wireless = { loaded = true, published = 2026-12-07 }
attr-ported-wireless = { loaded = true, published = 2026-12-07 }
""", _with_kind_lists(["wireless"]))


def test_wireless_copies_dated_in_the_future_everywhere_still_leave_the_kind_unknown():
    check("""
name = "64.1200(a)(2): wireless copies dated 8 Dec at 05:30 UTC on 7 Dec are misdated"
words = "64.1200(a)(2) reaches the lines of (a)(1)(i)-(iii)"
at = 2026-12-07T05:30:00Z
campaign = "ny-predictive"
number = "8085550123"
expect = "BLOCK"
rule = "us-federal:64.1200(a)(2)"
[cases.lists]
attr-wireless = { loaded = true, published = 2026-12-08 }
attr-ported-wireless = { loaded = true, published = 2026-12-08 }
""", _with_kind_lists(["wireless"]))
