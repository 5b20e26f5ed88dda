"""A compact decision record rendered back in full, from the packs it names.

A record keeps one letter per rule (docs/record-format.md); the rule's citation and the
sentence of law it upholds are in the pack at the recorded version. ``explain`` puts them
back, and refuses — naming the pack — when the pack it is given is not the one the record
was decided with (another version, or the same version edited: the digest differs), or
reads a question the words leave open otherwise than the record's ``readings`` say.

Dates are the call's, as the engine took them (``callguard.policy.call_date``: the latest
local date among the recorded candidate zones, UTC's when none): whether a pack was in
effect, and which parameter version of each rule was (its citation too), follow from it.
When the candidate zones straddle midnight, the engine judged every parameter version in
force on any of their dates and kept each rule's strictest outcome (htz23, ``_strictest``);
the record keeps that one letter, not which version gave it. A rule whose versions differ
on those dates lists each (``RuleExplained.versions``), not the latest date's alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from callguard.errors import CallguardError
from callguard.policy import DialingMode, Pack, call_date_at
from callguard.policy.engine import candidate_days
from callguard.policy.packs import combine_obligations
from callguard.policy.rules import CallFrequency
from callguard.policy.rules.base import Rule
from callguard.policy.zones import local_times

__all__ = ["ExplainError", "Explanation", "PackExplained", "RuleExplained", "explain"]

_STATUS = {"p": "pass", "b": "block", "e": "exempt", "-": "not-applicable",
           "n": "not-evaluated"}


class ExplainError(CallguardError):
    """The record cannot be explained with the packs at hand (the message says why)."""


@dataclass(frozen=True, slots=True)
class RuleExplained:
    """One rule of one pack as it judged the call."""

    rule: str
    citation: str
    status: str
    sentence: str  # the law the rule upholds (the pack's ``source``)
    reason: str | None = None  # this call's own reason, for block and exempt
    version: str = ""  # the parameter version in force on the call date (its label)
    # candidate zones on two local dates with two versions of this rule in force (htz23):
    # each judged, {"day", "version", "citation"}; the letter is the strictest of them
    versions: tuple[Mapping[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class PackExplained:
    """A pack named by the record, and whether (and how) it applied."""

    id: str
    version: str
    digest: str
    title: str
    applied: bool
    why: str
    rules: tuple[RuleExplained, ...]


@dataclass(frozen=True, slots=True)
class Explanation:
    """The decision in full: the record's own fields plus what the packs say."""

    record: Mapping[str, Any]
    packs: tuple[PackExplained, ...]
    reason: str
    refusals: tuple[Mapping[str, Any], ...]  # outcomes decided before any pack
    obligations: tuple[str, ...]
    day: date | None = None  # the call date the packs were read for
    days: tuple[date, ...] = ()  # every candidate zone's local date (htz23), earliest first

    def to_dict(self) -> dict[str, Any]:
        """The explanation as JSON (``callguard explain --json``)."""
        return {
            **self.record,
            "reason": self.reason,
            "call_date": self.day.isoformat() if self.day else None,
            "call_dates": [d.isoformat() for d in self.days],
            "packs": [{"id": p.id, "version": p.version, "digest": p.digest, "title": p.title,
                       "applied": p.applied, "why": p.why,
                       "rules": [{"rule": r.rule, "citation": r.citation, "status": r.status,
                                  "sentence": r.sentence, "reason": r.reason,
                                  "version": r.version,
                                  **({"versions": list(r.versions)} if r.versions else {})}
                                 for r in p.rules]} for p in self.packs],
            "refusals": list(self.refusals),
            "obligations": list(self.obligations),
        }


def _pack(entry: list[Any], packs: Mapping[str, Pack]) -> Pack:
    pack_id, version, digest = str(entry[0]), str(entry[1]), str(entry[2])
    pack = packs.get(pack_id)
    if pack is None:
        raise ExplainError(f"pack {pack_id} {version} is not among the packs given; point "
                           "--packs-dir at the packs the decision was made with")
    if pack.version != version or pack.digest != digest:
        raise ExplainError(
            f"pack {pack_id}: the decision was made with version {version} (digest {digest}); "
            f"the packs given have version {pack.version} (digest {pack.digest}). Point "
            "--packs-dir at the packs of that version")
    return pack


def _check_readings(pack: Pack, readings: Mapping[str, Any]) -> None:
    """The pack given must read each open question as the decision did."""
    for interpretation in pack.interpretations:
        wanted = str(readings.get(interpretation.id, interpretation.default))
        if interpretation.chosen != wanted:
            raise ExplainError(
                f"pack {pack.id}: the decision read {interpretation.id} as {wanted!r}; the "
                f"packs given read it as {interpretation.chosen!r} (the site's "
                "[interpretations]). Give --packs-dir: the packs are then read as the "
                "record says")


def record_day(record: Mapping[str, Any]) -> date:
    """The call date of a decision record (its instant and candidate zones)."""
    return record_days(record)[0]


def record_days(record: Mapping[str, Any]) -> tuple[date, tuple[date, ...]]:
    """The call date, and every candidate zone's local date (the engine's
    ``candidate_days``: the dates packs and parameter versions were chosen on)."""
    at = datetime.fromisoformat(str(record["at"]))
    zones = tuple(str(zone[0]) for zone in record.get("zones", []))
    local = local_times(at, zones)
    day = call_date_at(at, local)
    return day, candidate_days(day, local)


