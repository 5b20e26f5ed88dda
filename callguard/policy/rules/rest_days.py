"""No calls on Sundays or legal holidays, on the called party's local date.

The legal holidays come from the pack's own calendar (``policy/calendar.py``): the
statute's days, moving rules and effective dates as data, never a library's idea of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

from callguard.memo import remember
from callguard.policy.calendar import Calendar
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase, RuleHead
from callguard.policy.rules.exemptions import EXEMPTION_KEYS, Exemptions, window_fits
from callguard.policy.schema import Key

__all__ = ["RestDays"]

_SUNDAY = 6
_DAY_CACHE_LIMIT = 4096


@dataclass(frozen=True, slots=True)
class _Day:
    """What the calendar says of one day."""

    in_force: bool  # a version of the calendar covers the day
    rest: str | None  # why it is a rest day, or None
    label: str  # the calendar version that said so


def _judge_day(calendar: Calendar, sundays: bool, day: date) -> _Day:
    """What the calendar says of ``day`` (the rule keeps the answer: most calls of a day
    ask the same question)."""
    version = calendar.version_on(day)
    if version is None:
        return _Day(False, None, f"calendar {calendar.id} none in force")
    label = f"calendar {calendar.id} {version.effective_from}"
    holidays = [h for h in version.holidays_on(day) if h.name != "Sunday"]
    if holidays:
        return _Day(True, "a legal holiday: " + "; ".join(h.label() for h in holidays), label)
    if day.weekday() == _SUNDAY and (sundays or version.sundays):
        return _Day(True, "a Sunday", label)
    return _Day(True, None, label)


@dataclass(frozen=True, slots=True)
class RestDays(RuleBase):
    """Block on Sundays and on the calendar's legal holidays (local date, every zone)."""

    calendar: Calendar
    sundays: bool
    exemptions: Exemptions
    _days: dict[date, _Day] = field(default_factory=dict, compare=False, repr=False)

    precedence = 65
    KEYS: ClassVar[Mapping[str, Key]] = {
        "calendar": Key("str", required=True, doc="id of a [[calendars]] entry of the pack"),
        "sundays": Key("bool", doc="every Sunday is a rest day under this rule's own words "
                                   "(default true)"),
        **EXEMPTION_KEYS,
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> RestDays:
        """Build from ``calendar`` (an id in the same pack) and ``sundays``."""
        name = params.get("calendar")
        calendar = params.calendars.get(name)
        if not isinstance(calendar, Calendar):
            known = ", ".join(sorted(params.calendars)) or "none in this pack"
            raise params.error(f"calendar {name!r} is not a [[calendars]] id of this pack; "
                               f"known: {known}")
        return cls(head, calendar, params.get("sundays", True), Exemptions.from_params(params))

    def _rest_day(self, day: date) -> _Day:
        judged = self._days.get(day)
        if judged is None:
            judged = remember(self._days, day, _judge_day(self.calendar, self.sundays, day),
                              _DAY_CACHE_LIMIT)
        return judged

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Block when the local date in any candidate zone is a rest day."""
        if not ctx.local:
            return self.local_unknown(ctx, "cannot rule out a Sunday or legal holiday")
        if len(ctx.local) == 1:  # most calls: one zone, an ordinary day (kept by its label)
            judged = self._rest_day(ctx.local[0].at.date())
            if judged.in_force and judged.rest is None:
                return self._kept.get(judged.label) or self.kept(judged.label, self.outcome(
                    Status.PASS, "not a Sunday or legal holiday in any candidate zone",
                    f"{self.version}; {judged.label}"))
        days = [(lt, self._rest_day(lt.at.date())) for lt in ctx.local]
        if len(days) == 1:
            params = f"{self.version}; {days[0][1].label}"
        else:
            labels = dict.fromkeys(judged.label for _, judged in days)
            params = f"{self.version}; {'; '.join(labels)}"
        for lt, judged in days:
            day = lt.at.date()
            if not judged.in_force:
                return self.outcome(
                    Status.BLOCK,
                    f"no text of {self.calendar.citation} is in force on {day} (calendar "
                    f"{self.calendar.id} has no version for that date): a legal holiday "
                    "cannot be ruled out", params)
            rest = judged.rest
            if rest is None:
                continue
            exemption = self.exemptions.find(ctx, window_fits(ctx))
            if isinstance(exemption, NeedFacts):
                return exemption
            reason = f"{day:%Y-%m-%d} in {lt.zone} is {rest}"
            if exemption is not None:
                return self.outcome(Status.EXEMPT, f"{reason}; exempt: {exemption}", params)
            return self.outcome(Status.BLOCK, reason + self.exemptions.withdrawn(ctx), params)
        return self.outcome(Status.PASS, "not a Sunday or legal holiday in any candidate zone",
                            params)
