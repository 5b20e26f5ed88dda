"""Records that lift a block: consent to the solicitor, or an established business relationship.

A do-not-call request to the solicitor withdraws every consent given before it and ends
the relationship: consent is revocable by any reasonable means (47 CFR 64.1200(a)(10)),
and a seller-specific do-not-call request terminates an established business relationship
"even if the subscriber continues to do business with the seller" (64.1200(f)(5)(i)).
A consent given after the request (recorded as new consent) counts again. A request, a
revocation or an end dated after the call's instant (a ``check --at`` of an earlier instant,
a replay) had not been made when the call was: it withdraws nothing from that call.

A revocation of consent to automated calls ends every consent to them (``revocation_ends``:
an autodialer or a written consent revoked ends the other kind too, whichever the operator
named), and from a rule's ``revoke_all_from`` date (47 CFR 64.1200(a)(10) "revoke-all",
delayed to 2027-01-31: pack data) a revocation of ANY kind does: a consent given before the
revocation no longer lifts the block, and the blocking reason names the revocation. This is
read at the call, not only at the write, so a revocation recorded before this rule existed,
or imported, binds too.

A consent or relationship recorded on or before the number's last permanent disconnect
(reassigned-number data, read by the ``reassigned-numbers`` rule of 47 CFR 64.1200(m))
was the previous subscriber's: it does not count for the number's new subscriber.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, tzinfo

from callguard.errors import CallguardError
from callguard.policy.model import (
    AUTOMATED_CONSENT,
    CompanyDncRecord,
    ConsentKind,
    ConsentRecord,
    FactKind,
    ended_by_revocation,
    revocation_ends,
)
from callguard.policy.outcome import NeedFacts
from callguard.policy.rules.base import Context, LocalTime, Params
from callguard.policy.rules.number_kind import REASSIGNED_LIST
from callguard.policy.schema import Key

__all__ = [
    "EXEMPTION_KEYS",
    "REVOCATION_RULE_FROM",
    "EbrTerms",
    "Exemptions",
    "add_months",
    "consent_date",
    "disconnected_on",
    "earliest_local_date",
    "lists_read",
    "reassigned_unread",
    "request_made",
    "revocation_on_or_after",
    "unreadable_window",
    "window_fits",
    "window_offsets",
]

EXEMPTION_KEYS: Mapping[str, Key] = {
    "exempt_consent": Key("str-list", choices=tuple(k.value for k in ConsentKind),
                          doc="consent kinds that lift this rule's block"),
    "ebr_citation": Key("str", doc="the definition of the relationship that lifts the block"),
    "ebr_after_transaction_months": Key("int", low=1, high=240,
                                        doc="months a relationship lasts after a purchase "
                                            "or transaction; absent: until ended"),
    "ebr_after_inquiry_months": Key("int", low=1, high=240,
                                    doc="months a relationship lasts after an inquiry or "
                                        "application; absent: until ended"),
    "revoke_all_from": Key("date", doc="a revocation of any consent kind made on or after "
                                       "this date ends every consent to automated calls "
                                       "given before it (47 CFR 64.1200(a)(10) revoke-all)"),
}


# 47 CFR 64.1200(a)(10) ("any reasonable method"; revocation ends prior express written
# consent too) took effect on 2025-04-11 (89 FR 15756, its effective date announced later;
# us-federal pack notes). Before, the same right rested on the FCC's 2015 Declaratory Ruling
# (FCC 15-72, 30 FCC Rcd 7961), whose revocation holding ACA Int'l v. FCC, 885 F.3d 687
# (D.C. Cir. 2018) upheld (it set aside other parts of the ruling, the autodialer reading
# and the reassigned-number safe harbor, so "upheld" alone would overstate it to a
# compliance officer): a blocking reason for a call dated earlier cites that, not a rule
# not yet in force.
REVOCATION_RULE_FROM = date(2025, 4, 11)
_REVOCATION_BEFORE_RULE = (
    "FCC 15-72, 2015 Declaratory Ruling, 30 FCC Rcd 7961 (its revocation holding upheld, "
    "ACA Int'l v. FCC, 885 F.3d 687 (D.C. Cir. 2018)): consent may be revoked by any "
    "reasonable means that clearly expresses a desire not to receive further calls, so "
    "revoking consent to automated calls ends every such consent, a right codified as 47 CFR "
    "64.1200(a)(10) from 2025-04-11")


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Aug + 6 → 28/29 Feb)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _stamp(instant: datetime) -> str:
    """An instant as the blocking reason names a revocation: ``2026-12-05 11:40Z``."""
    return f"{instant.astimezone(UTC):%Y-%m-%d %H:%MZ}"


def request_made(ctx: Context) -> CompanyDncRecord | None:
    """The seller's do-not-call record if the request had been made by the call's instant."""
    request = ctx.facts.company_dnc
    return request if request is not None and request.made_by(ctx.attempt.judged_at) else None


def disconnected_on(ctx: Context) -> date | None:
    """The number's last permanent disconnect per the reassigned data read, or None."""
    check = ctx.facts.lists.get(REASSIGNED_LIST)
    return check.disconnected if check is not None else None


