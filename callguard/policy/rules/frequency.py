"""Call-frequency caps: at most ``cap`` calls to one number in ``window`` on one subject.

The rule itself never reads a count (a read-then-decide is a race across nodes). It says
what the call claims; the gate has the store check every claim and count the call in one
atomic step, asked for only once every other rule allowed the call; the rule then judges
the store's answer. What counts:

- every call ALLOWed by a front the rule counts (``fronts``), at ALLOW time, whether or not
  it was dialled or answered: ALLOW is the one place every front passes, and a call the
  dialer then dropped cannot be told apart from one that rang;
- calls BLOCKed by any rule are not counted;
- the subject: every call of the seller (``seller``), of the campaign (``campaign``), or of
  every campaign naming the same ``subject`` in its configuration (``campaign-subject``;
  a campaign naming none is counted per seller, the wider group).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from callguard.policy.frequency import FrequencyClaim, FrequencyResult
from callguard.policy.model import CallAttempt, FactKind
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase, RuleHead
from callguard.policy.schema import Key

__all__ = ["COUNTED_FRONTS", "CallFrequency", "frequency_claims"]

# Fronts that ask before a real call; ``scrub`` judges a lead file, which places no call.
COUNTED_FRONTS = ("fastagi", "sip", "http", "cli")
_SUBJECTS = ("seller", "campaign", "campaign-subject")


@dataclass(frozen=True, slots=True)
class CallFrequency(RuleBase):
    """No more than ``cap`` calls to the number within ``window_s`` on one subject."""

    window_s: int
    cap: int
    subject: str
    fronts: frozenset[str]

    precedence = 70
    KEYS: ClassVar[Mapping[str, Key]] = {
        "window_hours": Key("int", required=True, low=1, high=24 * 366,
                            doc="the rolling window, in hours"),
        "cap": Key("int", required=True, low=1, high=1000,
                   doc="calls allowed in the window; the next one is blocked"),
        "subject": Key("str", required=True, choices=_SUBJECTS,
                       doc="which calls are on the same subject"),
        "fronts": Key("str-list", choices=(*COUNTED_FRONTS, "scrub"),
                      doc="fronts whose ALLOWs count (default: every front that asks "
                          "before a call: fastagi, sip, http, cli)"),
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> CallFrequency:
        """Build from ``window_hours``, ``cap``, ``subject`` and ``fronts``."""
        fronts = params.get("fronts", list(COUNTED_FRONTS))
        if not fronts:
            raise params.error("fronts is empty: the cap would count no call")
        return cls(head, int(params.get("window_hours")) * 3600, int(params.get("cap")),
                   params.get("subject"), frozenset(fronts))

    def subject_of(self, attempt: CallAttempt) -> str:
        """The counter's name for this call (without the number)."""
        campaign = attempt.campaign
        if self.subject == "campaign":
            return f"campaign:{campaign.id}"
        if self.subject == "campaign-subject" and campaign.subject:
            return f"subject:{campaign.subject}"
        return f"seller:{campaign.solicitor}"

    def claim(self, attempt: CallAttempt) -> FrequencyClaim | None:
        """What this call claims, or None when its front is not counted."""
        if attempt.front is not None and attempt.front not in self.fronts:
            return None
        return FrequencyClaim(self.rule_id, self.subject_of(attempt), self.window_s, self.cap)

    def _span(self) -> str:
        hours = self.window_s // 3600
        return f"{self.cap} call(s) in {hours} hours"

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Judge the store's check-and-reserve; ask for it when not made yet."""
        claim = self.claim(ctx.attempt)
        if claim is None:
            return self.outcome(Status.NOT_APPLICABLE,
                                f"calls asked by the {ctx.attempt.front} front are not counted")
        if FactKind.FREQUENCY not in ctx.facts.fetched:
            return NeedFacts(frozenset({FactKind.FREQUENCY}))
        result = ctx.facts.values.get(FactKind.FREQUENCY)
        if not isinstance(result, FrequencyResult):
            return self.outcome(Status.BLOCK, "no call count was reserved; the cap cannot "
                                "be shown to hold")
        found = result.count_for(self.rule_id)
        if found is None:
            return self.outcome(Status.BLOCK, "the store answered without this rule's count; "
                                "the cap cannot be shown to hold")
        _, count = found
        refused = result.refused
        if refused is not None and result.claims[refused].rule_id == self.rule_id:
            return self.outcome(Status.BLOCK, f"{count} call(s) on {claim.subject} to this "
                                f"number already counted; at most {self._span()}")
        if refused is not None:
            return self.outcome(Status.PASS, f"{count} call(s) on {claim.subject} counted; "
                                "this call not counted (another cap refused it)")
        return self.outcome(Status.PASS, f"call {count + 1} on {claim.subject}, within "
                            f"{self._span()}; counted at ALLOW")


def frequency_claims(rules: tuple[object, ...], attempt: CallAttempt
                     ) -> tuple[FrequencyClaim, ...]:
    """Every claim the call's frequency rules make (what the store checks and counts)."""
    claims = []
    for rule in rules:
        if isinstance(rule, CallFrequency):
            claim = rule.claim(attempt)
            if claim is not None:
                claims.append(claim)
    return tuple(claims)
