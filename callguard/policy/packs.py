"""Jurisdiction packs: law as data. A pack chooses rule kinds and tunes them.

``pack_from_mapping`` takes a parsed TOML document (``config/jurisdictions/*.toml``);
reading the file is the caller's business, so this module stays pure.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from callguard.policy.model import CallAttempt, DialingMode
from callguard.policy.outcome import Obligations
from callguard.policy.rules import RULE_KINDS, VOICE_MODES, Params, Rule

__all__ = ["Obligation", "Pack", "Scope", "combine_obligations", "pack_from_mapping",
           "rule_table_digest"]


@dataclass(frozen=True, slots=True)
class Scope:
    """When a pack applies: always, by the called party's state, or by the call's origin."""

    always: bool
    state: str | None
    area_codes: frozenset[int]
    origin_states: frozenset[str]

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
        origin = attempt.campaign.origin_state
        if origin is not None and origin in self.origin_states:
            return f"call originates in {origin} (campaign {attempt.campaign.id})"
        return None

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


@dataclass(frozen=True, slots=True)
class Pack:
    """One jurisdiction's rules, versioned and dated."""

    id: str
    version: str
    title: str
    effective_from: date
    effective_until: date | None
    scope: Scope
    rules: tuple[Rule, ...]
    obligations: tuple[Obligation, ...]
    # 8 hex of the SHA-256 of the rule table (``[scope]``, ``[[rules]]``, ``[[obligations]]``
    # exactly as loaded): a compliance record names the pack by id, version and digest, so a
    # pack edited without a new version is caught when the record is explained.
    digest: str = ""
    # Each rule's ``source`` sentence, in rule order: what a passing rule upheld.
    sentences: tuple[str, ...] = ()

    def in_effect(self, day: date) -> bool:
        """Whether the pack is in force on ``day`` (``effective_until`` is exclusive)."""
        return self.effective_from <= day and (
            self.effective_until is None or day < self.effective_until)


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


def _modes(params: Params) -> frozenset[DialingMode]:
    names = params.get("modes", list, None)
    if names is None:
        return VOICE_MODES
    try:
        return frozenset(DialingMode(name) for name in names)
    except ValueError:
        known = ", ".join(m.value for m in DialingMode)
        raise params.error(f"modes {names!r}: use {known}") from None


def _rule(pack_id: str, index: int, raw: Mapping[str, Any]) -> Rule:
    where = f"pack {pack_id}, rule #{index + 1}"
    params = Params(where, raw)
    kind = params.get("kind", str, required=True)
    rule_id = params.get("id", str, required=True)
    params = Params(f"pack {pack_id}, rule {rule_id}", raw)
    params.get("source", str, required=True)
    if not rule_id.startswith(pack_id + ":"):
        raise params.error(f"rule id must start with '{pack_id}:'")
    factory = RULE_KINDS.get(kind)
    if factory is None:
        raise params.error(f"unknown kind {kind!r}; known: {', '.join(sorted(RULE_KINDS))}")
    return factory(rule_id, params.get("citation", str, required=True), _modes(params), params)


def _obligation(pack_id: str, raw: Mapping[str, Any]) -> Obligation:
    params = Params(f"pack {pack_id}, obligation", raw)
    kind = params.get("kind", str, required=True)
    if kind not in ("line-release", "min-ring"):
        raise params.error(f"unknown obligation {kind!r}; known: line-release, min-ring")
    params.get("source", str, required=True)
    seconds = params.get("seconds", (int, float), required=True)
    return Obligation(kind, _modes(params), params.get("citation", str, required=True),
                      float(seconds), params.get("rings", int))


def _scope(params: Params) -> Scope:
    return Scope(
        always=params.get("always", bool, False),
        state=params.get("called_party_state", str),
        area_codes=frozenset(params.get("called_party_area_codes", list, [])),
        origin_states=frozenset(params.get("origin_states", list, [])),
    )


def rule_table_digest(data: Mapping[str, Any]) -> str:
    """8 hex of the SHA-256 of everything in a pack document that can change a verdict."""
    table = {key: data.get(key) for key in ("scope", "rules", "obligations")}
    canonical = json.dumps(table, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:8]


def pack_from_mapping(data: Mapping[str, Any], *, origin: str = "pack") -> Pack:
    """Build and validate a pack from its TOML document; raise ConfigError naming the fault."""
    head = Params(origin, data.get("pack", {}))
    pack_id = head.get("id", str, required=True)
    head = Params(f"pack {pack_id} ({origin})", data.get("pack", {}))
    head.get("source", str, required=True)
    effective_from = head.get("effective_from", date, required=True)
    effective_until = head.get("effective_until", date)
    rules = tuple(_rule(pack_id, i, raw) for i, raw in enumerate(data.get("rules", [])))
    if not rules:
        raise head.error("a pack needs at least one [[rules]] entry")
    ids = [rule.rule_id for rule in rules]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise head.error(f"duplicate rule ids {duplicates}")
    scope = _scope(Params(f"pack {pack_id}, [scope]", data.get("scope", {})))
    if not scope.always and scope.state is None and not scope.origin_states:
        raise head.error("[scope] must set always, called_party_state or origin_states")
    return Pack(
        id=pack_id,
        version=head.get("version", str, required=True),
        title=head.get("title", str, required=True),
        effective_from=effective_from,
        effective_until=effective_until,
        scope=scope,
        rules=rules,
        obligations=tuple(_obligation(pack_id, o) for o in data.get("obligations", [])),
        digest=rule_table_digest(data),
        sentences=tuple(str(raw.get("source", "")) for raw in data.get("rules", [])),
    )