def reassigned_unread(ctx: Context) -> bool:
    """Whether the reassigned-number data this node served is lost or refused (the gate's
    ``CallAttempt.unread``, hrea24) and no copy was read: the disconnects it held cannot be
    applied, so no consent or relationship can be shown not void (hrev115)."""
    return (REASSIGNED_LIST in ctx.attempt.unread
            and ctx.facts.lists.get(REASSIGNED_LIST) is None)


# The blocking reason's words for a consent or relationship a lost copy leaves unchecked.
_LOST_COPY = (f"the copy of {REASSIGNED_LIST} this node served is lost or refused (see "
              "`callguard dnc status`), and a consent or relationship given before the "
              "number's permanent disconnect was the previous subscriber's (47 CFR "
              "64.1200(m)); import the newest copy again (`callguard attributes import FILE "
              "--kind reassigned ...`)")


def lists_read(rule: object) -> tuple[str, ...]:
    """The lists a rule reads: its own (``list_names``) and, when a consent or relationship
    can lift its block, the reassigned-number data that voids one given before the number's
    last permanent disconnect (``disconnected_on``).

    The gate fetches only the lists of the rules selected for the call's mode, and the
    ``reassigned-numbers`` rule covers predictive and prerecorded calls only: for a manual
    call the data was never read, so the previous subscriber's signed agreement or purchase
    lifted the national registry (64.1200(c)(2)) and the call was ALLOWed, while the statute
    case (which hands every rule every list) BLOCKed it."""
    own: tuple[str, ...] = getattr(rule, "list_names", ())
    exemptions = getattr(rule, "exemptions", None)
    if isinstance(exemptions, Exemptions) and exemptions.needs and REASSIGNED_LIST not in own:
        return (*own, REASSIGNED_LIST)
    return own


def consent_date(ctx: Context, record: ConsentRecord) -> date:
    """The date a consent was given, as the called party's calendar has it: the earliest
    local date of its instant among the candidate zones (UTC's when none is known).

    64.1200(m) compares "the date prior express consent was obtained" with a disconnect
    date; the instant decides, not the UTC offset it was recorded with (23:30 EST on the
    disconnect day is that day, however written). The earliest date voids the most
    (conservative, as "on or before" the disconnect voids)."""
    return earliest_local_date(record.granted_at, [lt.at.tzinfo for lt in ctx.local])


def earliest_local_date(instant: datetime, zones: Iterable[tzinfo | None]) -> date:
    """The earliest local date of ``instant`` among ``zones`` (UTC's when there is none):
    the gate's ``consent_date`` and `consent show`'s reassigned-number voiding both read a
    consent's date so."""
    dates = [instant.astimezone(zone).date() for zone in zones]
    return min(dates) if dates else instant.astimezone(UTC).date()


def window_fits(ctx: Context,
                local: Sequence[LocalTime] | None = None) -> Callable[[ConsentRecord], bool]:
    """A consent with a calling window counts only if it holds the local time in every zone
    of ``local`` (default: every candidate zone; calling hours pass the zones where the
    hours do not hold — where they do, the call needs no consent: hmut12).

    A window whose start is after its end crosses midnight ("22:00-02:00": consent to calls
    late at night, the very consent 13-25a-103(3) and 16 CFR 310.4(c) speak of): it holds
    from its start to midnight and from midnight to its end, both ends included.
    """

    def holds(window: tuple[time, time], moment: time) -> bool:
        start, end = window
        if start <= end:
            return start <= moment <= end
        return moment >= start or moment <= end

    zones = ctx.local if local is None else local

    def fits(record: ConsentRecord) -> bool:
        window = record.window
        if _offset_window(record):
            raise CallguardError(unreadable_window(record))
        return window is None or all(holds(window, lt.at.time()) for lt in zones)

    return fits


