# ruff: noqa: S608 - SQL text is made of the archive's own names and relations; values
# a user gives (zone, instants, campaign, ...) go as parameters.
"""The compliance report: what a supervisor and a compliance officer ask of the log.

Computed by DuckDB over the archive (the days in range only) and the records not yet
archived: decisions by day (UTC or a named zone) x campaign x verdict x deciding rule,
calls apart from scrubs (a lead-file scrub is a decision, not a call) and from withdrawn
answers (a decision a later one names in ``withdraws``: the later one is the call's); blocks
by rule as
a share of blocks; the watchdog's figures per campaign: line releases (count, p50, p99,
max), violation risks, caller-ID mismatches, and the 30-day abandonment rate (answered
predictive calls whose called party reached no live, non-Local channel within 2 s,
47 CFR 64.1200(a)(7)). Rendered as
terminal tables, JSON, CSV, or one self-contained HTML page (tables, and SVG charts with
every day of the range, empty ones included).
"""

from __future__ import annotations

import csv
import html
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import duckdb
import orjson

from callguard.front_names import DIALLING_FRONTS
from callguard.utc import zulu

__all__ = ["Report", "ReportQuery", "build", "by_telemarketer", "fronts_note", "not_law_note",
           "render_csv", "render_html", "rule_label", "sources_note", "spreadsheet_cell",
           "telemarketers_of", "to_json", "withdrawn_note"]

_WATCHED = ("violation-risk", "caller-id-mismatch", "caller-id-unverified",
            "abandonment-warning", "abandonment-uncounted")
