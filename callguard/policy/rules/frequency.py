"""Call-frequency caps: at most ``cap`` calls to one number in ``window`` on one subject.

The rule itself never reads a count (a read-then-decide is a race across nodes). It says
what the call claims; the gate has the store check every claim and count the call in one
atomic step, asked for only once every other rule allowed the call; the rule then judges
the store's answer. What counts:

- every call ALLOWed by a front the rule counts (``fronts``), at ALLOW time, whether or not
  it was dialled or answered: ALLOW is the one place every front passes, and a call the
  dialer then dropped cannot be told apart from one that rang;
- calls BLOCKed by any rule are not counted;
- a front the rule does not count (the scrub, which places no call), or an asker that places
  no call on the answer (``places_call``: ``callguard check --at``), is still judged:
  against the calls already counted, read without reserving (``read_claims``); nothing is
  counted for it. A scrub run also holds its earlier ALLOWed rows of the same number as tentative
  calls in memory, so a lead file cannot pass a number more often than the cap leaves;
- the subject: every call of the seller (``seller``), of the campaign (``campaign``), or of
  every campaign naming the same ``subject`` in its configuration (``campaign-subject``;
  a campaign naming none is counted per seller, the wider group: every call of the seller,
  so a call of a campaign naming a subject is also recorded in the seller's count —
  a claim that only records, ``RECORD_ONLY_CAP`` — and its own calls are recorded under
  every subject its seller's campaigns name, which it cannot be shown not to be on);
- whatever applied to the call: every ALLOWed call is counted under the subject of every
  cap rule loaded (every version of every pack) that counts its front, whether or not the
  cap applied to it (``reserved_claims``: claims that only record). A number can come into
  a cap's scope later (a CRM location placing the person in Florida, a pack taking effect,
  a house policy opted into): the cap then counts the calls made to it before, not only
  those made while it applied (issue 18: it under-counted them). A cap restricted to some
  dialing modes still counts the calls of every mode under its subject (an over-count:
  the conservative side).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from callguard.front_names import ALL_FRONTS, ASKING_FRONTS
from callguard.policy.frequency import RECORD_ONLY_CAP, FrequencyClaim, FrequencyResult
from callguard.policy.model import CallAttempt, FactKind
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase, RuleHead
from callguard.policy.schema import Key

__all__ = ["CallFrequency", "frequency_claims", "loaded_caps", "read_claims",
           "reserved_claims"]

_SUBJECTS = ("seller", "campaign", "campaign-subject")


# What a cap rule asks for until the reservation is made (one value, not one per call).
_ASK = NeedFacts(frozenset({FactKind.FREQUENCY}))


@dataclass(frozen=True, slots=True)
class CallFrequency(RuleBase):
    """No more than ``cap`` calls to the number within ``window_s`` on one subject."""

    window_s: int
    cap: int
    subject: str
    fronts: frozenset[str]
    closed: bool = False  # a call exactly window_s before counts (window_start = "closed")

    precedence = 70
    KEYS: ClassVar[Mapping[str, Key]] = {
        "window_hours": Key("int", required=True, low=1, high=24 * 366,
                            doc="the rolling window, in hours"),
        "cap": Key("int", required=True, low=1, high=1000,
                   doc="calls allowed in the window; the next one is blocked"),
        "subject": Key("str", required=True, choices=_SUBJECTS,
                       doc="which calls are on the same subject"),
        "fronts": Key("str-list", choices=ALL_FRONTS,
                      doc="fronts whose ALLOWs count (default: every front that asks "
                          "before a call: fastagi, sip, http, cli)"),
        "window_start": Key("str", choices=("open", "closed"),
                            doc="open (default): a call exactly window_hours before is "
                                "outside the window; closed: it is inside (stricter)"),
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> CallFrequency:
        """Build from ``window_hours``, ``cap``, ``subject`` and ``fronts``."""
        fronts = params.get("fronts", list(ASKING_FRONTS))
        if not fronts:
            raise params.error("fronts is empty: the cap would count no call")
        return cls(head, int(params.get("window_hours")) * 3600, int(params.get("cap")),
                   params.get("subject"), frozenset(fronts),
                   params.get("window_start", "open") == "closed")

    def subject_of(self, attempt: CallAttempt) -> str:
        """The counter's name for this call (without the number)."""
        campaign = attempt.campaign
        if self.subject == "campaign":
            return f"campaign:{campaign.id}"
        if self.subject == "campaign-subject" and campaign.subject:
            return f"subject:{campaign.subject}"
        return f"seller:{campaign.solicitor}"

    def counts(self, attempt: CallAttempt) -> bool:
        """Whether an ALLOW of this call is counted: a call is placed on it, through a front
        the rule counts."""
        return attempt.places_call and (attempt.front is None or attempt.front in self.fronts)

    def claim(self, attempt: CallAttempt) -> FrequencyClaim:
        """What this call claims: reserved when its front is counted, else only read."""
        return FrequencyClaim(self.rule_id, self.subject_of(attempt), self.window_s, self.cap,
                              self.closed)

    def claims(self, attempt: CallAttempt) -> tuple[FrequencyClaim, ...]:
        """``claim``, and under ``campaign-subject`` claims that only record the call under
        other counts: a campaign naming a subject, under its seller's count (a campaign
        naming none is counted per seller, and the seller's calls on named subjects are
        the seller's calls); a campaign naming none, under each subject its seller's
        campaigns name (its calls cannot be shown to be on another subject)."""
        own = self.claim(attempt)
        if self.subject != "campaign-subject":
            return (own,)
        campaign = attempt.campaign
        if campaign.subject:
            return (own, self._recorded(f"seller:{campaign.solicitor}", "seller's count"))
        return (own, *(self._recorded(f"subject:{subject}", f"count of subject {subject!r}")
                       for subject in sorted(campaign.seller_subjects)))

    def _recorded(self, counter: str, what: str) -> FrequencyClaim:
        """A claim that only records the call under ``counter`` (its cap is never reached)."""
        return FrequencyClaim(f"{self.rule_id} ({what})", counter, self.window_s,
                              RECORD_ONLY_CAP, self.closed)

    def _span(self) -> str:
        hours = self.window_s // 3600
        return f"{self.cap} call(s) in {hours} hours"

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Judge the store's check-and-reserve (or, for a front not counted, its read-only
        count); ask for it when not made yet."""
        if FactKind.FREQUENCY not in ctx.facts.fetched:
            return _ASK
        result = ctx.facts.values.get(FactKind.FREQUENCY)
        counted = self.counts(ctx.attempt)
        if not isinstance(result, FrequencyResult):
            return self.outcome(Status.BLOCK, "no call count was read; the cap cannot be "
                                "shown to hold")
        own = self.claim(ctx.attempt)
        found = result.count_for(self.rule_id, own)
        if found is None:
            return self.outcome(Status.BLOCK, "the store answered without this rule's count; "
                                "the cap cannot be shown to hold")
        claim, count = found  # this version's own claim (``claim``)
        if not counted:
            return self._read_only(ctx.attempt.front, claim, count, result)
        refused = result.refused
        if refused is not None and result.claims[refused] == claim:
            return self.outcome(Status.BLOCK, f"{count} call(s) on {claim.subject} to this "
                                f"number already counted; at most {self._span()}")
        if refused is not None and count >= self.cap:
            # Another cap was checked first, but this one is full too: both statutes forbid
            # the call, and the verdict names every rule that does.
            return self.outcome(Status.BLOCK, f"{count} call(s) on {claim.subject} to this "
                                f"number already counted; at most {self._span()}")
        if refused is not None:
            return self.outcome(Status.PASS, f"{count} call(s) on {claim.subject} counted; "
                                "this call not counted (another cap refused it)")
        return self.outcome(Status.PASS, f"call {count + 1} on {claim.subject}, within "
                            f"{self._span()}; counted at ALLOW")

    def _read_only(self, front: str | None, claim: FrequencyClaim, count: int,
                   result: FrequencyResult) -> Outcome:
        """A front that places no call: judged on the counts read, nothing reserved."""
        earlier = result.tentative_for(self.rule_id, claim)
        stored = count - earlier
        hours = self.window_s // 3600
        what = (f"{stored} call(s) on {claim.subject} already counted in {hours} hours"
                + (f", {earlier} earlier row(s) of this {front} take a call each"
                   if earlier else ""))
        if count >= self.cap:
            why = ("earlier rows of this file take the remaining calls"
                   if earlier and stored < self.cap else "no call left")
            return self.outcome(Status.BLOCK, f"{front}: {what}; {why}; at most "
                                f"{self._span()} (read only, nothing counted)")
        return self.outcome(Status.PASS, f"{front}: {what}; call {count + 1} would be within "
                            f"{self._span()} (read only, nothing counted)")


def frequency_claims(rules: tuple[object, ...], attempt: CallAttempt
                     ) -> tuple[FrequencyClaim, ...]:
    """The claims the call's frequency rules count (what the store checks and reserves)."""
    return tuple(claim for rule in rules
                 if isinstance(rule, CallFrequency) and rule.counts(attempt)
                 for claim in rule.claims(attempt))


