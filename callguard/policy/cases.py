"""Statute situations as data: a ``*.tests.toml`` file beside the packs, and its runner.

Each case is a situation a compliance officer would try — an instant with its UTC offset,
a number, a campaign, a dialing mode, the CRM location, the facts on record — with the
verdict and the deciding rule the statute's words require, and those words quoted. The
file is checked against a closed schema like a pack (a mistyped fact must not turn a
BLOCK case into a vacuous ALLOW). ``callguard/statute_plugin.py`` collects every case as a
pytest item; ``callguard packs check`` runs the cases beside a pack.

Unless a case says otherwise, every do-not-call list a rule reads is loaded, covers the
number's area code, does not hold it, and was published the day before the call (UTC
date). Attribute lists (``attr-*``: wireless, ported, reassigned, litigator data) are not
loaded unless a case loads them — today's default of a site that bought none.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from callguard.errors import ConfigError, NumberError, UsageError
from callguard.numbers import Location, NumberInfo, NumberParser, parse_location
from callguard.numbers.location import STATE_CODES
from callguard.policy.calendar import ProclaimedDay
from callguard.policy.core import BAD_LOCATION, FAIL_CLOSED, NOT_DIALABLE, refusal
from callguard.policy.engine import Plan, Policy, PolicySettings
from callguard.policy.frequency import Ledger
from callguard.policy.model import (
    RESERVING,
    CallAttempt,
    Campaign,
    CompanyDncRecord,
    ConsentKind,
    ConsentRecord,
    DialingMode,
    EbrRecord,
    FactKind,
    Facts,
    ListCheck,
    Registration,
    RegistrationExemption,
    with_seller_subjects,
)
from callguard.policy.outcome import NeedFacts, Status, Verdict
from callguard.policy.packs import Pack, pack_from_mapping, scope_lists
from callguard.policy.rules import read_claims, reserved_claims
from callguard.policy.schema import Key, check_table

__all__ = ["CaseResult", "CaseSuite", "StatuteCase", "load_suite", "run_case"]

_STATES = tuple(sorted(STATE_CODES))
SUITE_KEYS: Mapping[str, Key] = {
    "packs_dir": Key("str", doc="where the packs are, relative to this file (default: "
                                "this file's directory)"),
    "regions": Key("str-list", doc="regions the site calls (default [\"US\"])"),
    "campaigns": Key("table", required=True, doc="campaign id -> campaign"),
    "cases": Key("table-list", required=True),
    "notes": Key("str-list"),
}
CAMPAIGN_KEYS: Mapping[str, Key] = {
    "solicitor": Key("str", required=True),
    "caller_id": Key("str", required=True, doc="E.164; empty for a campaign without one"),
    "default_mode": Key("str", choices=tuple(m.value for m in DialingMode)),
    "origin_state": Key("str", choices=_STATES),
    "house_policies": Key("str-list"),
    "registration": Key("table", doc="{ number = \"...\", expires = YYYY-MM-DD }"),
    "exemption": Key("table", doc="{ citation = \"...\", reason = \"...\" }"),
    "dialer_is_atds": Key("bool", doc="default true (47 U.S.C. 227(a)(1))"),
    "counsel_reference": Key("str"),
    "subject": Key("str", doc="the campaign's subject matter, read by caps whose reading is "
                              "campaign-subject"),
}
CASE_KEYS: Mapping[str, Key] = {
    "name": Key("str", required=True),
    "words": Key("str", required=True, doc="the words of the source that decide the case"),
    "at": Key("datetime", required=True),
    "campaign": Key("str", required=True),
    "number": Key("str", required=True),
    "mode": Key("str", choices=tuple(m.value for m in DialingMode)),
    "location": Key("str", doc="the CRM's ZIP code or IANA time zone"),
    "lists": Key("table", doc="list name -> { loaded, listed, published, covered, version }"),
    "consents": Key("table-list"),
    "ebr": Key("table"),
    "company_dnc": Key("table"),
    "interpretations": Key("table", doc="interpretation id -> option"),
    "proclaimed_days": Key("table-list"),
    "earlier_calls": Key("table-list", doc="calls to the number already ALLOWed and counted: "
                                           "{ at = ..., campaign = \"...\" }"),
    "expect": Key("str", required=True, choices=("ALLOW", "BLOCK")),
    "rule": Key("str", doc="the deciding rule (BLOCK cases)"),
    "blocking": Key("str-list", doc="every rule that blocks, when given (checked exactly)"),
    "notes": Key("str-list"),
}
LIST_KEYS: Mapping[str, Key] = {
    "loaded": Key("bool"), "listed": Key("bool"), "published": Key("date"),
    "covered": Key("bool"), "version": Key("int", low=1),
    "disconnected": Key("date", doc="reassigned data: the last permanent disconnect"),
}
CONSENT_KEYS: Mapping[str, Key] = {
    "kind": Key("str", required=True, choices=tuple(k.value for k in ConsentKind)),
    "granted_at": Key("datetime", required=True),
    "expires_at": Key("datetime"),
    "revoked_at": Key("datetime"),
    "window": Key("str", doc="\"HH:MM-HH:MM\" for calling-hours consent"),
}
EBR_KEYS: Mapping[str, Key] = {
    "last_transaction": Key("date"), "last_inquiry": Key("date"), "ended_at": Key("datetime"),
}
DNC_KEYS: Mapping[str, Key] = {"added_at": Key("datetime", required=True)}
EARLIER_KEYS: Mapping[str, Key] = {
    "at": Key("datetime", required=True), "campaign": Key("str", required=True),
    "mode": Key("str", choices=tuple(m.value for m in DialingMode)),
    "location": Key("str", doc="the CRM location sent with that call (default: the case's; "
                               "\"\": none)"),
}
PROCLAIMED_KEYS: Mapping[str, Key] = {
    "calendar": Key("str", required=True), "date": Key("date", required=True),
    "name": Key("str", required=True), "citation": Key("str", required=True),
    "moves": Key("bool", doc="false: a holiday declared in addition to the calendar's "
                             "(not moved off a Saturday or Sunday); default true"),
}
_WINDOW = re.compile(r"^(\d\d:\d\d)-(\d\d:\d\d)$")


@dataclass(frozen=True, slots=True)
class StatuteCase:
    """One situation, the facts on record, and what the words require."""

    name: str
    words: str
    attempt: CallAttempt | None  # None when the gate refuses the input before any pack
    refused: tuple[str, str] | None  # (rule id, reason) of that refusal
    facts: Facts
    choices: tuple[tuple[str, str], ...]
    proclaimed: tuple[tuple[str, ProclaimedDay], ...]
    expect: str
    rule: str | None
    blocking: tuple[str, ...] | None
    earlier: tuple[CallAttempt, ...] = ()  # calls already counted against the caps


@dataclass(slots=True)
class CaseSuite:
    """The cases of one file and the pack documents they run against."""

    origin: str
    packs: tuple[tuple[str, Mapping[str, Any]], ...]  # (origin, parsed TOML)
    cases: tuple[StatuteCase, ...]
    _built: dict[tuple[object, ...], Policy] = field(default_factory=dict)

    def policy(self, case: StatuteCase) -> Policy:
        """The packs as the case's site configures them (interpretations, proclaimed days)."""
        key = (case.choices, case.proclaimed)
        policy = self._built.get(key)
        if policy is None:
            choices = dict(case.choices)
            built = [pack_from_mapping(doc, origin=origin, choices=choices,
                                       proclaimed=case.proclaimed)
                     for origin, doc in self.packs]
            known = {i.id for p in built for i in p.interpretations}
            unknown = sorted(set(choices) - known)
            if unknown:
                raise ConfigError(f"{self.origin}: case {case.name!r}: unknown "
                                  f"interpretation(s) {unknown}; known: {sorted(known)}")
            packs: dict[str, Pack] = {p.id: p for p in sorted(built, key=lambda p: p.id)}
            policy = self._built[key] = Policy(packs, PolicySettings())
        return policy


