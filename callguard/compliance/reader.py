"""Reading the compliance log back: from the files of one node or the stream of all.

Files are read in bounded blocks (``segments.py``), never whole: ``newest_first`` walks
the current file backwards and then the closed segments newest first, so ``tail -n 20``
reads the end of one file; ``oldest_first`` streams forwards. Segments whose time range
lies outside ``--since``/``--until`` are skipped unopened (a closed segment's name carries
the instant it was closed; its first record gives its start).

Records are JSON objects; the time range applies to ``logged_at`` (when the record was
written, UTC). Lines that are not JSON (a torn last line after a crash) are skipped and
counted, never fatal. Records of a schema this reader does not know are refused and
counted (``ReadStats``), so an answer never silently leaves them out.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

import orjson

from callguard.compliance.segments import (
    BLOCK,
    LONG_LINE,
    Segment,
    closed_segments,
    lines_backward,
    lines_forward,
    readable,
)

if TYPE_CHECKING:
    from redis import asyncio as aioredis

__all__ = ["KNOWN_SCHEMAS", "ReadStats", "Record", "RecordFilter", "SegmentGoneError",
           "closed_now", "decisions_newest_first", "follow_file", "follow_start", "follow_stream",
           "glued_tails", "known_schema", "line_start", "listed_again_if_purged", "log_exists",
           "logged_at", "newest_first", "newest_id", "oldest_first", "parse_line", "read_files",
           "read_stream", "read_stream_newest", "recover_line", "stream_id", "stream_pages"]

Record = dict[str, Any]
# 0: the legacy records, written before ``schema`` existed; 2: a decision that says
# ``places_call`` (record.DECISION_SCHEMA). Schema numbers are per kind: ``known_schema``.
KNOWN_SCHEMAS = frozenset({0, 1, 2})
# The kinds whose schema 2 this version knows (every other kind is still at 1): a
# ``record`` saying 2 was written by a later callguard that changed it, and is refused.
_SCHEMA_2_KINDS = frozenset({"decision"})


def known_schema(record: Record) -> bool:
    """Whether this version knows the record's schema, for its kind (``event``)."""
    schema = record.get("schema", 0)
    if schema == 2:  # the decision's (record.DECISION_SCHEMA)
        return record.get("event") in _SCHEMA_2_KINDS
    return schema in KNOWN_SCHEMAS


def _schema_name(record: Record) -> str:
    """The schema as a reader's note names it: ``2 (record)`` when known for another kind."""
    schema = record.get("schema", 0)
    return f"{schema} ({record.get('event')})" if schema in KNOWN_SCHEMAS else str(schema)


# Records of one file are in write order, but processes stamp ``logged_at`` before they
# take the lock, so neighbours may be out of order by a little; time skipping allows this.
CLOCK_MARGIN = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """What a supervisor asked to see; None matches anything."""

    campaign: str | None = None
    verdict: str | None = None
    rule: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    number_hash: str | None = None
    event: str | None = None
    decision_id: str | None = None
    front: str | None = None
    node: str | None = None

    def _fields(self) -> tuple[tuple[str, str | None], ...]:
        return (("event", self.event), ("campaign", self.campaign),
                ("verdict", self.verdict), ("rule", self.rule),
                ("number_hash", self.number_hash), ("decision_id", self.decision_id),
                ("front", self.front), ("node", self.node))

    def matches(self, record: Record) -> bool:
        """Whether the record passes every given criterion."""
        for name, wanted in self._fields():
            if wanted is not None and record.get(name) != wanted:
                return False
        if self.since is not None or self.until is not None:
            logged = logged_at(record)
            if logged is None:
                return False
            if self.since is not None and logged < self.since:
                return False
            if self.until is not None and logged >= self.until:
                return False
        return True

    def needles(self) -> tuple[bytes, ...]:
        """Byte strings every matching line contains: a line without one is not parsed.

        Only plain ASCII values are used (JSON writes them as they are, quoted).
        """
        return tuple(b'"' + value.encode() + b'"' for _, value in self._fields()
                     if value is not None and value.isascii() and value.isprintable()
                     and '"' not in value and "\\" not in value)

    def before_range(self, instant: datetime) -> bool:
        """Everything logged up to ``instant`` is older than ``since`` (with the margin)."""
        return self.since is not None and instant < self.since - CLOCK_MARGIN

    def after_range(self, instant: datetime) -> bool:
        """Everything logged from ``instant`` on is at or past ``until`` (with the margin)."""
        return self.until is not None and instant >= self.until + CLOCK_MARGIN


