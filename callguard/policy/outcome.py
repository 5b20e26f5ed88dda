"""What the policy answers: each rule's outcome, and the verdict over all of them."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date

from callguard.frozen import quick_init
from callguard.policy.model import FactKind

__all__ = [
    "NeedFacts",
    "Obligations",
    "Outcome",
    "PackApplication",
    "Status",
    "Verdict",
]


class Status(enum.StrEnum):
    """How one rule judged the call."""

    PASS = "pass"  # noqa: S105 - the rule is satisfied (not a password)
    EXEMPT = "exempt"  # the rule would block, but a record exempts the call
    BLOCK = "block"  # the rule forbids the call
    NOT_APPLICABLE = "not-applicable"  # the rule does not cover this kind of call


@dataclass(frozen=True, slots=True)
class Outcome:
    """One rule's judgement, with the citation it rests on."""

    rule_id: str
    citation: str
    status: Status
    reason: str
    precedence: int = 100
    # The parameter version that applied: the effective date of the rule's parameters in
    # force on the date of the call, plus any interpretation chosen against the pack's
    # default and, for rest days, the calendar version ("2025-01-01; calendar
    # us-ut:legal-holidays 2025-05-07"). Empty for refusals decided before any pack.
    params: str = ""


@dataclass(frozen=True, slots=True)
class NeedFacts:
    """Rules cannot judge without facts the gate has not fetched yet.

    From the engine, ``partial`` holds the outcomes already reached (None where a rule
    asked for facts), so the next round evaluates only the rules that asked.
    """

    kinds: frozenset[FactKind]
    partial: tuple[Outcome | None, ...] = ()


@dataclass(frozen=True, slots=True)
class PackApplication:
    """Whether a jurisdiction pack applied to the call, and why."""

    pack_id: str
    version: str
    applies: bool
    why: str


@dataclass(frozen=True, slots=True)
class Obligations:
    """Duties on the call once dialled; the most restrictive of the applicable packs."""

    line_release_seconds: float | None = None
    line_release_citation: str | None = None
    min_ring_seconds: int | None = None
    min_rings: int | None = None
    min_ring_citation: str | None = None


@quick_init
@dataclass(frozen=True, slots=True)
class Verdict:
    """ALLOW or BLOCK, the deciding rule, every rule's outcome and one plain sentence."""

    allowed: bool
    deciding: Outcome | None
    outcomes: tuple[Outcome, ...]
    packs: tuple[PackApplication, ...]
    reason: str
    time_zones: tuple[str, ...] = ()
    zone_sources: tuple[str, ...] = ()
    lists: tuple[tuple[str, int], ...] = ()
    obligations: Obligations = Obligations()
    call_date: date | None = None  # the date of the call every date-based check used

    @property
    def verdict(self) -> str:
        """``ALLOW`` or ``BLOCK``, as fronts and logs spell it."""
        return "ALLOW" if self.allowed else "BLOCK"

    @property
    def blocking(self) -> tuple[Outcome, ...]:
        """Every rule that blocked the call, the deciding one first."""
        blocks = [o for o in self.outcomes if o.status is Status.BLOCK]
        return tuple(sorted(blocks, key=lambda o: o.precedence))
