"""The Redis Stream fed from the node's own log file, from a durable cursor.

Before session 30 the stream sink sent the lines the writer handed it from memory: a record
made by a one-shot ``check`` while Redis was down, by a ``serve`` stopped while Redis was
down (``stream_unsent`` after 2 s), by a process that crashed, or dropped from a full queue,
was in the node's file alone, and the archiver (reading the stream) answered without it,
saying nothing (hoff26's two-node test).

Now, when the log is a file, the stream is fed FROM the file: one process per data dir (the
holder of ``<log>.stream.lock``, a non-blocking ``flock``; a ``serve`` retries it every
second) reads the log from its cursor — ``<log>.stream-cursor``: the segment (the current
file, or a closed one by its stamp) and the byte offset of the first line not yet confirmed
XADDed — sends the lines in pipelined batches, and moves the cursor on (written whole:
temporary file, fsync, rename, fsync of the directory; at most once a second while
sending, and when it catches up or stops). So on every start and after every Redis outage
the sender goes on from where the stream stopped, through rotated and compressed segments;
a one-shot ``check`` that cannot reach Redis leaves its records for the next ``serve`` or
``check`` on that data dir, and says where they are (``stream_unsent``: file and cursor).
Lines of another process on the same file (a ``check`` beside a ``serve``) are sent by the
holder, which looks at the file every half second.

A line is read only below the file's size taken under the log's lock (``sinks.exclusive``):
a batch being written, or rolled back, is never sent. A crash between an XADD and the
cursor's write sends up to a second of lines again on the next start: the archiver takes a
decision once (by decision id), and the readers of the stream count it once.

A segment the cursor names that was purged before it was sent: the cursor moves to the
next one and the gap is said (``stream_gap``: the segment, the offset, the node), as
``gaps``, and put on the stream in its place (a ``stream-gap`` entry: ``Gap.entry``, sent
with the lines after it or the cursor stays), so the archive host learns of it (hoff32);
so is a line longer than the read limit (1 MiB: damage), never sent, and a line that is no
record (not a JSON object: damage; a crash's run of NULs, or a torn last line with no
newline, is no record and is passed over unsaid; a whole record glued behind a torn
line or NULs is sent, as every file reader keeps it), never sent (hoff33, hrev163). A purge
rewriting the segment under the cursor (its old lines dropped, the offsets after them moved back) is
found by the inode the cursor keeps (another file there), and the cursor's ``tail`` (the
hash of the line before it) is looked for in it: the sender goes on after the first such
line in the new file, or sends the segment again from its start; nothing skipped (the tail
alone is no proof of place: a line need not be unique; hrev160). A
backlog sent without catching up past MAXLEN is said (``stream_backlog_over_maxlen``).
The first start on a data dir (no cursor) begins at the end of the log: what an
earlier version left unsent is not looked for (said once: ``stream_cursor_started``). A
cursor that cannot be read (``stream_cursor_unreadable``) sends the current file again
from its start.

All file IO runs in a thread (``asyncio.to_thread``): never on the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import hashlib
import os
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import orjson
import structlog
from redis import asyncio as aioredis
from redis.exceptions import RedisError

from callguard.compliance.reader import glued_tails
from callguard.compliance.seekable import SeekableError, frame_lines, read_seek_table
from callguard.compliance.segments import Segment, closed_segments
from callguard.compliance.sinks import exclusive
from callguard.stores.embedded.identity import write_atomically

__all__ = ["Cursor", "Gap", "LogStreamSender", "cursor_path", "load_cursor", "read_step",
           "save_cursor", "sender_lock_path"]

_log = structlog.get_logger("callguard.compliance")

_POLL_S = 0.5  # the holder looks at the file this often for another process's lines
_LOCK_RETRY_S = 1.0
_SAVE_EVERY_S = 1.0
_BATCH_LINES = 512
_BATCH_BYTES = 1 << 20
# The longest line sent: the read limit. A real record is a few KiB (a decision naming
# every shipped pack with its outcomes, or packs-loaded); a line past 1 MiB is damage,
# never sent, said and put on the stream as a gap (``oversize``).
_LINE_MAX = _BATCH_BYTES
# The cursor's tail: the line before it (its last 64 KiB), hashed; checked before a closed
# segment is read on, and looked for in it when a purge rewrote it (a record's line is
# unique: its logged_at, its decision id)
_TAIL = 1 << 16
_DECISION_ID = re.compile(rb'"decision_id":"([0-9a-f-]{36})"')


def cursor_path(log: Path) -> Path:
    """The cursor file beside the log."""
    return log.with_name(log.name + ".stream-cursor")


def sender_lock_path(log: Path) -> Path:
    """The lock only the sending process of a data dir holds."""
    return log.with_name(log.name + ".stream.lock")


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the first line not yet confirmed on the stream is.

    ``stamp``: the closed segment's instant, or None for the current file; then ``ino`` is
    the current file's inode when the cursor was taken (0: not known yet) and ``after`` the
    newest closed segment's instant then (a rotation since makes the first later one ours).
    In a closed segment ``ino`` is the inode of the file ``offset`` was read in (0: not
    known): a closed segment is never written again, so another inode there is another
    file (a purge's rewrite, a compression) whose offsets may have moved (hrev160).
    """

    stamp: datetime | None
    offset: int
    ino: int = 0
    after: datetime | None = None
    tail: str = ""  # the hash of the line before ``offset`` (``_last_line``; "": not known)

    def describe(self, log: Path) -> str:
        """The file and offset, for a message."""
        if self.stamp is None:
            return f"{log} from byte {self.offset}"
        return f"{log}.{self.stamp:%Y%m%dT%H%M%S%f}Z[.zst] from byte {self.offset}"