ABANDONMENT_DAYS = 30  # 47 CFR 64.1200(a)(7): measured over a 30-day period per campaign


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """The filters, shown in every rendering's header."""

    since: datetime | None = None
    until: datetime | None = None
    tz: str = "UTC"
    campaign: str | None = None
    verdict: str | None = None
    rule: str | None = None
    front: str | None = None
    node: str | None = None
    # the call centre that placed the calls for the seller (the record's ``telemarketer``)
    telemarketer: str | None = None

    def local(self, instant: datetime, timespec: str = "auto") -> str:
        """An instant in the report's zone, with its offset (a day boundary reads as one)."""
        return zulu(instant.astimezone(ZoneInfo(self.tz)), timespec)

    def shown(self) -> dict[str, str]:
        """The filters that were given, as text (instants in the report's zone)."""
        out = {"time zone": self.tz,
               "from": self.local(self.since) if self.since else "the first record",
               "until": self.local(self.until) if self.until else "the last record"}
        for name in ("campaign", "verdict", "rule", "front", "node", "telemarketer"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass(slots=True)
class Report:
    """The figures."""

    query: ReportQuery
    generated: datetime
    days: list[str] = field(default_factory=list)
    # (day, campaign, verdict, rule) -> count; calls and scrubs apart
    calls: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    scrubs: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    # answers no call was placed on (``places_call`` false: `check --at` questions)
    questions: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    # decisions a later one withdrew (``withdraws``): no call of their own, counted apart
    withdrawn: dict[tuple[str, str, str, str], int] = field(default_factory=dict)
    # calls a call centre placed for the seller (the record's ``telemarketer``), by row of
    # ``calls`` (day, campaign, verdict, rule) -> {telemarketer: calls}: part of that row,
    # which may also hold the seller's own calls (a campaign that named its call centre
    # from midday on). Kept per row as built: each row's centres are one look-up away.
    telemarketers: dict[tuple[str, str, str, str], dict[str, int]] = field(
        default_factory=dict)
    fronts: dict[tuple[str, str], int] = field(default_factory=dict)  # (front, verdict)
    releases: dict[str, dict[str, Any]] = field(default_factory=dict)  # campaign -> figures
    watched: dict[tuple[str, str], int] = field(default_factory=dict)  # (campaign, event)
    abandonment: dict[str, dict[str, Any]] = field(default_factory=dict)
    first: str | None = None  # the first and last decision, in the report's zone
    last: str | None = None
    # (day, kind, campaign, verdict, rule) -> (first, last) instant of that row, in the zone
    spans: dict[tuple[str, str, str, str, str], tuple[str, str]] = field(default_factory=dict)
    # The latest `callguard purge` that destroyed records logged in the range (None: none
    # did): zeros before its cutoff are records destroyed, not calls never made.
    purged: dict[str, Any] | None = None
    # The record store accepted anew (``store-adopted``) in the range: the consent/EBR/DNC
    # records the decisions after it read were those put back in it.
    adopted: list[dict[str, Any]] = field(default_factory=list)
    # What the figures were read from (``report_with_live``): the archive and how many of
    # its days, the unarchived log or stream. No rendering said it: a report of a copied
    # archive, of one node's file or of the stream read alike.
    sources: dict[str, Any] = field(default_factory=dict)
    # Packs that are not enacted law (house policies: a bill as introduced), by id, as the
    # configuration read by the caller names them: a rule id such as
    # ``us-ut-hb45-2000:13-26a-106(1)(f)`` reads as a Utah Code section to a regulator.
    not_law: dict[str, str] = field(default_factory=dict)
    # Why the packs could not be read to say which are house policy (None: they were): an
    # empty ``not_law`` then means "not checked", never "none" (said in every rendering).
    # The default: whoever renders a report without setting ``not_law`` (the supervisor
    # page's today) has not read the packs, and the page says so.
    not_law_unread: str | None = "the packs were not read for this rendering"

    def total(self, table: dict[tuple[str, str, str, str], int], **match: str) -> int:
        """Sum of a table's counts whose keys match (day, campaign, verdict, rule)."""
        names = ("day", "campaign", "verdict", "rule")
        return sum(count for key, count in table.items()
                   if all(key[names.index(k)] == v for k, v in match.items()))

    def summed(self, table: dict[tuple[str, str, str, str], int], *positions: int,
               **match: str) -> dict[tuple[str, ...], int]:
        """Counts summed by key positions (0 day, 1 campaign, 2 verdict, 3 rule), one pass:
        ``total`` asked per day and campaign summed the whole table each time, and a range
        of years of days rendered in half a minute (review 61)."""
        names = ("day", "campaign", "verdict", "rule")
        out: dict[tuple[str, ...], int] = defaultdict(int)
        for key, count in table.items():
            if all(key[names.index(k)] == v for k, v in match.items()):
                out[tuple(key[p] for p in positions)] += count
        return out

    def by(self, table: dict[tuple[str, str, str, str], int], position: int,
           **match: str) -> dict[str, int]:
        """Counts grouped by one key position (0 day, 1 campaign, 2 verdict, 3 rule)."""
        names = ("day", "campaign", "verdict", "rule")
        out: dict[str, int] = defaultdict(int)
        for key, count in table.items():
            if all(key[names.index(k)] == v for k, v in match.items()):
                out[key[position]] += count
        return dict(sorted(out.items(), key=lambda kv: (-kv[1], kv[0])))


# When a decision is dated: a call (a front that places it) by its instant ``at``; a
# question about another instant (a scrub, `check --at`) by when it was asked, so that a
# scrub run today for Monday is in today's report, archived or not (the archive's days are
# the days records were made, and its purge counts retention from them).
DECIDED = (f"(CASE WHEN front IN ({', '.join(repr(f) for f in sorted(DIALLING_FRONTS))}) "
           "OR logged_delay_us IS NULL THEN \"at\" "
           "ELSE \"at\" + to_microseconds(logged_delay_us) END)")


# The call centre that placed a call (the record's ``telemarketer``, absent when the seller
# called itself). Read from ``body``, not a column of its own: the archive's Parquet files
# of every day and month before the field have the columns they were written with (the
# archive's scans read by name, store._BY_NAME, but the rows written before a new column
# would hold the field in ``body`` only), so a record's new field stays in ``body``
# (columns.py). The query groups by the
# body of the rows that carry it (the same few bodies repeat) and ``_centre`` reads the name
# from each distinct one: json_extract_string on every such row cost ~8x the contains()
# test on an archive's dictionary-encoded bodies.
_NAMES_CENTRE = "contains(body, '\"telemarketer\":')"
_TELEMARKETER = f"(CASE WHEN {_NAMES_CENTRE} THEN body END)"


def _centre(body: str | None, known: dict[str, str | None]) -> str | None:
    """The ``telemarketer`` of a decision's ``body`` (None: none, or not a name)."""
    if body is None:
        return None
    if body not in known:
        try:
            named = orjson.loads(body).get("telemarketer")
        except (orjson.JSONDecodeError, AttributeError):
            named = None
        known[body] = named if isinstance(named, str) and named else None
    return known[body]


# A decision no call was placed on (schema 2's ``places_call`` false, a `check --at`
# question): not a call. Only the cli front asks so; a schema-1 record cannot say.
_QUESTION = "(front = 'cli' AND contains(body, '\"places_call\":false'))"


# When a decision was logged (its ``at`` and the delay after it), in microseconds.
_LOGGED_US = 'epoch_us("at" + to_microseconds(coalesce(logged_delay_us, 0)))'
# A withdrawn decision is logged before the one that withdrew it, by the same node, within
# the session's reply wait (seconds): looked for in the ten minutes before each withdrawal.
_WITHDRAWAL_WINDOW_US = 600_000_000
_MAX_WINDOWS = 256  # more withdrawals than this: one window from the first to the last
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _withdrawn(connection: duckdb.DuckDBPyConnection, decisions: str) -> str | None:
    """SQL true for the rows of decisions another one withdrew (``withdraws``), or None
    when none did.

    Only a BLOCK withdraws (the schema says so): the ``body`` of BLOCKs alone is searched
    for the key (~30-50 ms per million decisions). An archived row's decision id is
    rebuilt by an expression (layout 2, ~0.4 s per million rows: a join on it cost a
    month's report +0.6 s), so it is compared only for rows logged in the ten minutes
    before a withdrawal (a test on two columns). A report with no withdrawal costs that
    scan; one with some, about twice the query."""
    found = connection.execute(
        f"SELECT DISTINCT json_extract_string(body, '$.withdraws'), {_LOGGED_US} "
        f"FROM ({decisions}) WHERE verdict = 'BLOCK' AND contains(body, '\"withdraws\":')"
    ).fetchall()
    named = sorted({(logged, wanted) for wanted, logged in found
                    if isinstance(wanted, str) and _UUID.match(wanted) and logged is not None})
    if not named:
        return None
    spans: list[list[int]] = []
    for logged, _ in named:  # the windows, merged
        low = logged - _WITHDRAWAL_WINDOW_US
        if spans and low <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], logged)
        else:
            spans.append([low, logged])
    if len(spans) > _MAX_WINDOWS:
        spans = [[spans[0][0], spans[-1][1]]]
    windows = " OR ".join(f"{_LOGGED_US} BETWEEN {int(a)} AND {int(b)}" for a, b in spans)
    ids = ", ".join(sorted({f"'{wanted}'" for _, wanted in named}))  # checked: UUIDs only
    return f"(CASE WHEN {windows} THEN coalesce(decision_id IN ({ids}), false) ELSE false END)"


