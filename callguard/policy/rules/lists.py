"""Do-not-call lists: membership, coverage of the area code, and freshness of the copy."""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import ClassVar

from callguard.memo import remember
from callguard.numbers.location import STATE_CODES
from callguard.policy.model import ListCheck
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase, RuleHead
from callguard.policy.rules.exemptions import EXEMPTION_KEYS, Exemptions, add_months
from callguard.policy.schema import Key

__all__ = ["ListFreshness", "RegistryList"]

# Per rule, outcomes by what they depend on alone (list version, call date): a dialer's
# calls repeat the same few, and building each again is a measurable share of a decision.
_MEMO_LIMIT = 1024
_LIST_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_MONTH_DAY = re.compile(r"^(\d\d)-(\d\d)$")
_LIST_KEY = Key("str", required=True, doc="the list's name, as `dnc import --list` gives it")


def _list_name(params: Params) -> str:
    name: str = params.get("list")
    if not _LIST_NAME.match(name):
        raise params.error(f"list name {name!r} may hold only letters, digits, - and _")
    return name


def _not_loaded(name: str, ctx: Context) -> str:
    """Why a missing list blocks. One the site expects (``CallAttempt.unread``) also brings
    its state's pack to numbers of every area code: the record, the scrub file and
    ``explain`` then say why a New York number met a Florida rule (the pack's scope reason
    is on the verdict alone)."""
    if name in ctx.attempt.unread:
        return (f"list {name!r} is not loaded (nor named in [lists] not_loaded, or it is and "
                "the copy served before is lost or refused: see `dnc status`): nothing "
                "shows the number is not on it, so its state's pack applies whatever the "
                "area code")
    return f"list {name!r} is not loaded"


def _month_days(params: Params, values: list[str]) -> tuple[tuple[int, int], ...]:
    """``["01-01", "04-01"]`` -> ((1, 1), (4, 1)); a day that no year has is refused."""
    days: set[tuple[int, int]] = set()
    for value in values:
        match = _MONTH_DAY.match(value)
        if match is None:
            raise params.error(f"superseded_on day {value!r} is not MM-DD")
        month, day = int(match[1]), int(match[2])
        try:
            date(2000, month, day)  # a leap year: 02-29 is a day some years have
        except ValueError:
            raise params.error(f"superseded_on day {value!r} is no day of the year") from None
        days.add((month, day))
    return tuple(sorted(days))


