"""Calling hours in the called party's local time, in every candidate zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

from callguard.policy.model import DialingMode
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.rules.base import Context, Params, RuleBase
from callguard.policy.rules.exemptions import Exemptions, window_fits

__all__ = ["CallingHours", "clock_label", "parse_clock"]


def parse_clock(params: Params, key: str) -> time:
    """Read ``"HH:MM"`` from a pack."""
    text = params.get(key, str, required=True)
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise params.error(f"{key} {text!r} is not a time like \"08:00\"") from None


def clock_label(value: time) -> str:
    """``9:00 a.m.`` / ``8:00 p.m.``, as statutes write it."""
    hour = value.hour % 12 or 12
    return f"{hour}:{value.minute:02d} {'a.m.' if value.hour < 12 else 'p.m.'}"


@dataclass(frozen=True, slots=True)
class CallingHours(RuleBase):
    """No call before ``earliest`` or after ``latest`` local time (both ends callable)."""

    earliest: time
    latest: time
    exemptions: Exemptions
    window: str  # "9:00 a.m. to 8:00 p.m.", for reasons

    precedence = 60

    @classmethod
    def from_params(
        cls, rule_id: str, citation: str, modes: frozenset[DialingMode], params: Params
    ) -> CallingHours:
        """Build from a pack's ``earliest``/``latest`` keys."""
        earliest, latest = parse_clock(params, "earliest"), parse_clock(params, "latest")
        if earliest >= latest:
            raise params.error("earliest must be before latest")
        window = f"{clock_label(earliest)} to {clock_label(latest)}"
        return cls(rule_id, citation, modes, earliest, latest, Exemptions.from_params(params),
                   window)

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Block when any candidate zone's local time lies outside the window."""
        window = self.window
        if not ctx.local:
            return self.outcome(
                Status.BLOCK,
                f"called party's local time unknown ({ctx.local_unknown_reason}); "
                f"calling hours {window} cannot be shown to hold",
            )
        outside = [lt for lt in ctx.local if not self.earliest <= lt.at.time() <= self.latest]
        if not outside:
            return self.outcome(Status.PASS, f"local time within {window} in every candidate zone")
        exemption = self.exemptions.find(ctx, window_fits(ctx))
        if isinstance(exemption, NeedFacts):
            return exemption
        first = outside[0]
        side = "before" if first.at.time() < self.earliest else "after"
        edge = clock_label(self.earliest if side == "before" else self.latest)
        reason = f"it is {first.label()}, {side} {edge}"
        if exemption is not None:
            return self.outcome(Status.EXEMPT, f"{reason}; exempt: {exemption}")
        return self.outcome(Status.BLOCK, reason)
