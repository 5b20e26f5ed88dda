"""Rules over the solicitor's records: company-specific do-not-call, required consent."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from callguard.policy.model import FactKind
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase, RuleHead
from callguard.policy.rules.exemptions import EXEMPTION_KEYS, Exemptions
from callguard.policy.schema import Key

__all__ = ["CompanyDoNotCall", "ConsentRequired"]


@dataclass(frozen=True, slots=True)
class CompanyDoNotCall(RuleBase):
    """A number that asked the solicitor not to call is never called by it again."""

    precedence = 20
    prefetch = frozenset({FactKind.COMPANY_DNC})
    KEYS: ClassVar[Mapping[str, Key]] = {}

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> CompanyDoNotCall:
        """No parameters."""
        del params
        return cls(head)

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Block on any do-not-call record of this solicitor for the number."""
        if FactKind.COMPANY_DNC not in ctx.facts.fetched:
            return NeedFacts(frozenset({FactKind.COMPANY_DNC}))
        solicitor = ctx.attempt.campaign.solicitor
        record = ctx.facts.company_dnc
        if record is None:
            return self.outcome(Status.PASS, f"not on {solicitor}'s do-not-call list")
        return self.outcome(
            Status.BLOCK,
            f"the called party asked {solicitor} not to call ({record.added_at:%Y-%m-%d})",
        )


@dataclass(frozen=True, slots=True)
class ConsentRequired(RuleBase):
    """Calls of these modes need a consent record (or, where the law allows, an EBR)."""

    exemptions: Exemptions
    possibly_wireless_only: bool

    precedence = 50
    KEYS: ClassVar[Mapping[str, Key]] = {
        "numbers": Key("str", choices=("any", "possibly-wireless"),
                       doc="which numbers the rule covers (default any)"),
        **EXEMPTION_KEYS,
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> ConsentRequired:
        """Build from ``exempt_consent``, the ``ebr_*`` keys and ``numbers``."""
        exemptions = Exemptions.from_params(params)
        if not exemptions.needs:
            raise params.error("a consent-required rule needs exempt_consent or ebr_citation")
        numbers = params.get("numbers", "any")
        return cls(head, exemptions, numbers == "possibly-wireless")

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Pass only on a valid consent of an accepted kind or a live relationship."""
        attempt = ctx.attempt
        if self.possibly_wireless_only and not attempt.number.possibly_wireless:
            return self.outcome(Status.NOT_APPLICABLE, "number cannot be wireless")
        exemption = self.exemptions.find(ctx)
        if isinstance(exemption, NeedFacts):
            return exemption
        if exemption is not None:
            return self.outcome(Status.PASS, exemption)
        kinds = " or ".join(sorted(k.value for k in self.exemptions.consent_kinds))
        need = f"{kinds} consent to {attempt.campaign.solicitor}"
        if self.exemptions.ebr is not None:
            need += " or an established business relationship"
        wireless = " to a possibly wireless number" if self.possibly_wireless_only else ""
        return self.outcome(
            Status.BLOCK, f"{attempt.mode.value} calls{wireless} need {need}; none on record"
            + self.exemptions.withdrawn(ctx),
        )
