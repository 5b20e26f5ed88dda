"""The gate: the one service every front calls (FastAGI, SIP, HTTP, CLI).

It turns a request into a call attempt, asks the policy which facts it needs, reads
only those from the stores, runs the policy, writes the compliance record and returns
the decision. Any failure — bad input, a store error, a bug — is a BLOCK with the
reason; the gate never raises to its front.

The order after deciding is fixed: the record is written (the answer waits for it, by
the log's durability policy); only a failed record write turns an ALLOW into a BLOCK
(and that BLOCK is what gets recorded, if anything still can be). Then the observers
(metrics, the AMI watchdog) see the decision; an observer that fails is logged and can
never change the verdict the front is given, so the record and the answer agree. The
front's time budget covers deciding, not the record: a decision whose budget ran out
is recorded as the BLOCK the front sends.

Facts are fetched through the registry of ``callguard.facts`` (the gate names no kind).
A call-frequency reservation is part of deciding, so it comes before the record: the
record then says what was counted. It is made only once every other rule allowed the
call; a reservation that cannot be made is a BLOCK (``callguard:store-unavailable``).
When the record write (or the time budget) then turns the ALLOW into a BLOCK, the call
stays counted: an over-count blocks a lawful call at worst; an ALLOW recorded but not
counted could let a call over the cap through, so the order is never the other way.

A front may withdraw its question while it is decided (``Withdrawal``: a SIP CANCEL).
Until the record is written, a withdrawal stops a decision that waits (as the time budget
does) and turns an ALLOW into the BLOCK ``callguard:cancelled``, recorded as such (the
ALLOW's call-frequency count stays, as above); a BLOCK keeps its rule. Once the record
is being written the decision is final and the withdrawal has no effect: the front
answers what was recorded.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from callguard.decision import Decision, new_decision_id
from callguard.errors import CallguardError, NumberError, StoreError, UsageError
from callguard.facts import fetch_facts
from callguard.facts.frequency import FREQUENCY, CountsAfter
from callguard.facts.records import RECORDS
from callguard.numbers import Location, NumberInfo, NumberParser, parse_location
from callguard.numbers.parse import ExtensionError, named_character
from callguard.numbers.redact import clipped_repr, redact_digits
from callguard.policy import (
    CallAttempt,
    Campaign,
    DialingMode,
    FactKind,
    Facts,
    ListCheck,
    NeedFacts,
    Plan,
    Policy,
    Verdict,
    refusal,
)
from callguard.policy.core import (
    BAD_LOCATION,
    FAIL_CLOSED,
    INTERNAL_ERROR,
    NOT_DIALABLE,
    STORE_UNAVAILABLE,
    UNKNOWN_CAMPAIGN,
    UNKNOWN_MODE,
    UNWATCHED,
)
from callguard.policy.frequency import Counted, Held, count_instants
from callguard.policy.rules.number_kind import REASSIGNED_LIST
from callguard.stores.attributes.lookup import list_check  # issue 18: attribute lists
from callguard.stores.interfaces import ListRegistry, RecordStores
from callguard.stores.writes import AddCompanyDnc, RecordWrite
from callguard.watchdog.carry import FOLLOWED_MODES  # the modes the AMI watchdog follows

__all__ = ["CANCELLED", "RELEASE_SKIPPED", "TIME_BUDGET", "CheckRequest", "Gate",
           "Withdrawal"]

TIME_BUDGET = "callguard:time-budget"
# Why a withdrawn ALLOW's reservation is not given back when the withdrawing BLOCK could
# not be recorded (the gate's ``withdraw``, the FastAGI late tail's ``_give_back``).
RELEASE_SKIPPED = ("the withdrawal is not on record: the withdrawn ALLOW stays counted, as "
                   "its record stands")
CANCELLED = "callguard:cancelled"

_MAX_ROUNDS = 3
_errors = structlog.get_logger("callguard.gate")


class Withdrawal:
    """A front's word that the asker gave up before the answer (a SIP CANCEL).

    ``withdraw`` may be called at any time; it takes effect only while the decision is
    not final — before the gate starts writing its record. ``honoured`` then says the
    recorded decision is the withdrawn one (a BLOCK), for the front to answer so.
    """

    __slots__ = ("_sealed", "_wake", "honoured", "withdrawn")

    def __init__(self) -> None:
        self.withdrawn = False
        self.honoured = False
        self._sealed = False
        self._wake: Callable[[], None] | None = None

    def withdraw(self) -> bool:
        """Withdraw the question; False when the decision is already final."""
        if self._sealed:
            return False
        self.withdrawn = True
        if self._wake is not None:
            self._wake()
        return True

    def waking(self, wake: Callable[[], None] | None) -> None:
        """While a decision waits: call ``wake`` on a withdrawal (at once if it came
        already); None: the wait is over."""
        self._wake = wake
        if wake is not None and self.withdrawn:
            wake()

    def seal(self, verdict: Verdict) -> Verdict:
        """The verdict to record, from here on final: a withdrawn ALLOW is the BLOCK
        ``callguard:cancelled``; a BLOCK keeps its rule."""
        self._sealed, self._wake = True, None
        if not self.withdrawn:
            return verdict
        self.honoured = True
        if not verdict.allowed:
            return verdict
        return refusal(CANCELLED, FAIL_CLOSED, "the question was withdrawn (SIP CANCEL) "
                       "after the rules allowed the call; call not placed")


# [ami] required: the watchdog follows a FastAGI call by the Linkedid the dialplan passes
# (the 4th AGI argument, ${CHANNEL(linkedid)}); without it this node cannot release the
# line (another only through manager.conf channelvars), so the call is not placed.
_NO_LINKEDID = ("the dialplan passed no LINKEDID (the 4th AGI argument, ${CHANNEL(linkedid)}): "
                "the watchdog could not follow this call to release its line after the "
                "called party hangs up ([ami] required); call not placed")


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """What a front asks: the raw inputs, unvalidated."""

    number: str
    campaign: str
    mode: str | None = None
    at: datetime | None = None
    location: str | None = None
    linkedid: str | None = None
    front: str = "cli"
    # The channel the gate was asked from (FastAGI agi_channel): the watchdog tells an
    # Originate straight to the customer (asked from the new leg before it is called) from
    # click-to-dial (asked from the originated leg after it answered). Never recorded.
    channel: str | None = None
    reference: str | None = None  # the front's own id of the call (the SIP Call-ID)
    # Fact sources in place of the node's for this check, by registered store name (a scrub
    # run's ``ScrubCounts``: its earlier rows held in memory, never stored).
    stores: Mapping[str, object] | None = None
    places_call: bool = True  # False: a question only (caps read, nothing counted)
    withdrawal: Withdrawal | None = None  # the front's CANCEL, while the decision is open
    # The decision this one withdraws (the FastAGI front's BLOCK once a late tail showed its
    # first answer was decided on a cut block): named in the record, which stays append-only.
    withdraws: str | None = None
    # What in the question withholds the caller ID of the call to be placed (the SIP front:
    # ``Privacy: id`` and the like), as sent; None: nothing (the FastAGI dialplan forces
    # presentation itself). The caller-ID rules BLOCK such a call.
    withheld: str | None = None


@dataclass(slots=True)
class _Attempted:
    number: NumberInfo | None = None
    campaign: Campaign | None = None
    mode: DialingMode | None = None
    counted: Counted | None = None  # the reservation's rows, for the record to carry
    held: Held | None = None  # the same rows, for a release (never recorded)
    # ``Gate.withdraw``: the withdrawn ALLOW's reservation given back (True), not written
    # (False), or not given back (None: nothing held, or the withdrawal not on record)
    released: bool | None = None
    recorded: bool = False  # the decision is on record (``Gate.withdraw``, release=False)


def _withdrawn_early() -> Verdict:
    return refusal(CANCELLED, FAIL_CLOSED, "the question was withdrawn (SIP CANCEL) before "
                   "the rules decided; call not placed")


def _utc_now() -> datetime:
    return datetime.now(UTC)


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Verdict], waiting: Any) -> Generator[Any, Any, Verdict]:
    """Finish ``coro``, already started and suspended on ``waiting``: what ``await`` does
    after the first step (values and exceptions, cancellation included, pass through)."""
    while True:
        try:
            sent = yield waiting
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the coroutine, as await does
            try:
                waiting = coro.throw(exc)
            except StopIteration as done:
                result: Verdict = done.value
                return result
        else:
            try:
                waiting = coro.send(sent)
            except StopIteration as done:
                result = done.value
                return result


def _in_ms(at: datetime) -> datetime:
    """The instant decided, to the millisecond the record keeps of it: deciding on
    21:00:00.0005 and recording 21:00:00.000 told a replay of the record another answer
    (a BLOCK "after 9:00 p.m." for an instant the record says is callable). The UTC
    instant's millisecond, which the record writes: `at` may carry a UTC offset with a
    fraction of a second (``fromisoformat`` takes ``-00:00:00.0005``), and its local
    digits are then not the instant's."""
    offset = at.utcoffset()
    excess = (at.microsecond - (offset.microseconds if offset else 0)) % 1000
    if not excess:
        return at
    if excess <= at.microsecond:  # replace keeps `fold` (the repeated hour of a zone)
        return at.replace(microsecond=at.microsecond - excess)
    return at - timedelta(microseconds=excess)  # such an offset is fixed: no fold