@dataclass(slots=True)
class ReadStats:
    """What a read met besides the matching records: the footnotes of an honest answer.

    ``key_id`` is the fingerprint of the key a ``--number`` lookup hashed with; records
    that carry a number hash under another key (or, legacy, under no stated key) are
    counted, because the lookup cannot match them whatever they hold.
    """

    key_id: str | None = None
    torn: int = 0
    unknown_schema: Counter[str] = field(default_factory=Counter)
    other_keys: Counter[str] = field(default_factory=Counter)
    unkeyed: int = 0
    campaigns: set[str] = field(default_factory=set)
    nodes: set[str] = field(default_factory=set)
    read: int = 0

    def observe(self, record: Record) -> bool:
        """Account for a parsed record; False when its schema is not understood."""
        self.read += 1
        if not known_schema(record):
            self.unknown_schema[_schema_name(record)] += 1
            return False
        campaign = record.get("campaign")
        if isinstance(campaign, str):
            self.campaigns.add(campaign)
        node = record.get("node")
        if isinstance(node, str):
            self.nodes.add(node)
        if self.key_id is not None and "number_hash" in record:
            self._count_key(record)
        return True

    def observe_unparsed(self, line: bytes) -> None:
        """A line the needles ruled out: still check which key hashed its number."""
        if self.key_id is None or b'"number_hash"' not in line or (
                self.key_id.encode() in line):
            return
        record = parse_line(line)
        if record is not None and known_schema(record):
            self._count_key(record)

    def _count_key(self, record: Record) -> None:
        """Count a record with a number hash whose key is not the lookup's (or unstated)."""
        key = record.get("key_id")
        if key is None:
            self.unkeyed += 1
        elif key != self.key_id:
            self.other_keys[str(key)] += 1


def logged_at(record: Record) -> datetime | None:
    """When the record was written, or None when it has no readable instant."""
    text = record.get("logged_at")
    if not isinstance(text, str):
        return None
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def parse_line(line: bytes) -> Record | None:
    """One JSON record, or None for a torn or foreign line."""
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def glued_tails(line: bytes) -> Iterator[bytes]:
    """Where a record glued behind a torn one may start: each tail of ``line`` from a
    ``{"`` after its first byte, in order (the stream's sender sends the first whole one
    as it is, ``stream_cursor._record_of``; readers parse it, ``recover_line``)."""
    start = line.find(b'{"', 1)
    while start > 0:
        yield line[start:]
        start = line.find(b'{"', start + 1)


def recover_line(line: bytes) -> Record | None:
    """The complete record glued behind a torn one, if any.

    A writer killed mid-line leaves a fragment without its newline; the next writer's
    record is then appended to it on the same line. The fragment holds nothing readable;
    the record after it is whole and is kept.
    """
    for tail in glued_tails(line):
        record = parse_line(tail)
        if record is not None:
            return record
    return None


def _scan(lines: Iterable[bytes], wanted: RecordFilter, stats: ReadStats, *,
          newest_first: bool = False) -> Iterator[Record]:
    """The matching records of ``lines``; stops a newest-first walk once past ``since``."""
    needles = wanted.needles()
    for line in lines:
        if needles and not all(needle in line for needle in needles):
            stats.observe_unparsed(line)
            continue
        record = parse_line(line)
        if record is None:
            stats.torn += 1
            record = recover_line(line)
            if record is None or (needles and not all(n in line for n in needles)):
                continue
        if not stats.observe(record):
            continue
        if wanted.matches(record):
            yield record
        elif newest_first and wanted.since is not None:
            logged = logged_at(record)
            if logged is not None and wanted.before_range(logged):
                return