def _where(query: ReportQuery, column: str) -> tuple[str, list[Any]]:
    clauses, values = [], []
    if query.since is not None:
        clauses.append(f"{column} >= ?")
        values.append(query.since)
    if query.until is not None:
        clauses.append(f"{column} < ?")
        values.append(query.until)
    for name in ("campaign", "node"):
        if getattr(query, name) is not None:
            clauses.append(f"{name} = ?")
            values.append(getattr(query, name))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", values


def build(connection: duckdb.DuckDBPyConnection, decisions: str, events: str,
          query: ReportQuery, *, generated: datetime, purges: str | None = None,
          log: str | None = None) -> Report:
    """Run the report's queries over the two relations (SQL text of each); ``purges``:
    the events of every day, where purge runs are looked for; ``log``: the unarchived
    log read, when known (a purge of another one, ``purge --file``, is not named)."""
    report = Report(query, generated)
    where, values = _where(query, DECIDED)
    extra = []
    for name in ("verdict", "rule", "front"):
        if getattr(query, name) is not None:
            extra.append(f"{name} = ?")
            values.append(getattr(query, name))
    if query.telemarketer is not None:  # the body's name, the cheap test first
        extra.append(f"({_NAMES_CENTRE} AND json_extract_string(body, '$.telemarketer') = ?)")
        values.append(query.telemarketer)
    if extra:
        where = (where + " AND " if where else " WHERE ") + " AND ".join(extra)
    withdrawn = _withdrawn(connection, decisions)

    def grouped(out: bool, also: str) -> list[Any]:
        rows: list[Any] = connection.execute(
            f"SELECT strftime(timezone(?, {DECIDED}), '%Y-%m-%d') AS d, "
            f"coalesce(campaign, '?'), coalesce(verdict, '?'), coalesce(rule, ''), "
            f"coalesce(front, '?'), {str(out).lower()}, {_QUESTION}, {_TELEMARKETER}, "
            "count(*), "
            f"epoch_us(min({DECIDED})), epoch_us(max({DECIDED})) FROM ({decisions}) "
            f"{where}{(' AND ' if where else ' WHERE ') + also if also else ''} "
            "GROUP BY ALL", [query.tz, *values]).fetchall()
        return rows

    rows = grouped(False, "" if withdrawn is None else f"NOT {withdrawn}")
    if withdrawn is not None:
        rows += grouped(True, withdrawn)
    spans: dict[tuple[str, str, str, str, str], tuple[int, int]] = {}
    bodies: dict[str, str | None] = {}
    for day, campaign, verdict, rule, front, out, asked, body, count, first, last in rows:
        centre = _centre(body, bodies)
        key = (day, campaign, verdict, rule)
        kind = ("withdrawn" if out else "scrub" if front == "scrub"
                else "question" if asked else "call")
        target = {"call": report.calls, "scrub": report.scrubs,
                  "question": report.questions}.get(kind, report.withdrawn)
        target[key] = target.get(key, 0) + count
        if kind == "call" and centre:
            placed = report.telemarketers.setdefault(key, {})
            placed[centre] = placed.get(centre, 0) + count
        # by front: the calls and scrubs that stand; a question (counted apart) under
        # "cli ALLOW" read as a call the operator placed after asking
        if kind in ("call", "scrub"):
            report.fronts[(front, verdict)] = report.fronts.get((front, verdict), 0) + count
        low, high = spans.get((day, kind, *key[1:]), (first, last))
        spans[(day, kind, *key[1:])] = (min(low, first), max(high, last))
    if spans:
        report.first = _local(query, min(low for low, _ in spans.values()))
        report.last = _local(query, max(high for _, high in spans.values()))
        report.spans = {key: (_local(query, low), _local(query, high))
                        for key, (low, high) in spans.items()}
    report.days = _every_day(report, query)
    _watchdog(connection, events, query, report)
    report.purged = _purged(connection, purges, query, log)
    report.adopted = _adopted(connection, purges, query)
    return report


def _adopted(connection: duckdb.DuckDBPyConnection, purges: str | None,
             query: ReportQuery) -> list[dict[str, Any]]:
    """The ``store-adopted`` records logged in the range (from ``purges``: every day's
    events), in time order: when, which node, which backend."""
    if purges is None:
        return []
    bounds = [(" AND logged_at >= ?", query.since), (" AND logged_at < ?", query.until)]
    rows = connection.execute(
        f"SELECT epoch_us(logged_at), node, json_extract_string(body, '$.backend') "
        f"FROM ({purges}) WHERE event = 'store-adopted'"
        + "".join(sql for sql, value in bounds if value is not None) + " ORDER BY 1",
        [value for _, value in bounds if value is not None]).fetchall()
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [{"logged_at": zulu(epoch + timedelta(microseconds=at), "milliseconds"),
             "node": node, "backend": backend} for at, node, backend in rows]


def telemarketers_of(report: Report, key: tuple[str, str, str, str]) -> str:
    """Who placed the calls of a (day, campaign, verdict, rule) row for the seller: the call
    centre's name, or each with its share when the row also holds other calls; empty when
    the seller placed every one itself. One look-up (``Report.telemarketers`` is kept per
    row): naming every row of --json's days or --csv's table is linear in the rows (a scan
    of all entries per row took ~30 s on a year of six campaigns, tests/test_hrev98_*)."""
    placed = report.telemarketers.get(key, {})
    total = report.calls.get(key, 0)
    if len(placed) == 1 and sum(placed.values()) == total:
        return next(iter(placed))
    return "; ".join(f"{name} ({n} of {total})" for name, n in sorted(placed.items()))


