"""Jurisdiction packs: law as data. A pack chooses rule kinds and tunes them.

``pack_from_mapping`` takes a parsed TOML document (``callguard/data/jurisdictions/*.toml``);
reading the file is the caller's business, so this module stays pure.

Every table of a pack has a closed schema (``policy/schema.py``): a mistyped key does not
load. A rule's parameters may change by effective date inside the pack (``amendments``)
without renaming the rule; a pack may declare ``interpretations`` — readings the words
leave open — with a conservative default that a site's configuration may change, each
change showing in the parameter version every outcome names.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from callguard.errors import ConfigError
from callguard.numbers.location import STATE_CODES
from callguard.policy.calendar import Calendar, ProclaimedDay, calendar_from_mapping
from callguard.policy.model import CallAttempt, DialingMode
from callguard.policy.outcome import Obligations
from callguard.policy.rules import COMMON_KEYS, RULE_KINDS, VOICE_MODES, Params, Rule, RuleHead
from callguard.policy.schema import Key, check_table

__all__ = [
    "HOUSE_POLICY",
    "STATUTE",
    "Interpretation",
    "Obligation",
    "Pack",
    "RuleVersion",
    "Scope",
    "VersionedRule",
    "combine_obligations",
    "pack_from_mapping",
    "rule_table_digest",
    "scope_lists",
]

STATUTE = "statute"
HOUSE_POLICY = "house-policy"
_DIGESTED = ("scope", "rules", "obligations", "calendars", "interpretations")
_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_STATES = tuple(sorted(STATE_CODES))

TOP_KEYS: Mapping[str, Key] = {
    "pack": Key("table", required=True),
    "scope": Key("table", required=True),
    "rules": Key("table-list", required=True),
    "obligations": Key("table-list"),
    "calendars": Key("table-list"),
    "interpretations": Key("table-list"),
}
PACK_KEYS: Mapping[str, Key] = {
    "id": Key("str", required=True, doc="lower-case letters, digits and '-'; the file name"),
    "kind": Key("str", required=True, choices=(STATUTE, HOUSE_POLICY),
                doc="statute: applies to every call in scope; house-policy: opt-in per "
                    "campaign"),
    "version": Key("str", required=True),
    "title": Key("str", required=True),
    "effective_from": Key("date", required=True),
    "effective_until": Key("date", doc="exclusive; absent: until replaced"),
    "source": Key("str", required=True),
    "succeeds": Key("str", doc="id of the pack this one replaces"),
    "notes": Key("str-list"),
}
SCOPE_KEYS: Mapping[str, Key] = {
    "always": Key("bool"),
    "called_party_state": Key("str", choices=_STATES),
    "called_party_area_codes": Key("int-list", low=200, high=999),
    "called_party_listed_on": Key("str", doc="the state's own do-not-call list: a number on "
                                             "it is a called party in the state"),
    "origin_states": Key("str-list", choices=_STATES),
    "notes": Key("str-list"),
}
OBLIGATION_KEYS: Mapping[str, Key] = {
    "kind": Key("str", required=True, choices=("line-release", "min-ring")),
    "seconds": Key("number", required=True, low=0.1, high=600),
    "rings": Key("int", low=1, high=20),
    "modes": COMMON_KEYS["modes"],
    "citation": Key("str", required=True),
    "source": Key("str", required=True),
    "notes": Key("str-list"),
}
INTERPRETATION_KEYS: Mapping[str, Key] = {
    "id": Key("str", required=True, doc="'<pack id>:<name>'; the key a site's "
                                        "[interpretations] table uses"),
    "question": Key("str", required=True, doc="what the words leave open"),
    "default": Key("str", required=True, doc="the conservative reading, applied unless "
                                             "the site chooses otherwise"),
    "options": Key("table", required=True),
    "notes": Key("str-list"),
}
OPTION_KEYS: Mapping[str, Key] = {
    "meaning": Key("str", required=True),
    "overrides": Key("table-list", doc="{ rule = ID, key = value, ... } per rule changed"),
}
_AMENDMENT_EXTRA: Mapping[str, Key] = {
    "effective_from": Key("date", required=True),
    "source": Key("str", required=True, doc="the amending text"),
    "citation": COMMON_KEYS["citation"],
    "modes": COMMON_KEYS["modes"],
    "notes": COMMON_KEYS["notes"],
}


@dataclass(frozen=True, slots=True)
class Scope:
    """When a pack applies: always, by the called party's state, or by the call's origin."""

    always: bool
    state: str | None
    area_codes: frozenset[int]
    origin_states: frozenset[str]
    notes: tuple[str, ...] = ()
    # The state's own do-not-call list: the people on it are the state's (they registered
    # there), whatever their number's area code — a Floridian's New York mobile.
    listed_on: str | None = None

    def why_applies(self, attempt: CallAttempt) -> str | None:
        """The reason the pack applies to this call, or None when it does not."""
        if self.always:
            return "applies to every call"
        area = attempt.number.area_code
        if self.state is not None:
            if area in self.area_codes:
                return f"called party in {self.state}: area code {area}"
            location = attempt.location
            if location is not None and location.state == self.state:
                return f"called party in {self.state}: {location.source}"
            if self.listed_on is not None and self.listed_on in attempt.listed_on:
                return f"called party in {self.state}: the number is on {self.listed_on}"
            if self.listed_on is not None and self.listed_on in attempt.unread:
                return (f"called party possibly in {self.state}: {self.listed_on} is not "
                        "loaded, or its copy is not current or does not cover the number, "
                        "so nothing shows the number is not on it (import a current copy "
                        f"with --covers all; a site that never calls {self.state} and has no "
                        f"copy names {self.listed_on} in [lists] not_loaded)")
        origin = attempt.campaign.origin_state
        if origin is not None and origin in self.origin_states:
            return f"call originates in {origin} (campaign {attempt.campaign.id})"
        return None

    @property
    def states(self) -> frozenset[str]:
        """The states whose law the pack encodes: its called party's, its origins'; none
        for a national pack (``always``). A pack of ``succeeds`` sharing one with an ended
        pack speaks for that state's law on its own days (``Policy._continued``)."""
        return self.origin_states | {self.state} if self.state else self.origin_states

    def why_not(self) -> str:
        """Why the pack did not apply, for the verdict."""
        parts = []
        if self.state is not None:
            parts.append(f"called party not in {self.state}")
        if self.origin_states:
            parts.append(f"call does not originate in {', '.join(sorted(self.origin_states))}")
        return "; ".join(parts) or "out of scope"


