"""The watchdog wired into a node: decisions in, records and metrics out.

The gate's record hook hands every decision here; an ALLOW in predictive or prerecorded
mode with a Linkedid is followed at once, whatever pack applied (were no statutory limit set, the
call would still be released; the limit only decides violation risk). Calls allowed by other
nodes, or before this process started, are followed from the variable the call carries
(``carry.py``). Only the node holding the follower lease acts (``lease.py``).

Records go to the compliance log under the call's decision id, once (``lease.first``);
abandonment (64.1200(a)(7)) is counted per campaign per day in the abandonment tallies
(SQLite in the data dir, or Redis when the records are there, so all nodes add to one
count) and judged over a rolling 30 days, for every campaign.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from callguard.audit import ComplianceLog
from callguard.compliance.sinks import LogFile
from callguard.decision import Decision
from callguard.errors import StoreError
from callguard.fronts.http.metrics import NodeMetrics
from callguard.stores.interfaces import AbandonmentTallies
from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, Followed, TrackerSettings
from callguard.watchdog.carry import FOLLOWED_MODES, Carried, encode
from callguard.watchdog.lease import FollowerLease, Holding
from callguard.watchdog.recorded import RecordedNumbers

if TYPE_CHECKING:
    from redis import asyncio as aioredis

__all__ = ["WatchdogNode", "follow_variable"]

_WINDOW_DAYS = 30
_LIMIT = 0.03  # 64.1200(a)(7): at most 3 % of live-answered calls per campaign per 30 days
# After a restart, how long a call followed again waits for its number's digest from the
# decision record (``recorded.py``) before what needs it goes on without: the end of a log
# back to a call's start is read in milliseconds; a call older than a busy node's hour
# may not be reached. Kept well inside 5 s (227(d)(3)(B)) with the restart itself
# (~1-1.4 s measured) and ``transfer_check_s`` (0.5 s): it delays only the release of a
# call whose called party went while no node watched, a release already recorded late.
_NUMBER_LOOKUP_S = 1.0
_log = structlog.get_logger("callguard.watchdog")


def _carried(decision: Decision, origin: str) -> Carried | None:
    """What to follow for an allowed automated call; None for anything else."""
    if (not decision.allowed or decision.mode is None or decision.campaign is None
            or decision.mode.value not in FOLLOWED_MODES):
        return None
    obligations = decision.verdict.obligations
    return Carried(decision.decision_id, decision.mode.value,
                   obligations.line_release_seconds,
                   obligations.line_release_citation or "", decision.campaign.id,
                   decision.campaign.caller_id, origin)


def follow_variable(origin: str) -> Callable[[Decision], str | None]:
    """For the FastAGI answer: the ``__CALLGUARD_FOLLOW`` value of an allowed automated call
    (every node sets it, with or without ``[ami]``, so any watchdog can follow the call)."""
    def value(decision: Decision) -> str | None:
        carried = _carried(decision, origin)
        if carried is None:
            return None
        encoded = encode(carried)
        if encoded is None:
            _log.warning("follow_variable_too_long", decision_id=decision.decision_id,
                         effect="only this node's watchdog follows the call")
        return encoded
    return value


def _log_file(compliance: ComplianceLog) -> Path | None:
    """The compliance log file this node writes (None: records go to stdout only)."""
    target = compliance.writer.target
    return target.path if isinstance(target, LogFile) else None


class WatchdogNode:
    """Owns the tracker, the AMI session and the lease loop of one `callguard serve`."""

    def __init__(self, settings: AmiSettings, secret: str, compliance: ComplianceLog,
                 metrics: NodeMetrics, tallies: AbandonmentTallies, lease: FollowerLease,
                 *, node: str = "", today: Callable[[], date] = lambda: datetime.now(
                     UTC).date(), stream: tuple[aioredis.Redis, str] | None = None) -> None:
        self.settings = settings
        self.node = node
        self._compliance = compliance
        self._metrics = metrics
        self.tallies = tallies
        self.lease = lease
        self._today = today
        self._tasks: set[asyncio.Task[None]] = set()
        self._takeovers = 0
        protector = compliance.protector
        path = _log_file(compliance)
        # The file, and the shared stream (records on stdout only, another node's call):
        # ``stream`` is (client, key) when ``[log] redis_stream`` is on.
        self._stream_client = None if stream is None else stream[0]  # closed with the node
        found_in = path is not None or stream is not None
        lookup_s = _NUMBER_LOOKUP_S if found_in else 0.0
        self.numbers = None if not found_in else RecordedNumbers(
            path, protector.key_id, wait_s=lookup_s, max_age_s=settings.forget_after_s,
            stream=stream)
        self.tracker = CallTracker(
            TrackerSettings(grace_s=settings.grace_seconds, retry_s=settings.retry_ms / 1000,
                            forget_after_s=settings.forget_after_s,
                            number_lookup_s=lookup_s),
            report=self._report, answered=self._answered, digest=protector.hash)
        self.tracker.active = not lease.shared  # shared: standby until the lease is held
        self._secret = secret
        self.ami: AmiWatchdog | None = None
        self._leasing: asyncio.Task[None] | None = None
        self._known_until: float | None = None  # monotonic: last moment someone watched
        self._other_seen: float | None = None  # monotonic: another node last held the lease
        self.rebuilt_at: float | None = None

    async def start(self) -> None:
        """Connect to Asterisk (retrying in the background) and start the lease loop."""
        self._known_until = self._monotonic(await self.lease.last_seen())
        self._metrics.ami_up.set(0)  # exported from now on: this node watches AMI
        self.ami = AmiWatchdog(self.settings, self._secret, self.tracker,
                               on_state=lambda up: self._metrics.ami_up.set(int(up)),
                               on_rebuilt=self._rebuilt, numbers=self.numbers)
        self._metrics.watch_counts(
            "callguard_watchdog_events", "AMI watchdog events by kind (event_errors, "
            "malformed_messages, hangup_sent, hangup_already_gone, hangup_refused, "
            "hangup_unanswered, getvar_sent, getvar_no_read_session, getvar_on_main_session, "
            "getvar_again_on_main_session, rebuilds, rebuild_refused, pictures_retaken, "
            "pictures_timed_out, pictures_slow, "
            "takeovers, ami_silent, ami_read_silent, actions_refused, relogin_refused, "
            "number_found, number_not_found, events_late, hangup_deferred_to_picture, "
            "events_lost, events_lost_during_picture, resyncs, messages_glued; the tracker's "
            "warnings less their watchdog_ prefix: follow_unread)",
            "event", self._stats)
        await self.ami.start(known_until=self._known_until)
        self._leasing = asyncio.create_task(self._lease_loop())

    async def aclose(self) -> None:
        """Stop the session and hand the lease on; counts under way are written first."""
        if self._leasing is not None:
            self._leasing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._leasing
        if self.ami is not None:
            await self.ami.aclose()
        await self.lease.give_up()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.tallies.aclose()
        await self.lease.aclose()
        if self._stream_client is not None:
            await self._stream_client.aclose()

    def observe(self, decision: Decision) -> None:
        """Follow an allowed automated call by the Linkedid the gate received."""
        carried = _carried(decision, self.node)
        if carried is None or decision.linkedid is None:
            return
        # The number's digest as the decision record's ``number_hash`` (the same keyed hash
        # of its E.164 form): a restarted node finds the same value there (``recorded.py``).
        number = decision.number
        effects = self.tracker.follow(Followed.from_carried(
            carried, decision.linkedid, time.monotonic(), asker=decision.channel or "",
            number_hash=self._compliance.protector.hash(number.e164) if number else ""))
        if effects and self.ami is not None:
            self.ami.run(effects)

    def _stats(self) -> dict[str, int]:
        stats = dict(self.ami.stats) if self.ami is not None else {}
        stats["takeovers"] = self._takeovers
        return stats

    # --- who acts -------------------------------------------------------------------------

    def _rebuilt(self, followed: int) -> None:
        self.rebuilt_at = time.monotonic()
        del followed

    @staticmethod
    def _monotonic(wall: float | None) -> float | None:
        if wall is None:
            return None
        return time.monotonic() - max(0.0, time.time() - wall)

    async def _lease_loop(self) -> None:
        interval = self.settings.lease_ms / 3000
        holding = False
        while True:
            try:
                holding = await self._lease_step(holding)
            except Exception as exc:  # noqa: BLE001 - the loop that decides who acts goes on
                _log.error("watchdog_lease_step_failed", error=type(exc).__name__,
                           reason=str(exc)[:200])
            await asyncio.sleep(interval)

    async def _lease_step(self, holding: bool) -> bool:
        """Hold (or renew) the lease while watching; act or stand by accordingly."""
        ami = self.ami
        watching = ami is not None and ami.connected and ami.rebuilt
        state = await self.lease.hold() if watching else Holding.OTHER
        if watching and state is not Holding.OTHER:
            if not self.tracker.active or not holding:
                self._take_over(state)
            return True
        if holding and self.lease.shared:
            await self.lease.give_up()
        if watching:  # another node holds the lease, so it was watching until now
            self._other_seen = time.monotonic()
        if self.lease.shared and self.tracker.active:
            self.tracker.deactivate()
            _log.warning("watchdog_standby", node=self.node,
                         reason="AMI session not ready" if not watching
                         else "another node holds the follower lease")
        return False

    def _take_over(self, state: Holding) -> None:
        """Act from now: records held back since the last follower was seen, due releases."""
        if self.tracker.active and not self.lease.shared:
            return
        now = time.monotonic()
        since = self._known_until if self._known_until is not None else -float("inf")
        if self._other_seen is not None:
            # The other node renewed until then, so it saw everything up to a lease's life
            # before: only what came after may be unrecorded (the once-only marks settle
            # what both saw).
            since = max(since, self._other_seen - self.settings.lease_ms * 4 / 3000)
        previous = getattr(self.lease, "previous", "")
        effects = self.tracker.activate(now, since)
        self._takeovers += 1
        _log.info("watchdog_active", node=self.node, lease=state.value,
                  previous_follower=previous.rsplit("|", 1)[0] if previous else None,
                  released_now=len(effects))
        if self.ami is not None:
            self.ami.run(effects)

    # --- records --------------------------------------------------------------------------

    def _report(self, name: str, **fields: Any) -> None:
        if not self.lease.shared:
            self._write(name, fields)
            return
        self._spawn(self._write_once(name, fields))

    async def _write_once(self, name: str, fields: dict[str, Any]) -> None:
        if await self.lease.first(str(fields.get("decision_id", "")), name):
            self._write(name, fields)

    def _write(self, name: str, fields: dict[str, Any]) -> None:
        self._compliance.event(name, **fields)
        if name == "violation-risk":
            self._metrics.violation_risks.inc()
        elif name == "line-release" and fields.get("ended_by") == "called-party":
            release_ms = fields.get("release_ms")
            if isinstance(release_ms, int | float):
                self._metrics.line_release.observe(release_ms / 1000)

    def _answered(self, campaign: str, abandoned: bool, decision_id: str) -> None:
        self._spawn(self._tally(campaign, abandoned, decision_id))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tally(self, campaign: str, abandoned: bool, decision_id: str = "") -> None:
        """Count the answered call, then judge the campaign's 30-day rate."""
        if decision_id and not await self.lease.first(decision_id, "abandonment"):
            return
        today = self._today()
        try:
            await self.tallies.add(campaign, today, abandoned=abandoned)
            answered, lost = await self.tallies.window(
                campaign, today - timedelta(days=_WINDOW_DAYS - 1), today)
        except StoreError as exc:
            _log.error("abandonment_tally_failed", campaign=campaign, reason=str(exc))
            self._compliance.event("abandonment-uncounted", campaign=campaign,
                                   decision_id=decision_id or None,
                                   abandoned=abandoned, reason=str(exc),
                                   citation="47 CFR 64.1200(a)(7)")
            return
        rate = lost / answered if answered else 0.0
        self._metrics.abandonment.labels(campaign).set(rate)
        if abandoned and rate >= self.settings.abandonment_warn_rate:
            fields: dict[str, Any] = {
                "campaign": campaign, "rate": round(rate, 4), "answered_30d": answered,
                "abandoned_30d": lost, "limit": _LIMIT, "citation": "47 CFR 64.1200(a)(7)",
                "approximation": "answered calls whose called party shared no bridge with "
                                 "a live (non-Local) channel within 2 s of answer; AMI "
                                 "cannot see the end of the greeting"}
            _log.warning("abandonment_near_limit", **fields)
            self._compliance.event("abandonment-warning", **fields)