class Gate:
    """Gathers facts, runs the policy, records the decision."""

    def __init__(
        self,
        *,
        policy: Policy,
        campaigns: Mapping[str, Campaign],
        parser: NumberParser,
        lists: ListRegistry,
        records: RecordStores,
        record: Callable[[Decision], Awaitable[None]],
        journal: Callable[[RecordWrite, int], Awaitable[None]] | None = None,
        observers: Sequence[Callable[[Decision], None]] = (),
        clock: Callable[[], datetime] = _utc_now,
        stores: Mapping[str, object] | None = None,
        not_loaded: frozenset[str] = frozenset(),
    ) -> None:
        self._policy = policy
        # ``[lists] not_loaded``: a scope list (``Policy.scope_lists``) absent on purpose
        # widens no pack's scope; one absent otherwise brings its state's pack in (unread).
        self._not_loaded = not_loaded
        self._campaigns = campaigns
        self._parser = parser
        self._lists = lists
        self._records = records
        # Fact sources by the name their fetchers registered with (callguard.facts); the
        # record stores are ``self._records`` (read at each fetch).
        self._stores: dict[str, object] = dict(stores or {})
        self._record = record
        self._journal = journal
        self._observers = observers  # held, not copied: a node adds followers after start
        self._clock = clock
        self.counts_after = CountsAfter()  # ALLOWs counted under caps that did not apply
        # ``[ami] required``: why an automated FastAGI call could not be followed now (the
        # reason of its BLOCK), or None while the watchdog is logged in. Set by serve.
        self.unwatched: Callable[[], str | None] | None = None
        # Why the stores cannot be read yet (``serve`` waiting for a Redis record store
        # that did not answer at start: ``Runtime.starting``), or None: every call is
        # BLOCKed with it, from any front. Set by the runtime.
        self.unavailable: Callable[[], str | None] | None = None

    async def check(self, request: CheckRequest, *, budget_s: float | None = None) -> Decision:
        """Decide one call attempt, record it, return it; never raises.

        ``budget_s``: the front's time budget for deciding; past it the decision is a
        BLOCK (``callguard:time-budget``), recorded as such.
        """
        started = time.perf_counter()
        at = _in_ms(request.at or self._clock())
        seen = _Attempted()
        withdrawal = request.withdrawal
        try:
            if withdrawal is not None and withdrawal.withdrawn:
                verdict = _withdrawn_early()
            elif budget_s is None:
                verdict = await self._decide(request, at, seen)
            else:
                verdict = await self._within(budget_s, request, at, seen)
        except Exception as exc:  # noqa: BLE001 - the gate fails closed on anything
            _errors.exception("gate_error", campaign=redact_digits(request.campaign))
            verdict = refusal(INTERNAL_ERROR, FAIL_CLOSED,
                              f"internal error ({type(exc).__name__}); call not placed")
        if withdrawal is not None:  # from here the decision is final (no await before)
            verdict = withdrawal.seal(verdict)
        return await self._finish(request, verdict, at, seen, started)

    async def _within(self, budget_s: float, request: CheckRequest, at: datetime,
                      seen: _Attempted) -> Verdict:
        began = time.monotonic()
        decide = self._decide(request, at, seen)
        # The budget can only fire while deciding waits (a timer runs on the loop, never
        # inside a synchronous step), and with the embedded stores a decision usually never
        # waits: its first step runs here, and only a decision that suspends is finished
        # under asyncio.timeout_at — the same deadline, armed then (a Timeout and its timer
        # on every call were a measurable share of a decision). The loop is looked up only
        # then too: asyncio.get_running_loop makes a getpid(2) on every call (Python 3.11).
        try:
            waiting = decide.send(None)
        except StopIteration as done:
            verdict: Verdict = done.value
            return verdict
        loop = asyncio.get_running_loop()
        deadline_at = loop.time() + budget_s - (time.monotonic() - began)
        deadline = asyncio.timeout_at(deadline_at)
        withdrawal = request.withdrawal
        woken: list[bool] = []  # the withdrawal, not the budget, ended the wait
        try:
            async with deadline:
                if withdrawal is not None:  # a withdrawal ends the wait as the budget does

                    def wake() -> None:
                        if not deadline.expired():  # the budget may have fired already
                            woken.append(True)
                            deadline.reschedule(loop.time())

                    withdrawal.waking(wake)
                try:
                    return await _resume(decide, waiting)
                finally:
                    if withdrawal is not None:
                        withdrawal.waking(None)
        except TimeoutError:
            if not deadline.expired():
                raise
        if woken:
            return _withdrawn_early()
        return refusal(TIME_BUDGET, FAIL_CLOSED,
                       f"no decision within the {budget_s * 1000:g} ms budget; call not placed")

    async def refuse(self, request: CheckRequest, verdict: Verdict, *,
                     started: float) -> Decision:
        """Record a BLOCK a front decided itself, and return it."""
        seen = _Attempted(campaign=self._campaigns.get(request.campaign))
        return await self._finish(request, verdict, request.at or self._clock(), seen,
                                  started)

    async def withdraw(self, request: CheckRequest, verdict: Verdict,
                       withdrawn: Decision | None, *, started: float,
                       release: bool = True) -> tuple[Decision, bool | None]:
        """Record the BLOCK that withdraws an ALLOW its front answered (``refuse``), then,
        only once that BLOCK is on record, give back the ALLOW's reservation (``release``).
        ``refuse`` never raises: a record that cannot be written is logged and its BLOCK
        returned all the same; giving the count back then left the ALLOW standing in the
        log, unwithdrawn, with its call no longer counted (the log showing a cap broken,
        and disagreeing with the counts it proves). Returns the BLOCK and the release:
        True given back, False not written, None not tried (nothing held, or the
        withdrawal not on record: the count stays, as the record says the call).
        ``release`` False: record only, and say whether the BLOCK is on record; the front
        gives back (``release``) once the switch confirmed the withdrawal too."""
        seen = _Attempted(campaign=self._campaigns.get(request.campaign))
        decision = await self._finish(request, verdict, request.at or self._clock(), seen,
                                      started, release=withdrawn if release else None)
        return decision, seen.released if release else seen.recorded

    async def release(self, decision: Decision) -> bool:
        """Give back the call-frequency reservation of an ALLOW its front withdrew before
        the call could be placed (the FastAGI front: Asterisk hung up, or closed, before
        confirming the answer; a late tail of a cut block), so the seller does not lose a
        capped call for a call never dialled. True when nothing stays counted for it (or
        nothing was); False when the release could not be written: the reservation then
        stays (an over-count blocks a lawful call at worst), logged. Never raises."""
        held, number = decision.held, decision.number
        store = self._stores.get(FREQUENCY)
        if held is None or number is None or store is None:
            return True
        try:
            await store.release(number.e164, held)  # type: ignore[attr-defined]
        except Exception as exc:  # noqa: BLE001 - a failed release keeps the count
            _errors.warning("frequency_release_failed", decision_id=decision.decision_id,
                            error=redact_digits(str(exc)) or type(exc).__name__,
                            effect="the withdrawn ALLOW stays counted against its caps")
            return False
        return True

    async def opt_out(self, number: str, campaign_id: str, *, source: str) -> str:
        """Put the number on the campaign's solicitor's do-not-call list, and on its
        telemarketer's when it names one (the entity the person told, 47 CFR 64.1200(d)(3),
        Utah 13-25a-107.2(1): its calls for every seller are blocked); both in one atomic
        batch, at one instant; durable on return.

        Returns the E.164 number; raises CallguardError (UsageError, NumberError,
        StoreError) with the reason when nothing was recorded.
        """
        campaign = self._campaigns.get(campaign_id)
        if campaign is None:
            raise UsageError(f"campaign {clipped_repr(campaign_id, 60)} is not configured")
        e164 = self._parser.parse(number).e164
        at = self._clock()
        await self.write([AddCompanyDnc(who, e164, at, source)
                          for who in self.opt_out_lists(campaign_id)])
        return e164

    def opt_out_lists(self, campaign_id: str) -> tuple[str, ...]:
        """Whose do-not-call lists an opt-out on the campaign goes on: its seller's, then
        its telemarketer's when it names one (``opt_out`` writes these, a front's reply
        names them); empty for a campaign not configured."""
        campaign = self._campaigns.get(campaign_id)
        if campaign is None:
            return ()
        if campaign.telemarketer is None:
            return (campaign.solicitor,)
        return (campaign.solicitor, campaign.telemarketer)

    async def write(self, writes: Sequence[RecordWrite]) -> tuple[int, ...]:
        """Apply record writes atomically, then journal each in the compliance log.

        Raises StoreError when the store did not acknowledge the batch as durable, or
        before its start was verified (``unavailable``: a Redis that answers again is not
        written to until its marker and durability were checked).
        """
        unavailable = self.unavailable() if self.unavailable is not None else None
        if unavailable is not None:
            raise StoreError(unavailable)  # HTTP: "not recorded: store unavailable: ..."
        changed = await self._records.apply(writes)
        if self._journal is not None:
            for write, count in zip(writes, changed, strict=True):
                await self._journal(write, count)
        return changed

    async def _finish(self, request: CheckRequest, verdict: Verdict, at: datetime,
                      seen: _Attempted, started: float, *,
                      release: Decision | None = None) -> Decision:
        if seen.number is None and (verdict.deciding is None
                                    or verdict.deciding.rule_id != NOT_DIALABLE):
            # Refused before the number was read (unknown campaign, time budget): the
            # record still names the number, so a lookup by number finds this decision
            # (a number with an extension: its line, as number-not-dialable names it).
            try:
                seen.number = self._parser.parse(request.number)
            except ExtensionError as exc:
                seen.number = exc.line
            except Exception:  # noqa: BLE001, S110 - unread: the record names the raw text
                pass
        # Positionally, in Decision's field order (fifteen keywords cost ~0.4 µs more, on
        # every decision): decision_id, verdict, at, number, raw_number, campaign,
        # campaign_id, mode, front, latency_us, linkedid, reference, channel, withdraws
        # (only a BLOCK withdraws an answer: readers look among BLOCKs; the schema says
        # so), counted, held, places_call.
        decision = Decision(
            new_decision_id(), verdict, at, seen.number, request.number, seen.campaign,
            request.campaign, seen.mode, request.front,
            (time.perf_counter() - started) * 1e6, request.linkedid, request.reference,
            request.channel, None if verdict.allowed else request.withdraws, seen.counted,
            seen.held, request.places_call)
        try:
            await self._record(decision)
        except Exception as exc:  # noqa: BLE001 - an unrecorded call is never placed
            _errors.error("record_failed", decision_id=decision.decision_id,
                          error=redact_digits(str(exc)) or type(exc).__name__)
            if decision.allowed:
                decision = await self._unrecorded(decision)
            elif release is not None and release.held is not None:
                _errors.warning("frequency_release_skipped", decision_id=release.decision_id,
                                effect=RELEASE_SKIPPED)
        else:
            seen.recorded = True
            if release is not None and release.held is not None:
                seen.released = await self.release(release)
        for observer in self._observers:
            try:
                observer(decision)
            except Exception:  # noqa: BLE001 - an observer never changes the answer
                _errors.exception("observer_failed", decision_id=decision.decision_id)
        return decision

    async def _unrecorded(self, decision: Decision) -> Decision:
        """The BLOCK that replaces an ALLOW whose record failed; recorded if still possible."""
        verdict = refusal(INTERNAL_ERROR, FAIL_CLOSED,
                          "the compliance record could not be written; call not placed")
        blocked = dataclasses.replace(decision, verdict=verdict)
        try:  # the ALLOW left nothing behind (rolled back), so the id is not reused
            await self._record(blocked)
        except Exception as exc:  # noqa: BLE001 - BLOCK is answered either way
            _errors.error("record_failed", decision_id=decision.decision_id,
                          error=redact_digits(str(exc)) or type(exc).__name__)
        return blocked

    async def _decide(self, request: CheckRequest, at: datetime, seen: _Attempted) -> Verdict:
        campaign = self._campaigns.get(request.campaign)
        if campaign is None:
            hidden = next((c for c in request.campaign if not c.isprintable()), None)
            note = "" if hidden is None else (
                f" (it holds {named_character(hidden)}, which no configured id has)")
            return refusal(UNKNOWN_CAMPAIGN, FAIL_CLOSED,
                           f"campaign {clipped_repr(request.campaign, 60)} is not configured{note}")
        seen.campaign = campaign
        try:
            mode = DialingMode(request.mode) if request.mode else campaign.default_mode
        except ValueError:
            known = ", ".join(m.value for m in DialingMode)
            given = clipped_repr(request.mode or "", 60)
            return refusal(UNKNOWN_MODE, FAIL_CLOSED,
                           f"dialing mode {given} is not one of {known}")
        seen.mode = mode
        if (self.unwatched is not None and request.front == "fastagi"
                and mode.value in FOLLOWED_MODES):
            why = self.unwatched() or (None if request.linkedid else _NO_LINKEDID)
            if why is not None:
                return refusal(UNWATCHED, FAIL_CLOSED, why)
        unavailable = self.unavailable() if self.unavailable is not None else None
        if unavailable is not None:
            return refusal(STORE_UNAVAILABLE, FAIL_CLOSED, unavailable)
        try:
            number = self._parser.parse(request.number)
        except NumberError as exc:
            if isinstance(exc, ExtensionError):  # refused, but the record names the line
                seen.number = exc.line  # (hnew25: its hash and last four were the text's)
            return refusal(NOT_DIALABLE, FAIL_CLOSED, str(exc))
        seen.number = number
        location: Location | None = None
        if request.location:
            try:
                location = parse_location(request.location, regions=self._parser.regions)
            except UsageError as exc:
                return refusal(BAD_LOCATION, FAIL_CLOSED, str(exc))
        if at.tzinfo is None:
            raise UsageError("the call instant must carry a UTC offset")
        # Every record made before the decision binds it, even when the client sends an
        # earlier instant (a queued call, `check --at` of a past day): records are judged
        # at the later of the two, so an opted-out number is never ALLOWed once the
        # request is on record. (A statute case, deciding at the call's own instant, sees
        # a revocation dated after it as not yet made.)
        now = self._clock()
        attempt = CallAttempt(number, campaign, mode, at, location, request.front,
                              request.places_call, now if now > at else None, now,
                              request.withheld, *self._scope_lists(number, at))
        plan = self._policy.plan(attempt)
        try:
            return await self._run(plan, request.stores or {}, seen)
        except StoreError as exc:
            return refusal(STORE_UNAVAILABLE, FAIL_CLOSED, str(exc), packs=plan.packs)
        except CallguardError as exc:
            return refusal(INTERNAL_ERROR, FAIL_CLOSED, str(exc), packs=plan.packs)

    def _scope_lists(self, number: NumberInfo, at: datetime
                     ) -> tuple[frozenset[str], frozenset[str]]:
        """The scope lists (a state's own list places its people there, whatever their area
        code) the number is on, and those that cannot show it is not on them
        (``CallAttempt.unread``): no version loaded and not named in ``[lists]
        not_loaded`` (or named, with an error: served before and lost from Redis, or its
        version refused), or a copy that is stale, undated, future-dated or does not cover the
        number's area code on its state's date (``Policy.scope_list_unread``; hrev83:
        an Oklahoman registered after a stale ok-state copy was out of scope, ALLOWed).
        ``not_loaded`` is not read for a loaded copy (hrev90): the shipped file names both
        lists, and a site that imported one and kept its name would lose this silently."""
        listed: set[str] = set()
        unread: set[str] = set()
        for name in self._policy.scope_lists:
            snapshot = self._lists.snapshot(name)
            if snapshot is None:
                # absent on purpose only when nothing went wrong with it: a list this node
                # served that Redis lost, or one whose version is refused, is unread (hsto22)
                if name not in self._not_loaded or name in self._lists.errors:
                    unread.add(name)
            elif (check := list_check(name, snapshot, number)) is not None:
                if check.listed:
                    listed.add(name)
                elif self._policy.scope_list_unread(check, self._policy.list_day(name, at)):
                    unread.add(name)  # judged on its state's date, as for every number
        # The reassigned-number data the same way (hrea24): a copy served here and lost
        # from Redis, or whose version is refused, is unread, not "no data" — else the
        # consents its disconnects voided were honoured again (``ReassignedNumbers``).
        if (REASSIGNED_LIST in self._lists.errors
                and self._lists.snapshot(REASSIGNED_LIST) is None):
            unread.add(REASSIGNED_LIST)
        return frozenset(listed), frozenset(unread)

    async def _run(self, plan: Plan, stores: Mapping[str, object],
                   seen: _Attempted) -> Verdict:
        number = plan.attempt.number
        lists: dict[str, ListCheck | None] = {}
        for name in plan.list_names:
            # issue 18 (attribute lists): one fetch for do-not-call and attribute lists,
            # reassigned data's disconnect date included (callguard.stores.attributes).
            lists[name] = list_check(name, self._lists.snapshot(name), number)
        facts = await self._fetch(plan, Facts(lists), plan.prefetch, stores)
        result = self._policy.decide(plan, facts)
        for _ in range(_MAX_ROUNDS - 1):
            if not isinstance(result, NeedFacts):
                break
            facts = await self._fetch(plan, facts, result.kinds - facts.fetched, stores)
            # After a reservation (asked for last) only the rules that waited for it are
            # judged again: ``Policy.resume``.
            result = self._policy.resume(plan, facts, result)
        if isinstance(result, NeedFacts):
            raise CallguardError("policy kept asking for facts; refusing to decide")
        if plan.caps:
            reserved = facts.values.get(FactKind.FREQUENCY)
            # The rows the reservation wrote go in the record, which proves them (a count
            # stays even when the ALLOW turns into a BLOCK after it, so the BLOCK carries them).
            seen.counted = getattr(reserved, "counted", None)
            seen.held = getattr(reserved, "held", None)
            self._count_after(plan, facts, result, stores)
        return result

    def _count_after(self, plan: Plan, facts: Facts, verdict: Verdict,
                     stores: Mapping[str, object]) -> None:
        """An ALLOW no reservation counted: counted under the loaded caps after the
        answer (``CountsAfter``). A node without a frequency store counts nothing."""
        claims = self._policy.counted_after(plan, facts, verdict)
        store = stores.get(FREQUENCY) or self._stores.get(FREQUENCY)
        if claims and store is not None:
            attempt = plan.attempt
            at, stamp = count_instants(attempt.at, attempt.asked_at, attempt.places_call)
            self.counts_after.post(store, attempt.number.e164, claims,  # type: ignore[arg-type]
                                   at, stamp)

    def _fetch(self, plan: Plan, facts: Facts, kinds: frozenset[FactKind],
               stores: Mapping[str, object]) -> Awaitable[Facts]:
        # fetch_facts's own coroutine, awaited by the caller (no second frame per fetch).
        return fetch_facts({**self._stores, **stores, RECORDS: self._records}, plan, facts,
                           kinds)
