"""Archiving: closed log segments (one node) or the Redis Stream (every node) into the archive.

``callguard archive`` runs this in its own process (cron or a systemd timer; niced, one
DuckDB thread), never inside a node that decides calls. For a node's files it first
compresses closed segments (``compress.py``), then archives each one not yet archived and
commits the manifest naming the new parts and the segment; for the stream it reads with
a consumer group (``XREADGROUP``), commits the parts and the last entry id, then
acknowledges. A crash between commit and acknowledgement redelivers entries the archive
already holds: they are skipped by id, and deduplication by decision id covers the rest.

Lines that are not JSON (torn by a crash) never enter the archive; a complete record
glued behind a torn fragment is recovered. Both are counted; a stream entry of that kind
is kept in the quarantine, as a refused one (harc33).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import orjson

from callguard.compliance.archive.columns import DECISIONS, EVENTS, Table, columns_of, row_of
from callguard.compliance.archive.store import Archive, Manifest, Part, StreamGap, connect
from callguard.compliance.archive.stream_group import GROUP
from callguard.compliance.archive.stream_group import entry_key as _id_key
from callguard.compliance.archive.stream_group import text as _text
from callguard.compliance.compress import compress_segment
from callguard.compliance.counts_guard import counts_guard
from callguard.compliance.purge import maintenance
from callguard.compliance.reader import Record, known_schema, parse_line, recover_line
from callguard.compliance.segments import Segment, closed_segments, fsync_path

if TYPE_CHECKING:
    from redis import asyncio as aioredis

__all__ = ["ArchiveRun", "Batch", "archive_files", "archive_stream", "compact",
           "compact_months"]

FLUSH_ROWS = 200_000  # rows held in memory before they are written as parts


@dataclass(slots=True)
class ArchiveRun:
    """What one run did."""

    compressed: int = 0
    segments: int = 0
    stream_entries: int = 0
    decisions: int = 0
    events: int = 0
    torn: int = 0
    recovered: int = 0
    refused: int = 0  # unknown schema, or no readable logged_at: left where they are
    stream_lost: int = 0  # trimmed from the stream (MAXLEN, purge) before being archived
    stream_lost_is_lower_bound: bool = False  # the server could not say how many: at least
    compacted_days: int = 0
    segments_held: int = 0  # due for deletion, kept: they prove counts not yet in the store
    month_files: int = 0  # months of days rewritten as one file per table
    node_gaps: int = 0  # new ``stream-gap`` entries: a node's log lines the stream lacks
    parts: int = 0
    notes: list[str] = field(default_factory=list)


class Batch:
    """Rows collected for the archive, written a few hundred thousand at a time."""

    def __init__(self, archive: Archive, connection: duckdb.DuckDBPyConnection,
                 run: ArchiveRun) -> None:
        self.archive = archive
        self.connection = connection
        self.run = run
        self.parts: list[Part] = []
        self._rows: dict[str, list[dict[str, Any]]] = {"decisions": [], "events": []}
        self._days: dict[str, list[str]] = {"decisions": [], "events": []}
        # the lines of records refused, when the caller keeps them (the stream's quarantine)
        self.refused_lines: list[bytes] | None = None
        # ``stream-gap`` records (a node's loss, hoff32), when the caller counts them into
        # the manifest's gaps (the stream: harc33); archived as events all the same
        self.node_gaps: list[Record] | None = None

    def add_line(self, line: bytes) -> None:
        """One line of a segment (or one stream entry)."""
        if not line.strip():
            return
        record = parse_line(line)
        if record is None:
            self.run.torn += 1
            record = recover_line(line)
            if record is None:
                # a stream entry whose record does not parse (torn, damaged): kept in the
                # quarantine and said as refused, as every other entry not archived — it
                # was acknowledged with no trace before (harc33). A segment's torn line
                # stays in its segment (refused_lines None): counted only.
                if self.refused_lines is not None:
                    self.refused_lines.append(line.strip())
                return
            self.run.recovered += 1
        if not self.add(record) and self.refused_lines is not None:
            self.refused_lines.append(line.strip())

    def add(self, record: Record) -> bool:
        """One parsed record; False when it is refused (not archived)."""
        if not known_schema(record):
            self.run.refused += 1
            return False
        placed = row_of(record)
        if placed is None:
            self.run.refused += 1
            return False
        table, row, logged = placed
        if self.node_gaps is not None and record.get("event") == "stream-gap":
            self.node_gaps.append(record)
        self._rows[table.name].append(row)
        self._days[table.name].append(logged.date().isoformat())
        if table is DECISIONS:
            self.run.decisions += 1
        else:
            self.run.events += 1
        if len(self._rows[table.name]) >= FLUSH_ROWS:
            self._flush(table)
        return True

    def _flush(self, table: Table) -> None:
        rows, days = self._rows[table.name], self._days[table.name]
        if rows:
            self.parts.extend(self.archive.write_rows(self.connection, table,
                                                      columns_of(rows, table), days))
        self._rows[table.name], self._days[table.name] = [], []

    def finish(self) -> list[Part]:
        """Write what is held; the parts written since the last ``finish``."""
        for table in (DECISIONS, EVENTS):
            self._flush(table)
        parts, self.parts = self.parts, []
        self.run.parts += len(parts)
        return parts


def archive_files(archive: Archive, log: Path, *, threads: int = 1,
                  compact_before: date | None = None,
                  keep_segments: timedelta | None = None,
                  months_before: date | None = None,
                  counts_store: Path | None = None,
                  boot: Callable[[], str | None] | None = None) -> ArchiveRun:
    """Compress and archive the closed segments of the log at ``log``; compact old days
    (and, with ``months_before``, the months that ended before it: ``compact_months``).
    ``counts_store``: the node's ``frequency.sqlite3``, whose write-back may need a segment
    due for deletion (``counts_guard.py``; ``boot``: this boot's id, for tests)."""
    run = ArchiveRun()
    with maintenance(log):
        for segment in closed_segments(log):
            if not segment.compressed:
                compress_segment(segment)
                run.compressed += 1
        with archive.writing() as manifest:
            connection = connect(threads)
            batch = Batch(archive, connection, run)
            for segment in closed_segments(log):
                name = str(segment.plain)
                if name in manifest.segments:
                    continue
                count, refused = run.decisions + run.events, run.refused
                for line in segment.lines():
                    batch.add_line(line)
                manifest.parts.extend(batch.finish())
                manifest.segments[name] = run.decisions + run.events - count
                if run.refused > refused:  # kept and read as unarchived (Manifest.refused)
                    manifest.refused[name] = run.refused - refused
                archive.commit(manifest)
                run.segments += 1
            _compact_run(archive, manifest, connection, run, compact_before, months_before)
            if keep_segments is not None:
                _drop_archived_segments(log, manifest, keep_segments, archive, run,
                                        counts_store, boot)
    return run


def _compact_run(archive: Archive, manifest: Manifest, connection: duckdb.DuckDBPyConnection,
                 run: ArchiveRun, compact_before: date | None,
                 months_before: date | None) -> None:
    """The days before ``compact_before`` (default yesterday), then the months."""
    run.compacted_days += compact(archive, manifest, connection,
                                  before=compact_before or _yesterday())
    if months_before is not None:
        run.month_files += compact_months(archive, manifest, connection, before=months_before)


def _yesterday() -> date:
    return datetime.now(UTC).date() - timedelta(days=1)


def compact(archive: Archive, manifest: Manifest, connection: duckdb.DuckDBPyConnection,
            *, before: date) -> int:
    """Compact every day before ``before`` that has parts not yet compacted (a day a
    month file holds: that month is rewritten with them); return how many days (a day
    whose decisions and other records are both compacted is one day)."""
    done: set[str] = set()
    for table in (DECISIONS, EVENTS):
        days = sorted({p.day for p in manifest.files(table.name, compacted=False)
                       if p.day < before.isoformat()})
        if table is DECISIONS and days:
            # The number table first (committed): the days' files refer to its ids.
            archive.add_numbers(connection, manifest, [
                p for p in manifest.files(table.name) if p.day in days and not p.until])
        held = {d: m for m in manifest.files(table.name) if m.until for d in m.days}
        for day in [d for d in days if d not in held]:
            parts = [p for p in manifest.parts if p.table == table.name and p.day == day
                     and not p.until]
            _replace(archive, manifest, parts,
                     archive.compact_day(connection, table, parts))
            done.add(day)
        # Days a month file holds: that month is rewritten once with all of them.
        late: dict[str, list[str]] = {}
        for day in days:
            if day in held:
                late.setdefault(held[day].file, []).append(day)
        for file, month_days in late.items():
            parts = [p for p in manifest.parts if p.table == table.name and (
                p.file == file or (p.day in month_days and not p.until))]
            _replace(archive, manifest, parts,
                     archive.compact_month(connection, table, parts))
            done.update(month_days)
    return len(done)


def compact_months(archive: Archive, manifest: Manifest,
                   connection: duckdb.DuckDBPyConnection, *, before: date) -> int:
    """Rewrite the compacted days of every UTC month that ended before ``before`` as one
    file per table (store.py, "Month files"); the archive's oldest month stays in days
    (purge takes it a day at a time). Returns the month files written."""
    done = 0
    for table in (DECISIONS, EVENTS):
        held = [d for p in manifest.files(table.name) for d in p.held()]
        if not held:
            continue
        oldest = min(held)[:7]
        by_month: dict[str, list[Part]] = {}
        for part in manifest.files(table.name):
            by_month.setdefault(part.day[:7], []).append(part)
        for month, parts in sorted(by_month.items()):
            if month == oldest or _month_end(month) >= before or (
                    len(parts) == 1 and parts[0].until) or not all(
                    p.compacted for p in parts):
                continue
            if table is DECISIONS:  # days compacted before the number table hold hashes
                archive.add_numbers(connection, manifest, parts)
            _replace(archive, manifest, parts,
                     archive.compact_month(connection, table, parts))
            done += 1
    return done


def _replace(archive: Archive, manifest: Manifest, parts: list[Part], merged: Part) -> None:
    """Commit ``merged`` in place of ``parts`` (its file already durable), then remove
    theirs."""
    manifest.parts = [p for p in manifest.parts if p not in parts] + [merged]
    archive.commit(manifest)
    archive.delete_files(parts)


def _month_end(month: str) -> date:
    first = date.fromisoformat(month + "-01")
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def _drop_archived_segments(log: Path, manifest: Manifest, keep: timedelta,
                            archive: Archive, run: ArchiveRun, counts_store: Path | None,
                            boot: Callable[[], str | None] | None) -> None:
    """Remove closed segments archived and older than ``keep`` (the archive holds them),
    except those the call-frequency store's write-back may still read (``counts_guard``)."""
    limit = datetime.now(UTC) - keep
    due = [s for s in closed_segments(log) if str(s.plain) in manifest.segments
           and s.closed_at is not None and s.closed_at < limit]
    guard = counts_guard(log, counts_store, boot=boot) if due else None
    unread = [s for s in due if str(s.plain) in manifest.refused]
    if unread:
        # Deleted, its records of a newer schema were gone with no word: `tail` had said
        # "not read, upgrade callguard" (exit 1) until then, and every reader was silent
        # after. Kept: readers read it as unarchived and say so; purge destroys it in time.
        run.notes.append(
            f"{len(unread)} archived segment(s) kept past --keep-segments-days: they hold "
            f"{sum(manifest.refused[str(s.plain)] for s in unread)} record(s) this callguard "
            "could not archive (a schema it does not know, or no readable logged_at); "
            "evidence, report and tail read them there (upgrade callguard to read them)")
    for segment in due:
        if segment in unread:
            continue
        if guard is not None and guard.holds(segment):
            run.segments_held += 1
            continue
        segment.path.unlink(missing_ok=True)
        del manifest.segments[str(segment.plain)]
    archive.commit(manifest)
    if guard is not None and run.segments_held:
        run.notes.append(guard.note(run.segments_held, "archived segment(s) due for "
                                    "deletion (--keep-segments-days)"))


def unarchived_segments(log: Path, manifest: Manifest) -> list[Segment]:
    """Closed segments the archive does not hold yet (read live by queries), and those
    holding records it could not archive (``Manifest.refused``: the rest of their records
    are read twice, and counted once)."""
    return [s for s in closed_segments(log) if str(s.plain) not in manifest.segments
            or str(s.plain) in manifest.refused]


async def archive_stream(archive: Archive, client: aioredis.Redis, key: str, *,
                         threads: int = 1, count: int = 50_000,
                         compact_before: date | None = None,
                         months_before: date | None = None) -> ArchiveRun:
    """Archive every stream entry not yet acknowledged by the archivers' group.

    What it cannot archive is kept in the manifest (``StreamGap``), committed before the
    entries are acknowledged, so `report` and `evidence` here say it after the run's log
    is gone: entries trimmed before they were committed (``lost``), and entries refused
    (a newer schema: their lines kept in the quarantine file, ``refused``). A pending entry
    trimmed before it was committed is left pending (never acknowledged): the group then
    tells every other host (`report` on an officer's) that it was not archived."""
    run = ArchiveRun()
    created = await _make_group(client, key, run.notes)
    consumer = socket.gethostname()
    with archive.writing() as manifest:
        connection = connect(threads)
        batch = Batch(archive, connection, run)
        gaps = _Gaps(archive, manifest, key)
        done = manifest.stream.get(key, "0-0")
        if created and done != "0-0":
            run.notes.append(
                f"the consumer group {GROUP} of {key} was gone (the stream emptied: FLUSHALL, "
                f"Redis restarted without its AOF, or the key deleted) though this archive "
                f"read it up to {done}; what the nodes wrote after that and before the loss "
                "is not in the archive. Each node's log file still holds its records: "
                "archive them with `callguard archive --file`")
        lost, taken, deleted = await _take_over(client, key, consumer, done, run.notes,
                                                 manifest.stream_gaps)
        run.stream_lost += lost
        gaps.lost(deleted, lost, exact=True)
        for first in ("0", ">"):  # first what was delivered and never acknowledged
            start = first
            while True:
                if first == ">":  # before reading: what was trimmed unread since
                    trimmed, exact, between = await _trimmed_undelivered(client, key)
                    run.stream_lost_is_lower_bound |= not exact
                    run.stream_lost += trimmed
                    if trimmed or (not exact and between):
                        gaps.lost(between, trimmed, exact=exact)
                answer: Any = await client.xreadgroup(GROUP, consumer, {key: start},
                                                      count=count)
                entries = answer[0][1] if answer else []
                if not entries:
                    break
                ids = [_text(entry_id) for entry_id, _ in entries]
                kept, refused, node_gaps = _add_entries(batch, entries, done, taken)
                manifest.parts.extend(batch.finish())
                new_lost = [i for i in kept if _after(i, done) or i in taken]
                gaps.lost(new_lost, len(new_lost), exact=True)
                gaps.refused(refused, batch.refused_lines)
                run.node_gaps += gaps.node(node_gaps)
                done = max([done, *ids], key=_id_key)
                manifest.stream[key] = done
                archive.commit(manifest)  # the parts, the gaps, then the acknowledgement
                # a set: a read of 50,000 pending entries found lost took 50,000 list scans
                # (quadratic, every run: they stay pending; hrev147)
                held = set(kept)
                acked = [i for i in ids if i not in held]
                if acked:
                    await client.xack(key, GROUP, *acked)
                if first == "0":
                    start = ids[-1]  # the next pending entries after these
        if gaps.changed:
            archive.commit(manifest)
        batch.refused_lines = None
        _compact_run(archive, manifest, connection, run, compact_before, months_before)
    _stream_notes(run, key, gaps.quarantine_name, gaps.quarantined)
    return run


def _add_entries(batch: Batch, entries: list[Any], done: str, taken: set[str],
                 ) -> tuple[list[str], list[str], list[tuple[str, Record]]]:
    """Add a read's entries to ``batch``; ``(kept, refused, node_gaps)``: the ids of entries
    trimmed while pending (no fields: never acknowledged, counted lost when after
    ``done``), of those refused (their lines in ``batch.refused_lines``), and the
    ``stream-gap`` records with their entry's id (a node's loss: counted into the
    manifest's gaps, harc33)."""
    kept: list[str] = []
    refused: list[str] = []
    node_gaps: list[tuple[str, Record]] = []
    batch.refused_lines = []
    batch.node_gaps = []
    for entry_id, fields in entries:
        this = _text(entry_id)
        if not _after(this, done) and this not in taken:
            if not fields:  # left pending when found lost (a run before)
                kept.append(this)
            continue  # committed before a crash, not acknowledged
        if not fields:  # pending, then trimmed: delivered, never committed
            batch.run.stream_lost += 1
            kept.append(this)
            continue
        before = len(batch.refused_lines)
        if b"r" not in fields:  # an entry of a kind this callguard does not know (a newer
            # node's marker): quarantined and said, never acknowledged unsaid (harc32)
            batch.run.refused += 1
            batch.refused_lines.append(orjson.dumps(
                {_field(k): _field(v) for k, v in fields.items()}))
        else:
            seen = len(batch.node_gaps)
            batch.add_line(fields[b"r"])
            node_gaps += [(this, r) for r in batch.node_gaps[seen:]]
        if len(batch.refused_lines) > before:
            refused.append(this)
        batch.run.stream_entries += 1
    batch.node_gaps = None
    return kept, refused, node_gaps


def _field(value: object) -> str:
    """A field of an entry of unknown kind as text for the quarantine: bytes not UTF-8
    escaped (``\\xff``), kept and said, not an error that stops every run at the entry."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    return str(value)


async def _make_group(client: aioredis.Redis, key: str, notes: list[str]) -> bool:
    """Create the archivers' group (True) unless it is there. ``ENTRIESREAD 0``: it has
    read none of the entries ever added, so Redis counts its lag from the first entry
    ever added — without it (Redis >= 7.0 given only the id 0), a group made on a stream
    already trimmed gets an estimate that takes every trimmed entry as read, and `report`
    on another host read those entries, never archived, as archived (hrev139, harc30).
    A Redis before 7.0 has no ENTRIESREAD (nor counts at all): the group is made without,
    and said."""
    from redis.exceptions import ResponseError  # noqa: PLC0415 - Redis only here

    try:
        await client.xgroup_create(key, GROUP, id="0", mkstream=True, entries_read=0)
    except ResponseError as exc:
        if "BUSYGROUP" in str(exc):
            return False
        said = str(exc).lower()  # Redis < 7.0: a syntax or arity error (not seen here:
        if not any(w in said for w in ("syntax", "entriesread", "wrong number",  # 7.0.15)
                                       "unknown subcommand")):
            raise
        try:
            await client.xgroup_create(key, GROUP, id="0", mkstream=True)
        except ResponseError as again:
            if "BUSYGROUP" in str(again):
                return False
            raise
        notes.append(f"the consumer group {GROUP} of {key} was made without ENTRIESREAD "
                     f"(this Redis refused it: {exc}; it needs Redis 7.0): Redis cannot count "
                     "the entries trimmed before the group read them, so other hosts cannot "
                     "tell a trim of what was archived from a loss")
    return True


class _Gaps:
    """This run's ``StreamGap`` records in the manifest (one lost, one refused), widened
    as the run goes, and the quarantine file of refused lines."""

    def __init__(self, archive: Archive, manifest: Manifest, key: str) -> None:
        self.archive, self.manifest, self.key = archive, manifest, key
        self.noted = datetime.now(UTC).isoformat(timespec="seconds")
        self.made: dict[str, StreamGap] = {}
        self.changed = False
        self.quarantined = 0  # entries whose lines this run put in the quarantine
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in key)
        self.quarantine_name = f"quarantine/stream-{safe}.jsonl"

    def _gap(self, kind: str, ids: list[str]) -> StreamGap:
        gap = self.made.get(kind)
        low, high = min(ids, key=_id_key), max(ids, key=_id_key)
        if gap is None:
            gap = StreamGap(key=self.key, kind=kind, entries=0, after=low, until=high,
                            noted=self.noted,
                            file=self.quarantine_name if kind == "refused" else "")
            self.made[kind] = gap
            self.manifest.stream_gaps.append(gap)
        gap.after = min(gap.after, low, key=_id_key)
        gap.until = max(gap.until, high, key=_id_key)
        self.changed = True
        return gap

    def lost(self, ids: list[str], count: int, *, exact: bool) -> None:
        """``count`` entries lost, with these ids (or two ids they lie between)."""
        if not ids or (not count and exact):
            return
        gap = self._gap("lost", ids)
        gap.entries += count
        gap.at_least |= not exact

    def node(self, found: list[tuple[str, Record]]) -> int:
        """A node's ``stream-gap`` entries (their id, their record) as gaps of kind ``node``;
        one already in the manifest (the same node, segment, offset and reason: a sender
        re-sends its entry after a crash, with a new logged_at) is not counted again.
        Returns how many were new."""
        known = {g.ident for g in self.manifest.stream_gaps}
        new = 0
        for entry_id, record in found:
            end = record.get("end")
            gap = StreamGap(key=self.key, kind="node", entries=1, after=entry_id,
                            until=entry_id, noted=self.noted,
                            node=str(record.get("node", "")),
                            segment=str(record.get("segment", "")),
                            offset=_int(record.get("offset")),
                            end=_int(end) if end is not None else None,
                            reason=str(record.get("reason", "")),
                            decision_id=str(record.get("decision_id", "")),
                            found=str(record.get("logged_at", "")))
            if gap.ident in known:
                continue
            known.add(gap.ident)
            self.manifest.stream_gaps.append(gap)
            self.changed = True
            new += 1
        return new

    def refused(self, ids: list[str], lines: list[bytes] | None) -> None:
        """Entries refused: their lines appended to the quarantine file, durably."""
        if not ids or not lines:
            return
        path = self.archive.root / self.quarantine_name
        # 0700: under umask 022 mkdir made it 0755, listable by every local user; one an
        # earlier callguard made so is narrowed (hrev159)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.chmod(0o700)
        held = set(path.read_bytes().splitlines()) if path.exists() else set()
        fresh = [line for line in dict.fromkeys(lines) if line not in held]
        # 0600 like the archive's manifest and lock (store.py): the lines hold records
        # (number hashes, campaigns); a file made 0644 by an earlier callguard is narrowed
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "ab") as handle:
            handle.write(b"".join(line + b"\n" for line in fresh))
            handle.flush()
            os.fsync(handle.fileno())
        fsync_path(path.parent)
        fsync_path(self.archive.root)
        self._gap("refused", ids).entries += len(ids)
        self.quarantined += len(ids)


def _int(value: object) -> int:
    """A byte offset of a ``stream-gap`` entry (an integer by its schema; 0 otherwise, and
    the entry is archived as it came all the same)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _stream_notes(run: ArchiveRun, key: str, quarantine: str, quarantined: int) -> None:
    """What the run could not archive from the stream, said on its notes (and kept in the
    manifest: ``StreamGap``); ``quarantined``: the entries whose lines went to the
    quarantine (refused, or a record that does not parse)."""
    if run.stream_lost or run.stream_lost_is_lower_bound:
        run.notes.append(_lost_note(run, key))
    if run.node_gaps:  # each kept in the manifest: archive --gaps, report, evidence
        run.notes.append(f"{run.node_gaps} stream-gap entr(y/ies) on {key}: a node could "
                         "not send records of its log to the stream (purged, gone, or a line "
                         "over 1 MiB); they are not in the archive. `callguard archive "
                         "--gaps` names each node, file and byte range")
    unparsed = quarantined - run.refused
    torn = f", or a record that does not parse ({unparsed}: torn)" if unparsed > 0 else ""
    if quarantined:  # kept in the quarantine file, said by report and evidence here
        run.notes.append(f"{quarantined} stream entr(y/ies) of {key} were not archived: a "
                         "schema this callguard does not know (a newer node's), no "
                         "readable logged_at"
                         f"{torn}"
                         "; their lines are kept in the archive's "
                         f"{quarantine}, and report and evidence here say so. Each node's "
                         "log file still holds its records: upgrade callguard, and keep "
                         "those files until their records are archived "
                         "(`callguard archive --file`)")


def _lost_note(run: ArchiveRun, key: str) -> str:
    """What the run says of entries trimmed before they were archived."""
    if run.stream_lost_is_lower_bound:
        said = (f"at least {run.stream_lost} stream entr(y/ies) of {key} were trimmed (the "
                "stream's MAXLEN, or a purge) before they were archived, maybe more: Redis "
                "cannot say how many the archivers' group never read (its lag is unknown "
                "after an XDEL, or for a group made on a stream already trimmed); what is "
                "missing is not in the archive")
    else:
        said = (f"{run.stream_lost} stream entr(y/ies) of {key} were trimmed (the stream's "
                "MAXLEN, or a purge) before they were archived; they are not in the archive")
    return (f"{said}. Each node's log file still holds its records: archive them with "
            "`callguard archive --file`, and raise [log] stream_maxlen or archive more often")


# An entry another archiver took this long ago and never acknowledged is taken over: its
# archiver is gone (killed, or its container recreated under a new hostname).
STALE_MS = 600_000


async def _take_over(client: aioredis.Redis, key: str, consumer: str, done: str,
                     notes: list[str], gaps: list[StreamGap],
                     ) -> tuple[int, set[str], list[str]]:
    """Claim the group's entries pending too long for another consumer name (they would
    stay pending for a name no archiver uses again, never archived), and name any other
    archiver that reads the group now (each archive would hold only part of the stream).
    Return how many of those entries had been trimmed meanwhile (not archived), and the ids
    claimed: archived whatever the archive's last id (another archiver may have read them
    before this one read later ones; a row archived twice is deduplicated); and the ids of
    those lost.

    Only entries still in the stream are claimed, one owner at a time (XPENDING ... IDLE,
    then XCLAIM): XAUTOCLAIM takes every consumer's entries, this archiver's own too, and
    Redis >= 7.0 drops from the group's pending list those no longer in the stream
    (t_stream.c, ``xautoclaimCommand``; ``xclaimCommand`` likewise). The archiver's own
    lost entries, left pending so that other hosts tell they were never archived (harc30),
    were dropped by the first run more than ``STALE_MS`` after the last, and an officer's
    `report` then read them as archived (harc32). A trimmed entry is left pending for its
    owner, and counted lost once (after ``done``, and in no lost gap yet)."""
    consumers: Any = await client.xinfo_consumers(key, GROUP)
    owners = []
    for other in consumers:
        name = _text(other.get("name"))
        if name == consumer:
            continue
        if int(other.get("pending", 0)):
            owners.append(name)
        idle = int(other.get("idle", 0))
        if idle < STALE_MS:
            notes.append(f"another archiver, {name!r}, read {key} {idle // 1000} s ago: "
                         "the consumer group shares the entries out, so each archive holds "
                         "only part of the stream; run one archiver")
    if not owners:
        return 0, set(), []
    taken: set[str] = set()
    claimed = lost = 0
    gone: list[str] = []
    for owner in owners:
        stale = await _stale_ids(client, key, owner)
        present = await _present(client, key, stale)
        here = [i for i in stale if i in present]
        moved: set[str] = set()
        if here:  # moved to this consumer: read back by XREADGROUP 0, archived
            answer: Any = await client.xclaim(key, GROUP, consumer, STALE_MS,
                                              list[Any](here), justid=True)
            moved = {_text(i) for i in answer}
            taken.update(moved)
        # trimmed (before, or between the XRANGE and the XCLAIM: dropped by it); not moved
        # but still in the stream is not lost: another archiver claimed it meanwhile (its
        # idle time reset: XCLAIM's min-idle-time skips it), or its owner acknowledged it
        trimmed = [i for i in stale if i not in moved]
        if len(trimmed) > len(stale) - len(here):
            still = await _present(client, key, trimmed)
            trimmed = [i for i in trimmed if i not in still]
        fresh = [i for i in trimmed if _after(i, done) and not _in_lost_gap(gaps, key, i)]
        lost += len(fresh)
        gone += fresh
        claimed += len(moved) + len(fresh)
    if claimed:
        notes.append(f"took over {claimed} entr(y/ies) of {key} left pending by "
                     f"{', '.join(repr(o) for o in owners)} for more than "
                     f"{STALE_MS // 60_000} min (an archiver killed, or renamed by a new "
                     "hostname)")
    return lost, taken, gone


async def _stale_ids(client: aioredis.Redis, key: str, owner: str) -> list[str]:
    """The ids ``owner`` has held pending longer than ``STALE_MS`` (XPENDING ... IDLE)."""
    ids: list[str] = []
    low = "-"
    while True:
        page: Any = await client.xpending_range(key, GROUP, min=low, max="+", count=1000,
                                                consumername=owner, idle=STALE_MS)
        ids += [_text(p["message_id"]) for p in page]
        if len(page) < 1000:
            return ids
        low = f"({ids[-1]}"


async def _present(client: aioredis.Redis, key: str, ids: list[str]) -> set[str]:
    """Those of ``ids`` still in the stream (XRANGE id id, one pipeline)."""
    if not ids:
        return set()
    pipe = client.pipeline(transaction=False)
    for entry_id in ids:
        pipe.xrange(key, entry_id, entry_id, count=1)
    found: list[Any] = await pipe.execute()
    return {i for i, answer in zip(ids, found, strict=True) if answer}


def _in_lost_gap(gaps: list[StreamGap], key: str, entry_id: str) -> bool:
    """Whether a ``lost`` gap of this key already spans ``entry_id`` (counted by a run
    before: a trimmed entry left pending is seen by every run)."""
    at = _id_key(entry_id)
    return any(g.key == key and g.kind == "lost" and _id_key(g.after) <= at <= _id_key(g.until)
               for g in gaps)


async def _trimmed_undelivered(client: aioredis.Redis, key: str,
                               ) -> tuple[int, bool, list[str]]:
    """How many entries after the group's last delivered one were trimmed before it read
    them, and whether that is exact (else: at least that many). Trimming takes the oldest
    first, so there is a gap only when the stream's first entry is past the last delivered
    one; then every entry still there is undelivered, and the group's lag (entries added
    since its last read) minus the stream's length is what went unread — or, for a group
    that read nothing yet, every entry ever added but gone. Redis knows the lag only while
    it counts the group's reads (``entries-read``): after an XDEL past the group (or before
    Redis 7.0) it has none, or only an estimate that counts every trimmed entry as read; then
    what it says is a lower bound. Third: the two ids they lie between (the group's last
    delivered one and the stream's first), when some may be gone."""
    stream: Any = await client.xinfo_stream(key)
    groups: Any = await client.xinfo_groups(key)
    group = next((g for g in groups if _text(g.get("name")) == GROUP), None)
    first = stream.get("recorded-first-entry-id") or (stream.get("first-entry") or [None])[0]
    if group is None or first is None:
        return 0, True, []
    delivered = _text(group.get("last-delivered-id") or "0-0")
    if not _after(_text(first), delivered):
        return 0, True, []
    between = [delivered, _text(first)]
    length, added, lag = int(stream.get("length", 0)), stream.get("entries-added"), group.get(
        "lag")
    if delivered == "0-0" and added is not None:  # read nothing: every entry gone is unread
        return max(0, int(added) - length), True, between
    trimmed = 0 if lag is None else max(0, int(lag) - length)
    return trimmed, lag is not None and group.get("entries-read") is not None, between


def _after(entry_id: str, done: str) -> bool:
    return _id_key(entry_id) > _id_key(done)


def records_of(lines: Iterable[bytes]) -> Iterable[Record]:
    """Parsed records of lines (torn ones recovered when they can be)."""
    for line in lines:
        record = parse_line(line) or recover_line(line)
        if record is not None:
            yield record
