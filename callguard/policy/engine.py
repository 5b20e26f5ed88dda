"""The single loop over the rules of the applicable packs: CallAttempt + Facts -> Verdict.

The gate first asks for a ``Plan`` (which packs apply, which rules run, which
lists and record kinds they need), gathers those facts, then calls ``decide``.
A rule that would block unless a record exempts the call answers ``NeedFacts``;
the gate fetches those and calls ``resume`` (the rules that already judged are not run
again). So a manual call inside hours to an unlisted number never reads a consent or
relationship record. A call-frequency reservation is asked for last, alone; after it only
the cap rules are judged. An ALLOW is counted under every loaded cap that counts its front
(``Plan.caps``), whether or not any applies to the call (a number can come into a cap's
scope later; its earlier calls must count): under a cap of the plan, in the reservation the
verdict waits for; under none, ``counted_after`` says what the gate counts after the
answer, not waited for (the count refuses nothing, and waiting cost a call no cap covers
half its decision rate).

Which packs: every statute pack (``kind = "statute"``) applies to every call in its
scope, whatever the campaign lists — a campaign cannot leave enacted law out. A
house-policy pack applies only to the campaigns that opt into it (``Campaign.packs``).

The date of the call: the called party's local date (the latest of them when the
candidate zones straddle midnight; the UTC date when no zone is known). List age, EBR terms
and registration expiry use it (the latest date is the conservative one for an age), so the
same instant written with two UTC offsets gets one verdict.

Which packs and which parameter versions are in force is asked of EVERY candidate zone's
local date, not of that one date (htz23): when the zones straddle midnight (Guam and the
mainland, an afternoon apart), a statute pack in scope that is not in force on one of the
dates refuses the call (``callguard:no-pack``: the law of that zone's day is not encoded),
and every parameter version in force on any of the dates is judged, in every zone, the
strictest outcome of a rule standing (``_strictest``). A text gives a date, not whose
midnight begins it (the called party's, the jurisdiction's); the state's own zone is among
the candidates of a call its pack's scope holds, so both readings are judged. Before, the
latest date chose for all: a call ringing in Portland on 2021-10-31, with a Guam CRM
location already on 2021-11-01, was judged by a federal pack that begins 2021-11-01 and
ALLOWed. Calling hours and rest days were, and are, judged at each zone's own local time
and date.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from callguard.frozen import quick_init
from callguard.memo import remember
from callguard.numbers import Location, NumberInfo
from callguard.numbers.location import zones_for_state
from callguard.policy.core import FAIL_CLOSED, NO_PACK, UNKNOWN_PACK, refusal
from callguard.policy.frequency import FrequencyClaim
from callguard.policy.model import RESERVING, CallAttempt, Campaign, FactKind, Facts, ListCheck
from callguard.policy.outcome import (
    NeedFacts,
    Obligations,
    Outcome,
    PackApplication,
    Status,
    Verdict,
)
from callguard.policy.packs import Obligation, Pack, combine_obligations, scope_lists
from callguard.policy.rules import (
    CallFrequency,
    Context,
    ListFreshness,
    LocalTime,
    Rule,
    loaded_caps,
    read_claims,
    reserved_claims,
)
from callguard.policy.rules.base import state_day
from callguard.policy.rules.exemptions import lists_read
from callguard.policy.zones import ZoneResolution, local_times, resolve_zones

__all__ = ["Plan", "Policy", "PolicySettings"]


@dataclass(frozen=True, slots=True)
class PolicySettings:
    """Site-wide choices the law leaves to us."""

    max_candidate_zones: int = 4
    every_zone_fallback: bool = False  # False: unknown local time blocks


@quick_init
@dataclass(frozen=True, slots=True)
class Plan:
    """What one decision needs, worked out before any store is read."""

    attempt: CallAttempt
    packs: tuple[PackApplication, ...]
    rules: tuple[Rule, ...]
    skipped: tuple[Outcome, ...]
    obligations: Obligations
    zones: ZoneResolution
    local: tuple[LocalTime, ...]
    prefetch: frozenset[FactKind]  # record kinds some rule always needs
    list_names: tuple[str, ...]  # every list some rule reads, once each
    applied: str  # ids of the packs that applied, for the verdict's sentence
    day: date | None = None  # the date of the call
    unknown_packs: tuple[str, ...] = ()  # house policies the campaign names but nobody enabled
    # The loaded call-frequency caps (every version of every pack, applying or not) that
    # count this call's ALLOW (its front, a call placed): the reservation records it under
    # each (``reserved_claims``). Empty: nothing is counted.
    caps: tuple[CallFrequency, ...] = ()
    # What the call-frequency fetch sends the store: the claims it reserves
    # (``reserved_claims`` of the rules and caps above) and the ones it only reads
    # (``read_claims``). Worked out once per kind of call, as the rules are.
    reserved: tuple[FrequencyClaim, ...] = ()
    read: tuple[FrequencyClaim, ...] = ()
    # The refusal of a call only house policies cover (no statute pack's rule does): it
    # blocks in ``_verdict`` when none of their rules does.
    house_only: Outcome | None = None
    # Statute packs whose scope holds this call but which are not in force on its date:
    # the law that day is not encoded, refused ``callguard:no-pack``.
    unencoded: str = ""
    # Whether two parameter versions of one rule are among ``rules`` (candidate zones on
    # two dates, an amendment between them): their outcomes are folded to the strictest.
    versions_merged: bool = False


@dataclass(frozen=True, slots=True)
class _Selection:
    """The packs and rules chosen for one kind of call; shared by every call of that kind."""

    packs: tuple[PackApplication, ...]
    rules: tuple[Rule, ...]
    skipped: tuple[Outcome, ...]
    obligations: Obligations
    prefetch: frozenset[FactKind]
    list_names: tuple[str, ...]
    applied: str
    unknown_packs: tuple[str, ...] = ()
    # As the plan's: one shared value per kind of call, as the rules' outcomes are (the
    # record encoder remembers a verdict's shape by the identity of its outcomes).
    house_only: Outcome | None = None
    unencoded: str = ""  # as ``Plan.unencoded``
    versions_merged: bool = False  # as ``Plan.versions_merged``
    # The campaign it was chosen for (the cache's key names it by id: held, never reused).
    campaign: Campaign | None = field(default=None, compare=False)
    # (reserved, read) claims of these rules by (front, places_call): they depend on the
    # campaign (a key of the selection), the rules and the caps counting the call.
    claims: dict[tuple[str | None, bool], tuple[tuple[FrequencyClaim, ...],
                                                tuple[FrequencyClaim, ...]]] = field(
        default_factory=dict, compare=False)


_SELECTION_CACHE_LIMIT = 4096
# The precedence of the refusal of a call only house policy covers (``_verdict``).
_AFTER_EVERY_RULE = 1_000


def call_date(attempt: CallAttempt, local: tuple[LocalTime, ...]) -> date:
    """The date of the call: the latest local date among the candidate zones, or UTC's."""
    return call_date_at(attempt.at, local)