def by_telemarketer(report: Report) -> list[dict[str, Any]]:
    """Calls by call centre and campaign, with their verdicts (calls only: no scrub,
    question or withdrawn answer is a call placed)."""
    out: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: {"ALLOW": 0, "BLOCK": 0})
    for (_, campaign, verdict, _), placed in report.telemarketers.items():
        for centre, count in placed.items():
            out[(centre, campaign)][verdict] = out[(centre, campaign)].get(verdict, 0) + count
    return [{"telemarketer": centre, "campaign": campaign, "calls": sum(counts.values()),
             "allow": counts.get("ALLOW", 0), "block": counts.get("BLOCK", 0)}
            for (centre, campaign), counts in sorted(out.items())]


def rule_label(report: Report, rule: str) -> str:
    """A deciding rule as the report lists it: a house policy's marked not enacted law."""
    pack = rule.split(":", 1)[0]
    return f"{rule} (house policy, not enacted law)" if pack in report.not_law else rule


def fronts_note(report: Report) -> str | None:
    """The calls by front asked, the questions apart, and what a ``cli`` call is: a
    ``callguard check`` answer without ``--at`` (the operator asks before dialling). A
    question (``--at``) is told by its record since schema 2 (``places_call`` false); a
    schema-1 record cannot say, so a ``cli`` call may still be a question then."""
    fronts: dict[str, int] = defaultdict(int)
    for (front, _verdict), count in report.fronts.items():
        if front != "scrub":
            fronts[front] += count
    asked = report.total(report.questions)  # not in ``fronts`` (``build``)
    if not fronts and not asked:
        return None
    said = "calls by front: " + (", ".join(f"{f} {n:,}" for f, n in sorted(fronts.items()))
                                 or "none")
    if asked:
        said += (f"; {asked:,} `callguard check --at` question(s) counted apart: a question "
                 "about an instant places no call, dated by when it was asked")
    if fronts.get("cli"):
        said += ("; cli: `callguard check` answers without --at (the operator asks before "
                 "dialling); a record written before schema 2 does not say whether it was "
                 "asked with --at, so those are counted as calls")
    return said


def not_law_note(report: Report) -> str:
    """The house-policy packs whose rules are among the deciding ones, named ("" when
    none is)."""
    deciding = {key[3].split(":", 1)[0] for key in report.calls if key[3]}
    if report.not_law_unread is not None:
        return ("" if not deciding else "which deciding rules are of a house policy (a "
                "bill, the seller's choice), not enacted law, was not checked: "
                f"{report.not_law_unread}; a rule id here is not shown to be enacted law")
    named = sorted((pack, title) for pack, title in report.not_law.items() if pack in deciding)
    if not named:
        return ""
    return ("rules of " + "; ".join(f"{pack} ({title})" for pack, title in named)
            + ": they decide by the seller's choice (house policy), not by enacted law")


def sources_note(report: Report) -> str:
    """``read from: the archive at DIR (N days); unarchived records of FILE``."""
    said = report.sources
    if not said:
        return "read from: not recorded"
    archive = said.get("archive")
    parts = [f"the archive at {archive} ({said.get('archive_days', 0)} day(s) held)"
             if archive else "no archive" + (f" (none at {said['archive_missing']})"
                                             if said.get("archive_missing") else "")]
    # unnamed (the supervisor page's records, handed in): said so, never "none"
    parts.append(f"unarchived records of {said['unarchived']}" if said.get("unarchived")
                 else "the unarchived records handed in (their source not named)")
    # what was met and could not be read: the figures are incomplete (exit 1)
    parts.extend(f"INCOMPLETE: {note}" for note in said.get("not_read") or ())
    # trimmed from the stream after the archiver took them: in its archive, not read here
    parts.extend(f"not read here: {note}" for note in said.get("elsewhere") or ())
    # gaps an officer acknowledged (`archive --ack-gap`): named, not INCOMPLETE (harc33)
    parts.extend(f"acknowledged gap: {note}" for note in said.get("acknowledged_gaps") or ())
    return "read from: " + "; ".join(parts)


def adopted_note(report: Report) -> str:
    """Each record store replaced in the range, in words (empty: none was)."""
    return "; ".join(_adopted_text(a) for a in report.adopted)


def _adopted_text(adopted: dict[str, Any]) -> str:
    return (f"the record store was replaced on {adopted['logged_at']} (node "
            f"{adopted['node']}, {adopted['backend']}): consent, business-relationship and "
            "do-not-call records made before then were read by later calls only if "
            "re-imported")


def _purged(connection: duckdb.DuckDBPyConnection, purges: str | None,
            query: ReportQuery, log: str | None) -> dict[str, Any] | None:
    """The purge run (from ``purges``: events of every day, whatever the range) with the
    latest cutoff after ``--since`` that destroyed records, as its record's fields."""
    if purges is None:
        return None
    cutoff = "TRY_CAST(json_extract_string(body, '$.cutoff') AS TIMESTAMPTZ)"
    removed = ("coalesce(TRY_CAST(json_extract_string(body, '$.removed.files') AS BIGINT), 0)"
               " + coalesce(TRY_CAST(json_extract_string(body, '$.removed.archive') AS "
               "BIGINT), 0) + coalesce(TRY_CAST(json_extract_string(body, "
               "'$.removed.stream') AS BIGINT), 0)")
    # `purge --file OTHER` destroyed OTHER's lines only (and the stream's, with --stream):
    # its zeros are not this log's, whose days it was said to have destroyed
    elsewhere = ("" if log is None else
                 " AND (json_extract_string(body, '$.file') IS NULL OR "
                 "json_extract_string(body, '$.file') = ? OR coalesce(TRY_CAST("
                 "json_extract_string(body, '$.removed.stream') AS BIGINT), 0) + coalesce("
                 "TRY_CAST(json_extract_string(body, '$.removed.archive') AS BIGINT), 0) > 0)")
    row = connection.execute(
        f"SELECT epoch_us({cutoff}), epoch_us(logged_at), node, "
        f"TRY_CAST(json_extract_string(body, '$.retention_days') AS BIGINT) FROM ({purges}) "
        f"WHERE event = 'purge' AND {removed} > 0 "
        f"AND coalesce(json_extract_string(body, '$.dry_run'), 'false') = 'false' "
        f"AND {cutoff} IS NOT NULL" + (f" AND {cutoff} > ?" if query.since else "")
        + elsewhere + f" ORDER BY {cutoff} DESC LIMIT 1",
        [*([query.since] if query.since else []), *([log] if log is not None else [])]
    ).fetchone()
    if row is None:
        return None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return {"cutoff": zulu(epoch + timedelta(microseconds=row[0]), "milliseconds"),
            "logged_at": zulu(epoch + timedelta(microseconds=row[1]), "milliseconds"),
            "node": row[2], "retention_days": row[3]}


