"""The contract every rule keeps, the context it judges in, and its closed parameters."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Protocol

from callguard.errors import ConfigError
from callguard.frozen import quick_init
from callguard.memo import remember
from callguard.policy.model import CallAttempt, DialingMode, FactKind, Facts
from callguard.policy.outcome import NeedFacts, Outcome, Status
from callguard.policy.schema import Key, check_table
from callguard.utc import zone_info

__all__ = [
    "ALL_MODES",
    "COMMON_KEYS",
    "VOICE_MODES",
    "Context",
    "LocalTime",
    "Params",
    "Rule",
    "RuleBase",
    "RuleHead",
    "RuleKind",
    "copy_day",
    "latest_date",
    "state_day",
]

ALL_MODES = frozenset(DialingMode)
# A pack rule without ``modes`` covers voice calls: the statutes encoded speak of calls a
# person hears. A fax rule names ``fax`` explicitly.
VOICE_MODES = frozenset({DialingMode.MANUAL, DialingMode.PREDICTIVE, DialingMode.PRERECORDED})

# Keys every [[rules]] entry may carry, whatever its kind.
COMMON_KEYS: Mapping[str, Key] = {
    "kind": Key("str", required=True, doc="the rule kind"),
    "id": Key("str", required=True, doc="stable id, '<pack id>:<section>'; never renamed"),
    "citation": Key("str", required=True, doc="section and subsection the rule enforces"),
    "source": Key("str", required=True, doc="the words of the source, in short"),
    "modes": Key("str-list", choices=tuple(m.value for m in DialingMode),
                 doc="dialing modes covered; default manual, predictive, prerecorded"),
    "notes": Key("str-list", doc="interpretive choices and why (printed by packs show)"),
    "amendments": Key("table-list", doc="parameter versions by effective date"),
}


@quick_init
@dataclass(frozen=True, slots=True)
class LocalTime:
    """The call's instant as the called party would see it in one candidate zone."""

    zone: str
    at: datetime

    def label(self) -> str:
        """``08:59 Sun 2026-07-26 America/Denver`` — for reasons a supervisor reads.

        Seconds are shown when not zero: 20:00:30 is after 8 p.m., and "20:00" would say
        the call was at the edge the rule allows.
        """
        clock = "%H:%M:%S" if self.at.second or self.at.microsecond else "%H:%M"
        return f"{self.at.strftime(clock)} {self.at:%a %Y-%m-%d} {self.zone}"


@quick_init
@dataclass(frozen=True, slots=True)
class Context:
    """Everything a rule may look at. ``local`` is empty when the local time is unknown.

    ``day`` is the date of the call: the called party's local date (the latest of them
    when the candidate zones straddle midnight), or the UTC date when no zone is known.
    Every date-based check (list age, EBR terms, registration) uses it, but the age of a
    copy of a state's own list (``list_zones``: a scope list, by the zones of its state),
    judged on its state's date (``list_day``). Packs and parameter versions are chosen on
    every candidate zone's local date (the engine, htz23); hours and rest days read each
    zone's own ``local``.
    """

    attempt: CallAttempt
    facts: Facts
    local: tuple[LocalTime, ...]
    local_unknown_reason: str | None = None
    day: date | None = None
    list_zones: Mapping[str, tuple[str, ...]] | None = None
    # A state's own lists no scope reads (``ut-state``): judged on the call's date, not
    # stretched to their import's (``copy_day``)
    state_lists: frozenset[str] = frozenset()

    @property
    def call_date(self) -> date:
        """The date of the call (see the class docstring); UTC's when the engine gave none
        (the offset the instant was written with names no place)."""
        return self.day if self.day is not None else self.attempt.at.astimezone(UTC).date()

    def list_day(self, name: str) -> date:
        """The date a copy of list ``name`` is judged on: for a state's own list, the
        state's date at the call's instant (``state_day``), the same whatever number is
        called; for any other list, the date of the call."""
        zones = self.list_zones.get(name) if self.list_zones else None
        return state_day(self.attempt.at, zones) if zones else self.call_date

    def copy_day(self, name: str, published: date | None) -> date:
        """The date a copy of list ``name`` dated ``published`` is judged on: a state's own
        list, its state's date (``list_day``: the state's then-current listing begins on
        it, Fla. Stat. 501.059(4); dated after it, the copy is not yet the listing in
        force and cannot show a number is not on it); a state's own list no scope reads
        (``state_lists``), the date of the call; any other list, the date of the
        call, or the copy's own date when it is later but not in the future anywhere
        (``copy_day``, the module's)."""
        day = self.list_day(name)
        if name in self.state_lists or (self.list_zones and name in self.list_zones):
            return day  # a state's own list, scope or not: never stretched
        return copy_day(day, published, self.attempt.at)


# The latest offset in use anywhere (UTC+14, the Line Islands): no place's date is later.
LATEST_OFFSET = timedelta(hours=14)


def latest_date(at: datetime) -> date:
    """The latest date anywhere at ``at``: a date after it is in the future everywhere."""
    return (at.astimezone(UTC) + LATEST_OFFSET).date()


def copy_day(day: date, published: date | None, at: datetime) -> date:
    """The date a copy dated ``published`` is judged on for a call on ``day`` at ``at``.

    ``day``, unless the copy is dated after it and not after the latest date anywhere at
    ``at``: then the copy's own date (0 days old). A copy dated by the day of its import
    where that day has begun (a UTC host's cron at 05:00) is dated after the call for
    hours where it has not: a national copy imported by README's daily cron at 05:00 on
    a UTC host read as "a copy from the future" and BLOCKed Hawaii's calls from 19:00 to
    21:00 (Alaska's from 20:00) every day, though it was at hand when the call was made
    ("obtained ... no more than 31 days prior to the date any call is made", 47 CFR
    64.1200(c)(2)(i)(D)). The import refuses a date later than the latest date anywhere
    (``cli.common.parse_published``); a copy dated later still at the call's instant is a
    wrong date and keeps ``day``: its rules BLOCK it. Not for a state's own listing
    (``Context.copy_day``)."""
    if published is not None and day < published <= latest_date(at):
        return published
    return day