@dataclass(frozen=True, slots=True)
class Obligation:
    """A duty on the call once dialled (line release, minimum ring time)."""

    kind: str
    modes: frozenset[DialingMode]
    citation: str
    seconds: float
    rings: int | None = None
    source: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleVersion:
    """One rule's parameters as in force from one date."""

    effective_from: date
    rule: Rule
    params: Mapping[str, Any]  # the merged pack keys of this version, for ``packs show``
    source: str


@dataclass(frozen=True, slots=True)
class VersionedRule:
    """A rule id and its parameter versions, oldest first; the id never changes."""

    rule_id: str
    kind: str
    versions: tuple[RuleVersion, ...]

    def on(self, day: date) -> RuleVersion:
        """The version in force on ``day`` (the first one before it began: the pack's
        effective dates guard the start)."""
        current = self.versions[0]
        for version in self.versions[1:]:
            if version.effective_from <= day:
                current = version
        return current


@dataclass(frozen=True, slots=True)
class Interpretation:
    """A reading the words leave open: its options, the default and the site's choice."""

    id: str
    question: str
    default: str
    options: Mapping[str, str]  # option -> meaning
    chosen: str
    notes: tuple[str, ...] = ()
    overrides: Mapping[str, tuple[tuple[str, Mapping[str, Any]], ...]] = field(
        default_factory=dict)  # option -> ((rule id, keys), ...)

    @property
    def is_default(self) -> bool:
        """Whether the site kept the pack's default."""
        return self.chosen == self.default