def window_offsets(window: Sequence[time]) -> str:
    """``20:00-23:00 stored with UTC offset +00:00``: the minutes and the offsets apart (run
    together, ``20:00+00:00-23:00`` reads as digits a log's number filter takes out)."""
    offsets = sorted({t.strftime("%z") for t in window if t.tzinfo is not None})
    offsets = [f"{o[:3]}:{o[3:]}" if len(o) == 5 else o for o in offsets]
    return ("-".join(f"{t:%H:%M}" for t in window)
            + (f" stored with UTC offset {' and '.join(offsets)}" if offsets else ""))


def unreadable_window(record: ConsentRecord) -> str:
    """Why a consent's window stored WITH a UTC offset cannot lift a block. An older
    callguard stored ``--window 20:00+00:00`` as given; a window is the called party's wall
    clock, so which hours the person agreed to cannot be known (the offset's, or the
    clock's?), and comparing it with the local time raised TypeError: every check needing
    the consent was a bare ``internal error (TypeError)`` that named no record and no fix.
    The gate fails closed on it: the consent lifts no rule, and a rule it would have
    lifted BLOCKs with this reason (``Exemptions.withdrawn``).

    Only a calling-hours consent has a window now (``consent add`` refuses ``--window`` on
    another kind): for an autodialer or written consent an older callguard stored with one,
    the fix named is the consent recorded again without it (the command as shown works)."""
    kind = record.kind.value
    if record.kind is ConsentKind.CALLING_HOURS:
        fix = (f"`callguard consent add NUMBER --kind {kind} --window HH:MM-HH:MM --granted "
               "WHEN` with the hours the person agreed to and when the consent was given")
    else:
        fix = (f"`callguard consent add NUMBER --kind {kind} --granted WHEN` with when the "
               "consent was given, without a window (only a calling-hours consent has one)")
    return (f"the {kind} consent given {record.granted_at:%Y-%m-%d} has its "
            f"window {window_offsets(record.window or ())}, written by an older callguard: "
            "it cannot be read as the called party's clock and lifts nothing; re-record the "
            f"consent: {fix} (a readable consent of this kind on record is read instead); "
            "do not `callguard consent revoke` it to repair it: a revocation is recorded as "
            "the person's, and from the revoke-all date (47 CFR 64.1200(a)(10)) it ends "
            "every consent to automated calls")


def revocation_on_or_after(start: date, revoked_at: datetime,
                           zones: Iterable[tzinfo | None]) -> bool:
    """Whether ``revoked_at`` falls on or after the day ``start``: its latest local date
    among ``zones`` decides (UTC's when there is none; the latest reaches the most, fail
    closed). The gate's revoke-all and `consent show` both read a revocation's date so."""
    dates = [revoked_at.astimezone(zone).date() for zone in zones]
    return (max(dates) if dates else revoked_at.astimezone(UTC).date()) >= start


@dataclass(frozen=True, slots=True)
class EbrTerms:
    """How long an established business relationship lasts; None means until ended."""

    after_transaction_months: int | None
    after_inquiry_months: int | None
    citation: str

    @classmethod
    def from_params(cls, params: Params) -> EbrTerms | None:
        """Read ``ebr_*`` keys; absent ``ebr_citation`` means no EBR exemption."""
        citation = params.get("ebr_citation")
        if citation is None:
            stray = [k for k in ("ebr_after_transaction_months", "ebr_after_inquiry_months")
                     if params.has(k)]
            if stray:
                raise params.error(f"{', '.join(stray)} given without ebr_citation: a "
                                   "relationship exemption needs the definition it rests on")
            return None
        return cls(params.get("ebr_after_transaction_months"),
                   params.get("ebr_after_inquiry_months"), citation)

    def describe_valid(self, ctx: Context) -> str | None:
        """Why the relationship holds on the date of the call, or None if it does not."""
        record = ctx.facts.ebr
        if (record is None or record.ended_by(ctx.attempt.judged_at)
                or request_made(ctx) is not None):
            return None
        today = ctx.call_date
        cut = disconnected_on(ctx)  # a relationship with the number's previous subscriber
        for last, months, what in (
            (record.last_transaction, self.after_transaction_months, "transaction"),
            (record.last_inquiry, self.after_inquiry_months, "inquiry"),
        ):
            # "within the eighteen (18) months immediately preceding the date of the
            # telephone call" (64.1200(f)(5)): a purchase or inquiry dated the call's own
            # date is not before that date, and a date alone cannot show it came before
            # the call's instant (hmut12).
            if last is None or last >= today or (cut is not None and last <= cut):
                continue
            if months is None:
                return f"established business relationship ({what} {last}, not ended)"
            if today <= add_months(last, months):
                return (f"established business relationship ({what} {last}, "
                        f"within {months} months, {self.citation})")
        return None


