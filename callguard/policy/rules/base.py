"""The contract every rule keeps, and the context it judges in."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Protocol

from callguard.errors import ConfigError
from callguard.policy.model import CallAttempt, DialingMode, FactKind, Facts
from callguard.policy.outcome import NeedFacts, Outcome, Status

__all__ = ["ALL_MODES", "VOICE_MODES", "Context", "LocalTime", "Params", "Rule", "RuleBase"]

ALL_MODES = frozenset(DialingMode)
# A pack rule without ``modes`` covers voice calls: the statutes encoded speak of calls a
# person hears. A fax rule names ``fax`` explicitly.
VOICE_MODES = frozenset({DialingMode.MANUAL, DialingMode.PREDICTIVE, DialingMode.PRERECORDED})


@dataclass(frozen=True, slots=True)
class LocalTime:
    """The call's instant as the called party would see it in one candidate zone."""

    zone: str
    at: datetime

    def label(self) -> str:
        """``08:59 Sun 2026-07-26 America/Denver`` — for reasons a supervisor reads."""
        return f"{self.at:%H:%M %a %Y-%m-%d} {self.zone}"


@dataclass(frozen=True, slots=True)
class Context:
    """Everything a rule may look at. ``local`` is empty when the local time is unknown."""

    attempt: CallAttempt
    facts: Facts
    local: tuple[LocalTime, ...]
    local_unknown_reason: str | None = None


class Rule(Protocol):
    """A small unit of law: an id, a citation and a judgement over the context."""

    @property
    def rule_id(self) -> str:
        """``pack:section``, e.g. ``us-ut:13-25a-103(3)``."""
        ...

    @property
    def citation(self) -> str:
        """The statute or regulation, cited by section and subsection."""
        ...

    @property
    def modes(self) -> frozenset[DialingMode]:
        """The dialing modes the rule covers."""
        ...

    @property
    def precedence(self) -> int:
        """Lower decides first when several rules block."""
        ...

    @property
    def prefetch(self) -> frozenset[FactKind]:
        """Facts the rule always needs, fetched before the first evaluation."""
        ...

    @property
    def list_names(self) -> tuple[str, ...]:
        """Do-not-call lists the rule reads."""
        ...

    def evaluate(self, ctx: Context) -> Outcome | NeedFacts:
        """Judge the call, or say which facts are missing."""
        ...


class Params:
    """A rule's parameters from its pack, read with messages an admin can act on."""

    def __init__(self, where: str, raw: Mapping[str, Any]) -> None:
        self.where = where
        self._raw = raw

    def get(
        self,
        key: str,
        kind: type | tuple[type, ...],
        default: Any = None,
        *,
        required: bool = False,
    ) -> Any:
        """The value under ``key`` checked against ``kind``."""
        if key not in self._raw:
            if required:
                raise ConfigError(f"{self.where}: missing required key {key!r}")
            return default
        value = self._raw[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            names = " or ".join(k.__name__ for k in (kind if isinstance(kind, tuple) else (kind,)))
            raise ConfigError(
                f"{self.where}: {key!r} must be {names}, not {type(value).__name__}"
            )
        return value

    def error(self, message: str) -> ConfigError:
        """An error located at this rule."""
        return ConfigError(f"{self.where}: {message}")


@dataclass(frozen=True, slots=True)
class RuleBase:
    """Fields and outcome helpers shared by every rule kind."""

    rule_id: str
    citation: str
    modes: frozenset[DialingMode]

    precedence: ClassVar[int] = 100
    prefetch: ClassVar[frozenset[FactKind]] = frozenset()

    @property
    def list_names(self) -> tuple[str, ...]:
        """Most rules read no list."""
        return ()

    def outcome(self, status: Status, reason: str) -> Outcome:
        """This rule's outcome with the given status (a value: equal inputs, equal outcome)."""
        key = (self.rule_id, status, reason)
        cached = _OUTCOMES.get(key)
        if cached is None:
            if len(_OUTCOMES) >= _OUTCOME_CACHE_LIMIT:
                _OUTCOMES.clear()
            cached = _OUTCOMES[key] = Outcome(self.rule_id, self.citation, status, reason,
                                              self.precedence)
        return cached


# Outcomes are frozen values; most calls repeat the same few PASS outcomes, so they are
# shared rather than rebuilt.
_OUTCOME_CACHE_LIMIT = 8192
_OUTCOMES: dict[tuple[str, Status, str], Outcome] = {}
