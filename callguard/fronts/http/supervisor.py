"""The supervisors' page on the HTTP port: the live tail of every node, and today's report.

Read-only. ``GET /supervisor`` is a static shell (no data, like ``/openapi.json``); the
browser keeps the bearer token in the tab's ``sessionStorage`` and sends it with every
request for data: ``/supervisor/events`` (server-sent events: the newest matching records,
then each new one as it is written), ``/supervisor/report`` (today's report, the HTML of
``callguard report``) and ``/supervisor/meta``. The tail reads what ``callguard tail``
reads, with its readers: the Redis Stream of every node when ``[log] redis_stream`` is on
(``read_stream_newest``/``follow_stream``), else this node's compliance log file
(``tail_file``: the backlog and the follow of ``tail -f``, one mechanism). Filters
(verdict, campaign, rule) are a ``RecordFilter`` applied on the server.

No clear number reaches the page: records carry a keyed hash and the last four digits;
the page is sent neither the hash nor any field but those it shows, and every text field
passes ``redact_digits`` on the way out (defence in depth).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

import orjson
from aiohttp import web

from callguard.compliance.file_tail import tail_file
from callguard.compliance.reader import (
    ReadStats,
    Record,
    RecordFilter,
    follow_stream,
    newest_id,
    oldest_first,
    read_stream,
    read_stream_newest,
)
from callguard.fronts.http.answers import json_response
from callguard.fronts.http.supervisor_page import PAGE_HTML
from callguard.numbers.redact import clipped_repr, redact_digits
from callguard.utc import zone_named

if TYPE_CHECKING:
    from redis import asyncio as aioredis

    from callguard.config import Settings

__all__ = ["PAGE_PATH", "FileTail", "StreamTail", "SupervisorPage", "page_record",
           "supervisor_for", "today_report"]

PAGE_PATH = "/supervisor"
_SHOWN = ("logged_at", "node", "event", "verdict", "campaign", "number_last4", "mode",
          "front", "rule", "reason", "release_ms", "action", "kind", "solicitor",
          "decision_id", "places_call",  # places_call false: a `check --at` question
          "telemarketer")  # the call centre that placed the call for the seller
_UNREDACTED = frozenset({"logged_at", "decision_id"})  # an instant, a UUID: no numbers
_MAX_BACKLOG = 500
_MAX_SPARED = 64  # rule ids set aside in one reason (private-use marks U+E000..)
_KEEPALIVE_S = 15.0
_GONE_CHECK_S = 1.0  # how soon a closed page's place is free (MAX_TAILS)
_QUEUE = 2000  # records waiting for one slow browser; past that dropped, the page told
_WRITE_S = 10.0  # a page that takes no bytes for this long is let go (its place freed)
_BACKLOG_WINDOW = timedelta(days=1)
MAX_TAILS = 32  # pages following at once (a file tail holds a polling thread each)
_REPORT_FRESH = timedelta(seconds=30)  # pages refresh every minute; one build serves all
_REPORTS_KEPT = 8  # zones' reports kept at once (pages ask for one or two)


def page_record(record: Record) -> dict[str, Any]:
    """What the page is sent of one record: the shown fields, digit runs redacted."""
    out: dict[str, Any] = {}
    for key in _SHOWN:
        value = record.get(key)
        if isinstance(value, str):
            out[key] = (value if key in _UNREDACTED else _rule_id(value) if key == "rule"
                        else _reason(value, record) if key == "reason"
                        else redact_digits(value))
        elif isinstance(value, (int, float, bool)):
            out[key] = value
    local = called_local(record)
    if local is not None:
        out["called_local"] = local
    return out


def called_local(record: Record) -> str | None:
    """When the call is, on the called party's clock: the record's ``at`` at each candidate
    zone's offset as the gate judged it (``zones``: name, offset, source). The page showed
    only ``logged_at`` in UTC, so a supervisor could not see the hour a calling-hours rule
    judged (a dialer's ``at`` is its word, hours away from the logging) nor check a
    verdict against the called party's day; the recorded offset, not today's rules, so a
    call across a DST change shows the offset it was judged at. None: no ``at``."""
    at = record.get("at")
    if not isinstance(at, str):
        return None
    try:
        instant = datetime.fromisoformat(at).astimezone(UTC)
    except ValueError:
        return None
    shown: list[str] = []
    zones = record.get("zones")
    for zone in zones if isinstance(zones, list) else ():
        if not (isinstance(zone, list) and len(zone) >= 2
                and all(isinstance(part, str) for part in zone[:2])):
            continue
        try:
            offset = datetime.strptime(zone[1], "%z").utcoffset()
        except ValueError:
            continue
        if offset is None:
            continue
        local = instant + offset
        shown.append(f"{local:%a %Y-%m-%d %H:%M} {redact_digits(zone[0])} ({zone[1]})")
    if not shown:
        return f"{instant:%a %Y-%m-%d %H:%M} UTC (zone unknown)"
    return "; ".join(shown)


def _reason(text: str, record: Record) -> str:
    """The reason, with the record's own rule ids shown as the ``rule`` field shows them.

    A reason names its deciding rule ("Blocked by us-ut-hb45-2000:13-26a-106(1)(g): ...");
    the log's writer spared it, but redacting the whole text again here read
    ``45-2000:13-26`` as a number and garbled it. Each rule id is set aside behind a
    private-use mark (no digit, no separator: a number cannot run through it), the rest
    redacted, and the id put back redacted pack id and section apart (``_rule_id``)."""
    outcomes = record.get("outcomes")
    ids = {record.get("rule")}
    if isinstance(outcomes, list):
        ids.update(o.get("rule") for o in outcomes if isinstance(o, dict))
    spared = sorted((i for i in ids if isinstance(i, str) and i and i in text),
                    key=len, reverse=True)[:_MAX_SPARED]
    if any("\ue000" <= char <= "\uf8ff" for char in text):
        spared = []  # the text has marks of its own: redact it whole, as before
    for index, rule in enumerate(spared):
        text = text.replace(rule, chr(0xE000 + index))
    text = redact_digits(text)
    for index, rule in enumerate(spared):
        text = text.replace(chr(0xE000 + index), _rule_id(rule))
    return text


def _rule_id(value: str) -> str:
    """A rule id redacted pack id and section apart: whole, H.B. 45's
    ``us-ut-hb45-2000:13-26a-106(1)(g)`` read as the run 45-2000:13-26 and was shown as
    ``us-ut-hb[number …1326]a-106(1)(g)``; a number inside either part is still taken out."""
    pack, colon, section = value.partition(":")
    return redact_digits(pack) + colon + redact_digits(section)


class Skipped(dict[str, Any]):
    """In place of records a follow dropped (its page fell behind): ``{"skipped": n}``.

    A class of its own, not an ``event`` value: a log line cannot pass for it."""


class LiveTail(Protocol):
    """Where the tail comes from: the newest ``count`` matching records, then new ones."""

    description: str

    def records(self, wanted: RecordFilter, count: int) -> AsyncGenerator[Record, None]:
        """Backlog oldest first, then every new matching record, until cancelled."""
        ...


class StreamTail:
    """Every node's records, from the Redis Stream (what ``callguard tail --stream`` reads)."""

    def __init__(self, client: aioredis.Redis, key: str) -> None:
        self._client = client
        self._key = key
        self.description = f"every node (Redis stream {key})"

    async def records(self, wanted: RecordFilter, count: int
                      ) -> AsyncGenerator[Record, None]:
        """Backlog of the last day, then the follow from the newest entry on."""
        stats = ReadStats()
        top = await newest_id(self._client, self._key)
        backlog: list[Record] = []
        if count:
            async for record in read_stream_newest(
                    self._client, self._key, since=datetime.now(UTC) - _BACKLOG_WINDOW,
                    end=top):
                if stats.observe(record) and wanted.matches(record):
                    backlog.append(record)
                    if len(backlog) == count:
                        break
        for record in reversed(backlog):
            yield record
        async for record in follow_stream(self._client, self._key, top):
            if stats.observe(record) and wanted.matches(record):
                yield record


class FileTail:
    """This node's records, from its compliance log: what ``callguard tail -f`` reads, by
    its own mechanism (``tail_file``: the backlog and the follow from one start).

    The follow blocks (it polls the file), so the tail runs in a thread of its own per
    browser, which owns the file: the page, closed, tells it to stop (asked at each poll
    and each record) and the thread closes what it holds. Closing the handle from the
    loop ended it only until a rotation (the follow then holds the new file; hrev127: the
    thread polled on, that file open, for as long as the node ran), and closed a
    descriptor the thread might be using that moment. Before hlog25 the
    page followed from the file's end, the last line's start looked for after the
    backlog: a record mid-write when the page opened was lost, and a heal while the
    backlog was read passed over (the records written in a torn tail's place).
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self.description = f"this node ({path.name})"

    async def records(self, wanted: RecordFilter, count: int
                      ) -> AsyncGenerator[Record, None]:
        """The newest ``count`` matching records, then every new one, as ``tail -f``."""
        handle = await self._open()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Record] = asyncio.Queue(maxsize=_QUEUE)
        stop = threading.Event()
        dropped = 0

        def put(record: Record) -> None:
            # Past the bound a record is dropped, and the page told how many where they
            # were (a ``Skipped`` ahead of the next record it is given): dropped silently,
            # a page that fell behind showed a tail with holes as whole. The backlog
            # (``_MAX_BACKLOG``) fits in the bound whole.
            nonlocal dropped
            if dropped:
                if queue.maxsize - queue.qsize() < 2:
                    dropped += 1
                    return
                queue.put_nowait(Skipped(skipped=dropped))
                dropped = 0
            if queue.full():
                dropped += 1
                return
            queue.put_nowait(record)

        def follow() -> None:
            records = tail_file(self._path, handle, wanted, ReadStats(), lines=count,
                                follow=True, stop=stop.is_set)
            try:
                with contextlib.suppress(OSError):  # the file gone while it was read
                    for record in records:
                        if stop.is_set():
                            return
                        loop.call_soon_threadsafe(put, record)
            finally:
                records.close()  # the follow's file (after a rotation, one it opened)
                handle.close()  # and this one, if the follow never began

        try:
            threading.Thread(target=follow, name="supervisor-tail", daemon=True).start()
            while True:
                yield await queue.get()
        finally:
            stop.set()  # the thread ends at its next poll or record, and closes its files

    async def _open(self) -> Any:
        while True:  # a node that has not decided anything yet has no file
            try:
                return self._path.open("rb")
            except FileNotFoundError:
                await asyncio.sleep(0.5)


def today_report(records: Sequence[Record], archive_dir: Path | None, tz: str,
                 now: datetime, not_law: Mapping[str, str] | None = None) -> str:
    """Today's (in ``tz``) report as ``callguard report --html`` renders it.

    The same code as ``callguard report``: records not yet archived registered beside the
    archive's days (``union_view``), figures by ``compliance.report.build``. Blocking
    (DuckDB, file reads): run it in a thread. ``not_law``: the node's house-policy packs
    (id: title); without them the page says it did not check which rules are enacted law.
    """
    from callguard.compliance import report as figures  # noqa: PLC0415 - DuckDB on demand
    from callguard.compliance.archive.live import report_with_live  # noqa: PLC0415
    from callguard.compliance.archive.store import Archive  # noqa: PLC0415

    local = now.astimezone(ZoneInfo(tz))
    since = local.replace(hour=0, minute=0, second=0, microsecond=0)
    # today ends at the zone's next midnight: a call dated later (an HTTP check's `at`)
    # is not today's
    until = since + timedelta(days=1)  # wall-clock arithmetic: the next local midnight
    query = figures.ReportQuery(since=since, until=until, tz=tz)
    # No archive (the stream's records alone, as `report --stream`): an empty manifest
    # names no file, so the archive's root is never read.
    done = report_with_live(Archive(archive_dir or Path()), lambda _manifest: records,
                            query, archived=archive_dir is not None, threads=1,
                            first=since.date() - timedelta(days=2), last=None,
                            generated=now)
    if not_law is not None:
        done.not_law, done.not_law_unread = dict(not_law), None
    return figures.render_html(done)


class SupervisorPage:
    """The routes of the page, and the live connections it must end on shutdown."""

    def __init__(self, tail: LiveTail | None, *, campaigns: Iterable[str], node: str,
                 report_records: Callable[[datetime], AsyncIterator[Record]],
                 archive_dir: Path | None,
                 close: Callable[[], Awaitable[object]] | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 not_law: Mapping[str, str] | None = None) -> None:
        self._tail = tail
        self._campaigns = sorted(campaigns)
        self._node = node
        self._report_records = report_records
        self._archive_dir = archive_dir
        self._not_law = not_law
        self._clock = clock
        self._close = close
        self._closing = asyncio.Event()
        self._tails = 0
        self._reports: dict[str, tuple[datetime, str]] = {}
        self._building = asyncio.Lock()

    def register(self, app: web.Application) -> None:
        """Add the routes (the shell is open; the data routes are behind the token)."""
        app.router.add_get(PAGE_PATH, self.shell)
        app.router.add_get(f"{PAGE_PATH}/meta", self.meta)
        app.router.add_get(f"{PAGE_PATH}/events", self.events)
        app.router.add_get(f"{PAGE_PATH}/report", self.report)
        app.on_shutdown.append(self._shutdown)
        app.on_cleanup.append(self._cleanup)

    async def _shutdown(self, app: web.Application) -> None:
        self._closing.set()  # live streams end, so the port closes at once

    async def _cleanup(self, app: web.Application) -> None:
        if self._close is not None:
            await self._close()

    async def shell(self, request: web.Request) -> web.Response:
        """The page itself: markup and script only, no data."""
        return web.Response(text=PAGE_HTML, content_type="text/html", headers={
            "Cache-Control": "no-store", "X-Frame-Options": "DENY",
            "Content-Security-Policy": "default-src 'self'; script-src 'unsafe-inline'; "
            "style-src 'unsafe-inline'; frame-src 'self'; img-src 'self' data:"})

    async def meta(self, request: web.Request) -> web.Response:
        """What the filters offer and where the tail comes from."""
        return json_response({
            "node": self._node, "campaigns": self._campaigns,
            "source": self._tail.description if self._tail else "none ([log] file = \"-\" "
            "and no Redis stream)"})

    async def events(self, request: web.Request) -> web.StreamResponse:
        """``text/event-stream``: one ``record`` event per matching record."""
        wanted, count = _filter(request)
        if self._tails >= MAX_TAILS:
            return json_response({"error": f"{MAX_TAILS} pages are following already; "
                                      "close one"}, status=503)
        self._tails += 1
        try:
            return await self._follow(request, wanted, count)
        finally:
            self._tails -= 1

    async def _follow(self, request: web.Request, wanted: RecordFilter,
                      count: int) -> web.StreamResponse:
        response = web.StreamResponse(headers={
            "Content-Type": "text/event-stream", "Cache-Control": "no-store",
            "X-Accel-Buffering": "no"})
        await response.prepare(request)
        try:
            await _send(request, response, b": callguard supervisor tail\n\n")
            if self._tail is None:
                await _send(request, response, b"event: source\ndata: \"none\"\n\n")
                return response
        except ConnectionResetError:
            return response
        # Bounded: while a write waits, the tail's own bound drops what it cannot hand on.
        queue: asyncio.Queue[Record | None] = asyncio.Queue(maxsize=_QUEUE)

        task = asyncio.create_task(_pump(self._tail, wanted, count, queue))
        closing = asyncio.create_task(self._closing.wait())
        try:
            await _send(request, response, b"event: live\ndata: {}\n\n")
            quiet_since = time.monotonic()
            while not self._closing.is_set():
                getting = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({getting, closing}, timeout=_GONE_CHECK_S,
                                             return_when=asyncio.FIRST_COMPLETED)
                if getting not in done:
                    getting.cancel()
                    if request.transport is None or request.transport.is_closing():
                        break  # the page was closed: free its place now, not at a write
                    if time.monotonic() - quiet_since >= _KEEPALIVE_S:
                        await _send(request, response, b": keepalive\n\n")
                        quiet_since = time.monotonic()
                    continue
                quiet_since = time.monotonic()
                record = getting.result()
                if record is None:
                    break
                if isinstance(record, Skipped):
                    await _send(request, response, b"event: skipped\ndata: "
                                + orjson.dumps(dict(record)) + b"\n\n")
                    continue
                data = orjson.dumps(page_record(record))
                await _send(request, response, b"event: record\ndata: " + data + b"\n\n")
        except ConnectionResetError:
            pass  # the browser went away
        finally:
            closing.cancel()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        return response

    async def report(self, request: web.Request) -> web.Response:
        """Today's report tables (``?tz=America/Denver``; default UTC), as HTML."""
        _once(request, "tz")
        tz = request.query.get("tz", "UTC")
        if zone_named(tz) is None:
            # quoted for the client, a number in it by its last four (as /v1/check's 4xx)
            return json_response({"error": f"tz {clipped_repr(tz, 60)} is not a "
                                      "time zone name"}, status=400)
        async with self._building:
            now = self._clock()
            made = self._reports.get(tz)
            if made is None or now - made[0] > _REPORT_FRESH:
                records = [r async for r in self._report_records(now)]
                made = (now, await asyncio.to_thread(today_report, records,
                                                     self._archive_dir, tz, now,
                                                     self._not_law))
                self._keep(tz, made)
            page = made[1]
        return web.Response(text=page, content_type="text/html",
                            headers={"Cache-Control": "no-store"})


    def _keep(self, tz: str, made: tuple[datetime, str]) -> None:
        """The report built for ``tz``, beside the others still fresh, at most
        ``_REPORTS_KEPT``: every page asked for was kept for good, one per zone name (about
        600, links included), so a client that walked ``?tz=`` through tzdata held every
        page it had made built — a stale one is rebuilt when asked anyway."""
        now = made[0]
        self._reports = {zone: kept for zone, kept in self._reports.items()
                         if now - kept[0] <= _REPORT_FRESH}
        self._reports[tz] = made
        while len(self._reports) > _REPORTS_KEPT:
            del self._reports[min(self._reports, key=lambda zone: self._reports[zone][0])]


async def _send(request: web.Request, response: web.StreamResponse, data: bytes) -> None:
    """One write to a following page, within ``_WRITE_S``: a page that stopped reading (a
    laptop asleep, its connection still up) held the write, its place and its records for
    ever. ConnectionResetError (the connection aborted) when it takes nothing in time."""
    try:
        async with asyncio.timeout(_WRITE_S):
            await response.write(data)
    except TimeoutError:
        if request.transport is not None:
            request.transport.abort()
        raise ConnectionResetError("the page took nothing in time") from None


async def _pump(tail: LiveTail, wanted: RecordFilter, count: int,
                queue: asyncio.Queue[Record | None]) -> None:
    """The tail's records into the page's bounded queue, then None (the end)."""
    try:
        # aclosing: cancelled while the queue is full, the tail's own clean-up (a file
        # tail's thread and handle) runs now, not when the generator is collected.
        async with contextlib.aclosing(tail.records(wanted, count)) as records:
            async for record in records:
                await queue.put(record)
    finally:
        if queue.full():  # the end must be seen; a record goes for it
            queue.get_nowait()
        queue.put_nowait(None)


def _once(request: web.Request, *names: str) -> None:
    """400 when a query parameter is given twice: ``?verdict=BLOCK&verdict=ALLOW`` says two
    things, and aiohttp's ``get`` kept the first — a supervisor (or a script reading the
    report) was shown one of them as if it were the whole answer. As ``/v1/check``
    refuses a repeated JSON key, none wins."""
    for name in names:
        if len(request.query.getall(name, ())) > 1:
            raise web.HTTPBadRequest(reason=f"{name} given more than once")


def _filter(request: web.Request) -> tuple[RecordFilter, int]:
    _once(request, "verdict", "campaign", "rule", "n")
    query = request.query
    verdict = query.get("verdict") or None
    if verdict not in (None, "ALLOW", "BLOCK"):
        raise web.HTTPBadRequest(reason="verdict must be ALLOW or BLOCK")
    campaign = query.get("campaign") or None
    rule = query.get("rule") or None
    for value in (campaign, rule):
        if value is not None and len(value) > 200:
            raise web.HTTPBadRequest(reason="a filter is at most 200 characters")
    n = query.get("n", "100")
    # ASCII digits only: int() read "\uff15" (full-width), "1_0", "+5" and " 5", and "-5" as 0
    if not (n.isascii() and n.isdigit()) or len(n) > 4000:  # int() refuses past 4,300
        raise web.HTTPBadRequest(reason="n must be a whole number")
    count = min(_MAX_BACKLOG, int(n))
    return RecordFilter(campaign=campaign, verdict=verdict, rule=rule), count


def file_report_records(path: Path | None, archive_dir: Path | None,
                        ) -> Callable[[datetime], AsyncIterator[Record]]:
    """The records ``callguard report`` reads from a node's file: segments not archived."""

    async def records(now: datetime) -> AsyncIterator[Record]:
        if path is None:
            return
        archived: set[str] = set()
        if archive_dir is not None:
            from callguard.compliance.archive.store import Archive  # noqa: PLC0415

            manifest = Archive(archive_dir).manifest()
            # a segment holding records the archiver could not read (``refused``: a newer
            # node's schema) is kept and read here, as `callguard report` reads it; its
            # archived records are counted once (``union_view``)
            archived = set(manifest.segments) - set(manifest.refused)
        wanted = RecordFilter(since=now - timedelta(days=3))

        def read() -> list[Record]:
            return list(oldest_first(path, wanted, ReadStats(),
                                     skip=lambda segment: str(segment.plain) in archived))

        for record in await asyncio.to_thread(read):
            yield record

    return records


def stream_report_records(client: aioredis.Redis, key: str,
                          ) -> Callable[[datetime], AsyncIterator[Record]]:
    """The records ``callguard report --stream`` reads: every node's, from the stream."""

    async def records(now: datetime) -> AsyncIterator[Record]:
        stats = ReadStats()
        async for record in read_stream(client, key, since=now - timedelta(days=3)):
            if stats.observe(record):
                yield record

    return records


def supervisor_for(settings: Settings) -> SupervisorPage:
    """The page for a node's settings: the stream of every node when ``[log] redis_stream``
    is on, else this node's log file (and its archive, for the report)."""
    from callguard.runtime import log_path, redis_client  # noqa: PLC0415 - no import cycle

    node = settings.log.node or socket.gethostname()
    campaigns = list(settings.campaigns)
    # the node's house-policy packs: its page marks their rules "not enacted law"
    not_law = {pack.id: pack.title for pack in settings.packs.values()
               if not pack.is_statute}
    if settings.log.redis_stream:
        client = redis_client(settings)
        key = settings.log.stream_key
        return SupervisorPage(StreamTail(client, key), campaigns=campaigns, node=node,
                              report_records=stream_report_records(client, key),
                              archive_dir=None, close=client.aclose, not_law=not_law)
    path = log_path(settings)
    archive_dir = settings.data_dir / "archive"
    return SupervisorPage(FileTail(path) if path is not None else None, campaigns=campaigns,
                          node=node, report_records=file_report_records(path, archive_dir),
                          archive_dir=archive_dir, not_law=not_law)