def _starts_after_range(segment: Segment, wanted: RecordFilter) -> bool:
    if wanted.until is None:
        return False
    first = segment.first_line()
    record = parse_line(first) if first else None
    logged = logged_at(record) if record else None
    return logged is not None and wanted.after_range(logged)


def log_exists(path: Path) -> bool:
    """Whether there is a current file or any closed segment at ``path``."""
    return path.exists() or bool(closed_segments(path))


def newest_first(path: Path, wanted: RecordFilter, stats: ReadStats, *,
                 current_end: int | None = None,
                 current: BinaryIO | None = None) -> Iterator[Record]:
    """Matching records, newest first: the current file backwards, then closed segments.

    ``current_end`` bounds the current file (the offset a follow starts from), so a record
    appended meanwhile is not shown twice; ``current``: that file as the follow holds it
    (see ``oldest_first``), passed over among the segments if rotated since.
    """
    listed: list[Segment] | None = None
    mine: set[Path] = set()
    try:
        with _held(path, current) as handle:
            # Listed before the current file is read, as ``oldest_first`` lists them: listed
            # after, the file held, rotated and compressed meanwhile (its .zst another
            # inode), was not known as the one held and was read twice (review 73). A
            # segment closed later holds records past ``end`` or is that file.
            listed = closed_segments(path)
            mine = {s.path for s in listed if _same_file(s.path, handle)}
            end = handle.seek(0, os.SEEK_END) if current_end is None else current_end
            yield from _scan(lines_backward(handle, end), wanted, stats, newest_first=True)
    except FileNotFoundError:
        pass
    for segment in reversed(closed_segments(path) if listed is None else listed):
        if segment.closed_at is not None and wanted.before_range(segment.closed_at):
            return  # this one and every older one closed before --since
        if segment.path in mine:
            continue  # the current file as held, rotated since: read above
        opened = readable(segment)
        if opened is None or _starts_after_range(opened, wanted):
            continue
        yield from _scan(opened.lines_newest_first(), wanted, stats, newest_first=True)


_DECISION_EVENT = b'"event":"decision"'
_DECISION_ID = b'"decision_id":"'
_LOGGED_AT = b'"logged_at":"'
_STOP_EVERY = 4096  # lines between two looks at ``stop``


def decisions_newest_first(path: Path, ids: Iterable[str], since: datetime, *,
                           stop: Callable[[], bool] | None = None) -> Iterator[Record]:
    """The decision records of ``ids``, newest first, each as soon as it is read.

    Read-only, for the watchdog after a restart (the number's digest of a call it follows
    again). The log is read from its end back to ``since`` (less the clock margin) and
    never further: the current file backwards, then closed segments newest first, those
    closed before ``since`` unopened — as ``newest_first``. A line is parsed only when it
    is a decision record naming one of ``ids`` (found by bytes, not by parsing each line):
    a long window costs a byte search per line. Stops once every id is found, past
    ``since``, or when ``stop()`` says so (looked at every few thousand lines)."""
    wanted = {i.encode() for i in ids if i.isascii()}
    if not wanted:
        return
    bound = RecordFilter(since=since)
    horizon = (since - CLOCK_MARGIN).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S").encode()
    count = 0
    for lines in _files_newest_first(path, bound):
        for line in lines:
            count += 1
            if stop is not None and count % _STOP_EVERY == 0 and stop():
                return
            # the last one: a record glued behind a torn line is the newer of the two
            at = line.rfind(_LOGGED_AT)
            # utc_ms writes "YYYY-MM-DDTHH:MM:SS.mmmZ": compared as bytes, as time
            if at >= 0 and line[at + 13:at + 32] < horizon:
                return
            if _DECISION_EVENT not in line or not _names_one(line, wanted):
                continue
            # A line that is no JSON: a torn one, and a whole record glued behind it by a
            # writer before hlog23 (since, a torn tail is cut whole before the next append)
            # is kept, as every other reader keeps it (``_scan``, ``recover_line``).
            record = parse_line(line) or recover_line(line)
            if (record is None or record.get("event") != "decision"
                    or not known_schema(record)):
                continue  # torn, or not a record this reader knows
            found = str(record.get("decision_id")).encode()
            if found not in wanted:
                continue  # the id was the torn fragment's: nothing of it can be read
            wanted.discard(found)
            yield record
            if not wanted:
                return