@dataclass(frozen=True, slots=True)
class Pack:
    """One jurisdiction's rules, versioned and dated."""

    id: str
    version: str
    title: str
    effective_from: date
    effective_until: date | None
    scope: Scope
    rules: tuple[Rule, ...]  # as first in force (the version of effective_from)
    obligations: tuple[Obligation, ...]
    kind: str = STATUTE
    source: str = ""
    succeeds: str | None = None
    notes: tuple[str, ...] = ()
    versioned: tuple[VersionedRule, ...] = ()
    calendars: Mapping[str, Calendar] = field(default_factory=dict)
    interpretations: tuple[Interpretation, ...] = ()

    @property
    def is_statute(self) -> bool:
        """Enacted law: applies to every call in its scope, whatever the campaign says."""
        return self.kind == STATUTE
    # 8 hex of the SHA-256 of the rule table (``[scope]``, ``[[rules]]`` with their
    # amendments, ``[[obligations]]``, ``[[calendars]]``, ``[[interpretations]]`` exactly as
    # loaded): a compliance record names the pack by id, version and digest, so a pack edited
    # without a new version is caught when the record is explained.
    digest: str = ""
    # Each rule's ``source`` sentence, in rule order: what a passing rule upheld.
    sentences: tuple[str, ...] = ()

    def speaks_for(self, ended: Pack) -> bool:
        """Whether this pack, of ``ended``'s succession (``succeeds``), encodes the law
        ``ended`` encoded on this pack's own days: of the same kind (a statute for a
        statute: a house policy speaks for no enacted law) and of one of its states
        (``Scope.states``; both national). Its scope alone then says whom that law
        reaches. The one test of the engine (``Policy._continued``: a date outside an
        ended statute pack is encoded) and of the expiry warning (``_pack_warnings``: a
        pack ends with a successor), so the warning is quiet only when the gate is."""
        if self.kind != ended.kind:
            return False
        mine, theirs = self.scope.states, ended.scope.states
        return bool(mine & theirs) or not (mine or theirs)

    def in_effect(self, day: date) -> bool:
        """Whether the pack is in force on ``day`` (``effective_until`` is exclusive)."""
        return self.effective_from <= day and (
            self.effective_until is None or day < self.effective_until)

    def rules_on(self, day: date) -> tuple[Rule, ...]:
        """Every rule with the parameters in force on ``day``."""
        if not self.versioned:
            return self.rules
        return tuple(v.on(day).rule for v in self.versioned)


def scope_lists(packs: Iterable[Pack]) -> tuple[str, ...]:
    """The lists the packs' scopes read (``Scope.listed_on``: a state's own do-not-call
    list places its people in the state), each once: looked up before planning."""
    return tuple(dict.fromkeys(p.scope.listed_on for p in packs if p.scope.listed_on))


def combine_obligations(
    obligations: list[Obligation], mode: DialingMode
) -> Obligations:
    """The most restrictive duties: the shortest line release, the longest ring."""
    release = [o for o in obligations if o.kind == "line-release" and mode in o.modes]
    ring = [o for o in obligations if o.kind == "min-ring" and mode in o.modes]
    shortest = min(release, key=lambda o: o.seconds, default=None)
    longest = max(ring, key=lambda o: o.seconds, default=None)
    return Obligations(
        line_release_seconds=shortest.seconds if shortest else None,
        line_release_citation=shortest.citation if shortest else None,
        min_ring_seconds=int(longest.seconds) if longest else None,
        min_rings=longest.rings if longest else None,
        min_ring_citation=longest.citation if longest else None,
    )


def _modes(names: list[str] | None) -> frozenset[DialingMode]:
    if names is None:
        return VOICE_MODES
    return frozenset(DialingMode(name) for name in names)


@dataclass(frozen=True, slots=True)
class _Head:
    """What every part of one pack's loading needs to know."""

    origin: str
    pack_id: str
    effective_from: date
    effective_until: date | None
    calendars: Mapping[str, Calendar]


