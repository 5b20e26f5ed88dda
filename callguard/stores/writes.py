"""Record writes as values: every change to consent, EBR or company-DNC records is one.

Stores apply a batch of writes atomically (a CSV import is all or nothing) and the
compliance journal logs each applied write, so a revocation is itself on record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from callguard.errors import StoreError
from callguard.numbers.parse import is_canonical, quoted_number
from callguard.policy import (
    CompanyDncRecord,
    ConsentKind,
    ConsentRecord,
    EbrRecord,
    revocation_ends,
)

__all__ = [
    "AddCompanyDnc",
    "AddConsent",
    "EndEbr",
    "RecordEbr",
    "RecordSheet",
    "RecordWrite",
    "RevokeConsent",
    "StoredConsent",
    "check_canonical",
]


@dataclass(frozen=True, slots=True)
class AddConsent:
    """Consent of ``number`` to ``solicitor``; source and evidence stay in the store only."""

    solicitor: str
    number: str
    record: ConsentRecord
    source: str
    evidence: str = ""

    action = "consent-added"


@dataclass(frozen=True, slots=True)
class RevokeConsent:
    """Revoke at once (the law allows 10 business days) every live consent the revocation
    of ``kind`` ends (``revocation_ends``: either automated kind ends both; None: every
    kind)."""

    solicitor: str
    number: str
    kind: ConsentKind | None
    at: datetime
    source: str

    action = "consent-revoked"

    @property
    def ends(self) -> tuple[ConsentKind, ...]:
        """The kinds revoked, sorted (the store's and the journal's order)."""
        return tuple(sorted(revocation_ends(self.kind)))


@dataclass(frozen=True, slots=True)
class RecordEbr:
    """A purchase/transaction or an inquiry/application; the later stored date wins."""

    solicitor: str
    number: str
    last_transaction: date | None = None
    last_inquiry: date | None = None

    action = "ebr-recorded"


@dataclass(frozen=True, slots=True)
class AddCompanyDnc:
    """A do-not-call request or negative response (47 CFR 64.1200(d)(3)); ends any EBR."""

    solicitor: str
    number: str
    at: datetime
    source: str

    action = "company-dnc-added"


@dataclass(frozen=True, slots=True)
class EndEbr:
    """Either party ended the business relationship; it no longer exempts any call."""

    solicitor: str
    number: str
    at: datetime
    source: str

    action = "ebr-ended"


RecordWrite = AddConsent | RevokeConsent | RecordEbr | EndEbr | AddCompanyDnc


def check_canonical(writes: Sequence[RecordWrite]) -> None:
    """Refuse the batch (StoreError, nothing written) when a number is not the canonical
    ASCII E.164 that ``callguard.numbers`` makes: a record keyed by any other spelling is
    one no lookup would ever find (an opt-out that binds nothing)."""
    for write in writes:
        if not is_canonical(write.number):
            raise StoreError("record write for a number not in canonical E.164 form "
                             f"({quoted_number(write.number)}); nothing written — parse "
                             "it with callguard.numbers first")


@dataclass(frozen=True, slots=True)
class StoredConsent:
    """A consent as stored, with where it came from and who revoked it."""

    record: ConsentRecord
    source: str
    evidence: str
    revoked_source: str | None = None


@dataclass(frozen=True, slots=True)
class RecordSheet:
    """Everything stored about one number and one solicitor (for ``show``)."""

    consents: tuple[StoredConsent, ...]
    ebr: EbrRecord | None
    company_dnc: CompanyDncRecord | None