def _names_one(line: bytes, wanted: set[bytes]) -> bool:
    """Whether a ``decision_id`` of the line (a glued line has two) is one of ``wanted``."""
    start = line.find(_DECISION_ID)
    while start >= 0:
        start += len(_DECISION_ID)
        if line[start:line.find(b'"', start)] in wanted:
            return True
        start = line.find(_DECISION_ID, start)
    return False


def _files_newest_first(path: Path, wanted: RecordFilter) -> Iterator[Iterator[bytes]]:
    """The lines of the current file, then of each closed segment not before ``since``,
    each newest first (``newest_first``'s walk, without parsing)."""
    try:
        with path.open("rb") as handle:
            yield lines_backward(handle, handle.seek(0, os.SEEK_END))
    except FileNotFoundError:
        pass
    for segment in reversed(closed_segments(path)):
        if segment.closed_at is not None and wanted.before_range(segment.closed_at):
            return
        current = readable(segment)
        if current is not None:
            yield current.lines_newest_first()


def oldest_first(path: Path, wanted: RecordFilter, stats: ReadStats, *,
                 current_end: int | None = None,
                 current: BinaryIO | None = None,
                 skip: Callable[[Segment], bool] | None = None,
                 vanished_raises: bool = False) -> Iterator[Record]:
    """Matching records, oldest first: closed segments (but those ``skip`` names), then
    the current file (up to ``current_end`` when given).

    The current file is opened before the segments are listed: opened after they were
    scanned, a rotation meanwhile renamed it into a segment not listed, and its records
    were in no answer (a rotation between renames the file held open into a listed
    segment, passed over there by its inode: read once, as the current file).
    ``vanished_raises``: a segment gone since it was listed raises FileNotFoundError (the
    report: archived under a manifest it did not read, its records were in no figure)
    instead of being passed over. ``current``: the current file as a follow holds it
    (`tail -f`), with ``current_end`` its size then: opened here again, a rotation in
    between made this the new file, read up to the old one's size, and the old one a
    segment read whole; the follow then showed the lines past ``current_end`` and the new
    file's first lines a second time."""
    try:
        held: BinaryIO | None = _held(path, current)
    except FileNotFoundError:
        held = None
    try:
        listed = closed_segments(path)
        # Which listed segment is the file held open, asked now: asked when the loop
        # reached it, it may have been compressed meanwhile (its .zst another inode), and
        # the file was read twice, its calls counted twice (review 61).
        mine = {s.path for s in listed if held is not None and _same_file(s.path, held)}
        for segment in listed:
            if skip is not None and skip(segment):
                continue
            if segment.closed_at is not None and wanted.before_range(segment.closed_at):
                continue
            if segment.path in mine:
                continue  # the file held open, rotated since: read below, once
            opened = readable(segment)
            if opened is None:
                if vanished_raises:
                    raise SegmentGoneError(f"{segment.path}: gone since it was listed")
                continue
            if _starts_after_range(opened, wanted):
                return
            yield from _scan(opened.lines(), wanted, stats)
        if held is not None:
            held.seek(0)  # a shared offset (``_held``): another reader may have moved it
            yield from _scan(lines_forward(held, end=current_end), wanted, stats)
    finally:
        if held is not None:
            held.close()


class SegmentGoneError(FileNotFoundError):
    """A closed segment listed and gone before it was read: archived and removed (a new
    manifest: ``read_through_commits`` reads again), or removed by a purge (no manifest
    changes: the reader lists the log again)."""


_T = TypeVar("_T")