@dataclass(frozen=True, slots=True)
class Gap:
    """Records of the log the stream will not have: a segment purged (``purged``) or the
    current file gone (``gone``) before its lines were sent — from ``offset`` to its end
    (``end`` None: how far it went is not known) — or a line longer than the read limit
    (``oversize``) or one that is no record (``unreadable-line``: damage; not a crash's
    run of NULs) — ``offset`` to ``end``, and the decision id it names, if one is read."""

    segment: str
    offset: int
    end: int | None = None
    reason: str = "purged"
    decision_id: str = ""

    def entry(self, node: str, now: datetime | None = None) -> bytes:
        """The stream entry saying it (``event`` ``stream-gap``, schema 1:
        ``callguard/data/schemas/stream/stream-gap.json``)."""
        at = (now or datetime.now(UTC)).astimezone(UTC)
        record: dict[str, object] = {
            "schema": 1, "event": "stream-gap",
            "logged_at": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "node": node or socket.gethostname(), "segment": self.segment,
            "offset": self.offset, "reason": self.reason}
        if self.end is not None:
            record["end"] = self.end
        if self.decision_id:
            record["decision_id"] = self.decision_id
        return orjson.dumps(record)


def _hash(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _last_line(data: bytes) -> bytes:
    """The last line of ``data`` (with its newline), of at most its last ``_TAIL`` bytes."""
    data = data[-_TAIL:]
    return data[data.rfind(b"\n", 0, len(data) - 1) + 1:]


def _iso(instant: datetime | None) -> str | None:
    return None if instant is None else instant.isoformat()


def _instant(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    return datetime.fromisoformat(text).astimezone(UTC)


def _offset(value: object) -> int:
    offset: int = int(value)  # type: ignore[call-overload]
    if offset < 0:
        raise ValueError(f"offset {offset} before the file's start")
    return offset


def load_cursor(log: Path) -> Cursor | None:
    """The saved cursor, or None (none saved, or unreadable: said)."""
    try:
        data = orjson.loads(cursor_path(log).read_bytes())
        offset = _offset(data["offset"])
        return Cursor(stamp=_instant(data.get("stamp")), offset=offset,
                      ino=int(data.get("ino", 0)), after=_instant(data.get("after")),
                      tail=str(data.get("tail") or ""))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        _log.warning("stream_cursor_unreadable", path=str(cursor_path(log)), error=str(exc),
                     detail="the stream is fed again from the start of the current file "
                            "(the archiver keeps a decision once): lines of earlier segments "
                            "that were not sent are not looked for")
        return None


def save_cursor(log: Path, cursor: Cursor) -> None:
    """Write the cursor whole (``write_atomically``: temporary file, fsync, rename, fsync
    of the directory)."""
    body = orjson.dumps({"stamp": _iso(cursor.stamp), "offset": cursor.offset,
                         "ino": cursor.ino, "after": _iso(cursor.after),
                         "tail": cursor.tail})
    write_atomically(cursor_path(log), body.decode())


def _current(log: Path, ino: int | None = None) -> tuple[int, int, list[Segment]]:
    """The current file's inode and size (0, 0 when missing) and, unless the inode is
    ``ino`` (no rotation since: the usual step), the closed segments; all under the log's
    lock (held for a stat, and a listing only after a rotation): no batch half written or
    being rolled back, no rotation between."""
    with exclusive(log):
        try:
            st = os.stat(log)
            now, size = st.st_ino, st.st_size
        except FileNotFoundError:
            now, size = 0, 0
        return now, size, ([] if now == ino and now != 0 else closed_segments(log))


def start_cursor(log: Path) -> Cursor:
    """The end of the log now (a data dir with no cursor)."""
    ino, size, closed = _current(log)
    return Cursor(stamp=None, offset=size, ino=ino,
                  after=closed[-1].closed_at if closed else None)


def _keep(line: bytes) -> bool:
    """A record's line (not a torn tail: NULs a crash left, or half a line a writer healed
    with a newline): a JSON object."""
    if not line.startswith(b"{") or b"\x00" in line:
        return False
    try:
        return isinstance(orjson.loads(line), dict)
    except orjson.JSONDecodeError:
        return False


def _record_of(line: bytes) -> bytes | None:
    """The record a line holds: itself, or a whole one glued behind a torn line (a writer
    before hlog23) or behind a crash's NULs, as every file reader keeps it
    (``reader.recover_line``); None: no record. hoff33 said such a line a gap naming the
    torn record's id, and the glued one was on the stream nowhere (hrev163)."""
    if _keep(line):
        return line
    return next((tail for tail in glued_tails(line) if _keep(tail)), None)


def _records(lines: list[bytes]) -> list[bytes]:
    return [record for line in lines if (record := _record_of(line)) is not None]


_Read = tuple[list[bytes], int, str | None, Gap | None]


def _tail_at(fd: int, offset: int) -> str:
    """The cursor's tail at ``offset`` of a plain file: the line before it, hashed."""
    width = min(_TAIL, offset)
    return _hash(_last_line(os.pread(fd, width, offset - width)))


def _skip_line(handle: BinaryIO, offset: int, end: int | None) -> tuple[int, bool]:
    """The end of the line at ``offset`` (after its newline; else the file's end, or
    ``end``) read block by block, and whether it held anything but NULs (a crash's torn
    run: no record)."""
    handle.seek(offset)
    position, nuls = offset, True
    while end is None or position < end:
        block = handle.read(_BATCH_BYTES if end is None else min(_BATCH_BYTES, end - position))
        if not block:
            break
        cut = block.find(b"\n")
        piece = block if cut < 0 else block[:cut + 1]
        nuls = nuls and not piece.rstrip(b"\n").strip(b"\x00")
        position += len(piece)
        if cut >= 0:
            break
    return position, nuls


def _unreadable(line: bytes) -> bool:
    """A line that is no record yet holds something (not a crash's run of NULs, not
    empty): damage in the evidence, said as a gap, never passed over unsaid (hoff33)."""
    return bool(line.strip(b"\x00")) and _record_of(line) is None


def _damaged(path: Path, offset: int, end: int, head: bytes) -> Gap | None:
    """The gap for the line from ``offset`` to ``end`` that is not sent (``head``: its
    first bytes): longer than the read limit (``oversize``) or no record
    (``unreadable-line``); None for a torn run of NULs (no record was there)."""
    if not head.strip(b"\x00"):
        return None
    found = _DECISION_ID.search(head[:4096])
    reason = "oversize" if end - offset > _LINE_MAX else "unreadable-line"
    return Gap(path.name.removesuffix(".zst"), offset, end, reason,  # schema: no .zst
               found.group(1).decode() if found else "")


def _read_plain(path: Path, offset: int, end: int | None, ino: int = 0) -> _Read:
    """Whole lines from ``offset`` (up to ``end``), bounded; the offset after them, the
    cursor's tail there (None: nothing read) and a line too long to send (a gap). With
    ``ino``: nothing read (the same offset) unless the file opened is that inode — the
    current file rotated between the stat under the lock and this open (hrev148)."""
    with path.open("rb") as handle:
        if ino and os.fstat(handle.fileno()).st_ino != ino:
            return [], offset, None, None
        handle.seek(offset)
        want = _BATCH_BYTES if end is None else min(_BATCH_BYTES, end - offset)
        chunk = handle.read(max(want, 0))
        cut = chunk.rfind(b"\n")
        if cut < 0:
            if len(chunk) >= _LINE_MAX:  # a line past the read limit, or a torn run of NULs
                after, nuls = _skip_line(handle, offset, end)
                gap = None if nuls else _damaged(path, offset, after, chunk)
                return [], after, _tail_at(handle.fileno(), after), gap
            if end is None and chunk:  # a closed segment's last line with no newline
                # no record: a crash's torn write, never acknowledged, closed unhealed
                # (sinks.close_segment renames; LogFile._heal would have cut it): no gap,
                # as in the current file (hrev163)
                after = offset + len(chunk)
                return _records([chunk]), after, _tail_at(handle.fileno(), after), None
            return [], offset, None, None
        lines = chunk[:cut].split(b"\n")[:_BATCH_LINES]
        after = offset
        for index, line in enumerate(lines):
            if _unreadable(line):  # the lines before it first, then it alone: a gap
                if index:
                    break
                after += len(line) + 1
                return [], after, _tail_at(handle.fileno(), after), _damaged(
                    path, offset, after, line)
            after += len(line) + 1
        else:
            index = len(lines)
        return _records(lines[:index]), after, _tail_at(handle.fileno(), after), None


def _frames_from(path: Path, offset: int) -> Iterator[tuple[int, list[bytes]]]:
    """The frames of a compressed segment from the one holding the uncompressed
    ``offset`` on, each with the offset of its first line: the seek table names every
    frame's uncompressed size and a frame never splits a line, so the frames before are
    not decompressed (each step decompressed the segment from its start: a walk through
    it grew as the square of its size; hoff33, bench/bench_stream_cursor.py)."""
    with path.open("rb") as handle:
        try:
            table = read_seek_table(handle)
        except SeekableError as exc:
            raise SeekableError(f"{path}: {exc}") from None
        start = 0
        for index, size in enumerate(table.decompressed):
            if start + size > offset:
                yield start, frame_lines(handle, table, index)
            start += size


def _read_compressed(path: Path, offset: int) -> _Read:
    """Lines of a compressed segment from the uncompressed ``offset``, bounded (a line
    past the read limit, or one that is no record: a gap of its own)."""
    position = offset
    recent = b""
    lines: list[bytes] = []
    for start, frame in _frames_from(path, offset):
        position = start
        for line in frame:
            size = len(line) + 1
            if position >= offset:
                if size > _LINE_MAX or _unreadable(line):
                    if lines:  # the lines before it first
                        return _records(lines), position, _hash(recent), None
                    gap = _damaged(path, position, position + size, line)
                    return [], position + size, _hash((line + b"\n")[-_TAIL:]), gap
                lines.append(line)
            recent = (line + b"\n")[-_TAIL:]
            position += size
            if position > offset and len(lines) >= _BATCH_LINES:
                return _records(lines), position, _hash(recent), None
    if position <= offset:
        return [], offset, None, None
    return _records(lines), position, _hash(recent), None


def _segment_lines(segment: Segment) -> Iterator[tuple[int, bytes]]:
    """A closed segment's lines, uncompressed: each one's length with its newline (a
    plain segment's last may have none) and its last ``_TAIL`` bytes (what the cursor's
    tail hashes, ``_last_line``), read a block (or a frame) at a time: never the segment
    whole in memory (a 1 GB current file rotated is a documented case: issue 16)."""
    if segment.compressed:
        for _start, frame in _frames_from(segment.path, 0):
            for line in frame:
                yield len(line) + 1, (line + b"\n")[-_TAIL:]
        return
    with segment.path.open("rb") as handle:
        rest, held = b"", 0  # the open line's last bytes, and its length so far
        while block := handle.read(_BATCH_BYTES):
            start = 0
            while (cut := block.find(b"\n", start)) >= 0:
                end = cut + 1
                if held:  # the line began in an earlier block
                    yield held + end, (rest + block[:end])[-_TAIL:]
                    rest, held = b"", 0
                else:
                    yield end - start, block[max(start, end - _TAIL):end]
                start = end
            if start < len(block):
                rest, held = (rest + block[start:])[-_TAIL:], held + len(block) - start
        if held:
            yield held, rest


def _in_place(cursor: Cursor, ino: int) -> bool:
    """Whether the cursor's offset is in the file it was taken in (inode ``ino``): a
    closed segment is never written again, but a purge rewrites it without its old lines
    (purge.py ``_rewrite``: a new file renamed over it) and the offsets after them move
    back. The tail alone (the line before the offset) cannot say so: a record's line need
    not be unique (events of one kind in one millisecond carry no id), and an identical
    line could end at the old offset in the new file, the lines between skipped (hrev160)."""
    return cursor.offset == 0 or (cursor.ino != 0 and cursor.ino == ino)


def _found_again(segment: Segment, cursor: Cursor, ino: int) -> Cursor:
    """The cursor in another file of its segment (a purge's rewrite, a compression, or a
    cursor that names no inode): after the FIRST line equal to the one before it (never
    past its true place: a purge keeps or drops identical lines alike), else the
    segment's start (sent again: the archiver keeps a decision once; nothing skipped).
    Said when the offset moves."""
    offset = 0
    if cursor.tail:
        end = 0
        for size, last in _segment_lines(segment):
            end += size
            if _hash(last) == cursor.tail:
                offset = end  # (the last line with no newline too)
                break
    if offset != cursor.offset:
        _log.warning("stream_segment_rewritten", segment=segment.path.name,
                     was_offset=cursor.offset, now_offset=offset,
                     detail="the segment under the stream cursor is another file (a purge "
                            "rewrote it) or the cursor names no line to check (saved by an "
                            "earlier version): "
                            + ("the cursor's place was found in it; the sender goes on "
                               "from there" if offset else
                               "its place is not found: the segment is sent again from "
                               "its start (the archiver keeps a decision once)"))
    return replace(cursor, offset=offset, ino=ino, tail=cursor.tail if offset else "")


def _segment_at(closed: list[Segment], stamp: datetime) -> Segment | None:
    for segment in closed:
        if segment.closed_at == stamp:
            return segment
    return None


def read_step(log: Path, cursor: Cursor) -> tuple[list[bytes], Cursor, Gap | None]:
    """The next lines from ``cursor`` (at most a batch), the cursor after them, and what
    the stream will not have between (a gap). No lines, no gap and the same cursor: caught
    up. Runs in a thread (file IO)."""
    if cursor.stamp is not None:
        return _step_closed(log, cursor, cursor.stamp)
    return _step_current(log, cursor)


def _step_closed(log: Path, cursor: Cursor, stamp: datetime,
                 ) -> tuple[list[bytes], Cursor, Gap | None]:
    """A step in a closed segment: its lines, then the next segment (or the current file)."""
    closed = closed_segments(log)
    segment = _segment_at(closed, stamp)
    if segment is None:
        purged = Gap(f"{log.name}.{stamp:%Y%m%dT%H%M%S%f}Z", cursor.offset)
        return [], _next_after(log, closed, stamp), purged
    try:
        ino = os.stat(segment.path).st_ino
        if not _in_place(cursor, ino):
            return [], _found_again(segment, cursor, ino), None
        if segment.compressed:
            lines, offset, tail, gap = _read_compressed(segment.path, cursor.offset)
        else:
            lines, offset, tail, gap = _read_plain(segment.path, cursor.offset, None)
        if os.stat(segment.path).st_ino != ino:  # rewritten during the read: again
            return [], cursor, None
    except FileNotFoundError:  # compressed or purged between the listing and the read
        return [], cursor, None
    if offset == cursor.offset and not lines:  # its end: the next segment
        return [], _next_after(log, closed, stamp), None
    return lines, replace(cursor, offset=offset, ino=ino, tail=tail or cursor.tail), gap


def _step_current(log: Path, cursor: Cursor) -> tuple[list[bytes], Cursor, Gap | None]:
    """A step in the current file; after a rotation, onto the segment it became."""
    ino, size, closed = _current(log, cursor.ino)
    if ino == cursor.ino and size < cursor.offset:  # replaced, same inode: list them
        ino, size, closed = _current(log)
    if ino != cursor.ino or size < cursor.offset:
        later = [s for s in closed if cursor.after is None or (
            s.closed_at is not None and s.closed_at > cursor.after)]
        if later and later[0].closed_at is not None:
            # rotated since (or the file we waited for was made and rotated): that segment,
            # its tail checked there (purge closes the current file, then rewrites it)
            return [], Cursor(stamp=later[0].closed_at, offset=cursor.offset,
                              ino=cursor.ino, tail=cursor.tail), None
        gap: Gap | None = None
        if cursor.ino != 0 and cursor.offset > 0:  # the file went away, not rotated
            gap = Gap(log.name, cursor.offset, reason="gone")
        if ino == 0:
            return [], Cursor(stamp=None, offset=0, ino=0, after=cursor.after), gap
        return [], Cursor(stamp=None, offset=0, ino=ino, after=cursor.after), gap
    if size == cursor.offset:
        return [], cursor, None
    try:
        lines, offset, tail, gap = _read_plain(log, cursor.offset, size, ino)
    except FileNotFoundError:
        return [], cursor, None
    return lines, replace(cursor, offset=offset, tail=tail or cursor.tail), gap


def _next_after(log: Path, closed: list[Segment], stamp: datetime) -> Cursor:
    for segment in closed:
        if segment.closed_at is not None and segment.closed_at > stamp:
            return Cursor(stamp=segment.closed_at, offset=0)
    # the current file; its inode is taken under the lock on the next step
    return Cursor(stamp=None, offset=0, ino=0, after=stamp)


class LogStreamSender:
    """Feeds the Redis Stream from the node's log file (module docstring)."""

    def __init__(self, client: aioredis.Redis, *, log: Path, key: str, maxlen: int,
                 node: str = "") -> None:
        self._client = client
        self._log = log
        self._key = key
        self._maxlen = maxlen
        self._node = node
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._lock_fd = -1
        self.cursor: Cursor | None = None
        self.sent = 0
        self.dropped = 0  # nothing is dropped: the file holds every line until it is sent
        self.gaps: list[Gap] = []
        # the gap said whose entry Redis has not taken yet, and the cursor it was found
        # from: found again from there (a retry) it is the same loss, not said again
        self._held_gap: tuple[Cursor, Gap] | None = None
        self.holder = False  # this process is the data dir's sender
        self.unsent = False  # stopped with lines not sent
        self._down = False
        self._read_down = False
        self._backoff = 0.1
        self._backlog = 0  # lines sent since the stream was last caught up
        # No cursor saved yet (the first start on this data dir): the end of the log now,
        # taken before this process writes anything (at start-up, not on the loop)
        self._initial: Cursor | None = None if cursor_path(log).exists() else start_cursor(log)

    def write(self, line: bytes) -> None:
        """A line was appended to the file: look at it now (never blocks, never raises)."""
        del line
        self._wake.set()

    def start(self) -> None:
        """Start the sender on the running loop."""
        self._task = asyncio.create_task(self._run(), name="compliance-stream")

    def _take_lock(self) -> bool:
        if self._lock_fd < 0:
            try:
                self._lock_fd = os.open(sender_lock_path(self._log),
                                        os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                return False
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                return False
            raise
        return True

    async def _hold(self) -> bool:
        """Wait to be the data dir's sender; False when closing first (another process of
        this data dir sends: its job)."""
        while not self._take_lock():
            if self._closing:
                return False
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _LOCK_RETRY_S)
            self._wake.clear()
        self.holder = True
        return True

    async def _first_cursor(self) -> Cursor:
        """The saved cursor; else (saved and written now) the end of the log at this
        process's start on a new data dir, or the current file's start when unreadable."""
        loaded = await asyncio.to_thread(load_cursor, self._log)
        if loaded is not None:
            return loaded
        first = self._initial
        if first is None:  # saved once, unreadable now: the current file again (hrev148)
            first = replace(await asyncio.to_thread(start_cursor, self._log), offset=0)
        else:  # said once, when the cursor is first made (hrev148)
            _log.warning("stream_cursor_started", node=self._node,
                         sent_from=first.describe(self._log),
                         detail="no stream cursor on this data dir yet: the stream is fed "
                                "from here; lines before it an earlier version left unsent "
                                "are not looked for (archive --file this node's segments)")
        await asyncio.to_thread(save_cursor, self._log, first)
        return first

    async def _run(self) -> None:
        if not await self._hold():
            return
        loaded = await self._first_cursor()
        cursor: Cursor = loaded
        self.cursor = saved = cursor
        saved_at = time.monotonic()
        while True:
            self._wake.clear()
            try:
                lines, after, gap = await asyncio.to_thread(read_step, self._log, cursor)
            except Exception as exc:  # noqa: BLE001 - never stop sending for good
                if not await self._read_failed(exc, cursor):
                    self.unsent = True
                    return
                continue
            self._read_down = False
            entries = lines
            if gap is not None:  # on the stream in its place, or the cursor stays
                if self._held_gap != (cursor, gap):
                    self._said_gap(gap)
                    self._held_gap = (cursor, gap)
                entries = [gap.entry(self._node), *lines]
            if entries and not await self._deliver(entries, cursor):
                if self._closing:
                    self.unsent = True
                    return
                continue
            self._held_gap = None
            self._sent_lines(len(lines))
            self.cursor = cursor = after
            moved = after != saved
            if moved and (not lines or time.monotonic() - saved_at >= _SAVE_EVERY_S):
                await asyncio.to_thread(save_cursor, self._log, after)
                saved, saved_at = after, time.monotonic()
            if lines or moved:
                continue
            self._backlog = 0  # caught up
            if self._closing:
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), _POLL_S)

    async def _read_failed(self, exc: Exception, cursor: Cursor) -> bool:
        """A read of the log failed (IO error, a broken segment): said once until a read
        succeeds, tried again after a pause; False when closing (unsent, said by aclose)."""
        if not self._read_down:
            _log.error("stream_read_failed", error=repr(exc),
                       unsent_from=cursor.describe(self._log),
                       detail="the stream sender could not read the log: it tries again "
                              "every few seconds; records from here are not on the stream")
        self._read_down = True
        if self._closing:
            return False
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), min(self._backoff * 10, 5.0))
        return True

    def _said_gap(self, gap: Gap) -> None:
        """Said and counted: each loss once. Found again from the same cursor while Redis
        is down is the same loss (``_held_gap``); an equal gap found later is another loss
        (the current file gone again at the same offset): before hoff33 ``gap in gaps``
        took it for the first and neither said nor counted it."""
        self.gaps.append(gap)
        if gap.reason == "oversize":
            detail = (f"a line of {(gap.end or gap.offset) - gap.offset} bytes, longer "
                      f"than the {_LINE_MAX} the stream takes (a record is a few KiB: the "
                      "file is damaged there), is not sent: it is in the node's file alone")
        elif gap.reason == "unreadable-line":
            detail = (f"a line of {(gap.end or gap.offset) - gap.offset} bytes that is no "
                      "record (not a JSON object: the file is damaged there) is not sent: "
                      "it is in the node's file alone")
        else:
            detail = ("the segment was gone (purged, or the file removed) before its lines "
                      "were sent to the stream: the archive has no records of it from the "
                      "stream")
        _log.warning("stream_gap", node=self._node, segment=gap.segment, offset=gap.offset,
                     end=gap.end, reason=gap.reason, decision_id=gap.decision_id or None,
                     detail=detail + "; a stream-gap entry says so on the stream")

    def _sent_lines(self, count: int) -> None:
        """Count lines sent; a backlog (sent without catching up) past the stream's MAXLEN
        is said once: the approximate trim of each XADD may take entries of it no archiver
        read (the archiver counts those lost: ``archive.ingest._trimmed_undelivered``)."""
        self.sent += count
        before, self._backlog = self._backlog, self._backlog + count
        if before <= self._maxlen < self._backlog:
            _log.warning("stream_backlog_over_maxlen", node=self._node, key=self._key,
                         backlog_sent=self._backlog, maxlen=self._maxlen,
                         detail="more lines were sent without catching up than the stream "
                                "keeps ([log] stream_maxlen): entries no archiver read may "
                                "have been trimmed; `callguard archive` counts them lost; "
                                "archive this node's log with `callguard archive --file`, "
                                "or raise stream_maxlen")

    async def _deliver(self, lines: list[bytes], cursor: Cursor) -> bool:
        """Send a batch; False (said once an outage, then a pause growing to 5 s) when
        Redis did not take it."""
        try:
            await self._send(lines)
        except (RedisError, OSError) as exc:
            if self._closing:
                return False
            if not self._down:
                _log.warning("stream_unavailable", error=str(exc),
                             unsent_from=cursor.describe(self._log),
                             retry_seconds=self._backoff)
            self._down = True
            await asyncio.sleep(self._backoff)
            self._backoff = min(self._backoff * 2, 5.0)
            return False
        if self._down:
            _log.info("stream_available", resent_from=cursor.describe(self._log))
        self._down = False
        self._backoff = 0.1
        return True

    async def _send(self, lines: list[bytes]) -> None:
        async with self._client.pipeline(transaction=False) as pipe:
            for line in lines:
                pipe.xadd(self._key, {"r": line}, maxlen=self._maxlen, approximate=True)
            await pipe.execute()

    async def aclose(self, timeout: float = 2.0) -> None:
        """Send up to the end of the file (bounded by ``timeout``), save the cursor, stop."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self.unsent = True
        if self.unsent:
            where = self.cursor.describe(self._log) if self.cursor else str(self._log)
            _log.warning("stream_unsent", unsent_from=where,
                         detail="these records are in this node's log file and not on the "
                                "stream yet: the next callguard serve (or check) on this "
                                "data dir sends them, from the cursor in "
                                f"{cursor_path(self._log)}")
        self._task = None
        if self.holder and self.cursor is not None:
            with contextlib.suppress(OSError):
                await asyncio.to_thread(save_cursor, self._log, self.cursor)
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1
        await self._client.aclose()
