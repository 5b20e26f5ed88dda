"""Rules over the campaign itself: the solicitor's registration and the caller ID shown."""

from __future__ import annotations

import re
from dataclasses import dataclass

from callguard.policy.model import DialingMode
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase

__all__ = ["CallerIdPresented", "SolicitorRegistration"]

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")


@dataclass(frozen=True, slots=True)
class SolicitorRegistration(RuleBase):
    """The soliciting business is registered and current, or claims a listed exemption."""

    exemption_prefix: str

    precedence = 40

    @classmethod
    def from_params(
        cls, rule_id: str, citation: str, modes: frozenset[DialingMode], params: Params
    ) -> SolicitorRegistration:
        """Build from ``exemption_citation_prefix`` (e.g. ``13-26a-104(1)``)."""
        prefix = params.get("exemption_citation_prefix", str, required=True)
        return cls(rule_id, citation, modes, prefix)

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Pass on a current registration or an exemption under the pack's section."""
        campaign = ctx.attempt.campaign
        registration, exemption = campaign.registration, campaign.exemption
        today = ctx.attempt.at.date()
        if registration is not None and registration.expires >= today:
            return self.outcome(Status.PASS, f"registered as {registration.number} "
                                f"until {registration.expires}")
        if exemption is not None and exemption.citation.startswith(self.exemption_prefix):
            return self.outcome(Status.EXEMPT, f"exempt from registration under "
                                f"{exemption.citation} ({exemption.reason})")
        if registration is not None:
            return self.outcome(Status.BLOCK, f"registration {registration.number} of "
                                f"{campaign.solicitor} expired on {registration.expires}")
        return self.outcome(
            Status.BLOCK,
            f"{campaign.solicitor} has no registration and claims no exemption under "
            f"{self.exemption_prefix}",
        )


@dataclass(frozen=True, slots=True)
class CallerIdPresented(RuleBase):
    """The solicitor's number must be shown; the gate forces presentation on ALLOW."""

    precedence = 45

    @classmethod
    def from_params(
        cls, rule_id: str, citation: str, modes: frozenset[DialingMode], params: Params
    ) -> CallerIdPresented:
        """No parameters."""
        del params
        return cls(rule_id, citation, modes)

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Pass when the campaign has a well-formed E.164 number to present."""
        caller_id = ctx.attempt.campaign.caller_id
        if _E164.match(caller_id):
            return self.outcome(Status.PASS, "the campaign's caller ID is presented, "
                                "presentation allowed")
        return self.outcome(Status.BLOCK, f"campaign {ctx.attempt.campaign.id} has no valid "
                            "caller-ID number to present")