def _rule_schema(where: str, raw: Mapping[str, Any]) -> tuple[str, str, Mapping[str, Key]]:
    """(rule id, kind, the closed schema for a rule of that kind)."""
    rule_id, kind = raw.get("id"), raw.get("kind")
    if not isinstance(rule_id, str):
        raise ConfigError(f"{where}: missing required key 'id' (a string) in [[rules]]")
    where = f"{where.rsplit(': rule #', 1)[0]}: rule {rule_id}"
    if not isinstance(kind, str):
        raise ConfigError(f"{where}: missing required key 'kind' (a string); known kinds: "
                          f"{', '.join(sorted(RULE_KINDS))}")
    kind_class = RULE_KINDS.get(kind)
    if kind_class is None:
        raise ConfigError(f"{where}: unknown kind {kind!r}; known: "
                          f"{', '.join(sorted(RULE_KINDS))}")
    return rule_id, kind, {**COMMON_KEYS, **kind_class.KEYS}


def _build_rule(head: _Head, where: str, kind: str, merged: Mapping[str, Any],
                label: str) -> Rule:
    kind_class = RULE_KINDS[kind]
    own = {k: v for k, v in merged.items() if k in kind_class.KEYS}
    rule_head = RuleHead(merged["id"], merged["citation"], _modes(merged.get("modes")), label,
                         tuple(merged.get("notes", ())))
    params = Params(where, own, kind_class.KEYS, calendars=head.calendars)
    return kind_class.from_params(rule_head, params)


def _versioned_rule(head: _Head, index: int, raw: Any,
                    overrides: Mapping[str, tuple[str, Mapping[str, Any]]]) -> VersionedRule:
    """One [[rules]] entry with its amendments, and the chosen interpretations applied.

    ``overrides`` maps an interpretation id to (option label, keys) for this rule.
    """
    where = f"{head.origin}: rule #{index + 1}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: [[rules]] entries must be tables")
    rule_id, kind, schema = _rule_schema(where, raw)
    where = f"{head.origin}: rule {rule_id}"
    table = check_table(where, raw, schema, what=f"a {kind} rule")
    if not rule_id.startswith(head.pack_id + ":"):
        raise ConfigError(f"{where}: rule id must start with '{head.pack_id}:'")
    amendment_schema = {**{k: replace(v, required=False) for k, v in schema.items()
                           if k not in ("kind", "id", "amendments")}, **_AMENDMENT_EXTRA}
    base = {k: v for k, v in table.items() if k != "amendments"}
    steps: list[tuple[date, Mapping[str, Any], str]] = [
        (head.effective_from, base, base["source"])]
    for number, amendment in enumerate(table.get("amendments", []), start=1):
        at = f"{where}, amendment #{number}"
        checked = check_table(at, amendment, amendment_schema, what="an amendment")
        start = checked["effective_from"]
        if start <= steps[-1][0]:
            raise ConfigError(f"{at}: effective_from {start} must be after "
                              f"{steps[-1][0]} (amendments in date order, after the pack "
                              "begins)")
        if head.effective_until is not None and start >= head.effective_until:
            raise ConfigError(f"{at}: effective_from {start} is not before the pack's "
                              f"effective_until {head.effective_until}")
        steps.append((start, {**steps[-1][1], **{k: v for k, v in checked.items()
                                                  if k != "effective_from"}},
                      checked["source"]))
    versions = []
    for start, params, source in steps:
        merged = dict(params)
        label = start.isoformat()
        for interpretation_id, (option, keys) in sorted(overrides.items()):
            merged.update(keys)
            label += f"; {interpretation_id}={option}"
        check_table(where, merged, schema, what=f"a {kind} rule")
        rule = _build_rule(head, f"{where} (version of {start})", kind, merged, label)
        versions.append(RuleVersion(start, rule, merged, source))
    return VersionedRule(rule_id, kind, tuple(versions))


def _obligation(head: _Head, raw: Any) -> Obligation:
    where = f"{head.origin}: obligation"
    table = check_table(where, raw, OBLIGATION_KEYS, what="[[obligations]]")
    where = f"{where} {table['kind']} ({table['citation']})"
    if table["kind"] == "min-ring" and "rings" not in table:
        raise ConfigError(f"{where}: a min-ring obligation needs rings")
    if table["kind"] == "line-release" and "rings" in table:
        raise ConfigError(f"{where}: rings belong to min-ring obligations")
    return Obligation(table["kind"], _modes(table.get("modes")), table["citation"],
                      float(table["seconds"]), table.get("rings"), table["source"],
                      tuple(table.get("notes", ())))


