"""A decision: the verdict plus what it was about, and its documented JSON form.

The JSON form is the ``--json`` output of ``callguard check`` and the body of the
compliance record (which replaces the number by a keyed hash). Schema:
``callguard/data/decision.schema.json``.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from callguard.frozen import quick_init
from callguard.numbers import NumberInfo
from callguard.policy import Campaign, DialingMode, Status, Verdict
from callguard.policy.frequency import Counted, Held
from callguard.utc import zone_info, zulu

__all__ = ["Decision", "new_decision_id"]


# The random part of each id, drawn from os.urandom in blocks: one getrandom(2) per
# decision was ~5 % of deciding on a VM. ``list.pop`` takes each value once whatever thread
# asks; a forked child draws its own (it must never repeat the parent's ids).
_RANDOM: list[int] = []
_RANDOM_BLOCK = 1024  # values (of 10 bytes) per os.urandom call
os.register_at_fork(after_in_child=_RANDOM.clear)


def _random80() -> int:
    """80 random bits from the operating system's generator, never handed out twice."""
    try:
        return _RANDOM.pop()
    except IndexError:
        block = os.urandom(10 * _RANDOM_BLOCK)
        _RANDOM.extend([int.from_bytes(block[i:i + 10], "big")
                        for i in range(0, len(block), 10)])
        return _RANDOM.pop()


def new_decision_id() -> str:
    """A time-ordered UUIDv7, so records sort by when they were decided."""
    millis = time.time_ns() // 1_000_000
    rand = _random80()
    value = (millis << 80) | (0x7 << 76) | ((rand >> 64) & 0xFFF) << 64
    value |= (0b10 << 62) | (rand & ((1 << 62) - 1))
    # str(uuid.UUID(int=value)) spelled out: a third of its cost, on every decision's path
    text = f"{value:032x}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:]}"


@quick_init
@dataclass(frozen=True, slots=True)
class Decision:
    """One answer of the gate."""

    decision_id: str
    verdict: Verdict
    at: datetime
    number: NumberInfo | None
    raw_number: str
    campaign: Campaign | None
    campaign_id: str
    mode: DialingMode | None
    front: str
    latency_us: float
    linkedid: str | None = None
    reference: str | None = None  # the front's own id of the call (the SIP Call-ID)
    channel: str | None = None  # the channel the gate was asked from; not in the record
    withdraws: str | None = None  # the decision id this answer withdraws (record: withdraws)
    # The call-frequency rows this decision's reservation wrote, when the record proves them
    # (record: counted; the embedded store's counts then commit without their own fsync).
    counted: Counted | None = None
    # What the reservation wrote, whatever proves it: what a front gives back when it
    # withdraws this ALLOW before its call could be placed (``Gate.release``); not recorded.
    held: Held | None = None
    # False: an answer no call is placed on (`check --at`: a question; record: places_call)
    places_call: bool = True

    @property
    def allowed(self) -> bool:
        """True for ALLOW."""
        return self.verdict.allowed

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON form (``number`` is the E.164 form, or the raw input)."""
        verdict = self.verdict
        deciding = verdict.deciding
        obligations = verdict.obligations
        return {
            "decision_id": self.decision_id,
            "verdict": verdict.verdict,
            "rule": deciding.rule_id if deciding else None,
            "citations": [o.citation for o in verdict.blocking],
            "reason": verdict.reason,
            "number": self.number.e164 if self.number else self.raw_number,
            "campaign": self.campaign_id,
            "solicitor": self.campaign.solicitor if self.campaign else None,
            # the call centre making the campaign's calls for the seller (the record's
            # ``telemarketer``, absent there when null here)
            "telemarketer": self.campaign.telemarketer if self.campaign else None,
            "mode": self.mode.value if self.mode else None,
            "at": zulu(self.at.astimezone(UTC)),  # Z, as the records and every command
            "time_zones": list(verdict.time_zones),
            "local_times": [
                {"zone": z, "local": self.at.astimezone(zone_info(z)).isoformat()}
                for z in verdict.time_zones
            ],
            "zone_sources": list(verdict.zone_sources),
            "packs": [
                {"id": p.pack_id, "version": p.version, "applies": p.applies, "why": p.why}
                for p in verdict.packs
            ],
            "lists": [{"name": n, "version": v} for n, v in verdict.lists],
            "outcomes": [
                {"rule": o.rule_id, "citation": o.citation, "status": o.status.value,
                 "reason": o.reason}
                for o in verdict.outcomes
            ],
            "obligations": {
                "line_release_seconds": obligations.line_release_seconds,
                "line_release_citation": obligations.line_release_citation,
                "min_ring_seconds": obligations.min_ring_seconds,
                "min_rings": obligations.min_rings,
                "min_ring_citation": obligations.min_ring_citation,
            },
            "exempt": [o.rule_id for o in verdict.outcomes if o.status is Status.EXEMPT],
            "front": self.front,
            "linkedid": self.linkedid,
            "reference": self.reference,
            "latency_us": round(self.latency_us, 1),
        }