def call_date_at(at: datetime, local: tuple[LocalTime, ...]) -> date:
    """``call_date`` from the instant alone (``explain`` has a record, not an attempt)."""
    if len(local) == 1:  # most numbers have one candidate zone
        return local[0].at.date()
    if local:
        return max(lt.at.date() for lt in local)
    return at.astimezone(UTC).date()


def candidate_days(day: date, local: tuple[LocalTime, ...]) -> tuple[date, ...]:
    """Every local date among the candidate zones, earliest first (``day``, the date of the
    call, alone when there is one zone or none): the dates packs and parameter versions
    are chosen on."""
    if len(local) < 2:
        return (day,)
    return tuple(sorted({lt.at.date() for lt in local}))


# The order in which one rule's outcomes under two parameter versions give way: the
# strictest stands (a BLOCK over an EXEMPT over a PASS).
_STRICTNESS = {Status.BLOCK: 3, Status.EXEMPT: 2, Status.PASS: 1, Status.NOT_APPLICABLE: 0}


def _strictest(outcomes: tuple[Outcome, ...]) -> tuple[Outcome, ...]:
    """One outcome per rule id, the strictest, in the order the rules first came: two
    parameter versions of a rule judged for candidate zones on two dates. The record keeps
    one letter per rule id."""
    kept: dict[str, Outcome] = {}
    for outcome in outcomes:
        held = kept.get(outcome.rule_id)
        if held is None or _STRICTNESS[outcome.status] > _STRICTNESS[held.status]:
            kept[outcome.rule_id] = outcome
    return tuple(kept.values())