@dataclass(frozen=True, slots=True)
class CaseResult:
    """The verdict reached and every way it differs from what the case expects."""

    verdict: Verdict
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """No difference."""
        return not self.problems


def _campaign(where: str, campaign_id: str, raw: Any) -> Campaign:
    table = check_table(f"{where}: campaign {campaign_id}", raw, CAMPAIGN_KEYS,
                        what="a campaign")
    registration = exemption = None
    if "registration" in table:
        reg = check_table(f"{where}: campaign {campaign_id}", table["registration"],
                          {"number": Key("str", required=True),
                           "expires": Key("date", required=True)}, what="registration")
        registration = Registration(reg["number"], reg["expires"])
    if "exemption" in table:
        ex = check_table(f"{where}: campaign {campaign_id}", table["exemption"],
                         {"citation": Key("str", required=True),
                          "reason": Key("str", required=True)}, what="exemption")
        exemption = RegistrationExemption(ex["citation"], ex["reason"])
    return Campaign(id=campaign_id, solicitor=table["solicitor"], caller_id=table["caller_id"],
                    default_mode=DialingMode(table.get("default_mode", "manual")),
                    origin_state=table.get("origin_state"),
                    packs=tuple(table.get("house_policies", ())),
                    registration=registration, exemption=exemption,
                    dialer_is_atds=table.get("dialer_is_atds", True),
                    counsel_reference=table.get("counsel_reference", ""),
                    subject=table.get("subject") or None)