def listed_again_if_purged(read: Callable[[], _T], attempts: int = 3) -> _T:
    """``read``, again on a segment purged between the listing and its read: `purge --yes`
    commits no manifest, so ``read_through_commits`` does not read again, and the report
    or the evidence exited 3. The log is listed anew; a few times at most, a purge has an
    end (review 61)."""
    for attempt in range(1, attempts + 1):
        try:
            return read()
        except SegmentGoneError:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def _held(path: Path, current: BinaryIO | None) -> BinaryIO:
    """The current file: ``current`` (its own descriptor, closed by the reader; a shared
    offset, which every reader seeks), or ``path`` opened now."""
    if current is None:
        return path.open("rb")
    return os.fdopen(os.dup(current.fileno()), "rb")


def _same_file(path: Path, handle: BinaryIO) -> bool:
    try:
        return os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return False


def read_files(path: Path) -> Iterator[Record]:
    """Every record of the log, oldest first (closed segments, then the current file)."""
    return oldest_first(path, RecordFilter(), ReadStats())


def follow_file(path: Path, handle: BinaryIO, offset: int, wanted: RecordFilter,
                stats: ReadStats, *, poll: float = 0.2,
                boundary: int | None = None,
                stop: Callable[[], bool] | None = None,
                known: set[datetime | None] | None = None) -> Iterator[Record]:
    """Records appended from ``offset`` on, as they come, across rotations.

    ``handle`` is the current file as it was when the follow started. When the writer
    renames it (the inode under ``path`` changes), the rest of the old file is read, then
    any segment closed in between (several rotations within one poll), then the new file.
    ``boundary``: where the line at ``offset`` began, as ``line_start`` found it when the
    follow's start was taken (found here when not given). ``stop``: asked at each poll;
    the follow ends (its file closed) once it says so. After a rotation the follow holds
    a file it opened itself, which closing ``handle`` does not end (hrev127: a supervisor
    page closed left its thread polling the new file, and that file open). ``known``: the
    segments closed before the follow's start (``closed_now``, taken with it); found when
    the follow is first iterated if not given — a segment closed between (a backlog read
    meanwhile) was then taken as old, its records passed over (hrev127).
    """
    # Where the line at ``offset`` began, known now (before the follow is iterated, a
    # writer may cut the torn tail ``offset`` lies in): a writer healing a torn tail cuts
    # the file back to there and writes on from it (hlog23: however long the tail).
    if boundary is None:
        boundary = line_start(handle, offset)
    return _follow(path, handle, offset, boundary, wanted, stats, poll, stop, known)


def follow_start(handle: BinaryIO, end: int) -> tuple[int, int]:
    """Where a follow of the file held open, ``end`` bytes long, starts: ``(boundary,
    offset)``. ``boundary`` is the start of its last line (``end`` when it ends in a
    newline): a backlog reads up to there, no further, so that what a writer does to a
    torn tail meanwhile is the follow's to see (hlog24). ``offset``: the boundary too
    when that line is short enough to be a record being written (its end then comes whole,
    and a heal's record glued to it is recovered), else ``end`` (a crash's torn tail,
    NUL blocks: not read into memory; a heal cuts back to the boundary)."""
    boundary = line_start(handle, end)
    return boundary, boundary if end - boundary <= LONG_LINE else end


def closed_now(path: Path, handle: BinaryIO) -> set[datetime | None]:
    """When the log's closed segments, but the file ``handle`` holds, were closed: a
    follow from ``handle`` reads none of them, and every segment closed later (the rest of
    a rotation it sees). Taken with the follow's start, before a backlog is read."""
    held = _fd_inode(handle)
    return {s.closed_at for s in closed_segments(path) if _inode(s) != held}


