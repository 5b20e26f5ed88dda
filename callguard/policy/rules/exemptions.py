"""Records that lift a block: consent to the solicitor, or an established business relationship."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from callguard.policy.model import ConsentKind, ConsentRecord, FactKind
from callguard.policy.outcome import NeedFacts
from callguard.policy.rules.base import Context, Params

__all__ = ["EbrTerms", "Exemptions", "add_months", "window_fits"]


def add_months(day: date, months: int) -> date:
    """The same day ``months`` later, clamped to the month's end (31 Aug + 6 → 28/29 Feb)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def window_fits(ctx: Context) -> Callable[[ConsentRecord], bool]:
    """A consent with a calling window counts only if it holds the local time in every zone."""

    def fits(record: ConsentRecord) -> bool:
        return record.window is None or all(
            record.window[0] <= lt.at.time() <= record.window[1] for lt in ctx.local
        )

    return fits


@dataclass(frozen=True, slots=True)
class EbrTerms:
    """How long an established business relationship lasts; None means until ended."""

    after_transaction_months: int | None
    after_inquiry_months: int | None
    citation: str

    @classmethod
    def from_params(cls, params: Params) -> EbrTerms | None:
        """Read ``ebr_*`` keys; absent ``ebr_citation`` means no EBR exemption."""
        citation = params.get("ebr_citation", str)
        if citation is None:
            return None
        return cls(
            params.get("ebr_after_transaction_months", int),
            params.get("ebr_after_inquiry_months", int),
            citation,
        )

    def describe_valid(self, ctx: Context) -> str | None:
        """Why the relationship holds on the call's date, or None if it does not."""
        record = ctx.facts.ebr
        if record is None or record.ended_at is not None:
            return None
        today = ctx.attempt.at.date()
        for last, months, what in (
            (record.last_transaction, self.after_transaction_months, "transaction"),
            (record.last_inquiry, self.after_inquiry_months, "inquiry"),
        ):
            if last is None or last > today:
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

    @classmethod
    def from_params(cls, params: Params) -> Exemptions:
        """Read ``exempt_consent`` and the ``ebr_*`` keys."""
        names = params.get("exempt_consent", list, [])
        try:
            kinds = frozenset(ConsentKind(name) for name in names)
        except ValueError:
            known = ", ".join(k.value for k in ConsentKind)
            raise params.error(f"exempt_consent {names!r}: kinds are {known}") from None
        return cls(kinds, EbrTerms.from_params(params))

    @property
    def needs(self) -> frozenset[FactKind]:
        """The fact kinds that could exempt."""
        kinds = set()
        if self.consent_kinds:
            kinds.add(FactKind.CONSENT)
        if self.ebr is not None:
            kinds.add(FactKind.EBR)
        return frozenset(kinds)

    def find(
        self, ctx: Context, consent_fits: Callable[[ConsentRecord], bool] | None = None
    ) -> str | NeedFacts | None:
        """Describe the record that exempts this call, ask for facts, or None."""
        missing = self.needs - ctx.facts.fetched
        if missing:
            return NeedFacts(missing)
        for record in ctx.facts.consents:
            if (record.kind in self.consent_kinds and record.valid_at(ctx.attempt.at)
                    and (consent_fits is None or consent_fits(record))):
                return f"{record.kind.value} consent given {record.granted_at:%Y-%m-%d}"
        if self.ebr is not None:
            return self.ebr.describe_valid(ctx)
        return None