def _window(start: str, end: str) -> tuple[time, time] | None:
    try:
        return time.fromisoformat(start), time.fromisoformat(end)
    except ValueError:
        return None


def _consent(where: str, raw: Any) -> ConsentRecord:
    table = check_table(where, raw, CONSENT_KEYS, what="a consent")
    window: tuple[time, time] | None = None
    if "window" in table:
        match = _WINDOW.match(table["window"])
        window = _window(match.group(1), match.group(2)) if match else None
        if window is None:
            raise ConfigError(f"{where}: window {table['window']!r} is not "
                              "\"HH:MM-HH:MM\"")
    return ConsentRecord(ConsentKind(table["kind"]), table["granted_at"],
                         table.get("expires_at"), table.get("revoked_at"), window)


def _lists(where: str, raw: Mapping[str, Any], names: Sequence[str],
           default_published: date) -> dict[str, ListCheck | None]:
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(f"{where}: lists {unknown} are read by no rule; lists: "
                          f"{', '.join(names)}")
    found: dict[str, ListCheck | None] = {}
    for name in names:
        spec = check_table(f"{where}: list {name}", raw.get(name, {}), LIST_KEYS,
                           what="a list")
        if not spec.get("loaded", not name.startswith("attr-")):
            found[name] = None
            continue
        disconnected = spec.get("disconnected")
        found[name] = ListCheck(name, spec.get("version", 1),
                                spec.get("published", default_published),
                                spec.get("listed", disconnected is not None),
                                spec.get("covered", True), disconnected)
    return found


def _unread(lists: Mapping[str, ListCheck | None], given: Mapping[str, Any],
            scope_lists: frozenset[str], policy: Policy | None,
            call: tuple[NumberInfo, Location | None, datetime]) -> frozenset[str]:
    """The scope lists that cannot show the case's number is not on them, as the gate
    reads them (``CallAttempt.unread``): a case's site expects every list it reads, so one
    not loaded is unread; so is a copy the case gives that is stale, misdated or does not
    cover the number (``Policy.scope_list_unread``, hrev83). A case silent on a list has a
    current copy of it."""
    unread = {name for name, check in lists.items() if check is None and name in scope_lists}
    judged = [check for name, check in lists.items() if name in scope_lists and name in given
              and check is not None and not check.listed]
    if judged and policy is not None:
        at = call[2]
        unread.update(check.name for check in judged
                      if policy.scope_list_unread(check, policy.list_day(check.name, at)))
    return frozenset(unread)


