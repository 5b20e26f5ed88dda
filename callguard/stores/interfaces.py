"""What the gate asks of a store. Embedded and Redis backends implement the same Protocols.

List lookups are synchronous against an immutable, versioned in-process snapshot (no
network hop per call); record stores are async because a shared backend needs I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Protocol

from callguard.policy import CompanyDncRecord, ConsentRecord, EbrRecord
from callguard.policy.frequency import FrequencyClaim, FrequencyResult, Held
from callguard.stores.writes import RecordSheet, RecordWrite

__all__ = [
    "AbandonmentTallies",
    "CompanyDncStore",
    "ConsentStore",
    "CountAfter",
    "EbrStore",
    "FrequencyStore",
    "ListMeta",
    "ListRegistry",
    "ListSnapshot",
    "RecordStores",
]

# (number, claims, the instant the windows end at, the instant the call is counted at):
# one call counted after its answer (``FrequencyStore.reserve_all``).
CountAfter = tuple[str, Sequence[FrequencyClaim], datetime, datetime]


@dataclass(frozen=True, slots=True)
class ListMeta:
    """A list version's metadata, as stored beside its chunks."""

    name: str
    version: int
    published: date | None
    imported_at: datetime
    count: int
    area_codes: frozenset[int] | None  # None: the version speaks for every area code
    source: str
    codec: str = "roaring"  # chunk codec; "dated" for reassigned-number data


class ListSnapshot(Protocol):
    """One immutable version of one list."""

    @property
    def meta(self) -> ListMeta:
        """The version's metadata."""
        ...

    def contains(self, national: int) -> bool:
        """Whether the 10-digit NANP number is listed."""
        ...

    def covers(self, area_code: int) -> bool:
        """Whether this version speaks for the area code at all."""
        ...


class ListRegistry(Protocol):
    """The current version of every list, swapped whole when a new one is published."""

    @property
    def errors(self) -> Mapping[str, str]:
        """Why a list's published version is not the one served (refused, unreadable)."""
        ...

    def snapshot(self, name: str) -> ListSnapshot | None:
        """The current version of ``name``, or None when no version is loaded."""
        ...

    def names(self) -> tuple[str, ...]:
        """Every list with a loaded version."""
        ...


class ConsentStore(Protocol):
    """Consent records per number and solicitor."""

    async def consents(self, solicitor: str, e164: str) -> tuple[ConsentRecord, ...]:
        """Every consent record, revoked ones included (the policy judges validity)."""
        ...


class EbrStore(Protocol):
    """Established business relationships per number and solicitor."""

    async def ebr(self, solicitor: str, e164: str) -> EbrRecord | None:
        """The relationship record, or None."""
        ...


class CompanyDncStore(Protocol):
    """The solicitor's own do-not-call list (47 CFR 64.1200(d)(3))."""

    async def company_dnc(self, solicitor: str, e164: str) -> CompanyDncRecord | None:
        """The do-not-call record, or None."""
        ...


class RecordStores(ConsentStore, EbrStore, CompanyDncStore, Protocol):
    """One backend holding all three record kinds; every change is a RecordWrite."""

    async def apply(self, writes: Sequence[RecordWrite]) -> tuple[int, ...]:
        """Apply all writes atomically; returns once durable, with rows changed per write.

        Raises StoreError when the batch was not acknowledged as durable.
        """
        ...

    async def sheet(self, solicitor: str, e164: str) -> RecordSheet:
        """Everything stored about the number for the solicitor."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class AbandonmentTallies(Protocol):
    """Answered and abandoned predictive calls per campaign per day (47 CFR 64.1200(a)(7)).

    Kept where the records are, so a restart does not reset the 30-day window and, on
    Redis, every node adds to the same count.
    """

    async def add(self, campaign: str, day: date, *, abandoned: bool) -> None:
        """Count one answered call of ``campaign`` on ``day``."""
        ...

    async def window(self, campaign: str, first: date, last: date) -> tuple[int, int]:
        """(answered, abandoned) from ``first`` to ``last``, both included."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class FrequencyStore(Protocol):
    """Calls counted per number and subject, for call-frequency caps; shared on Redis.

    Counts are keyed by the number's keyed hash (the compliance log's key, so every node
    that shares the store must share the key) and kept as long as the longest window.
    """

    async def reserve(self, e164: str, claims: Sequence[FrequencyClaim],
                      at: datetime, stamp: datetime | None = None, *,
                      recorded: bool = True) -> FrequencyResult:
        """Atomically: count calls per claim in its window before ``at``; when every claim
        is under its cap, count this call, at ``stamp`` (default ``at``), under each
        claim's subject. Raises StoreError when the answer is not known to be durable (the
        gate BLOCKs: never an uncounted ALLOW). ``recorded=False``: no decision record
        will carry the result's ``counted`` (a count after the answer)."""
        ...

    async def reserve_all(self, batch: Sequence[CountAfter]
                          ) -> list[FrequencyResult | BaseException]:
        """``reserve`` of each (``recorded=False``: no record carries them), queued at once
        and waited for together; each its result or its error (StoreError), in order. For
        the counts after an answer, which nothing waits for one by one."""
        ...

    async def release(self, e164: str, held: Held) -> int:
        """Atomically remove what a granted reservation wrote (``held``), for an ALLOW
        withdrawn before its call could be placed; the rows removed. StoreError when not
        written (the caller keeps the count: an over-count blocks a lawful call at worst)."""
        ...

    async def count(self, e164: str, claims: Sequence[FrequencyClaim],
                    at: datetime) -> tuple[int, ...]:
        """Read only: the calls counted per claim in its window before ``at``; writes and
        trims nothing (a front that places no call, the scrub). StoreError when unread."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