def _scope(head: _Head, raw: Any) -> Scope:
    where = f"{head.origin}: [scope]"
    table = check_table(where, raw, SCOPE_KEYS, what="[scope]")
    scope = Scope(
        always=table.get("always", False),
        state=table.get("called_party_state"),
        area_codes=frozenset(table.get("called_party_area_codes", [])),
        origin_states=frozenset(table.get("origin_states", [])),
        notes=tuple(table.get("notes", ())),
        listed_on=table.get("called_party_listed_on"),
    )
    if not scope.always and scope.state is None and not scope.origin_states:
        raise ConfigError(f"{where}: set always, called_party_state or origin_states")
    if (scope.area_codes or scope.listed_on) and scope.state is None:
        raise ConfigError(f"{where}: called_party_area_codes and called_party_listed_on "
                          "need called_party_state")
    return scope


def _interpretation(head: _Head, raw: Any, choices: Mapping[str, str],
                    rule_ids: set[str]) -> Interpretation:
    where = f"{head.origin}: interpretation"
    table = check_table(where, raw, INTERPRETATION_KEYS, what="[[interpretations]]")
    interpretation_id = table["id"]
    where = f"{where} {interpretation_id}"
    if not interpretation_id.startswith(head.pack_id + ":"):
        raise ConfigError(f"{where}: interpretation id must start with '{head.pack_id}:'")
    options_raw = table["options"]
    options: dict[str, str] = {}
    overrides: dict[str, tuple[tuple[str, Mapping[str, Any]], ...]] = {}
    for option, body in options_raw.items():
        checked = check_table(f"{where}, option {option}", body, OPTION_KEYS,
                              what="an option")
        options[option] = checked["meaning"]
        changes = []
        for change in checked.get("overrides", []):
            if not isinstance(change, Mapping) or not isinstance(change.get("rule"), str):
                raise ConfigError(f"{where}, option {option}: every override names its "
                                  "rule = \"<rule id>\"")
            if change["rule"] not in rule_ids:
                raise ConfigError(f"{where}, option {option}: no rule {change['rule']!r} "
                                  "in this pack")
            changes.append((change["rule"], {k: v for k, v in change.items() if k != "rule"}))
        overrides[option] = tuple(changes)
    if table["default"] not in options:
        raise ConfigError(f"{where}: default {table['default']!r} is not one of the options "
                          f"({', '.join(options)})")
    if overrides[table["default"]]:
        raise ConfigError(f"{where}: the default option must change nothing (the rules "
                          "themselves are written with the default reading)")
    chosen = choices.get(interpretation_id, table["default"])
    if chosen not in options:
        raise ConfigError(f"[interpretations] {interpretation_id} = {chosen!r}: options are "
                          f"{', '.join(options)}")
    return Interpretation(interpretation_id, table["question"], table["default"], options,
                          chosen, tuple(table.get("notes", ())), overrides)


def _calendars(head: _Head, raw: Sequence[Any],
               proclaimed: Sequence[tuple[str, ProclaimedDay]]) -> dict[str, Calendar]:
    calendars: dict[str, Calendar] = {}
    for entry in raw:
        calendar = calendar_from_mapping(head.origin, head.pack_id, entry)
        if calendar.id in calendars:
            raise ConfigError(f"{head.origin}: calendar {calendar.id} is defined twice")
        mine = tuple(day for calendar_id, day in proclaimed if calendar_id == calendar.id)
        calendars[calendar.id] = calendar.with_proclaimed(mine)
    return calendars


def _pack_head(origin: str, data: Mapping[str, Any]) -> Mapping[str, Any]:
    check_table(origin, data, TOP_KEYS, what="the pack file")
    head = check_table(f"{origin}: [pack]", data["pack"], PACK_KEYS, what="[pack]")
    if not _ID.match(head["id"]):
        raise ConfigError(f"{origin}: [pack] id {head['id']!r}: use lower-case letters, "
                          "digits and '-'")
    until = head.get("effective_until")
    if until is not None and until <= head["effective_from"]:
        raise ConfigError(f"{origin}: [pack] effective_until must be after effective_from")
    return head