def _follow(path: Path, handle: BinaryIO, offset: int, boundary: int, wanted: RecordFilter,
            stats: ReadStats, poll: float,
            stop: Callable[[], bool] | None = None,
            known: set[datetime | None] | None = None) -> Iterator[Record]:
    known = closed_now(path, handle) if known is None else set(known)
    since = handle.seek(offset)
    pending = b""
    try:
        while True:
            pending, read = yield from _drain(handle, pending, wanted, stats)
            if (start := handle.tell() - len(pending)) > since:  # a newline was read
                boundary = since = start
            if read:
                continue
            time.sleep(poll)
            if stop is not None and stop():
                return
            if (os.fstat(handle.fileno()).st_size < handle.tell()  # cut: a torn tail healed
                    or _rewritten(handle, pending)):
                yield from _scan([pending] if pending else [], wanted, stats)
                pending = b""
                boundary = since = handle.seek(min(boundary, os.fstat(handle.fileno()).st_size))
                continue
            if not _rotated(path, handle):
                continue
            pending, _ = yield from _drain(handle, pending, wanted, stats)
            yield from _scan([pending] if pending else [], wanted, stats)  # a torn last line
            pending = b""
            drained = _fd_inode(handle)
            handle.close()
            opened = _wait_open(path, poll, stop)
            if opened is None:
                return  # stopped while the log had no current file
            handle = opened
            boundary = since = 0
            yield from _closed_between(path, known, drained, _fd_inode(handle), wanted, stats)
    finally:
        handle.close()


_MARK = 1 << 16  # bytes of an unfinished line compared with the file: a heal rewrites them
_TAIL_MARK = 64  # and, of a longer one, its last bytes


def _rewritten(handle: BinaryIO, pending: bytes) -> bool:
    """Whether the unfinished line ``pending`` is no longer what the file holds where it
    was read: a writer healed it (cut it, then wrote records in its place) and the file grew
    past the position meanwhile, so its size says nothing; read on from there, the new
    record's last bytes were glued to the fragment, one torn line, the record lost.

    Compared whole (a record is a few KB; one ``pread`` a poll): two decisions of one
    campaign and rule have the same layout, and a fragment cut past the varying fields
    has the same last bytes as the record healed in its place — the follow glued the
    fragment's head to its tail, a valid record under the fragment's id (hrev117). A
    longer one (a crash's torn tail): its first ``_MARK`` bytes, where a heal's records
    start, and its last bytes. A heal between this look and the next read, or one that
    writes the very bytes held, is not told apart: the line then read is the file's."""
    if not pending:
        return False
    fd, end = handle.fileno(), handle.tell()
    start = end - len(pending)
    if len(pending) <= _MARK:
        return os.pread(fd, len(pending), start) != pending
    return (os.pread(fd, _MARK, start) != pending[:_MARK]
            or os.pread(fd, _TAIL_MARK, end - _TAIL_MARK) != pending[-_TAIL_MARK:])


def line_start(handle: BinaryIO, offset: int) -> int:
    """The offset just after the last newline before ``offset`` (0 if none).

    Read with ``pread``: neither the handle's offset nor its buffer is touched. Read
    through the (buffered) handle before a backlog, a file grown since its size was taken
    left bytes past it in the read-ahead; the backlog moved the offset the handle shares
    (``_held``), the follow's seek fell inside that buffer (no lseek) and its next read
    went on from where the backlog had left the offset: records skipped (hrev117)."""
    position = offset
    while position > 0:
        size = min(BLOCK, position)
        position -= size
        cut = os.pread(handle.fileno(), size, position).rfind(b"\n")
        if cut >= 0:
            return position + cut + 1
    return 0


def _closed_between(path: Path, known: set[datetime | None], drained: int, held: int,
                    wanted: RecordFilter, stats: ReadStats) -> Iterator[Record]:
    """Records of segments closed after the one just drained and before the one now held.

    The drained file is known by its inode (or, compressed already, as the oldest new
    segment); the file now held may itself have been closed meanwhile: it is read
    through the handle, not here.
    """
    new = [s for s in closed_segments(path) if s.closed_at not in known]
    ours = next((s for s in new if _inode(s) == drained), new[0] if new else None)
    for segment in new:
        if segment is ours:
            known.add(segment.closed_at)
            continue
        if _inode(segment) == held:
            return
        known.add(segment.closed_at)
        current = readable(segment)
        if current is not None:
            yield from _scan(current.lines(), wanted, stats)


def _inode(segment: Segment) -> int | None:
    try:
        return None if segment.compressed else segment.path.stat().st_ino
    except FileNotFoundError:
        return None


