"""Do-not-call lists: membership, coverage of the area code, and freshness of the copy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from callguard.policy.model import DialingMode, ListCheck
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase
from callguard.policy.rules.exemptions import Exemptions, add_months

__all__ = ["ListFreshness", "RegistryList"]


def _list_name(params: Params) -> str:
    name: str = params.get("list", str, required=True)
    if not name.replace("-", "").replace("_", "").isalnum():
        raise params.error(f"list name {name!r} may hold only letters, digits, - and _")
    return name


@dataclass(frozen=True, slots=True)
class RegistryList(RuleBase):
    """No call to a number on the list, unless a record exempts it; fail closed on gaps."""

    list_name: str
    exemptions: Exemptions

    precedence = 30

    @classmethod
    def from_params(
        cls, rule_id: str, citation: str, modes: frozenset[DialingMode], params: Params
    ) -> RegistryList:
        """Build from ``list`` and the exemption keys."""
        return cls(rule_id, citation, modes, _list_name(params), Exemptions.from_params(params))

    @property
    def list_names(self) -> tuple[str, ...]:
        """The one list this rule reads."""
        return (self.list_name,)

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Pass when the list covers the number's area code and does not hold it."""
        check = ctx.facts.lists.get(self.list_name)
        if check is None:
            return self.outcome(Status.BLOCK, f"list {self.list_name!r} is not loaded")
        tag = f"{check.name} v{check.version}"
        if not check.covered:
            area = ctx.attempt.number.area_code
            return self.outcome(Status.BLOCK, f"list {tag} does not cover area code {area}")
        if not check.listed:
            return self.outcome(Status.PASS, f"not on {tag}")
        exemption = self.exemptions.find(ctx)
        if isinstance(exemption, NeedFacts):
            return exemption
        if exemption is not None:
            return self.outcome(Status.EXEMPT, f"on {tag}; exempt: {exemption}")
        return self.outcome(Status.BLOCK, f"number is on {tag}")


@dataclass(frozen=True, slots=True)
class ListFreshness(RuleBase):
    """The copy of the list must be recent: a stale list is a list we cannot rely on."""

    list_name: str
    max_age_days: int | None
    max_age_months: int | None

    precedence = 10

    @classmethod
    def from_params(
        cls, rule_id: str, citation: str, modes: frozenset[DialingMode], params: Params
    ) -> ListFreshness:
        """Build from ``list`` and one of ``max_age_days`` / ``max_age_months``."""
        days = params.get("max_age_days", int)
        months = params.get("max_age_months", int)
        if (days is None) == (months is None):
            raise params.error("give exactly one of max_age_days and max_age_months")
        return cls(rule_id, citation, modes, _list_name(params), days, months)

    @property
    def list_names(self) -> tuple[str, ...]:
        """The one list this rule reads."""
        return (self.list_name,)

    def last_valid_day(self, published: date) -> date:
        """The last day a copy published on ``published`` may be relied on."""
        return self._limit(published)[0]

    def _limit(self, published: date) -> tuple[date, str]:
        if self.max_age_days is not None:
            return date.fromordinal(published.toordinal() + self.max_age_days), (
                f"{self.max_age_days} days")
        assert self.max_age_months is not None
        return add_months(published, self.max_age_months), f"{self.max_age_months} months"

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Block when the list is missing, undated, or older than the limit."""
        check: ListCheck | None = ctx.facts.lists.get(self.list_name)
        if check is None:
            return self.outcome(Status.BLOCK, f"list {self.list_name!r} is not loaded")
        tag = f"{check.name} v{check.version}"
        if check.published is None:
            return self.outcome(Status.BLOCK, f"list {tag} has no published date")
        today = ctx.attempt.at.date()
        limit, span = self._limit(check.published)
        if today > limit:
            age = (today - check.published).days
            return self.outcome(
                Status.BLOCK,
                f"list {tag} published {check.published} is {age} days old; at most {span}",
            )
        return self.outcome(Status.PASS, f"list {tag} published {check.published}, within {span}")
