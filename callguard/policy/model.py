"""What the policy decides about: a call attempt, and the facts gathered for it.

Everything here is a frozen value. The policy never fetches: the gate gathers
facts from the stores and hands them in; a fact the gate did not fetch is
absent from ``Facts.fetched`` and a rule that needs it asks for it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time

from callguard.frozen import quick_init
from callguard.numbers import Location, NumberInfo

__all__ = [
    "AUTOMATED_CONSENT",
    "RESERVING",
    "CallAttempt",
    "Campaign",
    "CompanyDncRecord",
    "ConsentKind",
    "ConsentRecord",
    "DialingMode",
    "EbrRecord",
    "FactKind",
    "Facts",
    "ListCheck",
    "Registration",
    "RegistrationExemption",
    "ended_by_revocation",
    "revocation_ends",
    "with_seller_subjects",
]


class DialingMode(enum.StrEnum):
    """How the call is placed; the law treats each differently."""

    MANUAL = "manual"  # a person dials and talks
    PREDICTIVE = "predictive"  # a machine dials, a live agent talks
    PRERECORDED = "prerecorded"  # a machine dials and plays a recorded or artificial voice
    # A facsimile transmission: H.B. 45 (2000, as introduced), proposed 13-26a-102(13)-(14),
    # counts it as a telephone call and solicitation. Pack rules cover it only when they
    # list it in ``modes``.
    FAX = "fax"


class ConsentKind(enum.StrEnum):
    """Kinds of consent a called party gives to one solicitor."""

    AUTODIALER = "autodialer"  # prior express consent, Utah Code 13-25a-103(2)
    CALLING_HOURS = "calling-hours"  # consent to calls at other times, 13-25a-103(3)
    WRITTEN = "written"  # prior express written consent, 47 CFR 64.1200(a)(2)
    FAX = "fax"  # consent to receive faxes from a specific solicitor, H.B. 45 prop. 108(2)(a)


# The kinds that authorise automated (autodialed, prerecorded or artificial-voice) calls:
# prior express consent (Utah 13-25a-103(2)) and prior express written consent (47 CFR
# 64.1200(a)(2)-(a)(3), Fla. Stat. 501.059(8)(a), the Maryland and Oklahoma acts).
AUTOMATED_CONSENT: frozenset[ConsentKind] = frozenset({ConsentKind.AUTODIALER,
                                                       ConsentKind.WRITTEN})


def revocation_ends(kind: ConsentKind | None) -> frozenset[ConsentKind]:
    """The consent kinds a revocation of ``kind`` ends (None: every kind).

    47 CFR 64.1200(a)(10): a called party "may revoke prior express consent, including prior
    express written consent" by any reasonable means. A person who says "stop robocalling me"
    has withdrawn consent to automated calls, whichever kind the operator wrote down: the
    revocation of either automated kind ends both (a written consent left standing would go
    on allowing the very calls refused). Calling-hours and fax consent end only by name
    (before the revoke-all date, which the packs carry: ``revoke_all_from``)."""
    if kind is None:
        return frozenset(ConsentKind)
    return AUTOMATED_CONSENT if kind in AUTOMATED_CONSENT else frozenset({kind})


class FactKind(enum.StrEnum):
    """Facts that live in async record stores and are fetched only when a rule needs them."""

    CONSENT = "consent"
    EBR = "ebr"
    COMPANY_DNC = "company-dnc"
    # Not a read: the atomic check-and-reserve of every call-frequency cap of the call.
    # It commits (counts the call), so the engine asks for it last, only when every other
    # rule has allowed the call (``RESERVING``).
    FREQUENCY = "call-frequency"


# Fact kinds whose fetch writes: asked for only once nothing else can block the call.
RESERVING: frozenset[FactKind] = frozenset({FactKind.FREQUENCY})


@dataclass(frozen=True, slots=True)
class Registration:
    """A soliciting business's registration with the state (H.B. 45 proposed 13-26a-103)."""

    number: str
    expires: date


@dataclass(frozen=True, slots=True)
class RegistrationExemption:
    """An exemption from registration claimed by the business (H.B. 45 proposed 13-26a-104)."""

    citation: str
    reason: str