def _case(where: str, raw: Any, campaigns: Mapping[str, Campaign], parser: NumberParser,
          regions: frozenset[str], list_names: Sequence[str],
          scope_lists: frozenset[str] = frozenset(),
          policy: Policy | None = None) -> StatuteCase:
    table = check_table(where, raw, CASE_KEYS, what="a case")
    where = f"{where} ({table['name']!r})"
    campaign = campaigns.get(table["campaign"])
    if campaign is None:
        raise ConfigError(f"{where}: campaign {table['campaign']!r} is not in [campaigns] "
                          f"({', '.join(sorted(campaigns))})")
    at: datetime = table["at"]
    mode = DialingMode(table["mode"]) if "mode" in table else campaign.default_mode
    attempt: CallAttempt | None = None
    refused: tuple[str, str] | None = None
    default_published = at.astimezone(UTC).date() - timedelta(days=1)
    lists = _lists(where, table.get("lists", {}), list_names, default_published)
    try:  # the gate refuses these inputs before any pack judges (fails closed)
        number = parser.parse(table["number"])
    except NumberError as exc:
        refused = (NOT_DIALABLE, str(exc))
    else:
        try:
            location = (parse_location(table["location"], regions=regions)
                        if "location" in table else None)
        except UsageError as exc:
            refused = (BAD_LOCATION, str(exc))
        else:
            # as the gate does: a state's own list places its people (Scope.listed_on)
            attempt = CallAttempt(number, campaign, mode, at, location, listed_on=frozenset(
                name for name, check in lists.items() if check is not None and check.listed),
                unread=_unread(lists, table.get("lists", {}), scope_lists, policy,
                               (number, location, at)))
    ebr = None
    if "ebr" in table:
        e = check_table(f"{where}: ebr", table["ebr"], EBR_KEYS, what="ebr")
        ebr = EbrRecord(e.get("last_transaction"), e.get("last_inquiry"), e.get("ended_at"))
    dnc = None
    if "company_dnc" in table:
        d = check_table(f"{where}: company_dnc", table["company_dnc"], DNC_KEYS,
                        what="company_dnc")
        dnc = CompanyDncRecord(d["added_at"], "statute case")
    facts = Facts(
        lists=lists,
        consents=tuple(_consent(f"{where}: consents[{i}]", c)
                       for i, c in enumerate(table.get("consents", []))),
        ebr=ebr, company_dnc=dnc, fetched=frozenset(FactKind) - RESERVING)
    earlier: list[CallAttempt] = []
    for i, raw_call in enumerate(table.get("earlier_calls", [])):
        call = check_table(f"{where}: earlier_calls[{i}]", raw_call, EARLIER_KEYS,
                           what="an earlier call")
        before = campaigns.get(call["campaign"])
        if before is None or attempt is None:
            raise ConfigError(f"{where}: earlier_calls[{i}]: campaign {call['campaign']!r} "
                              "is not in [campaigns] (or the case's number is refused)")
        location = attempt.location
        if "location" in call:
            try:
                location = (parse_location(call["location"], regions=regions)
                            if call["location"] else None)
            except UsageError as exc:
                raise ConfigError(f"{where}: earlier_calls[{i}]: {exc}") from None
        earlier.append(CallAttempt(attempt.number, before,
                                   DialingMode(call.get("mode", before.default_mode)),
                                   call["at"], location, listed_on=attempt.listed_on,
                                   unread=attempt.unread))
    choices = check_table(f"{where}: interpretations", table.get("interpretations", {}),
                          {k: Key("str") for k in table.get("interpretations", {})},
                          what="interpretations")
    proclaimed = tuple(
        (p["calendar"], ProclaimedDay(p["date"], p["name"], p["citation"],
                                      p.get("moves", True)))
        for p in (check_table(f"{where}: proclaimed_days[{i}]", raw_day, PROCLAIMED_KEYS,
                              what="a proclaimed day")
                  for i, raw_day in enumerate(table.get("proclaimed_days", []))))
    expect, rule = table["expect"], table.get("rule")
    if (expect == "BLOCK") != (rule is not None):
        raise ConfigError(f"{where}: a BLOCK case names its deciding rule; an ALLOW case "
                          "names none")
    blocking = tuple(table["blocking"]) if "blocking" in table else None
    return StatuteCase(table["name"], table["words"], attempt, refused, facts,
                       tuple(sorted(choices.items())), proclaimed, expect, rule, blocking,
                       tuple(earlier))


