"""Bulk record import from a CRM's CSV: every row checked first, then all or nothing.

Each kind has its columns (a header row names them; order is free, extra columns are
ignored). A row that does not parse is reported with its line number and reason, and
when any row is bad nothing is written.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from callguard.csvfile import decode, not_of_its_mark, refuse_not_text, sniff_delimiter
from callguard.errors import NumberError, UsageError
from callguard.numbers import NumberParser
from callguard.numbers.parse import number_reason, quoted_number
from callguard.numbers.redact import clipped_repr, has_digit_run
from callguard.policy import ConsentKind, ConsentRecord
from callguard.stores.list_files import split_extension
from callguard.stores.writes import AddCompanyDnc, AddConsent, RecordEbr, RecordWrite
from callguard.utc import utah_example

__all__ = ["COLUMNS", "CsvImport", "RowError", "parse_window", "read_record_csv",
           "read_record_file"]

# kind -> (required columns, optional columns)
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "consent": (("number", "kind", "granted_at"),
                ("solicitor", "expires_at", "window", "source", "evidence")),
    "ebr": (("number",), ("solicitor", "last_transaction", "last_inquiry")),
    "internal-dnc": (("number",), ("solicitor", "added_at", "source")),
}


@dataclass(frozen=True, slots=True)
class RowError:
    """One bad row: its line in the file and why."""

    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class CsvImport:
    """The writes of a file, or the reasons it cannot be imported."""

    writes: tuple[RecordWrite, ...]
    errors: tuple[RowError, ...]
    rows: int
    extensions: int = 0  # do-not-call numbers recorded without the extension given


def _cell(text: str) -> str:
    """A CSV cell as a row's reason quotes it: spelt by ``repr``, then a number in it by its
    last four (``clipped_repr``). The reasons are printed for the operator and reach cron
    mail; a CRM export with its columns shifted puts a number where a date belongs, and
    ``granted_at '801-555-0123'`` was quoted in clear (hrev76)."""
    return clipped_repr(text, 60)


def _instant(text: str, column: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{column} {_cell(text)} is not an ISO-8601 date-time") from None
    if value.tzinfo is None:
        # as `--at`'s message: an example that is itself accepted (a bare date is midnight)
        # the cell as written, unless it is a run of digits ISO's basic form reads
        # ("80151231T0123": quoted redacted, it was repeated here in clear, hrev79)
        stem = (text if ("T" in text or " " in text) and not has_digit_run(text)
                else value.isoformat())
        raise UsageError(f"{column} {_cell(text)} has no UTC offset; add one, e.g. "
                         f"{utah_example(stem, value)} or {stem}Z"
                         + (" (the instant the consent ends, exclusive)"
                            if column == "expires_at" else ""))
    return value


def _day(text: str, column: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{column} {_cell(text)} is not a date like 2026-11-22") from None


def parse_window(text: str) -> tuple[time, time]:
    """A local window like 07:00-22:00, or UsageError. The called party's wall clock, to
    the minute: a UTC offset ("22:00+05:00") was stored and made every check of the number
    for the seller a BLOCK callguard:internal-error (an aware time beside the naive local
    one); seconds were stored while the compliance record said the minute (hrev32)."""
    try:
        start, end = (time.fromisoformat(part) for part in text.split("-"))
    except ValueError:
        raise UsageError(f"window {_cell(text)}: use HH:MM-HH:MM") from None
    if any(t.tzinfo is not None or t.second or t.microsecond for t in (start, end)):
        raise UsageError(f"window {_cell(text)}: use HH:MM-HH:MM, the called party's clock (no "
                         "seconds, no UTC offset)")
    return start, end


def _consent(row: dict[str, str], solicitor: str, e164: str, now: datetime) -> RecordWrite:
    kind_text = row["kind"]
    try:
        kind = ConsentKind(kind_text)
    except ValueError:
        raise UsageError(f"kind {_cell(kind_text)}; use "
                         f"{', '.join(k.value for k in ConsentKind)}") from None
    window = parse_window(row["window"]) if row.get("window") else None
    if kind is ConsentKind.CALLING_HOURS and window is None:
        raise UsageError("calling-hours consent needs its window (HH:MM-HH:MM)")
    if window is not None and kind is not ConsentKind.CALLING_HOURS:
        raise UsageError(f"a window is for calling-hours consent only, not {kind.value}")
    granted = _instant(row["granted_at"], "granted_at")
    if granted > now:
        raise UsageError(f"granted_at {row['granted_at']} is in the future")
    expires = row.get("expires_at")
    record = ConsentRecord(kind, granted,
                           _instant(expires, "expires_at") if expires else None,
                           window=window)
    return AddConsent(solicitor, e164, record, row.get("source") or "csv",
                      row.get("evidence") or "")


def _ebr(row: dict[str, str], solicitor: str, e164: str, now: datetime) -> RecordWrite:
    transaction, inquiry = row.get("last_transaction"), row.get("last_inquiry")
    if not transaction and not inquiry:
        raise UsageError("give last_transaction or last_inquiry")
    return RecordEbr(solicitor, e164,
                     _past_day(transaction, "last_transaction", now) if transaction else None,
                     _past_day(inquiry, "last_inquiry", now) if inquiry else None)


def _past_day(text: str, column: str, now: datetime) -> date:
    """A date that has come somewhere on Earth (UTC+14): a typo for a later year would
    replace the date on record with one that lifts no rule until then."""
    day = _day(text, column)
    if day > (now + timedelta(hours=14)).date():
        raise UsageError(f"{column} {text} is in the future")
    return day


def _dnc(row: dict[str, str], solicitor: str, e164: str, now: datetime) -> RecordWrite:
    added = row.get("added_at")
    at = _instant(added, "added_at") if added else now
    if at > now:
        # The policy judges a request from its instant on (a replay of an earlier call is
        # not bound by it): a future date would let calls through until then.
        raise UsageError(f"added_at {added} is in the future")
    return AddCompanyDnc(solicitor, e164, at, row.get("source") or "csv")


def _known(solicitor: str, solicitors: frozenset[str]) -> str:
    if solicitor not in solicitors:
        raise UsageError(f"solicitor {_cell(solicitor)} is not in any configured campaign")
    return solicitor


def _e164(parser: NumberParser, number: str, kind: str) -> tuple[str, bool]:
    """The number's E.164 form, and whether an extension was dropped (internal-dnc only).

    A do-not-call request from ``801-555-0142 x12`` covers the line: the number without
    the extension is recorded, as ``dnc import`` lists it. A consent or relationship is
    not the line's to give: such a row is refused, saying why (it was "contains letters;
    dial vanity numbers as digits", and the do-not-call file was refused whole for it)."""
    head, extension = split_extension(number)
    if extension and kind != "internal-dnc":
        raise UsageError(f"number {quoted_number(number)} has an extension; a {kind} record "
                         "is a person's, not a desk's on a shared line: write the number "
                         "without the extension if the record is the line's")
    try:
        return parser.parse(head).e164, extension
    except NumberError as exc:
        # the number the parser read and quotes in its reason (without the extension):
        # quoting the cell as well said it twice, "'[number …5142 x…]': '[number …5142]'"
        raise UsageError(number_reason(quoted_number(head), str(exc))) from None


