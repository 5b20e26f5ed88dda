"""The watchdog wired into a node: decisions in, records and metrics out.

The gate's record hook hands every decision here; an ALLOW in predictive or prerecorded
mode with a Linkedid is followed. Records go to the compliance log under the call's
decision id; abandonment (64.1200(a)(7)) is counted per campaign per day in the
abandonment tallies (SQLite in the data dir, or Redis when the records are there, so all
nodes add to one count) and judged over a rolling 30 days.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog

from callguard.audit import ComplianceLog
from callguard.decision import Decision
from callguard.errors import StoreError
from callguard.fronts.http.metrics import NodeMetrics
from callguard.policy.model import DialingMode
from callguard.stores.interfaces import AbandonmentTallies
from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, Followed, TrackerSettings

__all__ = ["WatchdogNode"]

_FOLLOWED_MODES = frozenset({DialingMode.PREDICTIVE, DialingMode.PRERECORDED})
_WINDOW_DAYS = 30
_LIMIT = 0.03  # 64.1200(a)(7): at most 3 % of live-answered calls per campaign per 30 days
_log = structlog.get_logger("callguard.watchdog")


class WatchdogNode:
    """Owns the tracker and the AMI session of one `callguard serve`."""

    def __init__(self, settings: AmiSettings, secret: str, compliance: ComplianceLog,
                 metrics: NodeMetrics, tallies: AbandonmentTallies, *,
                 today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self.settings = settings
        self._compliance = compliance
        self._metrics = metrics
        self.tallies = tallies
        self._today = today
        self._tasks: set[asyncio.Task[None]] = set()
        self.tracker = CallTracker(
            TrackerSettings(grace_s=settings.grace_seconds, retry_s=settings.retry_ms / 1000),
            report=compliance.event,
            observe_release=metrics.line_release.observe,
            violation=metrics.violation_risks.inc,
            answered=self._answered)
        self._secret = secret
        self.ami: AmiWatchdog | None = None

    async def start(self) -> None:
        """Connect to Asterisk (retrying in the background)."""
        self.ami = AmiWatchdog(self.settings, self._secret, self.tracker,
                               on_state=lambda up: self._metrics.ami_up.set(int(up)))
        await self.ami.start()

    async def aclose(self) -> None:
        """Stop the session; counts under way are written first."""
        if self.ami is not None:
            await self.ami.aclose()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.tallies.aclose()

    def observe(self, decision: Decision) -> None:
        """Follow an allowed automated call by the Linkedid the gate received."""
        verdict = decision.verdict
        if (not decision.allowed or decision.linkedid is None or decision.mode is None
                or decision.mode not in _FOLLOWED_MODES or decision.campaign is None):
            return
        obligations = verdict.obligations
        limit = obligations.line_release_seconds
        if limit is None:
            return
        self.tracker.follow(Followed(
            decision_id=decision.decision_id, linkedid=decision.linkedid,
            campaign=decision.campaign.id, mode=decision.mode.value, limit_s=limit,
            limit_citation=obligations.line_release_citation or "",
            caller_id=decision.campaign.caller_id, registered_at=time.monotonic()))

    def _answered(self, campaign: str, abandoned: bool) -> None:
        task = asyncio.get_running_loop().create_task(self._tally(campaign, abandoned))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _tally(self, campaign: str, abandoned: bool) -> None:
        """Count the answered call, then judge the campaign's 30-day rate."""
        today = self._today()
        try:
            await self.tallies.add(campaign, today, abandoned=abandoned)
            answered, lost = await self.tallies.window(
                campaign, today - timedelta(days=_WINDOW_DAYS - 1), today)
        except StoreError as exc:
            _log.error("abandonment_tally_failed", campaign=campaign, reason=str(exc))
            self._compliance.event("abandonment-uncounted", campaign=campaign,
                                   abandoned=abandoned, reason=str(exc),
                                   citation="47 CFR 64.1200(a)(7)")
            return
        rate = lost / answered if answered else 0.0
        self._metrics.abandonment.labels(campaign).set(rate)
        if abandoned and rate >= self.settings.abandonment_warn_rate:
            fields: dict[str, Any] = {
                "campaign": campaign, "rate": round(rate, 4), "answered_30d": answered,
                "abandoned_30d": lost, "limit": _LIMIT, "citation": "47 CFR 64.1200(a)(7)",
                "approximation": "answered calls not bridged to an agent within 2 s of "
                                 "answer; AMI cannot see the end of the greeting"}
            _log.warning("abandonment_near_limit", **fields)
            self._compliance.event("abandonment-warning", **fields)