def read_claims(rules: tuple[object, ...], attempt: CallAttempt
                ) -> tuple[FrequencyClaim, ...]:
    """The claims judged read-only: rules that do not count the call's front (the scrub)."""
    return tuple(claim for rule in rules
                 if isinstance(rule, CallFrequency) and not rule.counts(attempt)
                 for claim in rule.claims(attempt))


def reserved_claims(rules: tuple[object, ...], caps: tuple[CallFrequency, ...],
                    attempt: CallAttempt) -> tuple[FrequencyClaim, ...]:
    """What the store checks and reserves: ``frequency_claims``, then a claim that only
    records the call under each other subject a loaded cap counts it under (``caps``: the
    loaded caps that count this call, ``Plan.caps``), so a cap that comes to apply to the
    number later counts this call too."""
    own = frequency_claims(rules, attempt)
    if not caps:
        return own
    seen = {claim.subject for claim in own}
    recorded: list[FrequencyClaim] = []
    for cap in caps:
        # A cap's own subject first, without building its claims: under the shipped caps
        # (all per seller) it is the call's own subject, and nothing is added.
        subjects = ([cap.subject_of(attempt)] if cap.subject != "campaign-subject"
                    else [claim.subject for claim in cap.claims(attempt)])
        for subject in subjects:
            if subject not in seen:
                seen.add(subject)
                recorded.append(FrequencyClaim(
                    f"{cap.rule_id} (recorded; the cap does not apply to this call)",
                    subject, cap.window_s, RECORD_ONLY_CAP, cap.closed))
    return (*own, *recorded) if recorded else own


def loaded_caps(rules: Iterable[object]) -> tuple[CallFrequency, ...]:
    """The call-frequency rules among ``rules`` (every version of every loaded pack), once
    each: the caps every ALLOWed call is counted under."""
    return tuple(dict.fromkeys(r for r in rules if isinstance(r, CallFrequency)))