_BUILDERS: dict[str, Callable[[dict[str, str], str, str, datetime], RecordWrite]] = {
    "consent": _consent, "ebr": _ebr, "internal-dnc": _dnc}


def read_record_csv(
    lines: Iterable[str],
    kind: str,
    *,
    parser: NumberParser,
    solicitors: frozenset[str],
    solicitor: str | None = None,
    now: datetime | None = None,
    delimiter: str = ",",
) -> CsvImport:
    """Parse every row; ``solicitor`` fills rows without a solicitor column."""
    now = now or datetime.now(UTC)
    required, optional = COLUMNS[kind]
    # strict: a quote opened and never closed (a file cut short, a stray ``"``) is an
    # error, not the rest of the file read into one value — a do-not-call import that
    # folded every later row into the previous row's ``source`` reported success.
    reader = csv.DictReader(lines, delimiter=delimiter, strict=True)
    try:
        header = [name.strip() for name in reader.fieldnames or []]
    except csv.Error as exc:
        raise UsageError(f"line {reader.line_num}: {exc}; nothing imported") from None
    twice = sorted({name for name in header if name and header.count(name) > 1})
    if twice:
        raise UsageError(f"the header row names {', '.join(twice)} more than once (only "
                         "the last would be read); rename or remove the others")
    missing = [c for c in required if c not in header]
    if missing or ("solicitor" not in header and solicitor is None):
        need = missing + ([] if "solicitor" in header or solicitor else ["solicitor"])
        raise UsageError(f"the header row lacks {', '.join(need)}; {kind} columns: "
                         f"{', '.join(required)} (required), {', '.join(optional)}")
    reader.fieldnames = header
    writes: list[RecordWrite] = []
    errors: list[RowError] = []
    rows = extensions = 0
    build = _BUILDERS[kind]
    for row in _rows(reader):
        rows += 1
        line = reader.line_num
        if None in row:  # DictReader's restkey: more values than the header has columns
            errors.append(RowError(line, f"{len(header) + len(row[None])} values, the "
                                   f"header names {len(header)} columns (a value with an "
                                   "unquoted delimiter, or a number in a column of its own?)"))
            continue
        values = {k: (v or "").strip() for k, v in row.items() if isinstance(k, str)}
        try:
            who = _known(values.get("solicitor") or solicitor or "", solicitors)
            e164, extension = _e164(parser, values["number"], kind)
            writes.append(build(values, who, e164, now))
            extensions += extension
        except UsageError as exc:
            errors.append(RowError(line, str(exc)))
    return CsvImport(tuple(writes), tuple(errors), rows, extensions)


def _rows(reader: csv.DictReader[str]) -> Iterator[dict[str | None, Any]]:
    """The reader's rows; a malformed one (strict) ends the import with its lines: from the
    line after the last row read to the one the error came on. ``DictReader.line_num`` is
    set only once a row is read whole, so it named the last good row (the underlying
    reader's counts every line read)."""
    while True:
        first = reader.reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            last = reader.reader.line_num
            lines = f"line {first}" if last <= first else f"lines {first}-{last}"
            raise UsageError(f"{lines}: {exc} (a quote opened and never closed?); nothing "
                             "imported") from None
        yield row


def read_record_file(
    path: Path,
    kind: str,
    *,
    parser: NumberParser,
    solicitors: frozenset[str],
    solicitor: str | None = None,
) -> CsvImport:
    """Read a CSV file as ``callguard.csvfile`` reads every file (BOM, UTF-8 or
    Windows-1252, comma, semicolon or tab)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    refuse_not_text(path, data)  # a workbook was "the header row lacks number, kind, ..."
    try:
        text, _ = decode(data)
    except UnicodeDecodeError as exc:  # it said "not UTF-8" of a UTF-16/32 file too
        raise not_of_its_mark(path, exc) from None
    return read_record_csv(io.StringIO(text, newline=""), kind, parser=parser,
                           solicitors=solicitors, solicitor=solicitor,
                           delimiter=sniff_delimiter(text))