def rule_table_digest(data: Mapping[str, Any]) -> str:
    """8 hex of the SHA-256 of everything in a pack document that can change a verdict."""
    table = {key: data.get(key) for key in _DIGESTED}
    canonical = json.dumps(table, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def pack_from_mapping(
    data: Mapping[str, Any],
    *,
    origin: str = "pack",
    choices: Mapping[str, str] | None = None,
    proclaimed: Sequence[tuple[str, ProclaimedDay]] = (),
) -> Pack:
    """Build and validate a pack from its TOML document; raise ConfigError naming the fault.

    ``choices`` maps interpretation ids to the option a site chose (ids of other packs are
    ignored here; the configuration checks them); ``proclaimed`` adds (calendar id, day)
    pairs to this pack's calendars.
    """
    meta = _pack_head(origin, data)
    pack_id = meta["id"]
    origin = f"{origin} (pack {pack_id})"
    calendars = _calendars(_Head(origin, pack_id, meta["effective_from"],
                                 meta.get("effective_until"), {}),
                           data.get("calendars", []), proclaimed)
    head = _Head(origin, pack_id, meta["effective_from"], meta.get("effective_until"),
                 calendars)
    raw_rules = data["rules"]
    if not raw_rules:
        raise ConfigError(f"{origin}: a pack needs at least one [[rules]] entry")
    rule_ids = {r.get("id") for r in raw_rules if isinstance(r, Mapping)}
    interpretations = tuple(
        _interpretation(head, raw, choices or {}, {i for i in rule_ids if isinstance(i, str)})
        for raw in data.get("interpretations", []))
    ids = [i.id for i in interpretations]
    if len(ids) != len(set(ids)):
        raise ConfigError(f"{origin}: interpretation ids must be unique")
    versioned = _rules(head, raw_rules, interpretations)
    return Pack(
        id=pack_id,
        version=meta["version"],
        title=meta["title"],
        effective_from=meta["effective_from"],
        effective_until=meta.get("effective_until"),
        scope=_scope(head, data["scope"]),
        rules=tuple(v.versions[0].rule for v in versioned),
        obligations=tuple(_obligation(head, o) for o in data.get("obligations", [])),
        kind=meta["kind"],
        source=meta["source"],
        succeeds=meta.get("succeeds"),
        notes=tuple(meta.get("notes", ())),
        versioned=versioned,
        calendars=calendars,
        interpretations=interpretations,
        digest=rule_table_digest(data),
        sentences=tuple(str(raw.get("source", "")) for raw in raw_rules),
    )


def _rules(head: _Head, raw_rules: Sequence[Any],
           interpretations: tuple[Interpretation, ...]) -> tuple[VersionedRule, ...]:
    """Every rule as chosen, after building every other option too (so a broken option
    fails ``packs check`` before a site ever chooses it)."""
    def overrides_for(rule_id: str, picks: Mapping[str, str]
                      ) -> dict[str, tuple[str, Mapping[str, Any]]]:
        found: dict[str, tuple[str, Mapping[str, Any]]] = {}
        for interpretation in interpretations:
            option = picks[interpretation.id]
            for target, keys in interpretation.overrides.get(option, ()):
                if target == rule_id:
                    found[interpretation.id] = (option, keys)
        return found

    chosen = {i.id: i.chosen for i in interpretations}
    versioned = tuple(_versioned_rule(head, index, raw, overrides_for(
        str(raw.get("id")) if isinstance(raw, Mapping) else "", chosen))
        for index, raw in enumerate(raw_rules))
    for interpretation in interpretations:
        for option in interpretation.options:
            trial = {**chosen, interpretation.id: option}
            for index, raw in enumerate(raw_rules):
                found = overrides_for(str(raw.get("id")), trial)
                if interpretation.id in found:
                    _versioned_rule(head, index, raw, found)
    ids = [v.rule_id for v in versioned]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise ConfigError(f"{head.origin}: duplicate rule ids {duplicates}")
    return versioned