def load_suite(origin: str, doc: Mapping[str, Any],
               packs: Sequence[tuple[str, Mapping[str, Any]]]) -> CaseSuite:
    """Check a ``*.tests.toml`` document and build its cases; raise ConfigError on a fault."""
    table = check_table(origin, doc, SUITE_KEYS, what="the cases file")
    if not packs:
        raise ConfigError(f"{origin}: no pack files found for these cases; set packs_dir")
    built = [pack_from_mapping(pack_doc, origin=pack_origin) for pack_origin, pack_doc in packs]
    list_names = sorted({name for p in built for rule in p.rules for name in rule.list_names})
    regions = frozenset(table.get("regions", ["US"]))
    parser = NumberParser(dial_prefixes=(), regions=regions)
    campaigns = with_seller_subjects(
        {cid: _campaign(origin, cid, raw) for cid, raw in table["campaigns"].items()})
    scope = frozenset(scope_lists(built))
    judge = Policy({p.id: p for p in built}, PolicySettings())  # the scope lists' freshness
    cases = tuple(_case(f"{origin}: case #{i + 1}", raw, campaigns, parser, regions, list_names,
                        scope, judge) for i, raw in enumerate(table["cases"]))
    names = [c.name for c in cases]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError(f"{origin}: case names must be unique; repeated: {duplicates}")
    return CaseSuite(origin, tuple(packs), cases)


def run_case(suite: CaseSuite, case: StatuteCase) -> CaseResult:
    """Decide the case with every fact on record and compare with what it expects."""
    policy = suite.policy(case)
    if case.attempt is None:
        assert case.refused is not None
        result: Verdict | NeedFacts = refusal(case.refused[0], FAIL_CLOSED, case.refused[1])
    else:
        plan = policy.plan(case.attempt)
        facts = as_fetched(case.facts, plan)
        result = policy.decide(plan, facts)
        if isinstance(result, NeedFacts) and result.kinds <= RESERVING:
            reserved = _reserve(policy, case, plan, facts)
            result = policy.resume(plan, reserved, result)
    if isinstance(result, NeedFacts):  # every fact kind is fetched: cannot happen
        raise ConfigError(f"{suite.origin}: case {case.name!r} asked for facts {result.kinds}")
    problems: list[str] = []
    if result.verdict != case.expect:
        problems.append(f"verdict {result.verdict}, expected {case.expect}")
    deciding = result.deciding.rule_id if result.deciding else None
    if deciding != case.rule:
        problems.append(f"deciding rule {deciding}, expected {case.rule}")
    if case.blocking is not None:
        got = sorted(o.rule_id for o in result.outcomes if o.status is Status.BLOCK)
        if got != sorted(case.blocking):
            problems.append(f"blocking rules {got}, expected {sorted(case.blocking)}")
    return CaseResult(result, tuple(problems))


def as_fetched(facts: Facts, plan: Plan) -> Facts:
    """The case's facts with only the lists the gate fetches for this plan
    (``plan.list_names``, a list not loaded as None).

    The runner handed every rule every list a pack reads, so a rule judged with a list the
    gate never fetched for the call's mode: the gate ALLOWed a manual call on the previous
    subscriber's consent (reassigned data read only by the predictive and prerecorded
    rules' plan) while the case BLOCKed it (hatt20, hrev77)."""
    return replace(facts, lists={name: facts.lists.get(name) for name in plan.list_names})


def _reserve(policy: Policy, case: StatuteCase, plan: Plan, facts: Facts) -> Facts:
    """The check-and-reserve against the case's earlier calls (an in-memory ledger).

    Each earlier call is counted as the gate counts an ALLOW: under the subjects of every
    loaded cap that counts it (``reserved_claims``, with the readings of the case), whether
    or not the cap applied to it (its own CRM location, ``earlier_calls.location``).
    """
    assert case.attempt is not None
    history: list[tuple[str, datetime]] = []
    for call in case.earlier:
        before = policy.plan(call)
        history.extend((subject, call.at) for subject in dict.fromkeys(
            c.subject for c in reserved_claims(before.rules, before.caps, call)))
    ledger = Ledger({"case": history})
    result = ledger.judge("case", reserved_claims(plan.rules, plan.caps, case.attempt),
                          read_claims(plan.rules, case.attempt), case.attempt.at)
    return replace(facts, fetched=facts.fetched | RESERVING,
                   values={**facts.values, FactKind.FREQUENCY: result})
