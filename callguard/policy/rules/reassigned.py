"""47 CFR 64.1200(m): reassigned numbers — consent outlives the consenting person no more.

64.1200(m) gives a caller a safe harbor from 64.1200(a)(1)-(a)(3) for a call to a number
that was reassigned after consent was given, if the caller queried the reassigned numbers
database (the most recent numbering information reported to its Administrator) and it
answered that the number had not been permanently disconnected since the date of the
consent, and the call was the result of that answer being wrong. The database answers
"yes" (disconnected) when the date queried is on or before the number's last permanent
disconnect date.

This rule reads the loaded reassigned-number data (``callguard attributes import --kind
reassigned``). Its effect on other rules is in ``exemptions``: a consent (or relationship)
dated on or before the last permanent disconnect is void for every rule, since the
number's new subscriber gave none. The rule itself BLOCKs when the number has consent
records of the seller and every one of them predates the disconnect: the lead no longer
reaches the person who consented (a conservative house reading: such calls are the
wrong-party calls the database exists to prevent). It states in every decision what the
data said and whether the copy can support the safe harbor (loaded, covering the area
code, within ``max_age_days``). Without data (never loaded on this node), consent is
honoured as before, without the safe harbor. A copy this node served and lost (Redis lost
its data, its version refused) is unread (``CallAttempt.unread``, as the gate reads a scope
list): a call resting on a consent valid at the call is BLOCKed (hrea24).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from callguard.policy.model import DialingMode, FactKind
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase, RuleHead
from callguard.policy.rules.exemptions import consent_date
from callguard.policy.rules.number_kind import REASSIGNED_LIST, fresh
from callguard.policy.schema import Key

__all__ = ["ReassignedNumbers"]


@dataclass(frozen=True, slots=True)
class ReassignedNumbers(RuleBase):
    """Reads the reassigned-number data; consents before a disconnect are void (exemptions)."""

    max_age_days: int
    atds_modes: frozenset[DialingMode] = frozenset()
    unchecked_blocks: bool = False

    precedence = 48  # decides before the consent rules it voids (50)
    KEYS: ClassVar[Mapping[str, Key]] = {
        "max_age_days": Key("int", required=True, low=1, high=366,
                            doc="oldest copy that can support the safe harbor"),
        "atds_modes": Key("str-list", choices=tuple(m.value for m in DialingMode),
                          doc="modes covered only as autodialed calls (47 U.S.C. 227(a)(1)): "
                              "out of the rule for a campaign whose dialer is not one"),
        "unchecked": Key("str", choices=("honour", "block"),
                         doc="a consent valid at the call when the data is not loaded, older "
                             "than max_age_days, dated after the call or not covering the area "
                             "code (no safe harbor): honour it (default) or block"),
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> ReassignedNumbers:
        """Build from ``max_age_days`` and ``atds_modes``."""
        return cls(head, params.get("max_age_days"),
                   frozenset(DialingMode(m) for m in params.get("atds_modes", ())),
                   params.get("unchecked", "honour") == "block")

    @property
    def list_names(self) -> tuple[str, ...]:
        """The reassigned-number data."""
        return (REASSIGNED_LIST,)

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Block when every consent on record predates the number's permanent disconnect."""
        attempt = ctx.attempt
        if attempt.mode in self.atds_modes and not attempt.campaign.dialer_is_atds:
            # (m) is a safe harbor from (a)(1)-(a)(3); a call they do not reach (no
            # automatic telephone dialing system) rests on no consent, as a manual call.
            ref = attempt.campaign.counsel_reference or "no counsel reference given"
            return self.outcome(Status.NOT_APPLICABLE, f"campaign {attempt.campaign.id} "
                                f"declares its {attempt.mode.value} dialer is not an automatic "
                                f"telephone dialing system ({ref}): no consent is needed, "
                                "so none is voided")
        check = ctx.facts.lists.get(REASSIGNED_LIST)
        if check is None and REASSIGNED_LIST in attempt.unread:
            return self._lost(ctx)
        problem = fresh(check, ctx, self.max_age_days)
        if problem is not None and self.unchecked_blocks:
            return self._unchecked(ctx, problem)
        if check is None:
            return self.outcome(Status.PASS, "no reassigned-number data loaded: consent on "
                                "record is honoured without the 64.1200(m) safe harbor")
        tag = f"{check.name} v{check.version}"
        harbor = "" if problem is None else f"; no safe harbor from this copy ({problem})"
        cut = check.disconnected
        if cut is None:
            return self.outcome(Status.PASS, f"no permanent disconnect on {tag}" + harbor)
        if FactKind.CONSENT not in ctx.facts.fetched:
            return NeedFacts(frozenset({FactKind.CONSENT}))
        consents = ctx.facts.consents
        if not consents:
            return self.outcome(Status.PASS, f"permanently disconnected on {cut:%Y-%m-%d} per "
                                f"{tag}; no consent on record" + harbor)
        if any(consent_date(ctx, c) > cut for c in consents):
            return self.outcome(Status.PASS, f"permanently disconnected on {cut:%Y-%m-%d} per "
                                f"{tag}; consent on record given since" + harbor)
        return self.outcome(
            Status.BLOCK,
            f"every consent on record ({len(consents)}) predates the number's permanent "
            f"disconnect on {cut:%Y-%m-%d} per {tag}: it was the previous subscriber's, the "
            "new subscriber gave none" + harbor)

    def _lost(self, ctx: Context) -> Outcome | NeedFacts:
        """A copy this node served is lost (Redis lost its data, its version refused):
        unread (``CallAttempt.unread``), not "no data". The disconnects it held voided
        consents that, unread, would be honoured again: a call to the new subscriber of a
        reassigned number (hrea24). Whatever ``unchecked`` says, a call resting on a
        consent valid at the call is BLOCKed; one with none is not this rule's."""
        if FactKind.CONSENT not in ctx.facts.fetched:
            return NeedFacts(frozenset({FactKind.CONSENT}))
        attempt = ctx.attempt
        consents = [c for c in ctx.facts.consents if c.valid_at(attempt.at, attempt.judged_at)]
        lost = (f"the copy of {REASSIGNED_LIST} this node served is lost or refused (Redis "
                "lost its data, or its version does not verify: see `callguard dnc status`)")
        if not consents:
            return self.outcome(Status.PASS, "no consent valid at the call on record to "
                                f"check; {lost}")
        return self.outcome(
            Status.BLOCK,
            f"the consent on record ({len(consents)}) cannot be checked against the "
            f"reassigned-number data: {lost}, and the disconnects it held may void that "
            "consent (47 CFR 64.1200(m): a consent given before a permanent disconnect was "
            "the previous subscriber's). Fix: import the newest copy again (`callguard "
            "attributes import FILE --kind reassigned ...`)")

    def _unchecked(self, ctx: Context, problem: str) -> Outcome | NeedFacts:
        """``unchecked = "block"``: a consent on record cannot be checked against current
        data, so a call resting on it would have no safe harbor; without one nothing rests
        on consent here and the other rules decide."""
        if FactKind.CONSENT not in ctx.facts.fetched:
            return NeedFacts(frozenset({FactKind.CONSENT}))
        label = "no reassigned-number data loaded" if problem == "not loaded" else problem
        # only a consent valid at the call can lift a rule: one revoked, expired or given
        # after it carries no call, and blocking for it stopped calls to landlines that
        # need none (hrev77)
        attempt = ctx.attempt
        consents = [c for c in ctx.facts.consents if c.valid_at(attempt.at, attempt.judged_at)]
        if not consents:
            return self.outcome(Status.PASS, "no consent valid at the call on record to check "
                                f"against reassigned-number data ({label})")
        return self.outcome(
            Status.BLOCK,
            f"the consent on record ({len(consents)}) cannot be checked against current "
            f"reassigned-number data ({label}): a call resting on it has no 64.1200(m) safe "
            'harbor, and this rule is set to block then (unchecked = "block")')
