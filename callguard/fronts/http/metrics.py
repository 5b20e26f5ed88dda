"""Prometheus metrics of one node, in their own registry (no global state in tests).

Decision counters move with every gate decision (the runtime's record hook calls
``observe``); list versions, ages and expiry are read at scrape time from the live
snapshots and the enabled packs; readiness is run at each scrape (``refresh``), so an
alert on ``callguard_ready`` needs no prober of its own. Names follow Prometheus'
conventions (base unit seconds, ``_total`` counters, ``_info`` for labels-only facts) and
``promtool check metrics`` passes on a live node (tests/test_monitoring.py). A gauge for a
part the node does not run (AMI, Redis) is not exported at all: a missing series raises
no false alert, a 0 would.
"""

from __future__ import annotations

import math
import platform
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
)
from prometheus_client.gc_collector import GCCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from callguard import __version__
from callguard.audit import SparingBytesLogger
from callguard.decision import Decision
from callguard.policy.expiry import list_limits
from callguard.stores.interfaces import ListRegistry

if TYPE_CHECKING:
    from callguard.fronts.http.readiness import Readiness
    from callguard.policy.packs import Pack

__all__ = ["NodeMetrics"]

# ``_created`` samples double every counter's series and mean nothing to an alert.
disable_created_metrics()  # type: ignore[no-untyped-call]

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 1.0)
# The ``le`` labels of those buckets, as prometheus_client writes them ("+Inf" last).
_LATENCY_LABELS: tuple[str, ...] = tuple(
    floatToGoString(b) for b in (*_LATENCY_BUCKETS, math.inf))  # type: ignore[no-untyped-call]
_RELEASE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0)


def _midnight_utc(day: date) -> float:
    return datetime.combine(day, time(), tzinfo=UTC).timestamp()


class _ListCollector(Collector):
    """List versions, publication, age and expiry, read from the registry at each scrape."""

    def __init__(self, lists: ListRegistry, packs: Mapping[str, Pack],
                 clock: Callable[[], datetime]) -> None:
        self._lists = lists
        self._packs = packs
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        version = GaugeMetricFamily("callguard_list_version", "Current list version",
                                    labels=["list"])
        published = GaugeMetricFamily(
            "callguard_list_published_timestamp_seconds",
            "Publication date of the current list version (midnight UTC), Unix time",
            labels=["list"])
        age = GaugeMetricFamily("callguard_list_age_seconds",
                                "Seconds since the current list version's publication date "
                                "(midnight UTC)", labels=["list"])
        expiry = GaugeMetricFamily(
            "callguard_list_expiry_timestamp_seconds",
            "First instant (midnight UTC) the current list copy is too old for a pack "
            "rule that reads it; calls it is read for are then blocked. Unix time",
            labels=["list"])
        refused = GaugeMetricFamily("callguard_list_refused",
                                    "1 while a list's published version is refused (corrupt, "
                                    "tampered, unreadable) and an older one or none is served",
                                    labels=["list"])
        now = self._clock().timestamp()
        dates: dict[str, date | None] = {}
        for name in self._lists.names():
            snapshot = self._lists.snapshot(name)
            if snapshot is None:
                continue
            meta = snapshot.meta
            dates[name] = meta.published
            version.add_metric([name], meta.version)
            if meta.published is not None:
                published.add_metric([name], _midnight_utc(meta.published))
                age.add_metric([name], max(0.0, now - _midnight_utc(meta.published)))
        for name, stale in sorted(list_limits(self._packs.values(), dates).items()):
            if stale is not None:
                expiry.add_metric([name], _midnight_utc(stale))
        for name in sorted(self._lists.errors):
            refused.add_metric([name], 1)
        yield from (version, published, age, expiry, refused)


class _PackCollector(Collector):
    """``callguard_pack_info``: one series per enabled jurisdiction pack and its version."""

    def __init__(self, packs: Mapping[str, Pack]) -> None:
        self._packs = packs

    def collect(self) -> Iterator[InfoMetricFamily]:
        family = InfoMetricFamily("callguard_pack", "Enabled jurisdiction packs",
                                  labels=["pack"])
        for name, pack in sorted(self._packs.items()):
            until = pack.effective_until.isoformat() if pack.effective_until else ""
            family.add_metric([name], {"version": pack.version,
                                       "effective_from": pack.effective_from.isoformat(),
                                       "effective_until": until})
        yield family


class _CountsCollector(Collector):
    """Counters another part keeps itself (FastAGI stats, the stream sink), read at scrape."""

    def __init__(self, name: str, documentation: str, label: str,
                 read: Callable[[], Mapping[str, int]]) -> None:
        self._name, self._documentation, self._label, self._read = (
            name, documentation, label, read)

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(self._name, self._documentation, labels=[self._label])
        for value, count in sorted(self._read().items()):
            family.add_metric([value], count)
        yield family