@dataclass(frozen=True, slots=True)
class Campaign:
    """A campaign calls for one solicitor (the seller), whose records bind all its campaigns."""

    id: str
    solicitor: str
    caller_id: str
    default_mode: DialingMode
    origin_state: str | None
    packs: tuple[str, ...]
    registration: Registration | None = None
    exemption: RegistrationExemption | None = None
    # Whether the campaign's predictive dialer is an "automatic telephone dialing system"
    # (47 U.S.C. 227(a)(1)). Default True (conservative). After Facebook, Inc. v. Duguid,
    # 592 U.S. 395 (2021), equipment is one only if it has the capacity to store or produce
    # numbers using a random or sequential number generator: a seller sets False on
    # counsel's written view of its dialers, named in ``counsel_reference``.
    dialer_is_atds: bool = True
    counsel_reference: str = ""
    # The campaign's "subject matter or issue" (Fla. Stat. 501.616(6)(b)): call-frequency
    # rules with ``subject = "campaign-subject"`` count calls of every campaign naming it.
    subject: str | None = None
    # Naming none: the subjects its seller's other campaigns name (``with_seller_subjects``).
    # Its calls cannot be shown to be on another subject, so under ``campaign-subject``
    # they are also recorded under each (a campaign naming one: empty).
    seller_subjects: frozenset[str] = frozenset()
    # The entity that makes the calls when it is not the seller (a call centre calling for
    # several sellers). A do-not-call request binds it too (47 CFR 64.1200(d)(3): "a person
    # or entity making a call for telemarketing purposes (or on whose behalf such a call is
    # made)"; Utah 13-25a-107.2(1): the telephone solicitor the person informed): an opt-out
    # is recorded under both, and a request on either list blocks. Consent and business
    # relationships stay the seller's. None: the seller makes its own calls.
    telemarketer: str | None = None


def with_seller_subjects(campaigns: Mapping[str, Campaign]) -> dict[str, Campaign]:
    """The campaigns, each naming no subject given the subjects its seller's campaigns
    name (``Campaign.seller_subjects``)."""
    named: dict[str, set[str]] = {}
    for campaign in campaigns.values():
        if campaign.subject:
            named.setdefault(campaign.solicitor, set()).add(campaign.subject)
    return {key: campaign if campaign.subject else replace(
        campaign, seller_subjects=frozenset(named.get(campaign.solicitor, ())))
        for key, campaign in campaigns.items()}


@quick_init
@dataclass(frozen=True, slots=True)
class CallAttempt:
    """One outbound call, asked about before it is dialled. ``at`` is timezone-aware."""

    number: NumberInfo
    campaign: Campaign
    mode: DialingMode
    at: datetime
    location: Location | None = None
    front: str | None = None  # which front asks (fastagi, sip, http, cli, scrub)
    # False: the asker places no call on this answer (``check --at``, a what-if); call-
    # frequency caps are then judged read-only and nothing is counted (as for the scrub
    # front, which no cap counts unless its ``fronts`` names it).
    places_call: bool = True
    # The instant the called party's records are judged at: a consent revocation, a
    # do-not-call request or a relationship's end dated after it had not been made (a
    # statute case deciding at the call's instant). None: ``at``. The gate sets its own
    # clock when it is later than ``at``: a record made before the decision binds it,
    # whatever instant the client sent (a queued call, ``check --at`` of a past day).
    records_at: datetime | None = None
    # The gate's clock when it was asked (None: ``at``; a statute case). A call placed on
    # the answer is placed now, whatever instant the client sent: call-frequency caps count
    # it at the later of the two and over a window from the earlier (``count_instants``).
    asked_at: datetime | None = None
    # What the asker says withholds the caller ID of the call it will place (a SIP INVITE's
    # ``Privacy: id``, a Remote-Party-ID ``privacy=full``, an anonymous From), as sent;
    # None: nothing does. The caller-ID rules BLOCK it (47 CFR 64.1601(e): never block).
    presentation_withheld: str | None = None
    # The lists the number is on, known before planning (the gate looks up those a pack's
    # scope reads, ``Policy.scope_lists``): a state's own do-not-call list places its
    # people in the state whatever their area code (``Scope.listed_on``).
    listed_on: frozenset[str] = frozenset()
    # Those lists the gate could not read (no version loaded, and not in ``[lists]
    # not_loaded``): nothing shows the number is not on them, so their state's pack applies
    # and its listing rule BLOCKs naming the missing list (fail closed).
    unread: frozenset[str] = frozenset()

    @property
    def judged_at(self) -> datetime:
        """The instant records are judged at (see ``records_at``)."""
        return self.at if self.records_at is None else self.records_at


