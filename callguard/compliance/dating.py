"""When a decision is dated, for `report` and `evidence`: one rule, and the bound it keeps.

A call (a front that places it on the answer: FastAGI, SIP, HTTP) is dated by its instant
``at``; a question about another instant (a scrub, `check --at`) by when it was asked, its
``logged_at``. An HTTP check may name any ``at`` (years 1900-2999): one about another day —
a dialer asking on Monday about Thursday's call, or about last month — is such a question
too, not a call placed then. So a call is dated by ``at`` only within ``CALL_SKEW`` of when
it was logged, and otherwise by when it was asked. That bound is what lets the readers cut
their reading by when records were made (the archive's days are the days records were
logged; closed segments are skipped by the instant they were closed): a range widened by
``CALL_SKEW`` on each side holds every decision dated inside it. Without the bound, an
HTTP decision about a day a month off was in the unfiltered report and in no report or
evidence of any range: `evidence --from/--to` answered "none", exit 0.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from callguard.compliance.reader import Record, logged_at
from callguard.front_names import DIALLING_FRONTS

__all__ = ["CALL_SKEW", "CALL_SKEW_US", "dated"]

CALL_SKEW = timedelta(days=2)
CALL_SKEW_US = int(CALL_SKEW / timedelta(microseconds=1))


def dated(record: Record) -> datetime | None:
    """The instant ``record`` is dated by, or None when it has no readable one."""
    logged = logged_at(record)
    text = record.get("at") if (record.get("event") == "decision"
                                and record.get("front") in DIALLING_FRONTS) else None
    if isinstance(text, str):
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            at = None
        if at is not None and at.tzinfo is not None and (
                logged is None or abs(logged - at) <= CALL_SKEW):
            return at
    return logged