def purged_note(report: Report) -> str:
    """The purge that reached into the range, in words (empty: none did)."""
    purge = report.purged
    if purge is None:
        return ""
    return (f"records logged before {purge['cutoff']} (not necessarily all) were destroyed "
            f"by `callguard purge` ({purge['logged_at']}, node {purge['node']}, retention "
            f"{purge['retention_days']} days): calls before then may be missing from the "
            "counts (an archive purge keeps the cutoff's own day; a log purge keeps held "
            "segments)")


def _local(query: ReportQuery, epoch_us: int) -> str:
    """Microseconds since the epoch (DuckDB's answer) as an instant in the report's zone, to
    the millisecond (records are stamped to the millisecond)."""
    return query.local(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=epoch_us),
                       "milliseconds")


def _every_day(report: Report, query: ReportQuery) -> list[str]:
    zone = ZoneInfo(query.tz)
    seen = sorted({k[0] for k in (*report.calls, *report.scrubs, *report.questions,
                                  *report.withdrawn)})
    start = query.since.astimezone(zone).date() if query.since else (
        date.fromisoformat(seen[0]) if seen else None)
    end = (query.until - timedelta(microseconds=1)).astimezone(zone).date() if (
        query.until) else (date.fromisoformat(seen[-1]) if seen else None)
    if start is None or end is None:
        return seen
    if (end - start).days > _LONG_RANGE_DAYS:
        # "since 2000": from the first record (the years before hold none), every day
        # after it; the days with records alone stood months apart side by side. No
        # record: no day (a century of rows of 0 was 5 MB of CSV; review 61)
        if not seen:
            return seen
        start = max(start, date.fromisoformat(seen[0]))
        if (end - start).days > _LONG_RANGE_DAYS:  # "until 2100": to the last record
            end = min(end, date.fromisoformat(seen[-1]))
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


_LONG_RANGE_DAYS = 3700  # about ten years: a longer range starts at its first record


def _watchdog(connection: duckdb.DuckDBPyConnection, events: str, query: ReportQuery,
              report: Report) -> None:
    where, values = _where(query, '"logged_at"')
    release = ("coalesce(release_ms, TRY_CAST(json_extract_string(body, '$.release_ms') "
               "AS DOUBLE))")
    scope = f"SELECT * FROM ({events}) {where}"
    for campaign, count, p50, p99, top, late in connection.execute(
            f"SELECT coalesce(campaign, '?'), count({release}), "
            f"quantile_cont({release}, 0.5), quantile_cont({release}, 0.99), max({release}), "
            f"count(*) FILTER (WHERE within_limit = false) FROM ({scope}) "
            "WHERE event = 'line-release' GROUP BY ALL", values).fetchall():
        report.releases[campaign] = {"released": count, "p50_ms": p50, "p99_ms": p99,
                                     "max_ms": top, "over_limit": late}
    listed = ", ".join(f"'{e}'" for e in _WATCHED)
    for campaign, event, count in connection.execute(
            f"SELECT coalesce(campaign, '?'), event, count(*) FROM ({scope}) "
            f"WHERE event IN ({listed}) GROUP BY ALL", values).fetchall():
        report.watched[(campaign, event)] = count
    end = query.until or report.generated
    window: list[Any] = [end - timedelta(days=ABANDONMENT_DAYS), end]
    campaign_clause = ""
    if query.campaign is not None:
        campaign_clause = " AND campaign = ?"
        window.append(query.campaign)
    for campaign, answered, abandoned in connection.execute(
            f"SELECT coalesce(campaign, '?'), count(agent_within_2s), "
            f"count(*) FILTER (WHERE agent_within_2s = false) FROM ({events}) "
            f"WHERE event = 'line-release' AND logged_at >= ? AND logged_at < ?"
            f"{campaign_clause} GROUP BY ALL", window).fetchall():
        if answered:
            report.abandonment[campaign] = {
                "answered": answered, "abandoned": abandoned,
                "rate": round(abandoned / answered, 4),
                # The 30 days end now (or at --until), to the minute: instants in the
                # report's zone (UTC dates read as the zone's under --tz).
                "window": f"{query.local(window[0], 'minutes')} to "
                          f"{query.local(window[1], 'minutes')}"}


