"""Everything callguard knows about one number (or one decision): the document for counsel.

Reads the archive (DuckDB over the days in range: the number's id is looked up in the
number table first, and a compacted day or month file is sorted by that id, so a lookup
reads one row group per file) and what is not archived yet: closed segments the manifest
does not name, the current file, and the stream entries after the archived position
(``stream_tail``, when the node writes the stream) — those are scanned as bytes for the
hash or the decision ids, and only matching lines are parsed.

For a number: every decision for it, every later record of those calls (line release,
violation risk, caller ID), and every record change (consent, EBR, company DNC) for it;
each decision carries the record changes for its seller logged before it: the records as
they stood, as far as the log shows them.

A decision another one withdrew (the later one names it: ``withdraws``) is shown withdrawn
(``Evidence.withdrawn_by``). Both hold the same number, so a number finds both; one
decision finds the other too: the decision that withdrew it (logged right after it, so on
its day or the next), or the one it withdrew.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import orjson

from callguard.compliance.archive.columns import DECISIONS, EVENTS, record_of
from callguard.compliance.archive.ingest import unarchived_segments
from callguard.compliance.archive.store import (
    Archive,
    Lookup,
    Manifest,
    connect,
    fetch_rows,
    union_view,
)
from callguard.compliance.fields import is_decision_id
from callguard.compliance.reader import (
    Record,
    SegmentGoneError,
    known_schema,
    logged_at,
    parse_line,
    recover_line,
)
from callguard.compliance.segments import Segment, lines_forward, readable
from callguard.front_names import DIALLING_FRONTS

if TYPE_CHECKING:
    import duckdb
    import redis

__all__ = ["Evidence", "LiveLines", "add_standing", "gather", "stream_tail"]

_ID = b'"decision_id":"'
_WITHDRAWS = b'"withdraws":"'
_KEY = b'"key_id":"'
_PACKS_LOADED = b'"event":"packs-loaded"'
_PURGE = b'"event":"purge"'
_ADOPTED = b'"event":"store-adopted"'
# Lines kept while looking for decisions by id: the decision a match withdrew was recorded
# just before it (the same FastAGI session; other sessions' records may come between).
_RECENT = 512
_MAX_SPANS = 64  # separate day ranges read for packs-loaded records; more: their whole span


@dataclass(slots=True)
class LiveLines:
    """Not-yet-archived lines to search, and where they came from."""

    sources: list[str] = field(default_factory=list)
    batches: list[Iterable[bytes]] = field(default_factory=list)

    def add(self, name: str, lines: Iterable[bytes]) -> None:
        """One file (or the stream's tail)."""
        self.sources.append(name)
        self.batches.append(lines)

    @classmethod
    def of_log(cls, log: Path | None, archive: Archive) -> LiveLines:
        """The log's closed segments the archive does not hold, and its current file."""
        live = cls()
        if log is None:
            return live
        # The current file is opened before the segments are listed: a rotation between
        # renames the file held open into a listed segment (read twice, its records are
        # one: ``_identity``), never into one unlisted and unread.
        try:
            current: BinaryIO | None = log.open("rb")
        except FileNotFoundError:
            current = None
        for segment in unarchived_segments(log, archive.manifest()):
            live.add(str(segment.path), _lines_now(segment))
        if current is not None:
            live.add(str(log), _held_lines(current))
        return live


def _held_lines(handle: BinaryIO) -> Iterator[bytes]:
    with handle:
        yield from lines_forward(handle)


def _lines_now(segment: Segment) -> Iterator[bytes]:
    """A closed segment's lines where it is when read: compressed since it was listed, the
    ``.zst``; archived and removed since, SegmentGoneError (``read_through_commits`` reads
    again under the new manifest; purged, ``listed_again_if_purged`` lists the log anew)."""
    now = readable(segment)
    if now is None:
        raise SegmentGoneError(f"{segment.path}: gone since it was listed")
    yield from now.lines()


def stream_tail(client: redis.Redis, key: str, after: str,
                batch: int = 10_000) -> Iterator[bytes]:
    """The stream's entries after ``after`` (the archive's position in it), as lines:
    the records of every node that the archive does not hold yet. Read a batch at a
    time while the lines are scanned (the stream may hold a million entries)."""
    cursor = "-" if after in ("0", "0-0") else "(" + after
    while True:
        entries: Any = client.xrange(key, cursor, "+", count=batch)
        for _, fields in entries:
            yield fields.get(b"r", b"")
        if len(entries) < batch:
            return
        last = entries[-1][0]
        cursor = "(" + (last.decode() if isinstance(last, bytes) else str(last))


@dataclass(slots=True)
class Evidence:
    """The answer, and what it rests on."""

    decisions: list[Record] = field(default_factory=list)
    events: list[Record] = field(default_factory=list)
    archive_days: int = 0
    live_sources: list[str] = field(default_factory=list)
    key_ids: set[str] = field(default_factory=set)  # of every record read in range
    unreadable: int = 0  # torn lines met in the live part
    refused: int = 0  # records of a schema this version does not know
    withdrawals: dict[str, str] = field(default_factory=dict)  # withdrawn id -> by which
    # Every record change of the decisions' numbers, whatever the range asked
    # (``add_standing``); None: ``events`` holds them all (a number, no range).
    standing: list[Record] | None = None
    # ``callguard purge`` runs that destroyed records, whatever the range: a number whose
    # calls were purged is not a number never called (the answer says which cutoff).
    purges: list[Record] = field(default_factory=list)
    # The record store accepted anew (``store-adopted``) up to the range's end: what was on
    # record before it may be missing from the store the decisions after it read.
    adoptions: list[Record] = field(default_factory=list)

    def purged_within(self, first: datetime | None) -> Record | None:
        """The purge whose cutoff reaches furthest into the range starting at ``first``
        (None: the range has no start), or None when no purge destroyed records in it."""
        reaching = [(cutoff, p) for p in self.purges if (cutoff := _cutoff(p)) is not None
                    and (first is None or cutoff > first)]
        return max(reaching, key=lambda pair: pair[0])[1] if reaching else None

    def find_withdrawals(self) -> None:
        """Note which decisions withdrew which (``withdraws``), once they are all read."""
        self.withdrawals = {str(d["withdraws"]): str(d["decision_id"]) for d in self.decisions
                            if d.get("withdraws") and "decision_id" in d}

    def timeline(self) -> list[Record]:
        """Decisions and other records in time order."""
        return sorted([*self.decisions, *self.events], key=_when)

    def packs_loaded_before(self, decision: Record) -> Record | None:
        """The decision's node's latest packs-loaded record before it: the packs the call
        was judged under, those out of its scope (not named in the decision) included."""
        return _latest_loaded(self.events, decision)

    def withdrawn_by(self, decision: Record) -> str | None:
        """The id of the decision that withdrew this one (``withdraws``), or None."""
        wanted = decision.get("decision_id")
        return self.withdrawals.get(wanted) if isinstance(wanted, str) else None

    def records_before(self, decision: Record) -> list[Record]:
        """Record changes for the decision's seller logged before it (records as they stood),
        and for the call centre that made the call (the decision's ``telemarketer``: a
        request on its do-not-call list blocked the call as the seller's did).

        From ``standing`` when it was read: a consent given before ``--from``, or the
        number's records when one decision was asked for (``--decision``), stood all
        the same; the range says which decisions are listed, not what was in force."""
        when = _when(decision)
        changes = self.events if self.standing is None else self.standing
        whose = [w for w in (decision.get("solicitor"), decision.get("telemarketer"))
                 if isinstance(w, str)]
        return [e for e in changes if e.get("event") == "record"
                and e.get("solicitor") in whose and _when(e) < when]


def _cutoff(purge: Record) -> datetime | None:
    text = purge.get("cutoff")
    try:
        return datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        return None


def _destroyed(record: Record) -> bool:
    """A purge record of a run that destroyed at least one record."""
    removed = record.get("removed")
    return (record.get("event") == "purge" and record.get("destroyed") is not False
            and not record.get("dry_run") and isinstance(removed, dict)
            and any(isinstance(n, int) and n > 0 for n in removed.values()))


def _when(record: Record) -> str:
    instant = logged_at(record)
    return instant.isoformat() if instant else ""


def gather(archive: Archive, live: LiveLines, *, number_hash: str | None = None,
           decision_id: str | None = None, first: datetime | None = None,
           last: datetime | None = None) -> Evidence:
    """Every record for the number (or the decision) between ``first`` and ``last``."""
    evidence = Evidence()
    manifest = archive.manifest()
    # The keys of the records logged around the range: a lookup with another key says so.
    evidence.key_ids |= manifest.key_ids(
        first=first.date() - timedelta(days=2) if first else None,
        last=last.date() + timedelta(days=2) if last else None)
    # Every day is read, whatever the range: the archive's days are the days records were
    # logged, and a call is dated by its instant, which an HTTP check may set a month or
    # a year away from when it was asked. Reading the range's days (two more each side)
    # found such a decision in no range: "none", exit 0, for a decision that was made.
    # The lookup reads one row group per file (the number table first), as without a range.
    days: tuple[date | None, date | None] = (None, None)
    evidence.archive_days = len(manifest.days())
    connection = connect(threads=2)
    events_sql = union_view(archive, manifest, EVENTS, first=days[0], last=days[1])
    found, events = [], []
    if number_hash is not None:
        # The fast path: the number's id(s) in the number table, then the rows of
        # those ids (one row group per day), besides the days still holding hashes.
        lookup = Lookup(number_hash=number_hash,
                        number_ids=tuple(archive.number_ids(connection, manifest,
                                                            number_hash)))
        found = fetch_rows(connection, union_view(archive, manifest, DECISIONS,
                                                  first=days[0], last=days[1],
                                                  lookup=lookup), DECISIONS)
    elif decision_id is not None and is_decision_id(decision_id):
        lookup = Lookup(decision_id=decision_id)
        lookup = Lookup(decision_id=decision_id, hashes=archive.decision_numbers(
            connection, manifest, lookup, first=days[0], last=days[1]))
        found = fetch_rows(connection, union_view(archive, manifest, DECISIONS,
                                                  first=days[0], last=days[1],
                                                  lookup=lookup), DECISIONS)
    decisions = [record_of(DECISIONS, row) for row in found]
    if decision_id is not None:
        decisions += _withdrawal_of(connection, archive, manifest, decisions)
    ids = {d["decision_id"] for d in decisions if "decision_id" in d}
    if decision_id is not None:
        ids.add(decision_id)
    # One scan of the events for the number's record changes and the calls' later records
    # (each scan of every day's file costs ~0.2 s over five years of days).
    listed = ", ".join(f"'{i}'" for i in sorted(ids) if is_decision_id(i))
    # Purge runs too: in that scan when it reads every row group anyway (decision ids
    # listed), else apart, by `event` alone. ORed with `number_hash = ?` alone, it made the
    # lookup of a number without decisions read every row group of every file, not the one
    # the sort on number_hash prunes to (~15x, a 400k-row file: 2 ms -> 34 ms; apart +9 ms).
    wanted = [*(["number_hash = ?"] if number_hash is not None else []),
              *([f"decision_id IN ({listed})", "event = 'purge'"] if listed else [])]
    if wanted:
        events = fetch_rows(connection, events_sql, EVENTS, f"WHERE {' OR '.join(wanted)}",
                            [bytes.fromhex(number_hash)] if number_hash is not None else [])
    if not listed:
        events = [*events, *fetch_rows(connection, events_sql, EVENTS,
                                       "WHERE event = 'purge'")]
    events = [*events, *fetch_rows(connection, events_sql, EVENTS,
                                   "WHERE event = 'store-adopted'")]
    records = {_identity(r): r for r in [*decisions,
                                         *(record_of(EVENTS, row) for row in events)]}
    loaded: list[Record] = []
    _search_live(live, number_hash, ids, records, evidence, loaded)
    for record in records.values():
        if record.get("event") == "purge":  # said whatever the range; never a call's record
            if _destroyed(record):
                evidence.purges.append(record)
            continue
        if record.get("event") == "store-adopted":  # a caveat of the range, not a call's
            if last is None or (logged_at(record) or last) <= last:
                evidence.adoptions.append(record)
            continue
        if not _in_range(record, first, last):
            continue
        (evidence.decisions if record.get("event") == "decision" else evidence.events
         ).append(record)
    evidence.events.extend(_packs_loaded_for(
        evidence.decisions, loaded, lambda near: [record_of(EVENTS, row) for row in fetch_rows(
            connection, near(archive, manifest), EVENTS, "WHERE event = 'packs-loaded'")]))
    evidence.decisions.sort(key=_when)
    evidence.find_withdrawals()
    evidence.events.sort(key=_when)
    evidence.adoptions.sort(key=_when)
    evidence.live_sources = live.sources
    return evidence


def add_standing(evidence: Evidence, archive: Archive, live: LiveLines) -> None:
    """Read every record change (consent, EBR, company DNC) of the numbers of the
    decisions found, over the whole archive and the unarchived lines, into
    ``evidence.standing``: the records as they stood before each decision, whatever range
    was asked. ``live`` is read anew (the gather consumed its own)."""
    hashes = sorted({h for d in evidence.decisions
                     if isinstance(h := d.get("number_hash"), str) and len(h) == 64})
    standing: dict[str, Record] = {}
    if hashes:
        connection = connect(threads=2)
        manifest = archive.manifest()
        marks = ", ".join("?" for _ in hashes)
        rows = fetch_rows(connection, union_view(archive, manifest, EVENTS), EVENTS,
                          f"WHERE event = 'record' AND number_hash IN ({marks})",
                          [bytes.fromhex(h) for h in hashes])
        for row in rows:
            record = record_of(EVENTS, row)
            standing[_identity(record)] = record
        needles = [h.encode() for h in hashes]
        for lines in live.batches:
            for line in lines:
                if not any(n in line for n in needles):
                    continue
                change = parse_line(line) or recover_line(line)
                if change is not None and change.get("event") == "record" and (
                        change.get("number_hash") in hashes):
                    standing[_identity(change)] = change
    evidence.standing = sorted(standing.values(), key=_when)


def _withdrawal_of(connection: duckdb.DuckDBPyConnection, archive: Archive, manifest: Manifest,
                   decisions: list[Record]) -> list[Record]:
    """The archived decision that withdrew each of ``decisions`` (logged right after it: its
    day or the next), and the one each withdrew (its day or the day before)."""
    out: list[Record] = []
    for decision in decisions:
        day = _day(decision)
        wanted = decision.get("decision_id")
        if day is None or not isinstance(wanted, str) or not is_decision_id(wanted):
            continue
        near = union_view(archive, manifest, DECISIONS, first=day,
                          last=day + timedelta(days=1), numbers=True)
        out += [record_of(DECISIONS, row) for row in fetch_rows(
            connection, near, DECISIONS, "WHERE contains(body, ?)",
            [f'"withdraws":"{wanted}"'])]
        target = decision.get("withdraws")
        if isinstance(target, str) and is_decision_id(target):
            before = (day - timedelta(days=1), day)
            lookup = Lookup(decision_id=target)
            lookup = Lookup(decision_id=target, hashes=archive.decision_numbers(
                connection, manifest, lookup, first=before[0], last=before[1]))
            out += [record_of(DECISIONS, row) for row in fetch_rows(
                connection, union_view(archive, manifest, DECISIONS, first=before[0],
                                       last=before[1], lookup=lookup), DECISIONS)]
    return out


# (the days to read, as SQL over the archive) -> the packs-loaded records of those days
_ReadLoaded = Callable[[Callable[[Archive, Manifest], str]], list[Record]]


def _packs_loaded_for(decisions: list[Record], live: list[Record],
                      read: _ReadLoaded) -> list[Record]:
    """For each decision, its node's latest packs-loaded record logged before it (once
    each): the packs the call was judged under, those out of its scope included.

    A serving node writes one at start and one each UTC day, so it is found on the
    decision's day or the day before: only those days are read (every archived day costs
    a file opened, ~0.2 s over five years). A decision not matched there (a log older
    than packs-loaded records) is looked for in every archived day before it.
    """
    days = sorted({d for decision in decisions if (d := _day(decision)) is not None})
    near = read(lambda archive, manifest: _days_view(archive, manifest, days)) if days else []
    unique = list({_identity(r): r for r in [*live, *near]}.values())
    chosen: dict[str, Record] = {}
    missing: list[Record] = []
    for decision in decisions:
        latest = _latest_loaded(unique, decision)
        day = _day(decision)
        # Only one from the days read for this decision is known to be the latest.
        if latest is None or day is None or (_day(latest) or day) < day - timedelta(days=1):
            missing.append(decision)
        else:
            chosen[_identity(latest)] = latest
    if missing:
        last = max((d for m in missing if (d := _day(m)) is not None), default=None)
        unique += read(lambda archive, manifest: union_view(archive, manifest, EVENTS,
                                                            first=None, last=last))
        for decision in missing:
            latest = _latest_loaded(unique, decision)
            if latest is not None:
                chosen[_identity(latest)] = latest
    return list(chosen.values())


def _day(record: Record) -> date | None:
    instant = logged_at(record)
    return instant.date() if instant else None


def _days_view(archive: Archive, manifest: Manifest, days: list[date]) -> str:
    """The events of each day given and the day before it, as one SQL relation."""
    spans: list[list[date]] = []
    for day in days:
        if spans and day - timedelta(days=1) <= spans[-1][1] + timedelta(days=1):
            spans[-1][1] = max(spans[-1][1], day)
        else:
            spans.append([day - timedelta(days=1), day])
    if len(spans) > _MAX_SPANS:  # a number called on many days: one range, one read
        spans = [[spans[0][0], spans[-1][1]]]
    return " UNION ALL BY NAME ".join(
        f"({union_view(archive, manifest, EVENTS, first=a, last=b)})" for a, b in spans)


def _latest_loaded(records: Iterable[Record], decision: Record) -> Record | None:
    """The latest packs-loaded record among ``records`` of the decision's node logged
    before it."""
    when, node = _when(decision), decision.get("node")
    before = [r for r in records if r.get("event") == "packs-loaded"
              and r.get("node") == node and _when(r) <= when]
    return max(before, key=_when) if before else None


def _identity(record: Record) -> str:
    if record.get("event") == "decision" and "decision_id" in record:
        return "d:" + str(record["decision_id"])
    return "e:" + orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode()


def _in_range(record: Record, first: datetime | None, last: datetime | None) -> bool:
    """A call by its instant, anything else (a scrub, `check --at`) by when it was made —
    as `report` dates it, and as the archive's days are cut."""
    text = record.get("at") if (record.get("event") == "decision"
                                and record.get("front") in DIALLING_FRONTS) else None
    instant = None
    if isinstance(text, str):
        try:
            instant = datetime.fromisoformat(text)
        except ValueError:
            instant = None
    instant = instant or logged_at(record)
    if instant is None:
        return first is None and last is None
    return (first is None or instant >= first) and (last is None or instant < last)


def _search_live(live: LiveLines, number_hash: str | None, ids: set[str],
                 records: dict[str, Record], evidence: Evidence,
                 loaded: list[Record]) -> None:
    """Scan not-yet-archived lines as bytes; parse only the ones that can match (and
    every packs-loaded record, into ``loaded``). Looking for decisions by id, the lines
    just before a match are kept (``_RECENT``): a match that withdrew an earlier decision
    finds it there (it was recorded right before)."""
    needle = number_hash.encode() if number_hash else None
    wanted = {i.encode() for i in ids}
    recent: deque[tuple[bytes, bytes]] = deque(maxlen=_RECENT)
    for lines in live.batches:
        for line in lines:
            key_at = line.find(_KEY)
            if key_at >= 0:
                evidence.key_ids.add(line[key_at + len(_KEY):key_at + len(_KEY) + 8].decode(
                    "ascii", "replace"))
            hit = needle is not None and needle in line
            if not hit:
                hit, named = _names_wanted(line, wanted)
                if not hit and named and needle is None:
                    recent.append((named, line))
            if not hit:
                _keep_side_record(line, loaded, records)
                continue
            record = _readable_record(line, evidence)
            if record is None:
                continue
            if needle is not None and record.get("number_hash") != number_hash and (
                    record.get("decision_id") not in ids
                    and record.get("withdraws") not in ids):
                continue
            earlier = _withdrawn_before(record, recent, evidence) if needle is None else None
            for found in (record, earlier):
                if found is None:
                    continue
                if found.get("event") == "decision" and "decision_id" in found:
                    ids.add(str(found["decision_id"]))
                    wanted.add(str(found["decision_id"]).encode())
                records[_identity(found)] = found


def _keep_side_record(line: bytes, loaded: list[Record], records: dict[str, Record]) -> None:
    """A line of no wanted call that the answer still needs: the packs a node loaded (into
    ``loaded``), and a purge run (into ``records``: said whatever the range)."""
    if _PACKS_LOADED not in line and _PURGE not in line and _ADOPTED not in line:
        return
    record = parse_line(line)
    if record is None:
        return
    if record.get("event") == "packs-loaded":
        loaded.append(record)
    elif record.get("event") in ("purge", "store-adopted"):
        records[_identity(record)] = record


def _names_wanted(line: bytes, wanted: set[bytes]) -> tuple[bool, bytes]:
    """Whether the line's decision id, or the one it withdrew, is wanted; and its id."""
    at = line.find(_ID)
    named = line[at + len(_ID):at + len(_ID) + 36] if at >= 0 else b""
    if named in wanted:
        return True, named
    at = line.find(_WITHDRAWS)
    return at >= 0 and line[at + len(_WITHDRAWS):at + len(_WITHDRAWS) + 36] in wanted, named


def _withdrawn_before(record: Record, recent: Iterable[tuple[bytes, bytes]],
                      evidence: Evidence) -> Record | None:
    """The decision ``record`` withdrew, among the lines read just before it, or None."""
    withdrew = record.get("withdraws")
    if not isinstance(withdrew, str):
        return None
    earlier = next((line for named, line in recent if named == withdrew.encode()), None)
    return None if earlier is None else _readable_record(earlier, evidence)


def _readable_record(line: bytes, evidence: Evidence) -> Record | None:
    """The record of a matching line: a torn one recovered (counted), one of an unknown
    schema refused (counted)."""
    record = parse_line(line)
    if record is None:
        evidence.unreadable += 1
        record = recover_line(line)
        if record is None:
            return None
    if not known_schema(record):
        evidence.refused += 1
        return None
    return record


def summary(evidence: Evidence) -> dict[str, Any]:
    """Counts for a header."""
    return {"decisions": len(evidence.decisions), "events": len(evidence.events),
            "archive_days": evidence.archive_days, "live_sources": evidence.live_sources}