@dataclass(frozen=True, slots=True)
class Exemptions:
    """The consent kinds and EBR terms that lift one rule's block."""

    consent_kinds: frozenset[ConsentKind]
    ebr: EbrTerms | None
    revoke_all_from: date | None = None

    @classmethod
    def from_params(cls, params: Params) -> Exemptions:
        """Read ``exempt_consent``, the ``ebr_*`` keys and ``revoke_all_from``."""
        names = params.get("exempt_consent", [])
        kinds = frozenset(ConsentKind(name) for name in names)
        revoke_all = params.get("revoke_all_from")
        if revoke_all is not None and not kinds & AUTOMATED_CONSENT:
            raise params.error("revoke_all_from given without an automated consent kind "
                               "(autodialer, written) in exempt_consent: it would end nothing")
        return cls(kinds, EbrTerms.from_params(params), revoke_all)

    @property
    def needs(self) -> frozenset[FactKind]:
        """The fact kinds that could exempt (the do-not-call record can withdraw them)."""
        kinds = set()
        if self.consent_kinds:
            kinds.add(FactKind.CONSENT)
        if self.ebr is not None:
            kinds.add(FactKind.EBR)
        if kinds:
            kinds.add(FactKind.COMPANY_DNC)
        return frozenset(kinds)

    def ended_by(self, ctx: Context, record: ConsentRecord) -> ConsentRecord | None:
        """The earliest revocation of ANOTHER consent on record that ended ``record`` by the
        call's judging instant, or None.

        Only a consent to automated calls is ended so, and only one given at or before the
        revocation (a consent given after it counts again; at its very instant: ended, fail
        closed). The revocation of an automated kind ends it always (64.1200(a)(10)); one of
        any kind made on or after ``revoke_all_from`` does too (``ended_by_revocation``)."""
        return ended_by_revocation(record, ctx.facts.consents, ctx.attempt.judged_at,
                                   lambda revoked: self._revokes_all(ctx, revoked))

    def _revokes_all(self, ctx: Context, revoked_at: datetime) -> bool:
        """Whether a revocation at ``revoked_at`` was made on or after the revoke-all date,
        in the candidate zones (``revocation_on_or_after``)."""
        start = self.revoke_all_from
        return start is not None and revocation_on_or_after(
            start, revoked_at, [lt.at.tzinfo for lt in ctx.local])

    def _not_withdrawn(self, ctx: Context, record: ConsentRecord) -> bool:
        request = request_made(ctx)
        cut = disconnected_on(ctx)
        if cut is not None and consent_date(ctx, record) <= cut:
            return False  # given by the subscriber before the number was reassigned
        if request is not None and record.granted_at <= request.added_at:
            return False
        return self.ended_by(ctx, record) is None

    def find(
        self, ctx: Context, consent_fits: Callable[[ConsentRecord], bool] | None = None
    ) -> str | NeedFacts | None:
        """Describe the record that exempts this call, ask for facts, or None. None too
        while the reassigned-number data is lost (``reassigned_unread``): a consent or
        relationship it may have voided lifts no rule (hrev115: a manual call to a
        registered number was ALLOWed on one; ``ReassignedNumbers`` covers automated
        calls only)."""
        missing = self.needs - ctx.facts.fetched
        if missing:
            return NeedFacts(missing)
        found = self._find(ctx, consent_fits)
        return None if found is not None and reassigned_unread(ctx) else found

    def _find(self, ctx: Context,
              consent_fits: Callable[[ConsentRecord], bool] | None) -> str | None:
        for record in self._standing(ctx):
            if _offset_window(record):
                # A window stored with a UTC offset (``unreadable_window``): it lifts
                # nothing, in any rule (a rule that reads no window, 64.1200(a)(2) or
                # (c)(2), honoured such a written consent while `consent show` and
                # `evidence` called it not valid); read the other records (a readable one,
                # or a relationship, may lift the rule). When none does, the rule BLOCKs
                # itself and ``withdrawn`` names the record and its fix (examiner 8:
                # raised, it was a bare callguard:internal-error that hid every other
                # rule's outcome).
                continue
            if consent_fits is None or consent_fits(record):
                return f"{record.kind.value} consent given {record.granted_at:%Y-%m-%d}"
        if self.ebr is not None and (found := self.ebr.describe_valid(ctx)) is not None:
            return found
        return None

    def _standing(self, ctx: Context) -> list[ConsentRecord]:
        """The consents of this rule's kinds valid at the call and not withdrawn."""
        attempt = ctx.attempt
        return [r for r in ctx.facts.consents
                if r.kind in self.consent_kinds
                and r.valid_at(attempt.at, attempt.judged_at)
                and self._not_withdrawn(ctx, r)]

    def _revocation(self, ctx: Context, record: ConsentRecord,
                    by: ConsentRecord | None) -> str:
        """``revoked INSTANT`` for a consent revoked itself by the call (given before it),
        ``ended by the revocation of KIND consent INSTANT (law)`` for one another
        revocation ended (``by``), else ``""``."""
        attempt = ctx.attempt
        if by is None:
            at = record.revoked_at
            if at is None or record.granted_at >= attempt.at or at > attempt.judged_at:
                return ""  # expired, or not given before the call: nothing revoked it
            return f"revoked {_stamp(at)}"
        if by.revoked_at is None:
            return ""
        law = (("47 CFR 64.1200(a)(10): revoking consent to automated calls, prior express "
                "written consent included, ends every such consent"
                if ctx.call_date >= REVOCATION_RULE_FROM else _REVOCATION_BEFORE_RULE)
               if record.kind in revocation_ends(by.kind) else
               f"47 CFR 64.1200(a)(10) revoke-all, from {self.revoke_all_from}: a revocation "
               "of any consent ends every consent to automated calls")
        return (f"ended by the revocation of {by.kind.value} consent {_stamp(by.revoked_at)} "
                f"({law})")

    def withdrawn(self, ctx: Context) -> str:
        """``; <what> withdrawn by the do-not-call request of DATE``, ``; <what> void:
        the number was permanently disconnected on DATE``, ``; <what> revoked INSTANT`` and
        ``; <what> ended by the revocation of <kind> consent INSTANT (law)`` when that ended
        a consent or relationship (for the blocking reason: which revocation ended which
        consent), else ``""``."""
        cut = disconnected_on(ctx)
        request = request_made(ctx)
        void: list[str] = []
        ended: list[str] = []
        revoked: list[str] = []
        attempt = ctx.attempt
        for r in ctx.facts.consents:
            if r.kind not in self.consent_kinds:
                continue
            what = f"{r.kind.value} consent of {r.granted_at:%Y-%m-%d}"
            valid = r.valid_at(attempt.at, attempt.judged_at)
            if valid and cut is not None and consent_date(ctx, r) <= cut:
                void.append(what)
            elif valid and request is not None and r.granted_at <= request.added_at:
                ended.append(what)
            elif gone := self._revocation(ctx, r, self.ended_by(ctx, r) if valid else None):
                revoked.append(f"{what} {gone}")
        ebr = ctx.facts.ebr
        if self.ebr is not None and ebr is not None and not ebr.ended_by(ctx.attempt.judged_at):
            lasts = [d for d in (ebr.last_transaction, ebr.last_inquiry) if d is not None]
            if cut is not None and lasts and max(lasts) <= cut:
                void.append("the business relationship")
            elif request is not None:
                ended.append("the business relationship")
        text = ""
        if void:
            text += (f"; {' and '.join(void)} void: the number was permanently disconnected "
                     f"on {cut:%Y-%m-%d} (47 CFR 64.1200(m): reassigned-number data; the "
                     "new subscriber gave no consent)")
        if ended and request is not None:
            text += (f"; {' and '.join(ended)} withdrawn by the do-not-call request of "
                     f"{request.added_at:%Y-%m-%d}")
        if revoked:
            text += f"; {'; '.join(revoked)}"
        if reassigned_unread(ctx) and (lost := self._find(ctx, None)) is not None:
            text += f"; {lost} not honoured: {_LOST_COPY}"
        return text + self._unreadable(ctx)

    def _unreadable(self, ctx: Context) -> str:
        """``; <why and the fix>`` for each standing consent whose window was stored with a
        UTC offset (``unreadable_window``): it lifted nothing, and the rule's BLOCK says so.

        Not once a readable consent of its kind stands (the consent recorded again, the
        fix done): that one decided, and "re-record the consent" again would send the
        admin to record it a third time, with other hours, to make the BLOCK go away."""
        standing = self._standing(ctx)
        bad = [r for r in standing if _offset_window(r)]
        readable = {r.kind for r in standing if not _offset_window(r)}
        return "".join(f"; {unreadable_window(r)}" for r in bad if r.kind not in readable)


def _offset_window(record: ConsentRecord) -> bool:
    """Whether the consent's window was stored with a UTC offset (``unreadable_window``)."""
    return record.window is not None and any(t.tzinfo is not None for t in record.window)