def watchdog_scope(query: ReportQuery) -> str | None:
    """What the watchdog's figures are not narrowed by, in words, or None: they are read
    from the call's later records, which carry no verdict, rule or front, so under
    ``--verdict BLOCK`` the header's filter seemed to say blocked calls had line releases
    (were placed). The campaign, node and dates do narrow the line releases, risks and
    mismatches; the abandonment rate is always its campaign's 30 days on every node (47
    CFR 64.1200(a)(7)), said in its window — and, under ``--node``, here (the title said
    nothing, as if the rate were that node's)."""
    ignored = [f"{name} {getattr(query, name)}"
               for name in ("verdict", "rule", "front", "telemarketer")
               if getattr(query, name) is not None]
    said = ["every call of the campaign: the watchdog's figures are not narrowed by "
            + ", ".join(ignored)] if ignored else []
    if query.node is not None:
        # 64.1200(a)(7) measures a campaign's abandonment over 30 days, whichever node
        # placed its calls: the rate is the campaign's, the line releases the node's.
        said.append(f"the 30-day abandonment rate is not narrowed by node {query.node}: "
                    "it counts the campaign's calls on every node")
    return "; ".join(said) or None


def to_json(report: Report) -> dict[str, Any]:
    """Everything, as JSON-ready values (the totals of earlier versions kept)."""
    calls = report.calls
    return {
        "filters": report.query.shown(), "generated": zulu(report.generated),
        "decisions": (report.total(calls) + report.total(report.scrubs)
                      + report.total(report.questions) + report.total(report.withdrawn)),
        "calls": report.total(calls), "scrubs": report.total(report.scrubs),
        # `check --at` answers (places_call false): no call placed, in no other figure
        "questions": report.total(report.questions),
        # answers a later decision withdrew (FastAGI: a cut header block seen after the
        # answer): in no other figure; the decision that withdrew each is counted instead
        "withdrawn": report.total(report.withdrawn),
        "by_verdict": report.by(calls, 2), "by_rule": report.by(calls, 3, verdict="BLOCK"),
        "by_campaign": report.by(calls, 1),
        # calls a call centre placed for the seller (records' ``telemarketer``); empty when
        # every call of the range was the seller's own
        "by_telemarketer": by_telemarketer(report),
        "by_front": {f"{front} {verdict}": n for (front, verdict), n in
                     sorted(report.fronts.items())},
        "range_days": report.days,  # every day of the range, those without calls too
        "days": [{"day": day, "campaign": c, "verdict": v, "rule": r, "calls": n,
                  **({"telemarketer": centre} if (centre := telemarketers_of(
                      report, (day, c, v, r))) else {})}
                 for (day, c, v, r), n in sorted(calls.items())],
        "scrub_days": [{"day": day, "campaign": c, "verdict": v, "rule": r, "decisions": n}
                       for (day, c, v, r), n in sorted(report.scrubs.items())],
        "question_days": [{"day": day, "campaign": c, "verdict": v, "rule": r,
                           "decisions": n}
                          for (day, c, v, r), n in sorted(report.questions.items())],
        "withdrawn_days": [{"day": day, "campaign": c, "verdict": v, "rule": r,
                            "decisions": n}
                           for (day, c, v, r), n in sorted(report.withdrawn.items())],
        "line_release": report.releases,
        "watchdog": {f"{c} {e}": n for (c, e), n in sorted(report.watched.items())},
        "abandonment_30d": report.abandonment,
        # the filters the three above do not follow (null: they follow every one given)
        "watchdog_scope": watchdog_scope(report.query),
        # the purge that destroyed records in the range (null: none did)
        "purged": None if report.purged is None else {**report.purged,
                                                      "note": purged_note(report)},
        # the record store accepted anew in the range (none: not replaced)
        "store_adopted": [{**a, "note": _adopted_text(a)} for a in report.adopted],
        "first": report.first, "last": report.last,
        "fronts_note": fronts_note(report),
        # the packs that are not enacted law (house policies), whose rule ids read as law
        "not_enacted_law": None if report.not_law_unread is not None else report.not_law,
        # why it is null: the packs could not be read here ("not checked", not "none")
        "not_enacted_law_unread": None if report.not_law_unread is None else (
            f"not checked: {report.not_law_unread}"),
        # what the figures were read from (the archive, the unarchived log or stream)
        "sources": {**report.sources, "note": sources_note(report)},
    }


def _rule_law(report: Report, rule: str) -> str:
    """The CSV's ``law`` cell of a deciding rule: a house policy's marked as the other
    renderings mark it, or why that was not checked (blank: enacted law, or no rule)."""
    if not rule:
        return ""
    if report.not_law_unread is not None:
        return f"not checked: {report.not_law_unread}"
    return "house policy, not enacted law" if rule_label(report, rule) != rule else ""


