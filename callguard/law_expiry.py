"""Warnings for law running out on a live node: at start, in ``/readyz``, as a metric.

The pure part is ``callguard.policy.expiry``; this module only reads the node's packs,
list copies and clock, and plugs the result into the readiness checks and the metrics
registry without editing either (a warning never makes the node unready: the gate itself
fails closed when a pack, calendar or list actually runs out).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from callguard.config import Settings
from callguard.fronts.http.readiness import Check, Readiness
from callguard.policy.expiry import Expiry, expiry_warnings
from callguard.stores.interfaces import ListRegistry

__all__ = ["ExpiryCollector", "ExpiryReadiness", "LawExpiry"]


class LawExpiry:
    """What ends soon on this node: a pack or a calendar within ``[callguard]
    expiry_warning_days``, a list copy within ``[lists] copy_warning_days`` or, unset, when
    a quarter of its usable life remains (``callguard.policy.expiry.copy_window``)."""

    def __init__(self, settings: Settings, lists: ListRegistry,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._packs = {p: settings.packs[p] for p in settings.enabled_packs}
        self._lists = lists
        self._clock = clock
        self.within_days = settings.expiry_warning_days
        self.copy_days = settings.list_copy_warning_days

    @property
    def windows(self) -> str:
        """The two windows in words, for a detail that found nothing."""
        copies = (f"{self.copy_days} days" if self.copy_days is not None else
                  f"within a quarter of its usable life, at most {self.within_days} days")
        return f"{self.within_days} days (a list copy: {copies})"

    def warnings(self) -> list[Expiry]:
        """Packs, calendars and list copies ending soon with no successor."""
        published: dict[str, date | None] = {}
        for name in self._lists.names():
            snapshot = self._lists.snapshot(name)
            if snapshot is not None:
                published[name] = snapshot.meta.published
        return expiry_warnings(self._packs, self._clock().date(), self.within_days, published,
                               copy_days=self.copy_days)


class ExpiryReadiness(Readiness):
    """A ``Readiness`` with one more check, ``law-expiry``: always ok, its detail the warnings.

    It wraps the node's own readiness (built elsewhere) rather than building one.
    """

    def __init__(self, inner: Readiness, expiry: LawExpiry) -> None:
        self._inner = inner
        self._expiry = expiry

    async def run(self) -> list[Check]:
        """The node's checks, then the expiry warnings."""
        checks = await self._inner.run()
        found = self._expiry.warnings()
        detail = ("; ".join(w.message for w in found) if found
                  else f"nothing ends within {self._expiry.windows}")
        return [*checks, Check("law-expiry", True, detail[:1000])]


class ExpiryCollector(Collector):
    """``callguard_law_ends_in_seconds{kind,name}``: one sample per warning, read at scrape
    (whole days, in the base unit ``promtool check metrics`` asks for)."""

    def __init__(self, expiry: LawExpiry) -> None:
        self._expiry = expiry

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "callguard_law_ends_in_seconds",
            "Seconds (whole days) until a pack, calendar or list copy ends with no successor "
            "(negative: already ended); only those within their warning window appear "
            "([callguard] expiry_warning_days; a list copy: [lists] copy_warning_days, or a "
            "quarter of its usable life)",
            labels=["kind", "name"])
        for warning in self._expiry.warnings():
            family.add_metric([warning.kind, warning.name], warning.days_left * 86_400)
        yield family