def _fd_inode(handle: BinaryIO) -> int:
    return os.fstat(handle.fileno()).st_ino


def _drain(handle: BinaryIO, pending: bytes, wanted: RecordFilter,
           stats: ReadStats) -> Generator[Record, None, tuple[bytes, bool]]:
    """Records of the complete lines up to the end; returns the partial tail and whether
    anything was read."""
    read = False
    while chunk := handle.read(1 << 20):
        read = True
        *lines, pending = (pending + chunk).split(b"\n")
        yield from _scan(lines, wanted, stats)
    return pending, read


def _rotated(path: Path, handle: BinaryIO) -> bool:
    try:
        return os.stat(path).st_ino != os.fstat(handle.fileno()).st_ino
    except FileNotFoundError:
        return True


def _wait_open(path: Path, poll: float,
               stop: Callable[[], bool] | None = None) -> BinaryIO | None:
    while stop is None or not stop():
        try:
            return path.open("rb")
        except FileNotFoundError:
            time.sleep(poll)
    return None


def stream_id(instant: datetime) -> str:
    """The first stream id at or after the instant (ids are milliseconds since epoch)."""
    return f"{int(instant.timestamp() * 1000)}-0"


async def newest_id(client: aioredis.Redis, key: str) -> str:
    """The id of the stream's newest entry, or ``0-0`` when it is empty."""
    top: Any = await client.xrevrange(key, "+", "-", count=1)
    return _decode(top[0][0]) if top else "0-0"


async def read_stream(client: aioredis.Redis, key: str, *, since: datetime | None = None,
                      until: datetime | None = None, end: str | None = None,
                      batch: int = 1000) -> AsyncIterator[Record]:
    """Records of every node, oldest first, read a batch at a time (never the whole stream).

    ``end`` (an entry id, inclusive) bounds the range further, e.g. to where a follow starts.
    """
    async for entries in stream_pages(client, key, stream_id(since) if since else "-",
                                      _bound(until, end), batch=batch):
        for record in _entries(entries):
            yield record


async def stream_pages(client: aioredis.Redis, key: str, cursor: str, last: str = "+", *,
                       batch: int = 1000) -> AsyncGenerator[Any, None]:
    """The raw entries from id ``cursor`` to ``last`` (inclusive), oldest first, ``batch``
    a round trip: for a reader that looks at an entry's bytes before it parses them."""
    while True:
        entries: Any = await client.xrange(key, cursor, last, count=batch)
        if entries:
            yield entries
        if len(entries) < batch:
            return
        cursor = "(" + _decode(entries[-1][0])


async def read_stream_newest(client: aioredis.Redis, key: str, *,
                             since: datetime | None = None, until: datetime | None = None,
                             end: str | None = None, batch: int = 1000,
                             ) -> AsyncIterator[Record]:
    """The same range newest first, so ``tail -n N`` stops after N matches."""
    cursor = _bound(until, end)
    first = stream_id(since) if since else "-"
    while True:
        entries: Any = await client.xrevrange(key, cursor, first, count=batch)
        for record in _entries(entries):
            yield record
        if len(entries) < batch:
            return
        cursor = "(" + _decode(entries[-1][0])


async def follow_stream(client: aioredis.Redis, key: str, after: str) -> AsyncIterator[Record]:
    """Every record added after the entry id ``after``, as it arrives."""
    last_id = after
    while True:
        answer: Any = await client.xread({key: last_id}, block=1000, count=500)
        for _, entries in answer or []:
            if entries:
                last_id = _decode(entries[-1][0])
            for record in _entries(entries):
                yield record


def _bound(until: datetime | None, end: str | None) -> str:
    """The inclusive upper id: the smaller of ``until`` and ``end``."""
    bounds = [b for b in (stream_id(until) if until else None, end) if b is not None]
    if not bounds:
        return "+"
    return min(bounds, key=lambda b: tuple(int(part) for part in b.split("-")))


def _entries(entries: Any) -> Iterator[Record]:
    for _, fields in entries:
        record = parse_line(fields.get(b"r", b""))
        if record is not None:
            yield record


def _decode(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