def _rules(pack: Pack, letters: str, mode: DialingMode | None,
           reasons: Mapping[str, str], day: date,
           days: tuple[date, ...] = ()) -> tuple[RuleExplained, ...]:
    if len(letters) != len(pack.rules):
        raise ExplainError(f"pack {pack.id}: the record has {len(letters)} outcomes for "
                           f"{len(pack.rules)} rules")
    rules = []
    in_force = pack.rules_on(day)  # the parameters (and citation) of the call date
    # every date's, when the zones straddle midnight: each version was judged (htz23)
    on_each = [(d, pack.rules_on(d)) for d in days if len(days) > 1 and pack.in_effect(d)]
    for index, (rule, letter) in enumerate(zip(in_force, letters, strict=True)):
        status = _STATUS.get(letter)
        if status is None:
            raise ExplainError(f"pack {pack.id}: unknown outcome letter {letter!r}")
        reason = reasons.get(rule.rule_id)
        if letter == "-":
            reason = _not_applicable(rule, mode)
        sentence = pack.sentences[index] if index < len(pack.sentences) else ""
        judged = [{"day": d.isoformat(), "version": on[index].version,
                   "citation": on[index].citation} for d, on in on_each]
        differ = len({(v["version"], v["citation"]) for v in judged}) > 1
        rules.append(RuleExplained(rule.rule_id, rule.citation, status, sentence, reason,
                                   rule.version, tuple(judged) if differ else ()))
    return tuple(rules)


def _not_applicable(rule: Rule, mode: DialingMode | None) -> str:
    """Why a rule the record marks not applicable was: the record carries no reason for it,
    so the mode sentence only where the mode is the reason (a frequency cap covering the
    call's mode is not applicable only when another rule blocked before it was counted)."""
    if mode is not None and mode in rule.modes:
        if isinstance(rule, CallFrequency):
            return "not counted: another rule blocks the call"
        return f"not applicable to this {mode.value} call"
    modes = ", ".join(sorted(m.value for m in rule.modes))
    return f"covers {modes} calls only" + (f", not {mode.value}" if mode else "")


def explain(record: Mapping[str, Any], packs: Mapping[str, Pack]) -> Explanation:
    """Rebuild every rule's outcome, citation and sentence; raise ExplainError when unable."""
    if record.get("event") != "decision":
        raise ExplainError(f"record is a {record.get('event')!r} record, not a decision")
    if "schema" not in record and isinstance(record.get("outcomes"), list):
        # said as "schema None", as if unreadable: the officer took the record for lost
        raise ExplainError("a record written before schema 1 (no `schema`) holds every rule's "
                           "outcome, citation and reason itself, not pack versions to rebuild "
                           "them from: `callguard evidence --decision ID --json` shows it whole")
    if record.get("schema") not in (1, 2):
        raise ExplainError(f"record schema {record.get('schema')!r} is not one this version "
                           "of callguard explains (1, 2)")
    mode = DialingMode(record["mode"]) if record.get("mode") else None
    day, days = record_days(record)
    readings = record.get("readings", {})
    outcomes = record.get("outcomes", [])
    reasons = {str(o["rule"]): str(o["reason"]) for o in outcomes}
    explained: list[PackExplained] = []
    applied_packs: list[Pack] = []
    counted = 0
    for entry in record.get("packs", []):
        pack = _pack(entry, packs)
        letters = str(entry[3])
        if not letters:
            why = (f"not in effect on {day} (the call date)" if not pack.in_effect(day)
                   else pack.scope.why_not())
            explained.append(PackExplained(pack.id, pack.version, pack.digest, pack.title,
                                           False, why, ()))
            continue
        _check_readings(pack, readings)
        rules = _rules(pack, letters, mode, reasons, day, days)
        applied_packs.append(pack)
        counted += sum(1 for r in rules if r.status in ("pass", "block", "exempt"))
        explained.append(PackExplained(pack.id, pack.version, pack.digest, pack.title, True,
                                       "applied", rules))
    in_packs = {r.rule for p in explained for r in p.rules}
    refusals = tuple(o for o in outcomes if o["rule"] not in in_packs)
    blocking = [str(o["rule"]) for o in outcomes if o.get("status") == "block"]
    if record.get("verdict") == "ALLOW" and blocking:
        # Not rebuilt as a clean ALLOW: a record callguard wrote never says both (damaged,
        # edited, or a bug): the officer sees what it holds and that it disagrees.
        reason = (f"INCONSISTENT RECORD: its verdict is ALLOW but {', '.join(blocking)} "
                  f"blocked; its own reason: {record.get('reason', '(none)')}")
    elif record.get("verdict") == "ALLOW":
        applied = ", ".join(p.id for p in applied_packs)
        reason = f"Allowed: {counted} rules of {applied} hold."
        exempt = [str(o["reason"]).split("exempt: ", 1)[-1] for o in outcomes
                  if o.get("status") == "exempt"]
        if exempt:
            reason += f" Exempt by record: {'; '.join(dict.fromkeys(exempt))}."
    else:
        reason = str(record.get("reason", ""))
    duties: list[str] = []  # a blocked call is not placed: it has no duty after dialling
    if mode is not None and applied_packs and record.get("verdict") == "ALLOW":
        combined = combine_obligations([o for p in applied_packs for o in p.obligations], mode)
        if combined.line_release_seconds is not None:
            duties.append(f"release the line within {combined.line_release_seconds:g} s of "
                          f"the called party hanging up ({combined.line_release_citation})")
        if combined.min_ring_seconds is not None:
            rings = f" or {combined.min_rings} rings" if combined.min_rings else ""
            duties.append(f"let an unanswered call ring at least {combined.min_ring_seconds} s"
                          f"{rings} ({combined.min_ring_citation})")
    return Explanation(record, tuple(explained), reason, refusals, tuple(duties), day, days)