class _DecisionCollector(Collector):
    """Decisions by verdict, rule, campaign and front, and the time to decide, kept as plain
    numbers by ``NodeMetrics.observe`` on the event loop: a prometheus_client Counter and
    Histogram take a lock and check their value on every call, once per decision. Exported
    as that Counter and Histogram export them (same names, labels, buckets, sum)."""

    def __init__(self) -> None:
        self.decisions: dict[tuple[str, str, str, str], int] = {}
        self.buckets = [0] * (len(_LATENCY_BUCKETS) + 1)  # the last one: above every bound
        self.seconds = 0.0

    def collect(self) -> Iterator[CounterMetricFamily | HistogramMetricFamily]:
        decisions = CounterMetricFamily("callguard_decisions", "Gate decisions",
                                        labels=["verdict", "rule", "campaign", "front"])
        for key, count in list(self.decisions.items()):
            decisions.add_metric(list(key), count)
        yield decisions
        latency = HistogramMetricFamily("callguard_decision_latency_seconds",
                                        "Time to decide one call")
        cumulative, buckets = 0, []
        for bound, count in zip(_LATENCY_LABELS, list(self.buckets), strict=True):
            cumulative += count
            buckets.append((bound, cumulative))
        latency.add_metric([], buckets, self.seconds)
        yield latency


class _GaugeCollector(Collector):
    """One gauge another part keeps itself (the records' durability), read at scrape."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._name, self._documentation, self._read = name, documentation, read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self._name, self._documentation, value=self._read())


class NodeMetrics:
    """Every metric the node exports."""

    def __init__(self, lists: ListRegistry, packs: Mapping[str, Pack] | None = None, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)
        Info("callguard_build", "The running callguard", registry=registry).info(
            {"version": __version__, "python": platform.python_version()})
        # callguard_decisions_total and callguard_decision_latency_seconds, counted in plain
        # numbers by ``observe`` (every decision) and exported at scrape.
        self._decisions = _DecisionCollector()
        registry.register(self._decisions)
        self.ready = Gauge("callguard_ready", "1 while every readiness check passes (what "
                           "/readyz answers 200 for), read at each scrape", registry=registry)
        self.check_ok = Gauge("callguard_readiness_check_ok",
                              "1 while one readiness check passes, 0 while it fails",
                              ["check"], registry=registry)
        self._redis_up: Gauge | None = None
        self._ami_up: Gauge | None = None
        self.line_release = Histogram(
            "callguard_line_release_seconds",
            "Called party's hangup to the last channel of the call gone",
            buckets=_RELEASE_BUCKETS, registry=registry)
        self.violation_risks = Counter("callguard_violation_risks",
                                       "Calls whose line was not released in time",
                                       registry=registry)
        self.abandonment = Gauge("callguard_abandonment_rate",
                                 "Abandoned share of answered predictive calls, rolling 30 "
                                 "days (47 CFR 64.1200(a)(7) allows 0.03)",
                                 ["campaign"], registry=registry)
        registry.register(_GaugeCollector(
            "callguard_log_lines_dropped", "Operational log lines that could not be written "
            "(stderr on a full disk, a closed pipe) since the node started; compliance records "
            "are not among them (their writer fails closed)",
            lambda: float(SparingBytesLogger.dropped)))
        enabled = packs or {}
        registry.register(_ListCollector(lists, enabled, clock))
        registry.register(_PackCollector(enabled))

    @property
    def redis_up(self) -> Gauge:
        """``callguard_redis_up``: exported once a node that uses Redis first checks it."""
        if self._redis_up is None:
            self._redis_up = Gauge("callguard_redis_up", "1 when the last Redis check "
                                   "answered", registry=self.registry)
        return self._redis_up

    @property
    def ami_up(self) -> Gauge:
        """``callguard_ami_up``: exported only by a node whose AMI watchdog is enabled."""
        if self._ami_up is None:
            self._ami_up = Gauge("callguard_ami_up", "1 while the AMI session is connected",
                                 registry=self.registry)
        return self._ami_up

    def observe(self, decision: Decision) -> None:
        """Count one decision (called for every record the gate writes)."""
        deciding = decision.verdict.deciding
        key = (decision.verdict.verdict, deciding.rule_id if deciding else "",
               # only configured campaigns: a caller cannot mint labels
               decision.campaign.id if decision.campaign else "unknown", decision.front)
        counts = self._decisions
        counts.decisions[key] = counts.decisions.get(key, 0) + 1
        seconds = decision.latency_us / 1e6
        counts.buckets[bisect_left(_LATENCY_BUCKETS, seconds)] += 1
        counts.seconds += seconds

    async def refresh(self, readiness: Readiness) -> None:
        """Run the readiness checks, so this scrape says what ``/readyz`` would."""
        checks = await readiness.run()
        for check in checks:
            self.check_ok.labels(check.name).set(int(check.ok))
        self.ready.set(int(all(c.ok for c in checks)))

    def watch_gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """Export a value kept elsewhere as a gauge, read at each scrape."""
        self.registry.register(_GaugeCollector(name, documentation, read))

    def watch_counts(self, name: str, documentation: str, label: str,
                     read: Callable[[], Mapping[str, int]]) -> None:
        """Export counters kept elsewhere as ``name_total{label=...}``, read at each scrape."""
        self.registry.register(_CountsCollector(name, documentation, label, read))