def state_day(at: datetime, zones: tuple[str, ...]) -> date:
    """A state's date at ``at``: the latest local date among its ``zones`` (Florida's is
    Eastern's). A copy of the state's list is current at an instant or it is not, one time
    base for every number called (hsto22: judged on the called party's date, last quarter's
    Florida listing stayed current for a Honolulu number five hours after Florida's
    midnight, and the new one was "dated after the call" for it).

    Kept by the whole second (a zone's offset is whole seconds, so its date turns on one):
    the gate asks it of every call, 2-5 us each time, for the same few seconds."""
    key = (zones, math.floor(at.timestamp()))
    day = _STATE_DAYS.get(key)
    if day is None:
        day = remember(_STATE_DAYS, key, max(at.astimezone(zone_info(zone)).date()
                                             for zone in zones), _STATE_DAY_LIMIT)
    return day


_STATE_DAYS: dict[tuple[tuple[str, ...], int], date] = {}
_STATE_DAY_LIMIT = 256


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
    def version(self) -> str:
        """The parameter version in force (effective date, interpretation chosen)."""
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


@dataclass(frozen=True, slots=True)
class RuleHead:
    """What every rule carries besides its parameters."""

    rule_id: str
    citation: str
    modes: frozenset[DialingMode]
    version: str
    notes: tuple[str, ...] = ()


class Params:
    """A rule's parameters, already checked against its kind's closed schema."""

    def __init__(self, where: str, raw: Mapping[str, Any], schema: Mapping[str, Key], *,
                 calendars: Mapping[str, Any] | None = None) -> None:
        self.where = where
        self._raw = check_table(where, raw, schema, what="this rule")
        self.calendars: Mapping[str, Any] = calendars or {}  # the pack's, by id

    def get(self, key: str, default: Any = None) -> Any:
        """The value under ``key`` (its type was checked at load), or ``default``."""
        return self._raw.get(key, default)

    def has(self, key: str) -> bool:
        """Whether the pack gives ``key``."""
        return key in self._raw

    def error(self, message: str) -> ConfigError:
        """An error located at this rule."""
        return ConfigError(f"{self.where}: {message}")


class RuleKind(Protocol):
    """A rule class as a pack names it: its own keys, and how to build it."""

    KEYS: ClassVar[Mapping[str, Key]]

    @classmethod
    def from_params(cls, head: RuleHead, params: Params) -> Rule:
        """Build the rule from checked parameters; raise ConfigError on a bad combination."""
        ...


@dataclass(frozen=True, slots=True)
class RuleBase:
    """Fields and outcome helpers shared by every rule kind."""

    head: RuleHead
    # Outcomes are frozen values; most calls repeat the same few PASS outcomes, so each
    # rule keeps the ones it gave rather than rebuilding them.
    _outcomes: dict[tuple[Status, str, str], Outcome] = field(
        default_factory=dict, compare=False, repr=False, kw_only=True)
    # Outcomes whose reason depends only on the rule's own parameters, by a name the rule
    # gives them (``kept``): looked up before their reason is even formatted.
    _kept: dict[str, Outcome] = field(
        default_factory=dict, compare=False, repr=False, kw_only=True)

    precedence: ClassVar[int] = 100
    prefetch: ClassVar[frozenset[FactKind]] = frozenset()

    @property
    def rule_id(self) -> str:
        """The stable id."""
        return self.head.rule_id

    @property
    def citation(self) -> str:
        """The citation of the version in force."""
        return self.head.citation

    @property
    def modes(self) -> frozenset[DialingMode]:
        """The modes covered."""
        return self.head.modes

    @property
    def version(self) -> str:
        """The parameter version label."""
        return self.head.version

    @property
    def list_names(self) -> tuple[str, ...]:
        """Most rules read no list."""
        return ()

    def outcome(self, status: Status, reason: str, params: str | None = None) -> Outcome:
        """This rule's outcome with the given status (a value: equal inputs, equal outcome).

        ``params`` names the parameter version that applied; by default the rule's own.
        """
        head = self.head
        applied = head.version if params is None else params
        key = (status, reason, applied)
        cached = self._outcomes.get(key)
        if cached is None:
            cached = remember(self._outcomes, key, Outcome(
                head.rule_id, head.citation, status, reason, self.precedence, applied),
                _OUTCOME_CACHE_LIMIT)
        return cached

    def local_unknown(self, ctx: Context, consequence: str) -> Outcome:
        """BLOCK: the called party's local time is unknown (``ctx.local`` empty, the reason
        said), so ``consequence`` (what this rule cannot show)."""
        return self.outcome(Status.BLOCK, f"called party's local time unknown "
                            f"({ctx.local_unknown_reason}); {consequence}")

    def kept(self, name: str, outcome: Outcome) -> Outcome:
        """Keep ``outcome`` as this rule's fixed outcome ``name`` and return it.

        For a reason that depends only on the rule's parameters:
        ``self._kept.get(name) or self.kept(name, self.outcome(...))`` formats the reason
        and looks the outcome up once per rule, not once per call (measured: the f-string
        and the cache key were ~1 µs of each decision's rules).
        """
        self._kept[name] = outcome
        return outcome


_OUTCOME_CACHE_LIMIT = 1024  # per rule