def _successions(packs: Mapping[str, Pack]) -> dict[str, tuple[Pack, ...]]:
    """Pack id -> the other packs linked to it by ``succeeds`` (either way, transitively)."""
    linked: dict[str, set[str]] = {pid: set() for pid in packs}
    for pid, pack in packs.items():
        if pack.succeeds in linked and pack.succeeds != pid:
            linked[pid].add(pack.succeeds)
            linked[pack.succeeds].add(pid)
    found: dict[str, tuple[Pack, ...]] = {}
    for pid in packs:
        seen, todo = {pid}, [pid]
        while todo:
            for other in linked[todo.pop()] - seen:
                seen.add(other)
                todo.append(other)
        found[pid] = tuple(packs[other] for other in sorted(seen - {pid}))
    return found


def _not_counted(rule: Rule) -> Outcome:
    """The outcome of a rule whose reservation was never asked: another rule blocked."""
    return Outcome(rule.rule_id, rule.citation, Status.NOT_APPLICABLE,
                   "not counted: another rule blocks the call", rule.precedence, rule.version)


class Policy:
    """The jurisdiction packs by id, and the site's policy settings."""

    def __init__(self, packs: Mapping[str, Pack], settings: PolicySettings) -> None:
        self.packs = dict(packs)
        self.settings = settings
        self._selections: dict[tuple[object, ...], _Selection] = {}
        # Candidate zones by everything ``resolve_zones`` reads (the settings are fixed).
        self._zones: dict[tuple[object, ...], ZoneResolution] = {}
        self._caps = loaded_caps(
            [*(r for p in self.packs.values() for r in p.rules),
             *(rv.rule for p in self.packs.values() for v in p.versioned
               for rv in v.versions)])
        # The caps that count a call, by (front, places_call): few distinct keys.
        self._counting: dict[tuple[str | None, bool], tuple[CallFrequency, ...]] = {}
        # Lists a pack's scope reads (a state's own do-not-call list): the gate looks the
        # number up in them before planning (``CallAttempt.listed_on``).
        self.scope_lists = scope_lists(self.packs.values())
        # The zones each scope list places its people in (their state's): a Dallas mobile
        # on Oklahoma's registry is an Oklahoman's, called in Oklahoma's time too.
        self._listed_zones: dict[str, tuple[str, tuple[str, ...]]] = {
            p.scope.listed_on: (f"on {p.scope.listed_on} ({p.scope.state})",
                                zones_for_state(p.scope.state))
            for p in self.packs.values() if p.scope.listed_on and p.scope.state}
        # The packs whose scope reads each scope list: their freshness rules say how old a
        # copy may be and still show that a number is not on it (``scope_list_unread``).
        self._scope_packs: dict[str, tuple[Pack, ...]] = {
            name: tuple(p for p in self.packs.values() if p.scope.listed_on == name)
            for name in self.scope_lists}
        self._stale: dict[tuple[str, date | None, date], bool] = {}
        # The other packs of each pack's succession (``succeeds``, either way, followed
        # through): the law of a day is encoded when one of them is in force on it (hrev105:
        # a pack and its successor, both loaded, refused every call callguard:no-pack).
        self._succession = _successions(self.packs)
        # The zones a copy of each scope list is judged in: its state's, one time base for
        # every number (``Context.list_day``; hsto22).
        self._list_zones: dict[str, tuple[str, ...]] = {
            name: zones for name, (_, zones) in self._listed_zones.items() if zones}
        # A state's own list that no scope reads (``ut-state``): its freshness rules are
        # all of one state's packs. Judged on the call's date, never stretched to its
        # import's (``Context.copy_day``): dated after it, it is not yet the state's most
        # recent version (hrev104: Utah's read 0 days old a day early).
        readers: dict[str, set[str | None]] = {}
        for p in self.packs.values():
            for rule in (*p.rules, *(rv.rule for v in p.versioned for rv in v.versions)):
                if isinstance(rule, ListFreshness):
                    readers.setdefault(rule.list_name, set()).add(p.scope.state)
        self._state_lists = frozenset(
            name for name, states in readers.items()
            if len(states) == 1 and None not in states and name not in self._list_zones)

    def _zones_of(self, number: NumberInfo, location: Location | None,
                  listed: tuple[tuple[str, tuple[str, ...]], ...]) -> ZoneResolution:
        zone_key = (number.geographic, number.zones, number.area_code, location, listed)
        zones = self._zones.get(zone_key)
        if zones is None:
            zones = remember(self._zones, zone_key, resolve_zones(
                number, location, max_zones=self.settings.max_candidate_zones,
                every_zone_fallback=self.settings.every_zone_fallback, listed=listed),
                _SELECTION_CACHE_LIMIT)
        return zones

    def list_day(self, name: str, at: datetime) -> date:
        """The date a copy of scope list ``name`` is judged on at ``at``: its state's date
        (``state_day``: Florida's is Eastern's), whatever number is called, as the list's
        freshness rule judges it (``Context.list_day``); UTC's for a list of no state."""
        zones = self._list_zones.get(name)
        return state_day(at, zones) if zones else at.astimezone(UTC).date()

    def scope_list_unread(self, check: ListCheck, day: date) -> bool:
        """Whether a loaded copy of a scope list cannot show the number is NOT on it: it
        does not cover the number's area code, is undated or dated after ``day`` (the
        list's state's date, ``list_day``), or is older than a freshness rule of the pack
        reading it allows on ``day`` (hrev83).
        Such a copy counts as unread (``CallAttempt.unread``), as one not loaded: the
        state's pack applies whatever the area code, and its rules judge the copy (fail
        closed). Before, an Oklahoman who registered after a stale copy was out of scope."""
        if not check.covered or check.published is None or check.published > day:
            return True
        key = (check.name, check.published, day)
        stale = self._stale.get(key)
        if stale is None:
            published = check.published
            stale = remember(self._stale, key, any(
                isinstance(rule, ListFreshness) and rule.list_name == check.name
                and day > rule.last_valid_day(published)
                for pack in self._scope_packs.get(check.name, ())
                for rule in pack.rules_on(day)), _SELECTION_CACHE_LIMIT)
        return stale

    def plan(self, attempt: CallAttempt) -> Plan:
        """Choose the packs and rules for this call and resolve its local time."""
        location = attempt.location
        number = attempt.number
        listed = tuple(self._listed_zones[name] for name in sorted(attempt.listed_on)
                       if name in self._listed_zones)
        zones = self._zones_of(number, location, listed)
        local = local_times(attempt.at, zones.zones)
        day = call_date(attempt, local)
        days = (day,) if len(local) < 2 else candidate_days(day, local)
        # Everything pack selection reads: campaign (packs, origin), mode, area code,
        # the CRM's state, the scope lists the number is on (or that could not be read)
        # and the date of the call (effective dates, parameter versions).
        # The campaign by identity: hashing its fields was a tenth of a plan, and the
        # selection holds the campaign, so its id names no other object while kept.
        key = (id(attempt.campaign), attempt.mode, attempt.number.area_code,
               location.state if location else None, location.text if location else None,
               days, attempt.listed_on, attempt.unread)
        selection = self._selections.get(key)
        if selection is None:
            selection = remember(self._selections, key, self._select(attempt, days),
                                 _SELECTION_CACHE_LIMIT)
        counting = (attempt.front, attempt.places_call)
        caps = self._counting.get(counting)
        if caps is None:
            caps = remember(self._counting, counting, tuple(
                cap for cap in self._caps if cap.counts(attempt)), _SELECTION_CACHE_LIMIT)
        claims = selection.claims.get(counting)
        if claims is None:
            claims = selection.claims[counting] = (
                reserved_claims(selection.rules, caps, attempt),
                read_claims(selection.rules, attempt))
        return Plan(attempt, selection.packs, selection.rules, selection.skipped,
                    selection.obligations, zones, local, selection.prefetch,
                    selection.list_names, selection.applied, day, selection.unknown_packs,
                    caps, *claims, selection.house_only, selection.unencoded,
                    selection.versions_merged)

    def _applicable(self, attempt: CallAttempt) -> tuple[list[Pack], tuple[str, ...]]:
        """Every statute pack, then the house policies the campaign opts into (statutes
        first, so an enacted rule decides a tie with a house-policy one)."""
        wanted = set(attempt.campaign.packs)
        packs = [p for p in self.packs.values() if p.is_statute]
        packs += [p for p in self.packs.values() if not p.is_statute and p.id in wanted]
        unknown = tuple(p for p in attempt.campaign.packs if p not in self.packs)
        return packs, unknown

    def _continued(self, pack: Pack, day: date) -> bool:
        """Whether another pack of ``pack``'s succession encodes its state's law on
        ``day``: a statute pack in force that day of one of ``pack``'s states
        (``Pack.speaks_for``: ``Scope.states``; both national). Its scope alone then
        says whether that law reaches the call: holding it, its rules of that day judge
        it (it applies as any pack in force); not holding it (an amended text narrowed
        the scope), that day's law does not reach the call (heng24: a narrowed
        successor left every call only the old scope held BLOCKed callguard:no-pack).
        Not a house policy, nor another state's pack named in ``succeeds``: neither
        speaks for this state's law (hrev110).
        """
        return any(p.in_effect(day) and p.speaks_for(pack) for p in self._succession[pack.id])

    def _select(self, attempt: CallAttempt, days: tuple[date, ...]) -> _Selection:
        """The packs and rules for ``days``, the candidate zones' local dates (one, but
        when the zones straddle midnight): a pack in force on any of them applies, its
        rules of each of them; a statute pack in scope not in force on one of them is the
        law of that day not encoded (``unencoded``)."""
        applications: list[PackApplication] = []
        rules: list[Rule] = []
        skipped: list[Outcome] = []
        obligations: list[Obligation] = []
        enacted = False  # a statute pack's rule covers this call's mode
        house: dict[str, None] = {}  # house policies with a rule covering it
        unencoded: list[str] = []  # statute packs in scope, not in force that day
        packs, unknown = self._applicable(attempt)
        merged = False
        for pack in packs:
            why = pack.scope.why_applies(attempt)
            live = [day for day in days if pack.in_effect(day)]
            if len(live) < len(days) and pack.is_statute and why is not None and any(
                    not self._continued(pack, day) for day in days if day not in live):
                until = (f" until {pack.effective_until}"
                         if pack.effective_until is not None else "")
                unencoded.append(f"{pack.id} (in force from {pack.effective_from}{until})")
            if not live:
                off = ", ".join(str(day) for day in days)
                applications.append(PackApplication(pack.id, pack.version, False,
                                                    f"not in effect on {off}"))
                continue
            applications.append(PackApplication(pack.id, pack.version, why is not None,
                                                why or pack.scope.why_not()))
            if why is None:
                continue
            obligations.extend(pack.obligations)
            in_force = (pack.rules_on(live[0]) if len(live) == 1 else
                        tuple(dict.fromkeys(r for day in live for r in pack.rules_on(day))))
            if len(live) > 1 and len(in_force) > len(pack.rules_on(live[0])):
                merged = True
            for rule in in_force:
                if attempt.mode in rule.modes:
                    rules.append(rule)
                    if pack.is_statute:
                        enacted = True
                    else:
                        house[pack.id] = None
                else:
                    modes = ", ".join(sorted(m.value for m in rule.modes))
                    skipped.append(Outcome(rule.rule_id, rule.citation, Status.NOT_APPLICABLE,
                                           f"covers {modes} calls only", rule.precedence,
                                           rule.version))
        return _Selection(
            tuple(applications), tuple(rules), tuple(skipped),
            combine_obligations(obligations, attempt.mode),
            prefetch=frozenset().union(*(rule.prefetch for rule in rules)),
            # with the reassigned data a consent or relationship that lifts a rule is read
            # against (``lists_read``): for every mode, not only those of 64.1200(m)'s rule
            list_names=tuple(dict.fromkeys(n for rule in rules for n in lists_read(rule))),
            applied=", ".join(p.pack_id for p in applications if p.applies),
            unknown_packs=unknown,
            house_only=None if enacted or not house else Outcome(
                NO_PACK, FAIL_CLOSED, Status.BLOCK,
                f"only house policy ({', '.join(house)}) covers {attempt.mode.value} calls "
                "to this number, no enacted law's pack does", _AFTER_EVERY_RULE),
            unencoded="; ".join(unencoded),
            versions_merged=merged,
            campaign=attempt.campaign,
        )

    def decide(
        self, plan: Plan, facts: Facts, partial: tuple[Outcome | None, ...] = ()
    ) -> Verdict | NeedFacts:
        """Run every rule; BLOCK if any blocks (the most restrictive pack wins).

        ``partial`` comes from a previous ``NeedFacts``: rules that already judged are not
        run again.
        """
        if plan.unknown_packs:
            return refusal(UNKNOWN_PACK, FAIL_CLOSED,
                           f"campaign {plan.attempt.campaign.id} opts into house policy "
                           f"{', '.join(plan.unknown_packs)}, which is not enabled",
                           packs=plan.packs)
        if plan.unencoded:
            # The law of a jurisdiction whose pack's scope holds the call, on a date its
            # pack does not encode (an earlier text): judging by the others alone would
            # ALLOW what that law may forbid.
            days = candidate_days(plan.day, plan.local) if plan.day else ()
            on = (str(plan.day) if len(days) < 2 else
                  "one of the candidate zones' dates ("
                  + ", ".join(lt.label() for lt in plan.local) + ")")
            return refusal(NO_PACK, FAIL_CLOSED,
                           f"the call is in the scope of {plan.unencoded}, not in force on "
                           f"{on}: the law that applied that day is not encoded",
                           packs=plan.packs)
        if not plan.rules:
            reason = "no enabled jurisdiction pack applies to this call"
            if plan.skipped:
                reason = (f"no rule of the enabled packs ({plan.applied}) covers "
                          f"{plan.attempt.mode.value} calls to this number")
            return refusal(NO_PACK, FAIL_CLOSED, reason, packs=plan.packs)
        ctx = Context(plan.attempt, facts, plan.local, plan.zones.unknown_reason, plan.day,
                      self._list_zones, self._state_lists)
        rules = plan.rules
        if partial:
            judged = [done if done is not None else rule.evaluate(ctx)
                      for rule, done in zip(rules, partial, strict=True)]
        else:
            judged = [rule.evaluate(ctx) for rule in rules]
        for result in judged:
            if isinstance(result, NeedFacts):  # the rare round: some rule asks for records
                return self._missing(plan, facts, judged)
        return self._verdict(plan, facts, (*judged, *plan.skipped))  # type: ignore[arg-type]

    def _missing(self, plan: Plan, facts: Facts,
                 judged: list[Outcome | NeedFacts]) -> Verdict | NeedFacts:
        """What the rules that answered ``NeedFacts`` ask for (a reservation only when
        nothing else is missing and no rule blocks), or the verdict when nothing is."""
        results: list[Outcome | None] = []
        missing: set[FactKind] = set()
        asked: dict[int, frozenset[FactKind]] = {}
        blocked = plan.house_only is not None  # refused in ``_verdict`` if none blocks
        block = Status.BLOCK
        for index, result in enumerate(judged):
            if isinstance(result, NeedFacts):
                missing |= result.kinds
                asked[index] = result.kinds
                results.append(None)
            else:
                results.append(result)
                blocked = blocked or result.status is block
        reserving = missing & RESERVING
        if reserving:
            # A reserving fetch counts the call: ask for it only when nothing else is
            # missing and no rule blocks (a BLOCKed call is never counted).
            if blocked:
                for index, kinds in asked.items():
                    if kinds <= RESERVING:
                        results[index] = _not_counted(plan.rules[index])
                still = (k for k in asked.values() if not k <= RESERVING)
                missing = set().union(*still) - RESERVING
            elif missing - reserving:
                missing -= reserving
        if missing:
            return NeedFacts(frozenset(missing), tuple(results))
        outcomes = [o for o in results if o is not None]
        outcomes.extend(plan.skipped)
        return self._verdict(plan, facts, tuple(outcomes))

    @staticmethod
    def counted_after(plan: Plan, facts: Facts, verdict: Verdict) -> tuple[FrequencyClaim, ...]:
        """What an ALLOW no reservation counted is counted under after the answer: the
        subjects of the loaded caps that count it (``Plan.caps``), claims that only record
        (``reserved_claims``); none for a BLOCK, a call no cap counts, or one whose
        reservation (a cap of the plan) already counted it under them."""
        if not plan.caps or not verdict.allowed or FactKind.FREQUENCY in facts.fetched:
            return ()
        return plan.reserved

    def resume(self, plan: Plan, facts: Facts, pending: NeedFacts) -> Verdict | NeedFacts:
        """The next round after ``pending``, once the gate fetched what it asked for.

        When it asked only for a reservation (``RESERVING``: asked for last, once every
        other rule allowed the call and nothing else was missing), only the rules that
        waited for it are judged; the others' outcomes are ``pending.partial`` as they
        stand. The verdict is the one ``decide(plan, facts, pending.partial)`` gives, without
        a second pass over every rule (issue 18: that pass was most of what a cap cost
        besides the store).
        """
        if not pending.kinds <= RESERVING or len(pending.partial) != len(plan.rules):
            return self.decide(plan, facts, pending.partial)
        ctx = Context(plan.attempt, facts, plan.local, plan.zones.unknown_reason, plan.day,
                      self._list_zones, self._state_lists)
        outcomes: list[Outcome | NeedFacts | None] = [*pending.partial, *plan.skipped]
        rules = plan.rules
        for index in [i for i, done in enumerate(pending.partial) if done is None]:
            judged = outcomes[index] = rules[index].evaluate(ctx)
            if isinstance(judged, NeedFacts):  # not what it asked for: a full round
                return self.decide(plan, facts, pending.partial)
        return self._verdict(plan, facts, tuple(outcomes))  # type: ignore[arg-type]

    @staticmethod
    def _verdict(plan: Plan, facts: Facts, outcomes: tuple[Outcome, ...]) -> Verdict:
        if plan.versions_merged:
            outcomes = _strictest(outcomes)
        # One pass: the deciding BLOCK (lowest precedence, the first on a tie), how many
        # block, and the records that exempted the call.
        deciding: Outcome | None = None
        blocks = 0
        exempt: list[str] = []
        block, exempted = Status.BLOCK, Status.EXEMPT
        for o in outcomes:
            status = o.status
            if status is block:
                blocks += 1
                if deciding is None or o.precedence < deciding.precedence:
                    deciding = o
            elif status is exempted:
                exempt.append(o.reason.split("exempt: ", 1)[-1])
        if deciding is None and plan.house_only is not None:
            # A house policy adds limits to the law, it never stands in for it: when its
            # rules alone cover the call and none blocks, this blocks in their place.
            deciding = plan.house_only
            outcomes = (*outcomes, deciding)
            blocks = 1
        if deciding is not None:
            reason = f"Blocked by {deciding.rule_id}: {deciding.reason} ({deciding.citation})."
            if blocks > 1:
                reason += f" {blocks - 1} more rule(s) also block."
        else:
            judged = (len({r.rule_id for r in plan.rules}) if plan.versions_merged
                      else len(plan.rules))
            reason = f"Allowed: {judged} rules of {plan.applied} hold."
            if exempt:
                reason += f" Exempt by record: {'; '.join(dict.fromkeys(exempt))}."
        lists = tuple([(c.name, c.version) for c in facts.lists.values() if c is not None])
        # Positionally, in the field order (allowed, deciding, outcomes, packs, reason,
        # time_zones, zone_sources, lists, obligations, call_date): ten keywords cost
        # ~0.2 µs more, on every decision.
        return Verdict(deciding is None, deciding, outcomes, plan.packs, reason,
                       plan.zones.zones, plan.zones.sources, lists, plan.obligations,
                       plan.day)