@dataclass(frozen=True, slots=True)
class ListCheck:
    """Membership of the number in one version of one list (do-not-call or attribute)."""

    name: str
    version: int
    published: date | None
    listed: bool
    covered: bool
    # Reassigned-number data only: the number's last permanent disconnect (None: none).
    disconnected: date | None = None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """Consent of the called party to one solicitor."""

    kind: ConsentKind
    granted_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    window: tuple[time, time] | None = None  # calling-hours consent: the agreed local window

    def valid_at(self, at: datetime, judged_at: datetime | None = None) -> bool:
        """Given before the call's instant ``at``, and neither expired nor revoked by
        ``judged_at`` (default ``at``; the gate passes its clock for a call placed now).

        A revocation dated after it did not exist when the call was made (a ``check --at``
        of an earlier instant, a replay): the consent was "prior express consent" for that
        call (47 CFR 64.1200(a)(10): revocation ends consent from the time it is made). A
        revocation or an expiry at that very instant ends it, and a consent given at that
        very instant is not "prior" to the call (both fail closed).
        """
        judged = at if judged_at is None else judged_at
        if self.granted_at >= at or (self.revoked_at is not None and self.revoked_at <= judged):
            return False
        return self.expires_at is None or judged < self.expires_at


def ended_by_revocation(record: ConsentRecord, records: Iterable[ConsentRecord],
                        at: datetime,
                        revokes_all: Callable[[datetime], bool] = lambda _: False,
                        ) -> ConsentRecord | None:
    """The earliest revocation of ANOTHER consent among ``records``, made by ``at``, that
    ended ``record``, or None.

    Only a consent to automated calls is ended so, and only one given at or before the
    revocation (a consent given after it counts again; at its very instant: ended, fail
    closed). The revocation of an automated kind ends it always (64.1200(a)(10)); one of any
    kind does too when ``revokes_all`` says its instant is on or after a pack's revoke-all
    date. The gate's exemptions and `consent show` both read consents through this."""
    if record.kind not in AUTOMATED_CONSENT:
        return None
    found: ConsentRecord | None = None
    for other in records:
        revoked = other.revoked_at
        if (other is record or revoked is None or revoked > at or record.granted_at > revoked
                or (found is not None and found.revoked_at is not None
                    and found.revoked_at <= revoked)):
            continue
        if record.kind in revocation_ends(other.kind) or revokes_all(revoked):
            found = other
    return found


@dataclass(frozen=True, slots=True)
class EbrRecord:
    """Established business relationship of the called party with one solicitor."""

    last_transaction: date | None = None
    last_inquiry: date | None = None
    ended_at: datetime | None = None  # a do-not-call request or either party ended it

    def ended_by(self, at: datetime) -> bool:
        """Whether the relationship had been ended at ``at`` (at its very instant: yes)."""
        return self.ended_at is not None and self.ended_at <= at


@dataclass(frozen=True, slots=True)
class CompanyDncRecord:
    """The called party asked this solicitor not to call (47 CFR 64.1200(d)(3))."""

    added_at: datetime
    source: str = ""

    def made_by(self, at: datetime) -> bool:
        """Whether the request had been made at ``at`` (at its very instant: yes)."""
        return self.added_at <= at


@quick_init
@dataclass(frozen=True, slots=True)
class Facts:
    """What the gate gathered. Lists are checked synchronously for every call."""

    lists: Mapping[str, ListCheck | None] = field(default_factory=dict)
    consents: tuple[ConsentRecord, ...] = ()
    ebr: EbrRecord | None = None
    company_dnc: CompanyDncRecord | None = None
    fetched: frozenset[FactKind] = frozenset()
    # Facts of plug-in kinds (``callguard.facts``), by kind; each kind's rules know the type.
    values: Mapping[FactKind, object] = field(default_factory=dict)