# What a spreadsheet (Excel, LibreOffice) runs as a formula at the start of a cell
# (OWASP "CSV injection"): a tab or carriage return first is read past by some.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as text: a string that would start a formula (a
    campaign id ``=HYPERLINK(...)``, ``-spring``) gets a leading ``'``. Counsel opens the
    CSV in Excel; the record keeps the value as written. Numbers pass as they are."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def render_csv(report: Report) -> str:
    """One row per day x campaign x verdict x rule, calls, scrubs, questions and withdrawn
    answers marked (kind), with the first and last decision of the row in the report's
    zone; a day of the range without any, one call row of 0 (no first, no last). The last
    two columns say what the JSON and the page say beside the table: whether a deciding
    rule is a house policy (``law``), and what the figures were read from (``read_from``,
    the same on every row: a CSV handed on alone still names its archive and log); then,
    added last, the call centre that placed a call row's calls for the seller
    (``telemarketer``, ``telemarketers_of``; empty: the seller's own). A cell
    that would start a formula in a spreadsheet begins with ``'`` (``spreadsheet_cell``)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["day", "kind", "campaign", "verdict", "rule", "count", "first", "last",
                     "law", "read_from", "telemarketer"])
    read_from = sources_note(report)
    # every day of the range: a day without calls or scrubs is one call row of 0
    quiet = {(day, "", "", ""): 0 for day in set(report.days) - {
        k[0] for k in (*report.calls, *report.scrubs, *report.questions)}}
    for kind, table in (("call", {**report.calls, **quiet}), ("scrub", report.scrubs),
                        ("question", report.questions), ("withdrawn", report.withdrawn)):
        for (day, campaign, verdict, rule), count in sorted(table.items()):
            first, last = report.spans.get((day, kind, campaign, verdict, rule), ("", ""))
            writer.writerow([spreadsheet_cell(cell) for cell in (
                day, kind, campaign, verdict, rule, count, first, last,
                _rule_law(report, rule), read_from,
                telemarketers_of(report, (day, campaign, verdict, rule))
                if kind == "call" else "")])
    return out.getvalue()


_COLOURS = {"ALLOW": "#2e7d32", "BLOCK": "#c62828"}


def _table(title: str, head: list[str], rows: list[list[Any]]) -> str:
    """Text columns read from the left, figures from the right, headers over their cells."""
    figures = [all(_figure(row[i]) or _blank(row[i]) for row in rows)
               and any(_figure(row[i]) for row in rows) for i in range(len(head))]
    cells = "".join("<tr>" + "".join(
        f"<td{_ALIGN[figures[i]]}>{html.escape(_cell(v))}</td>" for i, v in enumerate(row))
                    + "</tr>" for row in rows) or (
        f"<tr><td colspan='{len(head)}'>none</td></tr>")
    return (f"<h2>{html.escape(title)}</h2><table><thead><tr>"
            + "".join(f"<th{_ALIGN[figures[i]]}>{html.escape(h)}</th>"
                      for i, h in enumerate(head))
            + f"</tr></thead><tbody>{cells}</tbody></table>")


_ALIGN = {True: " class='n'", False: ""}


def _figure(value: Any) -> bool:
    """A count, a time or a share: right-aligned."""
    return isinstance(value, int | float) or (isinstance(value, str) and value.endswith(" %"))


def _blank(value: Any) -> bool:
    """No value ('-'): aligned as the rest of its column."""
    return value is None or value == "-"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _stacked(title: str, days: list[str], series: dict[str, dict[str, int]]) -> str:
    """Bars per day (every day of the range, empty ones as gaps on the axis), stacked."""
    width = max(600, 14 * len(days) + 80)
    top = max([sum(s.get(d, 0) for s in series.values()) for d in days] or [0]) or 1
    bar = min(48, max(2, (width - 80) // max(1, len(days)) - 2))  # one day: a bar, not a wall
    legend = " ".join(  # the colours said in words: the bars carry no label of their own
        f"<span style='color:{_COLOURS.get(name, '#1565c0')}'>&#9632;</span> "
        f"{html.escape(name)}" for name in series)
    parts = [f"<h2>{html.escape(title)}</h2><p class='legend'>{legend}</p>"
             f"<svg width='{width}' height='260' "
             "xmlns='http://www.w3.org/2000/svg' font-family='sans-serif' font-size='11'>"
             f"<text x='0' y='12'>{top:,}</text><line x1='60' y1='220' x2='{width}' "
             "y2='220' stroke='#444'/>"]
    for index, day in enumerate(days):
        x = 62 + index * (bar + 2)
        y = 220
        for name, counts in series.items():
            count = counts.get(day, 0)
            height = round(200 * count / top)
            if height:
                y -= height
                parts.append(f"<rect x='{x}' y='{y}' width='{bar}' height='{height}' "
                             f"fill='{_COLOURS.get(name, '#1565c0')}'><title>{day} "
                             f"{html.escape(name)}: {count}</title></rect>")
        if len(days) <= 31 or index % max(1, len(days) // 15) == 0:
            parts.append(f"<text x='{x}' y='235' transform='rotate(45 {x} 235)'>"
                         f"{day[5:]}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _bars(title: str, rows: dict[str, int], colour: str = "#c62828") -> str:
    if not rows:  # an empty chart is a blank strip that reads as a fault
        return f"<h2>{html.escape(title)}</h2><p>none</p>"
    top = max(rows.values() or [0]) or 1
    height = 22 * len(rows) + 10
    parts = [f"<h2>{html.escape(title)}</h2><svg width='900' height='{height}' "
             "xmlns='http://www.w3.org/2000/svg' font-family='sans-serif' font-size='12'>"]
    for index, (label, count) in enumerate(rows.items()):
        y = 5 + index * 22
        width = max(1, round(480 * count / top))
        parts.append(f"<text x='0' y='{y + 14}'>{html.escape(label[:52])}</text>"
                     f"<rect x='360' y='{y}' width='{width}' height='16' fill='{colour}'/>"
                     f"<text x='{366 + width}' y='{y + 14}'>{count:,}</text>")
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: Report) -> str:
    """One self-contained page: the filters, tables, and charts of every day."""
    calls, scrubs, days = report.calls, report.scrubs, report.days
    filters = "; ".join(f"{k}: {v}" for k, v in report.query.shown().items())
    per_day = {verdict: {d: summed.get((d,), 0) for d in days}
               for verdict in ("ALLOW", "BLOCK")
               for summed in [report.summed(calls, 0, verdict=verdict)]}
    scrub_day = {verdict: {d: summed.get((d,), 0) for d in days}
                 for verdict in ("ALLOW", "BLOCK")
                 for summed in [report.summed(scrubs, 0, verdict=verdict)]}
    blocks = report.total(calls, verdict="BLOCK")
    total = report.total(calls)
    campaigns = sorted({k[1] for k in calls} | {k[1] for k in scrubs})
    campaign_rows = [[c, report.total(calls, campaign=c),
                      report.total(calls, campaign=c, verdict="ALLOW"),
                      report.total(calls, campaign=c, verdict="BLOCK"),
                      _share(report.total(calls, campaign=c, verdict="BLOCK"),
                             report.total(calls, campaign=c)),
                      report.total(scrubs, campaign=c)] for c in campaigns]
    rule_rows = [[rule_label(report, rule), count, _share(count, blocks)]
                 for rule, count in report.by(calls, 3, verdict="BLOCK").items()]
    day_rows = _day_rows(calls, days)
    watch = sorted(set(report.releases) | {c for c, _ in report.watched}
                   | set(report.abandonment))
    watch_rows = [[c, report.releases.get(c, {}).get("released"),
                   report.releases.get(c, {}).get("p50_ms"),
                   report.releases.get(c, {}).get("p99_ms"),
                   report.releases.get(c, {}).get("max_ms"),
                   report.watched.get((c, "violation-risk"), 0),
                   report.watched.get((c, "caller-id-mismatch"), 0),
                   _share(report.abandonment.get(c, {}).get("abandoned", 0),
                          report.abandonment.get(c, {}).get("answered", 0))]
                  for c in watch]
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>callguard report</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;"
        "margin-bottom:1.5em}th,td{border:1px solid #bbb;padding:3px 8px;font-size:13px;"
        "text-align:left}th{background:#eee}.n{text-align:right}"
        ".t{white-space:nowrap}</style>"
        "</head><body><h1>callguard compliance report</h1>"
        f"<p><b>Filters</b>: {html.escape(filters)}.</p><p>{total:,} calls "
        f"({report.total(scrubs):,} scrub decisions and {report.total(report.questions):,} "
        "`check --at` questions counted apart: neither is a call; "
        f"{withdrawn_note(report)}); "
        f"first decision <span class='t'>{html.escape(report.first or '-')}</span>, last "
        f"<span class='t'>{html.escape(report.last or '-')}</span> "
        f"({html.escape(report.query.tz)}); "
        f"generated {report.generated:%Y-%m-%d %H:%M} UTC. Numbers never appear in this "
        f"report.</p><p class=sources>{html.escape(sources_note(report))}.</p>"
        + (f"<p class=fronts>{html.escape(note)}.</p>"
           if (note := fronts_note(report)) else "")
        + (f"<p class=purged><strong>Purged:</strong> {html.escape(purged_note(report))}.</p>"
           if report.purged else "")
        + (f"<p class=adopted><strong>Record store replaced:</strong> "
           f"{html.escape(adopted_note(report))}.</p>" if report.adopted else "")
        + _stacked(f"Calls per day ({report.query.tz}), ALLOW and BLOCK", days, per_day)
        # the chart marks a house policy's rule as the table does (its 52 characters
        # would cut the table's longer mark): a bare id reads as a section of law
        + _bars("Blocked calls by deciding rule", {
            f"{rule} (house policy)" if rule_label(report, rule) != rule else rule: count
            for rule, count in report.by(calls, 3, verdict="BLOCK").items()})
        + (f"<p class=legend>{html.escape(note)}.</p>"
           if (note := not_law_note(report)) else "")
        + _bars("Calls by campaign", report.by(calls, 1), "#1565c0")
        + _table("Calls by campaign: ALLOW, BLOCK, scrubs", ["campaign", "calls", "ALLOW", "BLOCK",
                                       "blocked share", "scrub decisions"], campaign_rows)
        + (_table("Calls placed by a call centre (telemarketer) for the seller",
                  ["telemarketer", "campaign", "calls", "ALLOW", "BLOCK"],
                  [[r["telemarketer"], r["campaign"], r["calls"], r["allow"], r["block"]]
                   for r in centred]) if (centred := by_telemarketer(report)) else "")
        + _table("Blocked calls by deciding rule (share of blocks)",
                 ["rule", "blocks", "share"], rule_rows)
        + _table("The watchdog, by campaign" + (
            f" ({scope})" if (scope := watchdog_scope(report.query)) else ""), [
            "campaign", "line releases", "p50 ms", "p99 ms", "max ms", "violation risks",
            "caller-ID mismatches", f"abandonment {ABANDONMENT_DAYS} d"], watch_rows)
        + _stacked(f"Scrub decisions per day ({report.query.tz})", days, scrub_day)
        + _table("Calls by day, campaign, verdict and rule",
                 ["day", "campaign", "verdict", "rule", "calls"], day_rows)
        + "</body></html>\n")


def withdrawn_note(report: Report) -> str:
    """How many answers were withdrawn, by verdict, said for people (text and page)."""
    total = report.total(report.withdrawn)
    if not total:
        return "no answer withdrawn"
    verdicts = ", ".join(f"{n:,} {v}" for v, n in report.by(report.withdrawn, 2).items())
    return (f"{total:,} answer(s) withdrawn ({verdicts}): each call is counted once, as "
            "the later decision that withdrew its answer")


def _day_rows(calls: dict[tuple[str, str, str, str], int],
              days: list[str]) -> list[list[Any]]:
    """Rows of calls by day, campaign, verdict and rule: every day of the range, a day
    without calls as one row of 0 (a quiet day reads 0, not 'not reported')."""
    out: list[list[Any]] = []
    of_day: dict[str, list[tuple[str, str, str, str]]] = defaultdict(list)
    for key in calls:  # one pass (each day's keys searched for in the whole table: days x rows)
        of_day[key[0]].append(key)
    for day in sorted(set(days) | set(of_day)):
        keys = sorted(of_day.get(day, ()))
        out.extend([d, c, v, r or "-", calls[(d, c, v, r)]] for d, c, v, r in keys)
        if not keys:
            out.append([day, "-", "-", "-", 0])
    return out


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f} %" if whole else "-"
