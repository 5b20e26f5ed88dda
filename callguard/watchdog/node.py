"""The watchdog wired into a node: decisions in, records and metrics out.

The gate's record hook hands every decision here; an ALLOW in predictive or prerecorded
mode with a Linkedid is followed. Records go to the compliance log under the call's
decision id; abandonment (64.1200(a)(7)) is counted per campaign per day over a rolling
30 days — in this node's memory (several nodes each count their own calls; a restart
starts the window again: both stated in the README).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

import structlog

from callguard.audit import ComplianceLog
from callguard.decision import Decision
from callguard.fronts.http.metrics import NodeMetrics
from callguard.policy.model import DialingMode
from callguard.watchdog.ami import AmiSettings, AmiWatchdog
from callguard.watchdog.calls import CallTracker, Followed, TrackerSettings

__all__ = ["AbandonmentWindow", "WatchdogNode"]

_FOLLOWED_MODES = frozenset({DialingMode.PREDICTIVE, DialingMode.PRERECORDED})
_WINDOW_DAYS = 30
_LIMIT = 0.03  # 64.1200(a)(7): at most 3 % of live-answered calls per campaign per 30 days
_log = structlog.get_logger("callguard.watchdog")


class AbandonmentWindow:
    """Answered and abandoned calls per campaign per day; the rate over 30 days."""

    def __init__(self, today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self._today = today
        self._days: dict[str, dict[date, list[int]]] = defaultdict(dict)

    def add(self, campaign: str, abandoned: bool) -> float:
        """Count one answered call; the campaign's rate afterwards."""
        day = self._today()
        counts = self._days[campaign].setdefault(day, [0, 0])
        counts[0] += 1
        counts[1] += int(abandoned)
        return self.rate(campaign)

    def rate(self, campaign: str) -> float:
        """Abandoned share of answered calls in the last 30 days (0 with none answered)."""
        start = self._today() - timedelta(days=_WINDOW_DAYS - 1)
        days = self._days[campaign]
        for day in [d for d in days if d < start]:
            del days[day]
        answered = sum(c[0] for c in days.values())
        return sum(c[1] for c in days.values()) / answered if answered else 0.0


class WatchdogNode:
    """Owns the tracker and the AMI session of one `callguard serve`."""

    def __init__(self, settings: AmiSettings, secret: str, compliance: ComplianceLog,
                 metrics: NodeMetrics) -> None:
        self.settings = settings
        self._compliance = compliance
        self._metrics = metrics
        self.abandonment = AbandonmentWindow()
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
        """Stop the session."""
        if self.ami is not None:
            await self.ami.aclose()

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
        rate = self.abandonment.add(campaign, abandoned)
        self._metrics.abandonment.labels(campaign).set(rate)
        if abandoned and rate >= self.settings.abandonment_warn_rate:
            fields: dict[str, Any] = {
                "campaign": campaign, "rate": round(rate, 4), "limit": _LIMIT,
                "citation": "47 CFR 64.1200(a)(7)",
                "approximation": "answered calls not bridged to an agent within 2 s of "
                                 "answer; AMI cannot see the end of the greeting"}
            _log.warning("abandonment_near_limit", **fields)
            self._compliance.event("abandonment-warning", **fields)
