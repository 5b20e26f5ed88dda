"""Prometheus metrics of one node, in their own registry (no global state in tests).

Decision counters move with every gate decision (the runtime's record hook calls
``observe``); list versions and ages are read at scrape time from the live snapshots.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from callguard.decision import Decision
from callguard.stores.interfaces import ListRegistry

__all__ = ["NodeMetrics"]

_LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                    0.25, 1.0)
_RELEASE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0)


class _ListCollector(Collector):
    """List versions and ages, read from the registry at each scrape."""

    def __init__(self, lists: ListRegistry, clock: Callable[[], datetime]) -> None:
        self._lists = lists
        self._clock = clock

    def collect(self) -> Iterator[GaugeMetricFamily]:
        version = GaugeMetricFamily("callguard_list_version", "Current list version",
                                    labels=["list"])
        age = GaugeMetricFamily("callguard_list_age_days",
                                "Days since the current list version was published",
                                labels=["list"])
        refused = GaugeMetricFamily("callguard_list_refused",
                                    "1 while a list's published version is refused (corrupt, "
                                    "tampered, unreadable) and an older one or none is served",
                                    labels=["list"])
        today = self._clock().date()
        for name in self._lists.names():
            snapshot = self._lists.snapshot(name)
            if snapshot is None:
                continue
            meta = snapshot.meta
            version.add_metric([name], meta.version)
            if meta.published is not None:
                age.add_metric([name], (today - meta.published).days)
        for name in sorted(self._lists.errors):
            refused.add_metric([name], 1)
        yield version
        yield age
        yield refused


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


class _GaugeCollector(Collector):
    """One gauge another part keeps itself (the records' durability), read at scrape."""

    def __init__(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        self._name, self._documentation, self._read = name, documentation, read

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(self._name, self._documentation, value=self._read())


class NodeMetrics:
    """Every metric the node exports."""

    def __init__(self, lists: ListRegistry,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.registry = CollectorRegistry()
        registry = self.registry
        self.decisions = Counter("callguard_decisions", "Gate decisions",
                                 ["verdict", "rule", "campaign"], registry=registry)
        self.latency = Histogram("callguard_decision_latency_seconds",
                                 "Time to decide one call", buckets=_LATENCY_BUCKETS,
                                 registry=registry)
        self.redis_up = Gauge("callguard_redis_up", "1 when the last Redis check answered",
                              registry=registry)
        self.ami_up = Gauge("callguard_ami_up", "1 while the AMI session is connected",
                            registry=registry)
        self.line_release = Histogram(
            "callguard_line_release_seconds",
            "Called party's hangup to the last channel of the call gone",
            buckets=_RELEASE_BUCKETS, registry=registry)
        self.violation_risks = Counter("callguard_violation_risks",
                                       "Calls whose line was not released in time",
                                       registry=registry)
        self.abandonment = Gauge("callguard_abandonment_rate",
                                 "Abandoned share of answered calls, rolling 30 days",
                                 ["campaign"], registry=registry)
        registry.register(_ListCollector(lists, clock))

    def observe(self, decision: Decision) -> None:
        """Count one decision (called for every record the gate writes)."""
        deciding = decision.verdict.deciding
        self.decisions.labels(decision.verdict.verdict,
                              deciding.rule_id if deciding else "",
                              # only configured campaigns: a caller cannot mint labels
                              decision.campaign.id if decision.campaign else "unknown").inc()
        self.latency.observe(decision.latency_us / 1e6)

    def watch_gauge(self, name: str, documentation: str, read: Callable[[], float]) -> None:
        """Export a value kept elsewhere as a gauge, read at each scrape."""
        self.registry.register(_GaugeCollector(name, documentation, read))

    def watch_counts(self, name: str, documentation: str, label: str,
                     read: Callable[[], Mapping[str, int]]) -> None:
        """Export counters kept elsewhere as ``name_total{label=...}``, read at each scrape."""
        self.registry.register(_CountsCollector(name, documentation, label, read))
