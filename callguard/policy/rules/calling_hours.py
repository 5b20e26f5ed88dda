"""Calling hours in the called party's local time, in every candidate zone."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import ClassVar

from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase, RuleHead
from callguard.policy.rules.exemptions import EXEMPTION_KEYS, Exemptions, window_fits
from callguard.policy.schema import Key

__all__ = ["CallingHours", "clock_label", "parse_clock"]

_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def parse_clock(params: Params, key: str) -> time:
    """Read ``"HH:MM"`` from a pack."""
    text: str = params.get(key)
    if not _CLOCK.match(text):
        raise params.error(f"{key!r} is {text!r}; write a 24-hour time like \"08:00\"")
    return time.fromisoformat(text)


def clock_label(value: time) -> str:
    """``9:00 a.m.`` / ``8:00 p.m.``, as statutes write it."""
    hour = value.hour % 12 or 12
    return f"{hour}:{value.minute:02d} {'a.m.' if value.hour < 12 else 'p.m.'}"


@dataclass(frozen=True, slots=True)
class CallingHours(RuleBase):
    """No call before ``earliest`` or after ``latest`` local time.

    ``ends`` says whether the two instants themselves are callable: "callable" where the
    text says "before 8 a.m. or after 9 p.m." (08:00:00 is not before 8 a.m.);
    "forbidden" where the text says "between 9 p.m. and 8 a.m." and the conservative
    reading puts both ends inside the forbidden period.
    """

    earliest: time
    latest: time
    ends_callable: bool
    exemptions: Exemptions
    window: str  # "9:00 a.m. to 8:00 p.m.", for reasons

    precedence = 60
    KEYS: ClassVar[Mapping[str, Key]] = {
        "earliest": Key("str", required=True, doc="first callable local time, \"HH:MM\""),
        "latest": Key("str", required=True, doc="last callable local time, \"HH:MM\""),
        "ends": Key("str", choices=("callable", "forbidden"),
                    doc="whether the instants earliest and latest themselves are callable "
                        "(default callable)"),
        **EXEMPTION_KEYS,
    }

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> CallingHours:
        """Build from a pack's ``earliest``/``latest``/``ends`` keys."""
        earliest, latest = parse_clock(params, "earliest"), parse_clock(params, "latest")
        if earliest >= latest:
            raise params.error("earliest must be before latest")
        ends_callable = params.get("ends", "callable") == "callable"
        window = f"{clock_label(earliest)} to {clock_label(latest)}"
        if not ends_callable:
            window += " (both ends excluded)"
        return cls(head, earliest, latest, ends_callable, Exemptions.from_params(params),
                   window)

    def _inside(self, moment: time) -> bool:
        if self.ends_callable:
            return self.earliest <= moment <= self.latest
        return self.earliest < moment < self.latest

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Block when any candidate zone's local time lies outside the window."""
        window = self.window
        if not ctx.local:
            return self.local_unknown(ctx, f"calling hours {window} cannot be shown to hold")
        inside = self._inside
        for lt in ctx.local:
            if not inside(lt.at.time()):
                break
        else:
            return self._kept.get("inside") or self.kept("inside", self.outcome(
                Status.PASS, f"local time within {window} in every candidate zone"))
        outside = [lt for lt in ctx.local if not inside(lt.at.time())]
        exemption = self.exemptions.find(ctx, window_fits(ctx, outside))
        if isinstance(exemption, NeedFacts):
            return exemption
        first = outside[0]
        moment = first.at.time()
        if moment <= self.earliest:
            side = "at" if moment == self.earliest else "before"
            edge = clock_label(self.earliest)
        else:
            side = "at" if moment == self.latest else "after"
            edge = clock_label(self.latest)
        reason = f"it is {first.label()}, {side} {edge}"
        if side == "at":
            reason += " (an end of the window, not callable under this rule)"
        if exemption is not None:
            return self.outcome(Status.EXEMPT, f"{reason}; exempt: {exemption}")
        return self.outcome(Status.BLOCK, reason + self.exemptions.withdrawn(ctx))
