"""Assemble a node from its settings: stores, compliance log, gate. Also closes them."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import structlog
from redis import asyncio as aioredis
from redis.exceptions import AuthenticationError, RedisError

from callguard.audit import ComplianceLog, configure_logging
from callguard.compliance.logkey import NumberProtector, load_log_key
from callguard.compliance.record import RecordEncoder
from callguard.compliance.segments import closed_segments
from callguard.compliance.sinks import LogFile, LogTarget, RedisStreamSink, StreamTarget
from callguard.compliance.stream_cursor import LogStreamSender
from callguard.compliance.writer import RecordWriter
from callguard.config import Settings
from callguard.datadir import log_file
from callguard.decision import Decision
from callguard.errors import StoreError
from callguard.facts.frequency import FREQUENCY
from callguard.fronts.http.metrics import NodeMetrics
from callguard.fronts.http.readiness import Readiness, adjtimex_synchronised
from callguard.gate import Gate
from callguard.policy import Pack
from callguard.policy.rules import CallFrequency
from callguard.stores.embedded.frequency import CountsLog, EmbeddedFrequency
from callguard.stores.embedded.identity import (
    LAST_STORE_FILE,
    adoption,
    count_records,
    read_last_store,
    remember_last_store,
    store_id_of,
)
from callguard.stores.embedded.lists import EmbeddedListRegistry
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.embedded.unopened import UnopenedFrequency
from callguard.stores.interfaces import FrequencyStore, RecordStores
from callguard.stores.private import private_dir
from callguard.stores.redis.client import open_client
from callguard.stores.redis.frequency import RedisFrequency
from callguard.stores.redis.lists import LIST_SOCKET_SECONDS, RedisListRegistry
from callguard.stores.redis.records import RedisRecords
from callguard.stores.redis.remembered import MARKER_FILE

__all__ = ["NoLists", "Runtime", "clock_check", "gate_packs", "log_path", "longest_window_s",
           "open_compliance_log", "open_frequency", "open_runtime", "redis_client"]

_log = structlog.get_logger("callguard.records")
# A Redis command of a client that names no shorter bound (``redis_client``), in seconds
COMMAND_SECONDS = 30.0
# ``serve`` with a Redis record store that did not answer at start: the start is tried
# again after this many seconds, doubling up to the cap (``Runtime.start_deciding``).
START_RETRY_FIRST_S = 0.5
START_RETRY_CAP_S = 10.0
_START_CANCEL_S = 2.0  # the retries' stop, per cancel (see ``_stop_starter``)


def gate_packs(settings: Settings) -> dict[str, Pack]:
    """The enabled packs the gate can apply to a call (``Policy._applicable``): every
    statute pack, and the house policies some campaign opts into. A house policy no
    campaign names is never read: its lists are not missing, nor /readyz unready for them
    (the gate never BLOCKs for them); one a campaign names BLOCKs that campaign's every
    call while its list is missing, and `dnc status` said nothing of it (hadm25)."""
    wanted = {pack_id for campaign in settings.campaigns.values() for pack_id in campaign.packs}
    return {pack_id: settings.packs[pack_id] for pack_id in settings.enabled_packs
            if settings.packs[pack_id].is_statute or pack_id in wanted}


def redis_client(settings: Settings, *,
                 socket_timeout: float = COMMAND_SECONDS) -> aioredis.Redis:
    """A client for the configured Redis; password from ``CALLGUARD_REDIS_PASSWORD``.

    Clients on the call path get a ``socket_timeout``, so a Redis that accepts but never
    answers is a store error (BLOCK), not a hang; so does the list follower's
    (``LIST_SOCKET_SECONDS``: its pub/sub waits with a timeout of its own). Every other
    client gets ``COMMAND_SECONDS`` at least: none was bounded (`dnc status`, `archive`,
    `purge`, `tail --stream`, the supervisors' page), and each waited without end on a Redis
    that accepted and stopped answering (hsto23); their longest wait is an XREAD of 1 s.
    """
    return open_client(settings.redis_url,
                       password=os.environ.get("CALLGUARD_REDIS_PASSWORD") or None,
                       socket_connect_timeout=2, socket_timeout=socket_timeout,
                       health_check_interval=10)


def log_path(settings: Settings) -> Path | None:
    """The compliance log file, or None when it goes to stdout (``datadir.log_file``)."""
    return log_file(settings.path, settings.data_dir, settings.log.file)


class NoLists:
    """The registry of a runtime that only records (consent, EBR, company DNC, purge): no
    list is read, so such a command does not pay for every list (~10 MB per 5 M numbers,
    from Redis or disk). Were it asked for a decision, every list would be missing and every
    call it covers BLOCKed: fail closed."""

    errors: Mapping[str, str] = MappingProxyType({})

    def snapshot(self, name: str) -> None:
        """No version is loaded."""

    def names(self) -> tuple[str, ...]:
        """No list is loaded."""
        return ()


@dataclass
class Runtime:
    """One node's live parts."""

    settings: Settings
    lists: EmbeddedListRegistry | RedisListRegistry | NoLists
    records: RecordStores
    gate: Gate
    protector: NumberProtector
    compliance: ComplianceLog
    metrics: NodeMetrics
    stream: RedisStreamSink | LogStreamSender | None = None
    # Called with every decision after it is recorded (metrics first; the AMI watchdog
    # appends itself): observers, which can never change the verdict.
    followers: list[Callable[[Decision], None]] = field(default_factory=list)
    frequency: FrequencyStore | None = None
    _pinger: aioredis.Redis | None = None
    # Why the stores are not started yet (``serve`` waiting for a Redis record store that
    # did not answer at start), or None: the gate BLOCKs every call with it meanwhile,
    # and /readyz's ``stores_started`` check is not ok.
    starting: str | None = None
    _starter: asyncio.Task[None] | None = None
    _closing: bool = False

    async def start(self) -> None:
        """Check the record store (and record its adoption), load the lists, start the log
        stream."""
        if isinstance(self.records, RedisRecords):
            await self.records.start()
        await self.note_store()
        if isinstance(self.lists, RedisListRegistry):
            await self.lists.start()
        if self.stream is not None:
            self.stream.start()

    async def note_store(self) -> None:
        """A record store this data dir had not served from (the operator accepted a lost
        or replaced one): its ``store-adopted`` record, durable, then ``records.last-store``
        names it (identity.py's module doc). A store refused as lost is not adopted; the
        one it was relied on as is remembered when nothing was (a data dir from before
        ``records.last-store``), so the adoption that follows names it."""
        records = self.records
        path = self.settings.data_dir / "records.sqlite3"
        if isinstance(records, RedisRecords):
            backend, relied, lost = "redis", records.marker or None, records.lost
        elif isinstance(records, EmbeddedRecords):
            backend, relied, lost = "embedded", store_id_of(path), records.lost
        else:
            return
        where = self.settings.data_dir / LAST_STORE_FILE
        last = read_last_store(where)
        if lost is not None or relied is None:
            if last is None and relied is not None:
                remember_last_store(where, backend, relied)
            return
        found, remember = adoption(last, backend, relied)
        if found is not None:
            count = (await records.count_records() if isinstance(records, RedisRecords)
                     else await asyncio.to_thread(count_records, path))
            await self.compliance.store_adopted(
                backend=found.backend, store_id=found.store_id,
                previous_backend=found.previous_backend, previous_id=found.previous_id,
                records=count)
            _log.warning("record-store-adopted", backend=backend, store_id=relied,
                         previous_id=found.previous_id, records=count)
        if remember:
            remember_last_store(where, backend, relied)

    async def start_deciding(self, *, wait_for_redis: bool = False) -> None:
        """``start``, then the ``packs-loaded`` record, durable, before the first decision:
        a decision record names only the packs that applied to it (RecordWriteError when
        the log cannot take it).

        ``wait_for_redis`` (``serve``): a Redis record store that does not answer at start
        is no reason to stop. A host rebooted with Redis coming up after callguard, or a
        Redis restarting, made ``serve`` exit 3 and systemd restart it until its start
        limit gave up. The node now starts without it: every call is BLOCKed with the
        reason (``starting``), /readyz says not ready, and the start is tried again in the
        background (``START_RETRY_FIRST_S`` doubling to ``START_RETRY_CAP_S``) until it
        succeeds; then the node decides as if it had started with Redis there — the start
        checks durability and the marker, so a Redis that came back empty is refused as
        lost (``RedisRecords.start``). A Redis that answers and is refused for what it is
        (weak durability, refused) still stops the start, as before."""
        try:
            await self.start()
        except StoreError as exc:
            if not (wait_for_redis and isinstance(self.records, RedisRecords)):
                raise
            if await self._redis_answers():  # refused for what it is (or just came up):
                try:
                    await self.start()  # once more; a refusal stops the start, as before
                except StoreError as again:
                    # ... unless Redis went away meanwhile (a flap: it answered the PING,
                    # not the start): exit 3 there had systemd restart the node (hadm25)
                    if await self._redis_answers():
                        raise
                    self._wait_for_store(str(again))
            else:
                self._wait_for_store(str(exc))
        await self.compliance.packs_loaded()

    async def _redis_answers(self) -> bool:
        """Whether the configured Redis answers a PING now (its own client, 1 s). One that
        refuses the password answers: a mistake to fix, which stops the start as before
        (exit 3 saying so); one loading its data set (LOADING) does not yet."""
        client = redis_client(self.settings, socket_timeout=1)
        try:
            await client.ping()
        except AuthenticationError:
            return True
        except (RedisError, OSError):
            return False
        finally:
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
        return True

    def _wait_for_store(self, error: str) -> None:
        """Serve without the record store for now (``start_deciding``)."""
        self.starting = _not_started(error)
        self.gate.unavailable = lambda: self.starting
        _log.error("store_unavailable_at_start", error=error,
                   effect="every call is BLOCKed and /readyz is not ready until Redis "
                          "answers; the start is tried again",
                   retry_first_s=START_RETRY_FIRST_S, retry_cap_s=START_RETRY_CAP_S)
        self._starter = asyncio.get_running_loop().create_task(self._start_when_answered())

    async def _start_when_answered(self) -> None:
        """Try ``start`` again, with bounded backoff, until it succeeds; say so in the log
        at the 2nd, 4th, 8th ... attempt (a Redis down for hours logs a few lines)."""
        loop = asyncio.get_running_loop()
        began, delay, attempt = loop.time(), START_RETRY_FIRST_S, 1
        while not self._closing:
            await asyncio.sleep(delay)
            attempt += 1
            try:
                await self.start()
            except Exception as exc:  # noqa: BLE001 - any failure: still not started
                error = str(exc) or type(exc).__name__
                self.starting = _not_started(error)
                if attempt & (attempt - 1) == 0:
                    _log.warning("store_start_retrying", attempt=attempt, error=error,
                                 waited_s=round(loop.time() - began, 1))
                delay = min(delay * 2, START_RETRY_CAP_S)
                continue
            self.starting = None
            _log.info("store_started", attempts=attempt,
                      waited_s=round(loop.time() - began, 1))
            return

    async def _stop_starter(self) -> None:
        """Stop the start retries (bounded). Python 3.11's ``asyncio.wait_for`` (redis-py's
        connect and command timeouts) can swallow a cancel that lands as its call
        completes (gh-86296): the loop also checks ``_closing``, and the cancel is
        repeated."""
        self._closing = True
        task = self._starter
        for _ in range(3):
            if task is None or task.done():
                return
            task.cancel()
            await asyncio.wait({task}, timeout=_START_CANCEL_S)

    def readiness(self) -> Readiness:
        """The readiness checks of this node (lists, stores, Redis, clock)."""
        pings: dict[str, Callable[[], Awaitable[object]]] = {}
        settings = self.settings
        if "redis" in (settings.lists_backend, settings.records.backend) or (
                settings.log.redis_stream):
            if self._pinger is None:  # one client however often readiness() is asked for
                self._pinger = redis_client(settings, socket_timeout=1)
            client = self._pinger

            async def ping() -> object:
                try:
                    answer = await client.ping()
                except Exception:
                    self.metrics.redis_up.set(0)
                    raise
                self.metrics.redis_up.set(1)
                return answer

            pings["redis"] = ping
        probes: dict[str, Callable[[], Awaitable[tuple[bool, str]]]] = {}
        if isinstance(self.records, RedisRecords):

            async def stores_started() -> tuple[bool, str]:
                # Redis did not answer at start: every call BLOCKed until it does.
                return self.starting is None, self.starting or "started"

            probes["stores_started"] = stores_started
        if isinstance(self.lists, RedisListRegistry):
            follower = self.lists

            async def list_sync() -> tuple[bool, str]:
                # A sync held by a Redis that stopped answering: the copies served are not
                # refreshed, an import is not seen, and only this says so (hsto23).
                problem = follower.sync_problem()
                return problem is None, problem or (
                    f"synced with Redis {follower.sync_age():.0f} s ago")

            probes["list_sync"] = list_sync
        if isinstance(self.records, RedisRecords):
            records = self.records

            async def durability() -> tuple[bool, str]:
                refusing = await records.verify()
                return refusing is None, refusing or records.weak or "durable"

            probes["records_durability"] = durability
        probes["compliance_log"] = _LogProbe(self.compliance.writer, log_path(settings))
        if isinstance(self.frequency, RedisFrequency):
            counts = self.frequency

            async def frequency_counts() -> tuple[bool, str]:
                # A server holding fewer counts than this node saw is refused for good
                # (every capped call BLOCKed until the operator acts): not ready, so a
                # balancer stops sending it calls (hfrq20, hrev75).
                return counts.behind is None, counts.behind or "counting"

            probes["frequency_counts"] = frequency_counts
        elif isinstance(self.frequency, EmbeddedFrequency | UnopenedFrequency):
            embedded = self.frequency

            async def embedded_counts() -> tuple[bool, str]:
                # A counts file lost (frequency.id) or not opened: every capped call is
                # BLOCKed, so not ready, as the Redis counts behind (hsto21, hrev86).
                refused = embedded.refusing()
                return refused is None, refused or "counting"

            probes["frequency_counts"] = embedded_counts
        return Readiness(packs=gate_packs(settings),
                         lists=self.lists, records=self.records, pings=pings, probes=probes,
                         clock_check=clock_check(settings), not_loaded=settings.lists_not_loaded,
                         regions=settings.regions)

    async def aclose(self) -> None:
        """Write queued records, flush the stream, close the stores and the log file."""
        await self._stop_starter()
        await self.compliance.aclose()
        if self.stream is not None:
            await self.stream.aclose()
        if isinstance(self.lists, RedisListRegistry):
            await self.lists.close()
        await self.records.aclose()
        if self.frequency is not None:
            await self.gate.counts_after.settle()
            await self.frequency.aclose()
        if self._pinger is not None:
            await self._pinger.aclose()


def clock_check(settings: Settings) -> Callable[[], tuple[bool, str]]:
    """Whether the clock is synchronised, as /readyz and ``serve``'s log (``ClockNotice``)
    both ask it: the kernel (adjtimex), or nothing under ``[http] require_clock_sync =
    false`` (a container whose host keeps time while the kernel does not say so)."""
    if settings.http.require_clock_sync:
        return adjtimex_synchronised
    return lambda: (True, "not checked ([http] require_clock_sync = false)")


def _not_started(error: str) -> str:
    """The BLOCK reason (and /readyz detail) while the record store is waited for."""
    return (f"store unavailable: the record store (Redis) has not answered since this node "
            f"started ({error}); every call is BLOCKed until it does (tried again every few "
            "seconds; see that Redis runs at [redis] url)")


def open_runtime(settings: Settings, *, lists: bool = True) -> Runtime:
    """Open the stores and the log sinks named by the settings and wire the gate; with
    ``lists=False`` (commands that only record) no list is loaded."""
    data_dir = settings.data_dir
    private_dir(data_dir)  # lists, records, the log key: the service user's alone
    key = load_log_key(data_dir)
    configure_logging(key)
    protector = NumberProtector(key)
    compliance, stream = open_compliance_log(settings, protector)
    registry: EmbeddedListRegistry | RedisListRegistry | NoLists
    if not lists:
        registry = NoLists()
    elif settings.lists_backend == "redis":
        # Its commands bounded: a Redis that stopped answering held a sync for ever (hsto23)
        registry = RedisListRegistry(redis_client(settings,
                                                  socket_timeout=LIST_SOCKET_SECONDS))
    else:
        registry = EmbeddedListRegistry(data_dir)
    records: RecordStores
    if settings.records.backend == "redis":
        records = RedisRecords(redis_client(settings, socket_timeout=2), settings.records,
                               remember=data_dir / MARKER_FILE)
    else:
        records = EmbeddedRecords(data_dir / "records.sqlite3")
    frequency = open_frequency(settings, records, protector.hash, protector.key_id)
    metrics = NodeMetrics(registry, {k: settings.packs[k] for k in settings.enabled_packs})
    if isinstance(records, RedisRecords):
        redis_records = records
        metrics.watch_gauge("callguard_records_durable",
                            "1 while the Redis record store acknowledges writes as durable, 0 "
                            "while it refuses them (a weak server, or one that lost its data)",
                            lambda: 0.0 if redis_records.refusing_writes else 1.0)
        metrics.watch_gauge("callguard_records_behind",
                            "1 while the Redis record store is older than this node's mark "
                            "(restored from an older backup?): every record read refused",
                            lambda: 1.0 if redis_records.behind else 0.0)
    if isinstance(registry, RedisListRegistry):
        follower = registry
        metrics.watch_gauge("callguard_list_sync_age_seconds",
                            "Seconds since this node last synced its lists with Redis in full "
                            "(every 30 s; +Inf before the first): rising, an import or "
                            "rollback made since is not seen",
                            follower.sync_age)
    if stream is not None:
        sink = stream
        metrics.watch_counts("callguard_log_stream_records",
                             "Compliance records sent to the Redis Stream, or dropped when its "
                             "queue was full", "outcome",
                             lambda: {"sent": sink.sent, "dropped": sink.dropped})

    writer = compliance.writer
    metrics.watch_counts("callguard_log_records",
                         "Compliance records written to the file, or that failed (the call "
                         "was blocked)", "outcome",
                         lambda: {"written": writer.written, "failed": writer.failed})
    # The record is written first (the answer waits for it); observers follow in order and
    # can never change the verdict (Gate._finish).
    followers: list[Callable[[Decision], None]] = [metrics.observe]
    gate = Gate(
        policy=settings.policy(),
        campaigns=settings.campaigns,
        parser=settings.parser(),
        lists=registry,
        records=records,
        record=compliance.record,
        journal=compliance.journal,
        observers=followers,
        stores={FREQUENCY: frequency},
        not_loaded=settings.lists_not_loaded,
    )
    after = gate.counts_after  # its failures were only a log line: a lost count is silent
    metrics.watch_counts("callguard_frequency_counts_after",
                         "ALLOWs no cap of their plan covered, counted under the loaded caps "
                         "after the answer: posted, or failed (not counted: a cap that later "
                         "applies to the number under-counts it)", "outcome",
                         lambda: {"posted": after.posted, "failed": after.failed})
    return Runtime(settings, registry, records, gate, protector, compliance, metrics,
                   stream, followers, frequency)


def longest_window_s(packs: Mapping[str, Pack]) -> int:
    """The longest call-frequency window of any version of any loaded pack (at least a
    day): how long counts are kept."""
    windows = [rv.rule.window_s for pack in packs.values() for v in pack.versioned
               for rv in v.versions if isinstance(rv.rule, CallFrequency)]
    return max([86_400, *windows])


def open_frequency(settings: Settings, records: RecordStores,
                   hasher: Callable[[str], str], key_id: str | None = None) -> FrequencyStore:
    """Call-frequency counts beside the records: in Redis (shared by every node, guarded
    by the record store's durability checks) or in the data dir's SQLite file, whose
    commits the compliance log proves when it is a file synced before each answer
    (``group``/``every``: ``synchronous=NORMAL``, the record carries the rows); else
    ``FULL``. A file that cannot be opened is refused, not fatal: ``UnopenedFrequency``."""
    retention = longest_window_s(settings.packs)
    if isinstance(records, RedisRecords):
        redis_records = records
        return RedisFrequency(redis_client(settings, socket_timeout=2), hasher,
                              retention_s=retention,
                              refusing=lambda: redis_records.refusing_counts,
                              guard=redis_records)
    path = log_path(settings)
    proving = (CountsLog(path, key_id) if path is not None and key_id is not None
               and settings.log.durability in ("group", "every") else None)

    def opener() -> EmbeddedFrequency:
        return EmbeddedFrequency(settings.data_dir / "frequency.sqlite3", hasher,
                                 retention_s=retention, counts_log=proving)

    try:
        return opener()
    except StoreError as exc:
        # Damaged, locked, unwritable, a write-back unproved: the node refused to start and
        # record commands exited 3 (no opt-out recorded). Every capped call BLOCKs instead,
        # the rest is served, and the opening is tried again (stores/embedded/unopened.py).
        return UnopenedFrequency(opener, str(exc))


class _LogProbe:
    """/readyz's ``compliance_log`` check: whether a record can be written. A node whose
    log refuses its lines BLOCKs every call (fail closed), so a load balancer must send its
    calls elsewhere. Once the log's file system takes a write again (a probe file beside
    the log, off the loop) the node is ready: with no calls sent to it, no record would
    ever show the log came back."""

    def __init__(self, writer: RecordWriter, path: Path | None) -> None:
        self.writer = writer
        self.path = path
        # The probe write under way: one at a time. A hung file system (NFS, a failing
        # disk) holds its thread; each /readyz poll would take one more worker of the
        # loop's default executor, which the record and frequency stores' calls wait for.
        self._running: asyncio.Future[str | None] | None = None

    async def __call__(self) -> tuple[bool, str]:
        failure = self.writer.last_error
        if self.writer.stopped:  # a probe beside the log would pass: no disk at fault
            return False, ("the record writer stopped: no record is written until the node "
                           "restarts; every call is BLOCKed")
        if failure is None:
            return True, "writing"
        if self.path is None:
            return False, f"the last record was not written ({failure})"
        if self._running is not None and not self._running.done():
            return False, (f"the compliance log cannot be written ({failure}); the last "
                           "probe write beside it has not returned")
        self._running = asyncio.ensure_future(asyncio.to_thread(_write_probe, self.path))
        still = await asyncio.shield(self._running)
        if still is not None:
            return False, (f"the compliance log cannot be written ({failure}; a probe write "
                           f"beside it: {still}): every call is BLOCKed")
        return True, (f"the last record was not written ({failure}); the log's file system "
                      "takes writes again")


def _write_probe(path: Path) -> str | None:
    """One block written and synced beside the log, then removed; why not, or None."""
    probe = path.parent / f".{path.name}.readyz"
    try:
        with open(probe, "wb") as handle:
            handle.write(bytes(4096))  # one block: none is free on a full disk
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    finally:
        with contextlib.suppress(OSError):
            probe.unlink()
    return None


def _warn_moved(target: str, path: Path | None) -> None:
    """Warn at every start while a log is left where a relative ``[log] file`` used to be
    read: against the working directory, before it was the configuration's directory.
    Its records are no longer found by ``tail``, ``evidence``, ``report`` or the page, nor
    archived, nor purged at their retention: the officer's evidence, out of every tool's
    sight, until the admin moves it beside the new one (or names it absolutely)."""
    if path is None or not target or Path(target).expanduser().is_absolute():
        return
    try:
        before = Path(target).absolute()
        if before.resolve() == path.resolve() or not (
                before.exists() or closed_segments(before)):
            return
    except OSError:  # a working directory this user may not search: nothing to tell
        return
    _log.warning("compliance_log_moved", was=str(before), now=str(path),
                 detail="a relative [log] file is read against the configuration file's "
                        "directory, no longer the working directory: the records at "
                        f"{before} (and its rotated segments) are read by no command; move "
                        f"them to {path.parent}, or set [log] file to the path to keep")


def open_compliance_log(settings: Settings, protector: NumberProtector,
                        ) -> tuple[ComplianceLog, RedisStreamSink | LogStreamSender | None]:
    """The record encoder and writer for the node's ``[log]`` settings (and its stream)."""
    path = log_path(settings)
    _warn_moved(settings.log.file, path)
    target: LogTarget = StreamTarget() if path is None else LogFile(
        path, max_bytes=settings.log.rotate_mb * 1024 * 1024)
    stream: RedisStreamSink | LogStreamSender | None = None
    views = []
    node = settings.log.node or socket.gethostname()
    if settings.log.redis_stream and path is not None:
        # fed from the file, from a durable cursor: nothing the file holds is left unsent
        # unsaid (compliance/stream_cursor.py)
        stream = LogStreamSender(redis_client(settings, socket_timeout=5), log=path,
                                 key=settings.log.stream_key,
                                 maxlen=settings.log.stream_maxlen, node=node)
        views.append(stream.write)
    elif settings.log.redis_stream:  # stdout: the lines as written, from memory
        stream = RedisStreamSink(redis_client(settings, socket_timeout=5),
                                 key=settings.log.stream_key,
                                 maxlen=settings.log.stream_maxlen)
        sink = stream
        views.append(lambda line: sink.write(line.rstrip(b"\n")))
    encoder = RecordEncoder(protector, node=node,
                            packs=settings.packs, campaigns=settings.campaigns,
                            enabled=settings.enabled_packs)
    writer = RecordWriter(target, durability=settings.log.durability, views=views)
    return ComplianceLog(encoder, writer), stream
