"""Rules over the campaign itself: the solicitor's registration and the caller ID shown."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from callguard.memo import remember
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase, RuleHead
from callguard.policy.schema import Key, check_table

__all__ = ["CallerIdPresented", "SolicitorRegistration"]

_REGISTERED_LIMIT = 256  # kept PASS outcomes per rule (campaigns' registrations)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# A NANP number (+1): area code and exchange start 2-9 and the area code is not an N11
# service code. "+10000000000" is E.164-shaped but no one can call it back, and the number
# shown must let the called person make a do-not-call request (47 CFR 64.1601(e)(1)) or
# reach the solicitor (Fla. Stat. 501.059(8)(b)). The configuration refuses such a number
# when it loads; this keeps every other way a campaign is built (statute cases) as strict.
_NANP = re.compile(r"^\+1(?:[2-9](?!11)\d{2}[2-9]\d{6})$")


@dataclass(frozen=True, slots=True)
class SolicitorRegistration(RuleBase):
    """The soliciting business is registered and current, or claims a listed exemption.

    An exemption counts only when it names, exactly, a paragraph the pack lists: a made-up
    ``13-26a-104(1)(zz)`` is not an exemption.
    """

    paragraphs: tuple[tuple[str, str], ...]  # (citation, what it exempts)
    # The text the paragraphs belong to, printed before each in a reason ("H.B. 45 (2000, as
    # introduced), proposed"): a bare "13-26a-104(1)(c)" reads as a section of a code.
    source: str = ""
    # PASS outcomes by (registration number, expiry): a few campaigns' registrations.
    _registered: dict[tuple[str, date], Outcome] = field(
        default_factory=dict, compare=False, repr=False, kw_only=True)

    precedence = 40
    KEYS: ClassVar[Mapping[str, Key]] = {
        "exemption_paragraphs": Key("table", required=True,
                                    doc="citation -> what it exempts; a campaign's exemption "
                                        "must name one exactly"),
        "exemption_source": Key("str", doc="the text the paragraphs belong to, printed "
                                           "before each in a reason (a campaign names the "
                                           "paragraph alone)"),
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> SolicitorRegistration:
        """Build from ``exemption_paragraphs`` (a table of citation = description)."""
        raw = params.get("exemption_paragraphs")
        table = check_table(params.where, raw, {k: Key("str") for k in raw},
                            what="exemption_paragraphs")
        if not table:
            raise params.error("exemption_paragraphs lists no paragraph")
        return cls(head, tuple(sorted(table.items())), params.get("exemption_source", ""))

    def _cite(self, paragraph: str) -> str:
        return f"{self.source} {paragraph}" if self.source else paragraph

    @property
    def citations(self) -> frozenset[str]:
        """The paragraphs a campaign may claim."""
        return frozenset(c for c, _ in self.paragraphs)

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Pass on a current registration or an exemption under a listed paragraph."""
        campaign = ctx.attempt.campaign
        registration, exemption = campaign.registration, campaign.exemption
        today = ctx.call_date
        if registration is not None and registration.expires >= today:
            # Its PASS depends on the registration alone: kept by it, not formatted per call.
            key = (registration.number, registration.expires)
            passed = self._registered.get(key)
            if passed is None:
                passed = remember(self._registered, key, self.outcome(
                    Status.PASS, f"registered as {registration.number} "
                    f"until {registration.expires}"), _REGISTERED_LIMIT)
            return passed
        if exemption is not None and exemption.citation in self.citations:
            return self.outcome(Status.EXEMPT, f"exempt from registration under "
                                f"{self._cite(exemption.citation)} ({exemption.reason})")
        claimed = ""
        if exemption is not None:
            listed = ", ".join(self._cite(c) for c in sorted(self.citations))
            claimed = (f"; the exemption claimed, {exemption.citation!r}, is not a paragraph "
                       f"this rule lists ({listed})")
        if registration is not None:
            return self.outcome(Status.BLOCK, f"registration {registration.number} of "
                                f"{campaign.solicitor} expired on {registration.expires}"
                                + claimed)
        return self.outcome(
            Status.BLOCK,
            f"{campaign.solicitor} has no registration and claims no listed exemption"
            + claimed,
        )


@dataclass(frozen=True, slots=True)
class CallerIdPresented(RuleBase):
    """The solicitor's number must be shown; the gate forces presentation on ALLOW.

    ``premium_refused``: a NANP 900 number (premium rate) is no number to present — 47 CFR
    64.1601(e)(1) lets the seller's number be shown "provided that it is not a 900 number
    or any other number for which charges exceed local or long distance transmission
    charges": a caller must not pay to make a do-not-call request.
    """

    premium_refused: bool = False

    precedence = 45
    KEYS: ClassVar[Mapping[str, Key]] = {
        "premium_refused": Key("bool", doc="refuse a NANP 900 (premium-rate) number"),
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> CallerIdPresented:
        """Build from ``premium_refused`` (default false)."""
        return cls(head, bool(params.get("premium_refused", False)))

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Pass when the campaign has a well-formed E.164 number to present (a NANP one when
        it is +1; not a 900 number where the rule refuses premium rates), and the asker
        does not withhold it for this call."""
        withheld = ctx.attempt.presentation_withheld
        if withheld is not None:
            return self.outcome(Status.BLOCK, f"the call would go out with its caller ID "
                                f"withheld ({withheld}): a telemarketer must transmit it and "
                                "never block it")
        caller_id = ctx.attempt.campaign.caller_id
        passed = self._kept.get(caller_id)  # its PASS depends on the number alone
        if passed is not None:
            return passed
        if self.premium_refused and caller_id.startswith("+1900"):
            return self.outcome(Status.BLOCK, f"campaign {ctx.attempt.campaign.id} presents "
                                "a 900 (premium-rate) number: calling it back to make a "
                                "do-not-call request costs more than transmission")
        if _E164.match(caller_id) and (not caller_id.startswith("+1") or _NANP.match(caller_id)):
            return self.kept(caller_id, self.outcome(
                Status.PASS, "the campaign's caller ID is presented, presentation allowed"))
        return self.outcome(Status.BLOCK, f"campaign {ctx.attempt.campaign.id} has no valid "
                            "caller-ID number to present")