@dataclass(frozen=True, slots=True)
class RegistryList(RuleBase):
    """No call to a number on the list, unless a record exempts it; fail closed on gaps.

    With ``called_party_state`` the rule reads the list only for called parties in that
    state (a number of its area codes, or a CRM location there): "that part of the
    national registry that relates to this state".
    """

    list_name: str
    exemptions: Exemptions
    called_party_state: str | None
    area_codes: frozenset[int]
    # "not on <list> v<version>", by (list name, version): most calls are not listed.
    _unlisted: dict[tuple[str, int], Outcome] = field(
        default_factory=dict, compare=False, repr=False, kw_only=True)

    precedence = 30
    KEYS: ClassVar[Mapping[str, Key]] = {
        "list": _LIST_KEY,
        "called_party_state": Key("str", choices=tuple(sorted(STATE_CODES)),
                                  doc="read the list only for called parties in this state"),
        "called_party_area_codes": Key("int-list", low=200, high=999,
                                       doc="the state's area codes (with called_party_state)"),
        **EXEMPTION_KEYS,
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> RegistryList:
        """Build from ``list``, the exemption keys and the optional state restriction."""
        state = params.get("called_party_state")
        areas = params.get("called_party_area_codes", [])
        if (state is None) != (not areas):
            raise params.error("called_party_state and called_party_area_codes go together")
        return cls(head, _list_name(params), Exemptions.from_params(params), state,
                   frozenset(areas))

    @property
    def list_names(self) -> tuple[str, ...]:
        """The one list this rule reads."""
        return (self.list_name,)

    def _relates(self, ctx: Context) -> bool:
        if self.called_party_state is None:
            return True
        location = ctx.attempt.location
        return (ctx.attempt.number.area_code in self.area_codes
                or (location is not None and location.state == self.called_party_state))

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Pass when the list covers the number's area code and does not hold it."""
        if not self._relates(ctx):
            return self._kept.get("unrelated") or self.kept("unrelated", self.outcome(
                Status.PASS, f"called party not in {self.called_party_state}: the number is "
                f"not in the part of {self.list_name} this rule reads"))
        check = ctx.facts.lists.get(self.list_name)
        if check is None:
            return self.outcome(Status.BLOCK, _not_loaded(self.list_name, ctx))
        if check.covered and not check.listed:
            known = self._unlisted.get((check.name, check.version))
            if known is None:
                known = remember(self._unlisted, (check.name, check.version), self.outcome(
                    Status.PASS, f"not on {check.name} v{check.version}"), _MEMO_LIMIT)
            return known
        tag = f"{check.name} v{check.version}"
        if not check.covered or check.listed:
            # A call the list does not reach (consent, a relationship) is exempt whatever
            # the copy holds, or fails to cover (47 CFR 64.1200(f)(15)).
            exemption = self.exemptions.find(ctx)
            if isinstance(exemption, NeedFacts):
                return exemption
            if not check.covered:
                area = ctx.attempt.number.area_code
                if exemption is not None:
                    return self.outcome(Status.EXEMPT, f"list {tag} does not cover area code "
                                        f"{area}; exempt: {exemption}")
                return self.outcome(Status.BLOCK, f"list {tag} does not cover area code {area}")
            if exemption is not None:
                return self.outcome(Status.EXEMPT, f"on {tag}; exempt: {exemption}")
            return self.outcome(Status.BLOCK,
                                f"number is on {tag}" + self.exemptions.withdrawn(ctx))
        return self.outcome(Status.PASS, f"not on {tag}")


@dataclass(frozen=True, slots=True)
class ListFreshness(RuleBase):
    """The copy of the list must be recent: a stale list is a list we cannot rely on.

    A copy dated after the date of the call cannot have been the copy in use: it is
    refused (fails closed) rather than counted as fresh. ``superseded_on`` names the days
    of the year on which the publisher's next copy takes the place of the last one (Fla.
    Stat. 501.059(4)'s "then-current quarterly listing"): a copy published before the
    latest such day on or before the date of the call is not the current one, however
    young.

    The age of a copy matters only to a call the list's own rule reaches: with the
    exemption keys (``exempt_consent``, ``ebr_*``, as that rule's), a call exempt from the
    list is exempt from its age too (47 CFR 64.1200(c)(2) forbids only a "telephone
    solicitation", which a call to a customer is not, (f)(15)(ii)). A missing, undated or
    future-dated copy still blocks (fail closed on bad data).

    A copy of a state's own list (a scope list: ``fl-state``, ``ok-state``) is judged on
    its state's date, not the called party's (``Context.list_day``): current at an instant
    or not, for every number alike, as the gate judges whether it can place a number out
    of the state's scope (``Policy.list_day``; hsto22).
    """

    list_name: str
    max_age_days: int | None
    max_age_months: int | None
    superseded_on: tuple[tuple[int, int], ...] = ()
    exemptions: Exemptions | None = None
    # Outcomes by (list name, version, published, date of the call): all the outcome
    # depends on besides the rule's own parameters.
    _judged: dict[tuple[str, int, date | None, date], Outcome] = field(
        default_factory=dict, compare=False, repr=False, kw_only=True)

    precedence = 10
    KEYS: ClassVar[Mapping[str, Key]] = {
        "list": _LIST_KEY,
        "max_age_days": Key("int", low=1, high=3660, doc="oldest usable copy, in days"),
        "max_age_months": Key("int", low=1, high=120, doc="oldest usable copy, in months"),
        "superseded_on": Key("str-list", doc="days of the year (\"MM-DD\") on which a new "
                             "copy replaces the last: an older copy is stale from then"),
        **EXEMPTION_KEYS,
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> ListFreshness:
        """Build from ``list``, one of ``max_age_days`` / ``max_age_months`` and the
        optional ``superseded_on`` days."""
        days = params.get("max_age_days")
        months = params.get("max_age_months")
        if (days is None) == (months is None):
            raise params.error("give exactly one of max_age_days and max_age_months")
        exemptions = Exemptions.from_params(params)
        return cls(head, _list_name(params), days, months,
                   _month_days(params, params.get("superseded_on", [])),
                   exemptions if exemptions.needs else None)

    @property
    def list_names(self) -> tuple[str, ...]:
        """The one list this rule reads."""
        return (self.list_name,)

    def last_valid_day(self, published: date) -> date:
        """The last day a copy published on ``published`` may be relied on."""
        return self._limit(published)[0]

    def _limit(self, published: date) -> tuple[date, str]:
        if self.max_age_days is not None:
            limit, span = date.fromordinal(published.toordinal() + self.max_age_days), (
                f"{self.max_age_days} days")
        else:
            assert self.max_age_months is not None
            limit, span = (add_months(published, self.max_age_months),
                           f"{self.max_age_months} months")
        successor = self.next_copy_day(published)
        if successor is not None and successor - timedelta(days=1) < limit:
            return successor - timedelta(days=1), (
                f"{span}, and only until the next copy takes its place on {successor}")
        return limit, span

    def next_copy_day(self, published: date) -> date | None:
        """The first ``superseded_on`` day after ``published`` (None without such days)."""
        found: list[date] = []
        for year in (published.year, published.year + 1):
            for month, day in self.superseded_on:
                if month == 2 and day == 29 and not calendar.isleap(year):
                    continue
                candidate = date(year, month, day)
                if candidate > published:
                    found.append(candidate)
        return min(found, default=None)

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Block when the list is missing, undated, dated after the call, or too old."""
        check: ListCheck | None = ctx.facts.lists.get(self.list_name)
        if check is None:
            return self.outcome(Status.BLOCK, _not_loaded(self.list_name, ctx))
        # a state's own list: its state's date; another: the call's, or its import's (copy_day)
        today = ctx.copy_day(self.list_name, check.published)
        key = (check.name, check.version, check.published, today)
        known = self._judged.get(key)
        if known is None:
            known = remember(self._judged, key, self._judge(check, today), _MEMO_LIMIT)
        if (known.status is Status.BLOCK and self.exemptions is not None
                and check.published is not None and check.published <= today):
            exemption = self.exemptions.find(ctx)
            if isinstance(exemption, NeedFacts):
                return exemption
            if exemption is not None:
                return self.outcome(Status.EXEMPT, f"{known.reason}; exempt: {exemption}: "
                                    f"a call {self.list_name} does not reach")
        return known

    def _judge(self, check: ListCheck, today: date) -> Outcome:
        tag = f"{check.name} v{check.version}"
        if check.published is None:
            return self.outcome(Status.BLOCK, f"list {tag} has no published date")
        if check.published > today:
            return self.outcome(
                Status.BLOCK,
                f"list {tag} is dated {check.published}, after the date of the call "
                f"({today}): a copy from the future is a wrong date, not a fresh copy")
        limit, span = self._limit(check.published)
        successor = self.next_copy_day(check.published)
        if today > limit and successor is not None and today >= successor:
            return self.outcome(
                Status.BLOCK,
                f"list {tag} published {check.published} is not the current copy on "
                f"{today}: the next copy took its place on {successor} (new copies on "
                f"{', '.join(f'{m:02d}-{d:02d}' for m, d in self.superseded_on)})")
        if today > limit:
            age = (today - check.published).days
            return self.outcome(
                Status.BLOCK,
                f"list {tag} published {check.published} is {age} days old on {today}; "
                f"at most {span}",
            )
        return self.outcome(Status.PASS, f"list {tag} published {check.published}, within {span}")
