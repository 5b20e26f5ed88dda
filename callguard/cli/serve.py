"""``callguard serve``: the long-running node. Fronts attach here as they are built."""

from __future__ import annotations

import asyncio
import gc
import signal

import click
import structlog
from aiohttp import web

from callguard.cli.common import CliState, usage_error
from callguard.errors import ConfigError
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.fronts.http.app import build_app
from callguard.fronts.sip.server import SipFront
from callguard.law_expiry import ExpiryCollector, ExpiryReadiness, LawExpiry
from callguard.runtime import Runtime, redis_client
from callguard.stores.embedded.lists import EmbeddedListRegistry
from callguard.stores.embedded.tallies import EmbeddedTallies
from callguard.stores.interfaces import AbandonmentTallies
from callguard.stores.redis.tallies import RedisTallies
from callguard.tuning import raise_mmap_threshold
from callguard.watchdog.node import WatchdogNode

__all__ = ["serve"]

_log = structlog.get_logger("callguard.serve")


async def _serve(state: CliState, reload_seconds: float) -> None:
    runtime = state.runtime()
    await runtime.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    fastagi = FastAgiServer(runtime.gate, runtime.settings.fastagi)
    stats = fastagi.stats
    runtime.metrics.watch_counts(
        "callguard_fastagi_events", "FastAGI sessions by what happened (answered, allow, "
        "block, refused_source, bad_headers, over_budget, ...)", "event",
        lambda: stats.counts)
    await fastagi.start()
    expiry = _watch_expiry(runtime)
    http = await _start_http(runtime, expiry)
    watchdog = await _start_watchdog(runtime)
    sip = await _start_sip(runtime)
    gc.freeze()  # what start-up allocated is never collected: shorter GC pauses under load
    _log.info("serving", lists=list(runtime.lists.names()),
              campaigns=sorted(runtime.settings.campaigns), fastagi_port=fastagi.port,
              http_port=_bound_port(http), sip_port=sip.port if sip else None)
    try:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=reload_seconds)
            except TimeoutError:
                if isinstance(runtime.lists, EmbeddedListRegistry):
                    await runtime.lists.reload_async()  # Redis replicas follow publications
    finally:
        if sip is not None:
            await sip.close()
        if watchdog is not None:
            await watchdog.aclose()
        if http is not None:
            await http.cleanup()
        await fastagi.close()
        await runtime.aclose()
        _log.info("stopped", **dict(fastagi.stats.counts))


async def _start_sip(runtime: Runtime) -> SipFront | None:
    """The SIP redirect front, when ``[sip] enabled``."""
    if not runtime.settings.sip.enabled:
        return None
    sip = SipFront(runtime.gate, runtime.settings.sip)
    counts = sip.stats.counts
    runtime.metrics.watch_counts(
        "callguard_sip_events", "SIP front messages by what happened (invite_new, allow, "
        "block, retransmitted, malformed, refused_source, rate_limited, ...)", "event",
        lambda: counts)
    await sip.start()
    return sip


async def _start_watchdog(runtime: Runtime) -> WatchdogNode | None:
    """The AMI watchdog, when ``[ami] enabled``: follows allowed automated calls."""
    settings = runtime.settings.ami
    if not settings.enabled:
        return None
    tallies: AbandonmentTallies
    if runtime.settings.records.backend == "redis":  # every node adds to the same count
        tallies = RedisTallies(redis_client(runtime.settings, socket_timeout=2))
    else:
        tallies = EmbeddedTallies(runtime.settings.data_dir / "abandonment.sqlite")
    node = WatchdogNode(settings, settings.secret(), runtime.compliance, runtime.metrics,
                        tallies)
    runtime.followers.append(node.observe)
    await node.start()
    return node


def _watch_expiry(runtime: Runtime) -> LawExpiry:
    """Warn now about packs, calendars and lists ending soon; keep watching in metrics."""
    expiry = LawExpiry(runtime.settings, runtime.lists)
    for warning in expiry.warnings():
        _log.warning("law_expiring", kind=warning.kind, name=warning.name,
                     ends=warning.ends.isoformat(), days_left=warning.days_left,
                     detail=warning.message)
    runtime.metrics.registry.register(ExpiryCollector(expiry))
    return expiry


async def _start_http(runtime: Runtime, expiry: LawExpiry) -> web.AppRunner | None:
    """The metrics/health/JSON port, when ``[http] enabled``."""
    settings = runtime.settings
    if not settings.http.enabled:
        return None
    readiness = ExpiryReadiness(runtime.readiness(), expiry)
    app = build_app(gate=runtime.gate, metrics=runtime.metrics, readiness=readiness,
                    token=settings.http_token(), max_body_bytes=settings.http.max_body_bytes)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.http.host, settings.http.port).start()
    return runner


def _bound_port(runner: web.AppRunner | None) -> int | None:
    if runner is None:
        return None
    for address in runner.addresses:
        return int(address[1])
    return None


@click.command()
@click.option("--reload-seconds", default=5.0, show_default=True,
              help="How often to look for newly published list versions.")
@click.pass_obj
def serve(state: CliState, reload_seconds: float) -> None:
    """Run the node until SIGTERM."""
    try:  # secrets are read before the loop starts, so a missing one is a usage error
        if state.settings.http.enabled:
            state.settings.http_token()
        if state.settings.ami.enabled:
            state.settings.ami.secret()
    except ConfigError as exc:
        usage_error(str(exc))
    tuned = raise_mmap_threshold()
    _log.info("malloc_tuning", mmap_threshold_fixed=tuned)
    asyncio.run(_serve(state, reload_seconds))
