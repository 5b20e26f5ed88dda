"""No calls on Sundays or legal holidays, on the called party's local date."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import holidays

from callguard.policy.model import DialingMode
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase
from callguard.policy.rules.exemptions import Exemptions, window_fits

__all__ = ["RestDays", "holiday_name"]

_SUNDAY = 6


@lru_cache(maxsize=64)
def _calendar(country: str, subdivision: str | None, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, subdiv=subdivision, years=year)


@lru_cache(maxsize=4096)
def holiday_name(country: str, subdivision: str | None, day: date) -> str | None:
    """The legal holiday on ``day`` (observed days included), or None."""
    name = _calendar(country, subdivision, day.year).get(day)
    return str(name) if name is not None else None


@dataclass(frozen=True, slots=True)
class RestDays(RuleBase):
    """Block on Sundays and on the jurisdiction's legal holidays (local date, every zone)."""

    country: str
    subdivision: str | None
    sundays: bool
    exemptions: Exemptions

    precedence = 65

    @classmethod
    def from_params(
        cls, rule_id: str, citation: str, modes: frozenset[DialingMode], params: Params
    ) -> RestDays:
        """Build from ``holiday_country``, ``holiday_subdivision`` and ``sundays``."""
        country = params.get("holiday_country", str, required=True)
        subdivision = params.get("holiday_subdivision", str)
        try:
            _calendar(country, subdivision, 2000)
        except NotImplementedError:
            raise params.error(f"no holiday calendar for {country}/{subdivision}") from None
        return cls(rule_id, citation, modes, country, subdivision,
                   params.get("sundays", bool, True), Exemptions.from_params(params))

    def _rest_day(self, day: date) -> str | None:
        if self.sundays and day.weekday() == _SUNDAY:
            return "a Sunday"
        name = holiday_name(self.country, self.subdivision, day)
        return f"a legal holiday ({name})" if name else None

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Block when the local date in any candidate zone is a rest day."""
        if not ctx.local:
            return self.outcome(
                Status.BLOCK,
                f"called party's local time unknown ({ctx.local_unknown_reason}); "
                "cannot rule out a Sunday or legal holiday",
            )
        for lt in ctx.local:
            rest = self._rest_day(lt.at.date())
            if rest is None:
                continue
            exemption = self.exemptions.find(ctx, window_fits(ctx))
            if isinstance(exemption, NeedFacts):
                return exemption
            reason = f"{lt.at:%Y-%m-%d} in {lt.zone} is {rest}"
            if exemption is not None:
                return self.outcome(Status.EXEMPT, f"{reason}; exempt: {exemption}")
            return self.outcome(Status.BLOCK, reason)
        return self.outcome(Status.PASS, "not a Sunday or legal holiday in any candidate zone")
