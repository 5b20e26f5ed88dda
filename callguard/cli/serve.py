"""``callguard serve``: the long-running node. Fronts attach here as they are built."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import os
import shlex
import signal
import socket
import sys
from collections.abc import Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import click
import structlog
from aiohttp import web
from rich.markup import escape

from callguard.cli.common import (
    EXIT_INTERNAL,
    EXIT_USAGE,
    CliState,
    err_console,
    invocation,
    usage_error,
)
from callguard.cli.config_check import SPLIT_RECORDS
from callguard.clock_notice import ClockNotice
from callguard.compliance.writer import RecordWriteError
from callguard.config import Settings, environment_warnings, unreachable_caller_ids
from callguard.errors import ConfigError
from callguard.fdlimit import ConnectionCaps, fit_caps, raise_nofile_limit
from callguard.fronts.fastagi.server import FastAgiServer, FastAgiSettings, liveness_warning
from callguard.fronts.http.app import build_app
from callguard.fronts.http.limits import ConnectionLimits, GuardedSite
from callguard.fronts.http.readiness import Check, Readiness
from callguard.fronts.http.supervisor import supervisor_for
from callguard.fronts.sip.server import SipFront
from callguard.law_expiry import ExpiryCollector, ExpiryReadiness, LawExpiry
from callguard.logredact import install_stdlib_redaction
from callguard.runtime import Runtime, clock_check, redis_client
from callguard.stores.embedded.lists import EmbeddedListRegistry
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.embedded.tallies import EmbeddedTallies
from callguard.stores.interfaces import AbandonmentTallies
from callguard.stores.redis.lists import RedisListRegistry
from callguard.stores.redis.records import RedisRecords
from callguard.stores.redis.tallies import RedisTallies
from callguard.tuning import raise_mmap_threshold
from callguard.watchdog.ami import AmiSettings
from callguard.watchdog.lease import FollowerLease, RedisLease, SoleFollower
from callguard.watchdog.node import WatchdogNode, follow_variable

__all__ = ["serve"]

_log = structlog.get_logger("callguard.serve")

# The collector's thresholds while serving. Python's default (700, 10, 10) runs a young
# collection every ~15 FastAGI sessions, and every tenth of those a middle one that walks
# every session still in flight: 50-60 us of CPU per session at 1,000 sessions/s on the
# shared 2-core machine (bench/bench_fastagi.py, GC time measured with gc.callbacks), 15-20
# us with these thresholds. A session's objects die young (reference counting frees them),
# so fewer young collections free the same; a pause stays a few ms, far inside the FastAGI
# budget. Reference cycles are still collected, only later.
GC_THRESHOLDS = (10_000, 10, 10)


def _fit_connection_caps(settings: Settings) -> Settings:
    """Raise the open-files limit, and lower the fronts' caps if they would not fit."""
    limit = raise_nofile_limit()
    # SIP over TCP and over TLS are two listeners, each holding up to max_tcp_connections
    # (``_Tcp._refuses``): TLS uncounted, a TLS-only front was lowered to 1 connection
    sip_listeners = settings.sip.tcp + settings.sip.tls if settings.sip.enabled else 0
    wanted = ConnectionCaps(
        fastagi=settings.fastagi.max_connections,
        http=settings.http.max_connections if settings.http.enabled else 0,
        sip_tcp=settings.sip.max_tcp_connections * sip_listeners,
        sessions=settings.fastagi.max_sessions,
        sip_calls=settings.sip.max_in_flight if settings.sip.enabled else 0,
        # records and call-frequency counts are two Redis clients: a call may hold one each
        redis_per_call=2 if settings.records.backend == "redis" else 0)
    caps = fit_caps(wanted, limit)
    if caps == wanted:
        return settings
    # each front's cap on one source follows its whole cap down, in the same proportion
    http, sip = settings.http, settings.sip
    sip_tcp = max(caps.sip_tcp // max(sip_listeners, 1), 1)  # per listener
    http_per_source = _per_source_cap(http.max_connections_per_source,
                                      http.max_connections, max(caps.http, 1))
    sip_tcp_per_source = _per_source_cap(sip.max_tcp_connections_per_source,
                                         sip.max_tcp_connections, sip_tcp)
    sip_per_source = _per_source_cap(sip.max_in_flight_per_source, sip.max_in_flight,
                                     max(caps.sip_calls, 1))
    _log.warning("connection_caps_lowered", open_files_limit=limit,
                 needed=wanted.needed(), fastagi=caps.fastagi, http=caps.http,
                 http_per_source=http_per_source, sip_tcp=sip_tcp if sip_listeners else 0,
                 sip_tcp_per_source=sip_tcp_per_source, max_sessions=caps.sessions,
                 sip_max_in_flight=caps.sip_calls,
                 sip_max_in_flight_per_source=sip_per_source,
                 fix=f"raise the open-files limit to at least {wanted.needed()} "
                     "(LimitNOFILE= in the systemd unit, ulimit -n, or docker's "
                     "--ulimit nofile=), or lower [fastagi] max_connections and "
                     "max_sessions, [http] max_connections, [sip] max_tcp_connections "
                     "and max_in_flight")
    return replace(settings,
                   fastagi=replace(settings.fastagi, max_connections=caps.fastagi,
                                   max_sessions=max(caps.sessions, 1)),
                   http=replace(http, max_connections=max(caps.http, 1),
                                max_connections_per_source=http_per_source),
                   sip=replace(sip, max_tcp_connections=sip_tcp,
                               max_tcp_connections_per_source=sip_tcp_per_source,
                               max_in_flight=max(caps.sip_calls, 1),
                               max_in_flight_per_source=sip_per_source))


def _per_source_cap(per_source: int, wanted: int, fitted: int) -> int:
    """A cap on one source (``[sip] max_in_flight_per_source``,
    ``max_tcp_connections_per_source``, ``[http] max_connections_per_source``) lowered
    with its front's whole cap, in the same proportion: left at 512 under a
    ``max_in_flight`` lowered to 200 (or 128 under ``max_connections`` lowered to 35) it
    bounded nothing, and one source took every place the others had. An operator who set
    it to the whole cap (one dialer behind an SBC, a reverse proxy) keeps the whole cap."""
    if fitted >= wanted:
        return per_source
    return max(1, min(fitted, per_source * fitted // wanted))


async def _serve(state: CliState, reload_seconds: float,
                 early: _EarlyHup | None = None) -> None:
    runtime = state.runtime()
    runtime.settings = _fit_connection_caps(runtime.settings)
    await _start_deciding(runtime)
    if isinstance(runtime.records, EmbeddedRecords):
        runtime.records.keep_dnc_set()  # every call reads it: from memory, kept exact
    signals = _Signals(asyncio.get_running_loop(), early)
    node_name = runtime.settings.log.node or socket.gethostname()
    # Every ALLOW of an automated call carries what a watchdog needs to follow it, with or
    # without [ami] on this node (another node, or this one restarted, may follow it).
    fastagi = FastAgiServer(runtime.gate, runtime.settings.fastagi,
                            follow=follow_variable(node_name))
    watching = _require_watch(runtime)
    stats = fastagi.stats
    runtime.metrics.watch_counts(
        "callguard_fastagi_events", "FastAGI sessions by what happened (answered, allow, "
        "block, refused_source, bad_headers, over_budget, ...)", "event",
        lambda: stats.counts)
    if isinstance(runtime.lists, RedisListRegistry):
        went_back = runtime.lists.went_back
        runtime.metrics.watch_counts(
            "callguard_list_went_back", "Times a list's version published in Redis was "
            "older than the one served (Redis restored from an older backup?): refused, the "
            "newer copy kept; alert on any increase", "list", lambda: went_back)
    fastagi_settings = runtime.settings.fastagi
    await _listening("FastAGI", "[fastagi]", fastagi_settings.host, fastagi_settings.port,
                     fastagi.start())
    expiry = _watch_expiry(runtime)
    http = await _start_http(runtime, expiry)
    watchdog = await _start_watchdog(runtime, node_name, watching)
    sip = await _start_sip(runtime)
    gc.freeze()  # what start-up allocated is never collected: shorter GC pauses under load
    gc.set_threshold(*GC_THRESHOLDS)
    _start_warnings(runtime)
    clock = ClockNotice(clock_check(runtime.settings))  # every node, /readyz or none
    clock.check()
    _log.info("serving", config=str(runtime.settings.path),
              data_dir=str(runtime.settings.data_dir), lists=list(runtime.lists.names()),
              campaigns=sorted(runtime.settings.campaigns), fastagi_port=fastagi.port,
              http_port=_bound_port(http), sip_port=sip.port if sip else None,
              waiting_for_store=runtime.starting is not None)
    ami_notice = _AmiNotice()
    try:
        while await signals.next_tick(reload_seconds):
            await _tick(runtime, watchdog, ami_notice)
            clock.check()
    finally:
        # DRAIN_CAP_SECONDS counts from here: SIP's drain (close) and FastAGI's together.
        stopping = asyncio.get_running_loop().time()
        # No new call from here: every listener closes first (FastAGI's before the HTTP
        # port's and SIP's waits, which took new FastAGI calls meanwhile). Not waited for:
        # 3.12's wait_closed waits for every session, and held the other fronts open and
        # the stop past the cap (hrev85); ``_drain_fastagi`` waits for them, capped.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(fastagi.close(), _LISTENER_CLOSE_S)
        if http is not None:
            await http[1].stop()
        if sip is not None:
            await sip.close()
        # The sessions in flight finish with the watchdog still logged in: it follows the
        # calls they allow (or [ami] required BLOCKed them) and keeps releasing the lines
        # of the calls it follows, then hands its lease on.
        await _drain_fastagi(fastagi, runtime.settings.fastagi, since=stopping)
        if watchdog is not None:
            await watchdog.aclose()
        if http is not None:
            await http[0].cleanup()
        await runtime.aclose()
        _log.info("stopped", **dict(fastagi.stats.counts))


class _Signals:
    """SIGTERM and SIGINT stop the node; SIGHUP asks for the reload tick now.

    SIGHUP's default action ended the node with no drain and no log line, and systemd's
    Restart=on-failure counts a SIGHUP death as clean: the node stayed down and every call
    was BLOCKed "not reached" (a `kill -HUP` meant as a reload, or the terminal of a node
    started by hand closing). It is the daemon's reload (the unit's ExecReload)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, early: _EarlyHup | None = None
                 ) -> None:
        self.stop, self.hup, self.wake = asyncio.Event(), asyncio.Event(), asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._raise, self.stop)
        loop.add_signal_handler(signal.SIGHUP, self._raise, self.hup)
        if early is not None and early.seen:  # asked while starting: the first tick, now
            self._raise(self.hup)

    def _raise(self, event: asyncio.Event) -> None:
        event.set()
        self.wake.set()

    async def next_tick(self, seconds: float) -> bool:
        """Wait for the tick's time or a signal; False once a stop was asked."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wake.wait(), timeout=seconds)
        self.wake.clear()
        if self.stop.is_set():
            return False
        if self.hup.is_set():
            self.hup.clear()
            _log.info("reload_requested", signal="SIGHUP",
                      effect="list versions, the AMI login and the record store's "
                             "durability checked now; the configuration and the packs "
                             "are read at start only: restart to change them")
        return True


class _EarlyHup:
    """SIGHUP from the start of ``serve`` until ``_Signals`` takes it over, noted.

    Its default action ended the node while the runtime was built (the packs compiled,
    the lists loaded: longer with longer lists), before ``_Signals`` existed; the unit is
    active, so reloadable, from the exec (Type=exec), and Restart=on-failure counts a
    SIGHUP death as clean: a `systemctl reload` then left the node down (hrev85). The
    reload asked for runs as the first tick."""

    def __init__(self) -> None:
        self.seen = False
        signal.signal(signal.SIGHUP, self._note)

    def _note(self, _signum: int, _frame: object) -> None:
        self.seen = True


# systemd's TimeoutStopSec=20 (systemd/callguard.service) SIGKILLs a node still stopping.
DRAIN_CAP_SECONDS = 15.0
_LISTENER_CLOSE_S = 1.0  # FastAGI's listener closed at once; the wait is the drain's


def fastagi_session_bound(settings: FastAgiSettings) -> float:
    """The longest a FastAGI session runs on its own deadlines, in seconds: the header
    block, the budget, then four replies — the answer's, its confirmation, and when the
    answer cannot stand, the withdrawing BLOCK's and its confirmation
    (``FastAgiServer._late_tail``) — and a second to spare. With two replies counted, a
    stop cut a withdrawing session short (hagi21: 7.25 s against ~10.25 s with the
    defaults), leaving the withdrawal unconfirmed."""
    return (settings.header_timeout_ms + settings.budget_ms
            + 4 * settings.reply_timeout_ms) / 1000 + 1.0


async def _drain_fastagi(fastagi: FastAgiServer, settings: FastAgiSettings, *,
                         since: float | None = None) -> None:
    """Let the sessions in flight finish before the stores close (SIGTERM).

    On Python 3.11 ``Server.wait_closed()`` does not wait for connections (3.12 does), so
    ``asyncio.run`` cancelled every session still deciding or waiting for Asterisk's reply:
    a call being decided got no answer, a delivered answer went unconfirmed, and each
    session left an asyncio traceback in the journal. A session ends on its own deadlines
    (header, budget, two replies: the answer's and its confirmation), so the wait is
    bounded by them, and by what the unit's stop timeout leaves: the cap counts from
    ``since`` (the stop's start, loop time), so SIP's drain before it (up to 5 s) and this
    one together stay inside DRAIN_CAP_SECONDS (sequential, they could reach the unit's
    TimeoutStopSec and be SIGKILLed mid-record)."""
    loop = asyncio.get_running_loop()
    spent = 0.0 if since is None else max(0.0, loop.time() - since)
    deadline = max(0.0, min(DRAIN_CAP_SECONDS - spent, fastagi_session_bound(settings)))
    left = fastagi.stats.connected
    if not left:
        return
    _log.info("fastagi_draining", sessions=left, within_s=round(deadline, 2))
    until = loop.time() + deadline
    while fastagi.stats.connected and loop.time() < until:
        await asyncio.sleep(0.02)
    if fastagi.stats.connected:
        _log.warning("fastagi_drain_timed_out", sessions=fastagi.stats.connected,
                     detail="these sessions are cut: Asterisk's AGI() ends, the dialplan "
                            "BLOCKs a call with no answer")


async def _start_deciding(runtime: Runtime) -> None:
    """Start the stores and write the packs-loaded record; a log that cannot take it
    (decisions name only the packs that applied) stops the node before any front opens.
    A Redis record store that does not answer is waited for, every call BLOCKed
    meanwhile (``Runtime.start_deciding``): it no longer stops the node (exit 3)."""
    try:
        await runtime.start_deciding(wait_for_redis=True)
    except RecordWriteError as exc:
        await runtime.aclose()
        err_console.print(f"[red]error:[/red] {escape(str(exc))}; not serving")
        sys.exit(EXIT_INTERNAL)


async def _packs_loaded_daily(runtime: Runtime) -> None:
    """The packs-loaded record again on each new UTC day: purge drops whole days, and the
    packs a retained decision was judged under must stay in the log beside it."""
    compliance = runtime.compliance
    if compliance.packs_written_on == datetime.now(UTC).date():
        return
    try:
        await compliance.packs_loaded()
    except RecordWriteError as exc:  # tried again at the next tick; calls fail closed
        _log.error("packs_loaded_not_recorded", error=str(exc))


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
    settings = runtime.settings.sip
    await _listening("SIP", "[sip]", settings.host,
                     f"{settings.port} or tls_port {settings.tls_port}" if settings.tls
                     else settings.port, sip.start())
    return sip


async def _tick(runtime: Runtime, watchdog: WatchdogNode | None,
                ami_notice: _AmiNotice) -> None:
    """Every ``--reload-seconds``: the day's packs-loaded record, the AMI login, new list
    versions, the Redis record store's durability (and, in ``_serve``, the clock's sync)."""
    await _packs_loaded_daily(runtime)
    ami_notice.check(watchdog, runtime.settings.ami)
    if isinstance(runtime.lists, EmbeddedListRegistry):
        try:  # Redis replicas follow publications
            await runtime.lists.reload_async()
        except Exception:  # noqa: BLE001 - a file fault is the list's, not the node's
            runtime.lists.faults += 1
            _log.exception("list_reload_failed")
    if isinstance(runtime.records, RedisRecords):
        await runtime.records.verify()  # a weak or emptied server is noticed


class _AmiNotice:
    """Once per episode, what to do while the watchdog is not logged in to AMI. panoramisk
    logs only "Not able to reconnect" (no address, no cause), ``ami_disconnected`` comes
    only after a session was up, and a node that never reached Asterisk said nothing else
    while its automated calls' lines went unreleased (BLOCKed with ``[ami] required``)."""

    def __init__(self) -> None:
        self.said = False

    def check(self, watchdog: WatchdogNode | None, ami: AmiSettings) -> None:
        if watchdog is None:
            return
        session = watchdog.ami
        down = session is None or not session.connected
        if down and not self.said:
            _log.warning("ami_not_logged_in", host=ami.host, port=ami.port,
                         user=ami.username, required=ami.required,
                         fix="is Asterisk running there with manager.conf [general] "
                             "enabled = yes on that port, a permit for this host in the "
                             "[callguard] user (manager-callguard.conf), and its secret "
                             "equal to CALLGUARD_AMI_SECRET / [ami] secret_file? A refused "
                             "login is logged as ami_login_refused")
        self.said = down


def _require_watch(runtime: Runtime) -> list[WatchdogNode]:
    """``[ami] required``: the gate BLOCKs automated FastAGI calls while this node is not
    logged in to AMI, from before the fronts listen; the list gets the watchdog once it
    starts (``_start_watchdog``)."""
    watching: list[WatchdogNode] = []
    ami = runtime.settings.ami
    if ami.enabled and ami.required:
        runtime.gate.unwatched = _unwatched(ami, watching)
    return watching


def _unwatched(ami: AmiSettings, watching: list[WatchdogNode]) -> Callable[[], str | None]:
    """The reason an automated call is BLOCKed while this node is not logged in to AMI
    (before the watchdog starts, too) or Asterisk refuses its user the Hangup action, or
    None."""
    reason = (f"the AMI watchdog is not logged in to Asterisk at {ami.host} port {ami.port}: "
              "no one could release this call's line after the called party hangs up "
              "([ami] required); call not placed")

    refused = (f"Asterisk at {ami.host} port {ami.port} refuses callguard's AMI user the "
               "Hangup action (manager.conf write= lacks call): no one could release this "
               "call's line after the called party hangs up ([ami] required); call not "
               "placed")

    def unwatched() -> str | None:
        node = watching[0] if watching else None
        session = node.ami if node is not None else None
        if session is None or not session.connected:
            return reason
        # Learnt at each login from ListCommands (manager.c action_listcommands).
        return refused if "Hangup" in session.refused_actions else None

    return unwatched


async def _start_watchdog(runtime: Runtime, node_name: str,
                          watching: list[WatchdogNode]) -> WatchdogNode | None:
    """The AMI watchdog, when ``[ami] enabled``: follows allowed automated calls."""
    settings = runtime.settings.ami
    if not settings.enabled:
        return None
    tallies: AbandonmentTallies
    lease: FollowerLease
    if runtime.settings.records.backend == "redis":  # every node adds to the same count
        tallies = RedisTallies(redis_client(runtime.settings, socket_timeout=2))
        lease = RedisLease(redis_client(runtime.settings, socket_timeout=1),
                           asterisk=f"{settings.host}:{settings.port}", node=node_name,
                           ttl_ms=settings.lease_ms,
                           guard=runtime.records if isinstance(runtime.records, RedisRecords)
                           else None)
    else:
        tallies = EmbeddedTallies(runtime.settings.data_dir / "abandonment.sqlite")
        lease = SoleFollower(runtime.settings.data_dir
                             / f"watchdog-alive-{settings.host}-{settings.port}")
    log = runtime.settings.log
    # The restart's number lookup reads the shared stream too (records on stdout only,
    # another node's call after a takeover): its own client, short timeouts.
    stream = ((redis_client(runtime.settings, socket_timeout=1), log.stream_key)
              if log.redis_stream else None)
    node = WatchdogNode(settings, settings.secret(), runtime.compliance, runtime.metrics,
                        tallies, lease, node=node_name, stream=stream)
    runtime.followers.append(node.observe)
    watching.append(node)
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


async def _start_http(runtime: Runtime,
                      expiry: LawExpiry) -> tuple[web.AppRunner, GuardedSite] | None:
    """The metrics/health/JSON port, when ``[http] enabled``, behind its limits."""
    settings = runtime.settings
    if not settings.http.enabled:
        return None
    limits = ConnectionLimits(settings.http.limits())
    runtime.metrics.watch_counts(
        "callguard_http_events", "HTTP port connections and requests by what happened "
        "(connections, refused_source, refused_busy, refused_source_busy, header_timeout, "
        "body_timeout, body_too_large, bad_request, ...)", "event", lambda: limits.counts)
    readiness = CallerIdReadiness(ExpiryReadiness(runtime.readiness(), expiry),
                                  caller_id_notices(runtime.settings))
    app = build_app(gate=runtime.gate, metrics=runtime.metrics, readiness=readiness,
                    token=settings.http_token(), max_body_bytes=settings.http.max_body_bytes,
                    limits=limits, budget_s=settings.http.budget_ms / 1000)
    supervisor_for(settings).register(app)  # GET /supervisor: the live tail and today
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = GuardedSite(runner, settings.http.host, settings.http.port, limits)
    await _listening("the HTTP port", "[http]", settings.http.host, settings.http.port,
                     site.start())
    return runner, site


def _warn_missing_lists(runtime: Runtime) -> None:
    """Say at start which lists the packs read have no version: the node answers, and
    BLOCKs every call they cover, with nothing else in its log to say why."""
    from callguard.cli.lists import import_command  # noqa: PLC0415 - as _missing_lists

    missing = _missing_lists(runtime)
    me = invocation(runtime.settings)
    if missing:
        _log.warning("lists_missing", lists=missing,
                     detail="no version imported: every call these lists cover is BLOCKed "
                            "until one is ("
                            + "; ".join(f"{me} {import_command(name)} ..." for name in missing)
                            + f"; {me} config check names each)")


def caller_id_notices(settings: Settings) -> list[str]:
    """The campaigns whose caller ID no one can call back, for a log line or ``/readyz``:
    the class of the number and its last four digits, never the number in clear."""
    return [f"campaign {campaign.id!r} presents a caller ID (...{campaign.caller_id[-4:]}) "
            f"no one can call back ({why.kind}: {why.why}), 47 CFR 64.1601(e)(1)"
            for campaign, why in unreachable_caller_ids(settings.campaigns)]


def _warn_caller_ids(runtime: Runtime) -> None:
    """Say at start which campaigns present a caller ID no one can call back: the node
    serves them (whether a number reaches the seller is the operator's to know), and each
    call it allows shows that number to the called person (``config check`` names each)."""
    for campaign, why in unreachable_caller_ids(runtime.settings.campaigns):
        _log.warning("caller_id_unreachable", campaign=campaign.id, kind=why.kind,
                     caller_id_last4=campaign.caller_id[-4:], citation="47 CFR 64.1601(e)(1)",
                     detail="no one can call this caller ID back to make a do-not-call "
                            "request; it is presented on every call allowed for the campaign: "
                            "set the campaign's caller_id to the seller's number")


def _start_warnings(runtime: Runtime) -> None:
    """What the start line's warnings say, just before ``serving``."""
    _warn_missing_lists(runtime)
    _warn_caller_ids(runtime)
    _warn_split_records(runtime)
    _warn_environment()
    _warn_liveness(runtime)


def _warn_liveness(runtime: Runtime) -> None:
    """``[fastagi] ask_liveness`` needs func_channel in Asterisk (``liveness_warning``):
    without it every check is BLOCKed; ``config check`` says the same."""
    settings = runtime.settings
    warning = liveness_warning(settings.fastagi, ami=settings.ami.enabled)
    if warning:
        _log.warning("fastagi_liveness_needs_func_channel", detail=warning)


def _warn_environment() -> None:
    """A CALLGUARD_* variable callguard does not read, by name (never its value): a
    mistyped secret's name in secrets.env was ignored without a word (``config check``
    says the same)."""
    for warning in environment_warnings():
        _log.warning("environment_unknown", detail=warning)


def _warn_split_records(runtime: Runtime) -> None:
    """Lists shared through Redis, records on this node alone: say so at start (``config
    check`` says why) — a do-not-call request taken on another node is not known here."""
    settings = runtime.settings
    if settings.lists_backend == "redis" and settings.records.backend == "embedded":
        _log.warning("records_not_shared", detail=SPLIT_RECORDS)


class CallerIdReadiness(Readiness):
    """A ``Readiness`` with one more check, ``caller-id``: always ok (the node serves), its
    detail the campaigns whose caller ID no one can call back."""

    def __init__(self, inner: Readiness, notices: list[str]) -> None:
        self._inner = inner
        self._detail = ("; ".join(notices) if notices
                        else "every campaign's caller ID is outside the classes known "
                             "unreachable")[:1000]

    async def run(self) -> list[Check]:
        """The node's checks, then this one."""
        return [*await self._inner.run(), Check("caller-id", True, self._detail)]


def _missing_lists(runtime: Runtime) -> list[str]:
    """The lists the gate reads that have no version here and whose absence BLOCKs the
    calls they cover (``lists.missing_lists``, as `dnc status` says them)."""
    from callguard.cli.lists import missing_lists  # noqa: PLC0415

    return list(missing_lists(runtime.settings, set(runtime.lists.names())))


async def _listening(front: str, section: str, host: str, port: int | str,
                     start: Coroutine[Any, Any, None], port_key: str = "port") -> None:
    """Start a front; an address it cannot listen on is the admin's to fix (exit 2 naming
    the front and its setting), not an internal error."""
    try:
        await start
    except OSError as exc:
        _cannot_listen(front, section, host, port, exc, port_key)


def _cannot_listen(front: str, section: str, host: str, port: int | str,
                   exc: OSError, port_key: str = "port") -> None:
    """Exit 2 naming the front and its setting for an address the admin must fix; re-raise
    anything else."""
    if isinstance(exc, socket.gaierror):
        usage_error(f"{front} cannot listen on {host}:{port}: {section} host {host!r} is no "
                    f"address of this machine ({exc.strerror}); set {section} host to one "
                    "(127.0.0.1, 0.0.0.0, or this host's address)")
    if exc.errno not in (errno.EADDRINUSE, errno.EADDRNOTAVAIL, errno.EACCES):
        raise exc
    reason = os.strerror(exc.errno)
    if exc.errno == errno.EADDRNOTAVAIL:
        # Nothing uses it: the address is not (or not yet, at boot) on any interface here.
        fix = (f"{section} host {host!r} is no address of this machine (or not yet: an "
               f"address assigned late at boot); set {section} host to one (127.0.0.1, "
               "0.0.0.0, or this host's address)")
    elif exc.errno == errno.EACCES:
        fix = (f"a port under 1024 needs privilege callguard does not have; change "
               f"{section} {port_key} to 1024 or above")
    else:
        fix = (f"stop the process using it (another callguard serve?) or change {section} "
               f"{port_key}")
    usage_error(f"{front} cannot listen on {host}:{port} ({section} host, {section} "
                f"{port_key}): {reason}; {fix}")


def _probe_addresses(settings: Settings) -> None:
    """Bind, then let go of, every address the fronts will listen on, before anything is
    started or recorded: a port in use (another node) used to stop ``serve`` only after
    the ``packs-loaded`` record — "this node judges calls with these packs" — was
    written durable, for a node that never answered a call. The fronts bind as they
    do here (TCP with SO_REUSEADDR, as asyncio's listeners; UDP for SIP without); one
    taken in the instant between is still refused when the front starts (``_listening``).
    Port 0 (any free port) needs no probe."""
    tcp, udp = socket.SOCK_STREAM, socket.SOCK_DGRAM
    wanted: list[tuple[str, str, str, int, str, socket.SocketKind]] = [
        ("FastAGI", "[fastagi]", settings.fastagi.host, settings.fastagi.port, "port", tcp)]
    if settings.http.enabled:
        wanted.append(("the HTTP port", "[http]", settings.http.host, settings.http.port,
                       "port", tcp))
    sip = settings.sip
    if sip.enabled:
        wanted.append(("SIP", "[sip]", sip.host, sip.port, "port", udp))
        if sip.tcp:
            wanted.append(("SIP", "[sip]", sip.host, sip.port, "port", tcp))
        if sip.tls:
            wanted.append(("SIP over TLS", "[sip]", sip.host, sip.tls_port, "tls_port", tcp))
    for front, section, host, port, port_key, kind in wanted:
        if port == 0:
            continue
        try:
            _bind_once(host, port, kind)
        except OSError as exc:
            _cannot_listen(front, section, host, port, exc, port_key)


def _bind_once(host: str, port: int, kind: socket.SocketKind) -> None:
    """Bind every address ``host`` names (all interfaces for "" as asyncio does), close."""
    infos = socket.getaddrinfo(host or None, port, type=kind, flags=socket.AI_PASSIVE)
    for family, address in {(info[0], info[4]) for info in infos}:
        try:
            probe = socket.socket(family, kind)
        except OSError:
            # A family this kernel has no sockets for (IPv6 off: ipv6.disable=1) is
            # skipped, as asyncio's create_server skips it: "" or a name with an IPv6
            # address served on IPv4 before this probe, and must still.
            continue
        with probe:
            if kind == socket.SOCK_STREAM:  # TIME_WAIT is no obstacle; a listener is
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            probe.bind(address)


def _point_to_config_check(state: CliState, problem: str | None = None) -> None:
    """After a configuration ``problem`` (printed here, exit 2) or one the settings' load
    printed: the one line that names ``config check``, which says every problem and its
    fix (``serve`` stops at the first that keeps it from starting)."""
    words = ["callguard"]
    if state.config_option is not None:
        words += ["--config", str(state.config_option)]
    if state.data_dir_option is not None:
        words += ["--data-dir", str(state.data_dir_option)]
    line = (f"every problem of the configuration and its fix: {shlex.join(words)} config "
            "check (callguard-admin config check under the systemd unit)")
    if problem is None:
        err_console.print(escape(line), highlight=False)
        return
    usage_error(f"{problem}; {line}")


def _make_data_dir(state: CliState, settings: Settings) -> None:
    """Make the configured data dir not made yet (serve's first start), or stop with a
    usage error pointing to ``config check``: one that cannot be made (its parent not
    writable by the service user, not a place files go) was "internal error:
    FileNotFoundError/PermissionError" (exit 3) when the log key was first written
    (hnew30). ``--data-dir``/``CALLGUARD_DATA_DIR`` naming none was refused before."""
    path = settings.data_dir
    if path.is_dir():
        return
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _point_to_config_check(state, (
            f"data dir {path} ({settings.data_dir_source}) does not exist and cannot be "
            f"made: {exc.strerror or exc}; make it as root for the service user (install "
            f"-d -o callguard -g callguard -m 0750 {path}; the unit's StateDirectory= makes "
            "/var/lib/callguard) or set [callguard] data_dir to a writable place"))


def _bound_port(http: tuple[web.AppRunner, GuardedSite] | None) -> int | None:
    return None if http is None else http[1].port


@click.command()
@click.option("--reload-seconds", type=click.FloatRange(min=0, min_open=True), default=5.0,
              show_default=True,
              help="How often to look for newly published list versions.")
@click.pass_obj
def serve(state: CliState, reload_seconds: float) -> None:
    """Run the node until SIGTERM."""
    early = _EarlyHup()  # first: a SIGHUP from here on is a reload (``_Signals``)
    try:
        settings = state.settings  # a configuration that does not load: exit 2, and
    except SystemExit as exc:  # the way to every problem and its fix
        if exc.code == EXIT_USAGE:
            _point_to_config_check(state)
        raise
    try:  # secrets are read before the loop starts, so a missing one is a usage error
        if settings.http.enabled:
            settings.http_token()
        if settings.ami.enabled:
            settings.ami.secret()
        if settings.sip.enabled:
            settings.sip.tls_context()  # [sip] tls: the certificate and key load
    except ConfigError as exc:
        _point_to_config_check(state, str(exc))
    _make_data_dir(state, settings)
    _probe_addresses(state.settings)  # before the packs-loaded record says we judge calls
    install_stdlib_redaction()  # aiohttp, asyncio, aiosipua: quoted peer input redacted
    tuned = raise_mmap_threshold()
    _log.info("malloc_tuning", mmap_threshold_fixed=tuned)
    asyncio.run(_serve(state, reload_seconds, early))
