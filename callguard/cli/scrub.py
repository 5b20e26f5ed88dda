"""``callguard scrub``: the daily pre-dial scrub of a lead file through the full gate.

Every row is decided exactly as a live call would be (same gate, same compliance record),
at the instant the calls are planned for. The output CSV is the input plus verdict, rule,
reason, decision id and the list versions read (do-not-call and number attribute lists,
``callguard_lists``); a malformed row is reported and written, never skipped: one with more
cells than the header names is the recorded BLOCK ``callguard:malformed-row`` (which cell is
the number is a guess), written whole, its extra cells after the added columns; one with
fewer is decided on the cells it has. A number not written in ASCII (full-width or another
script's digits) is the recorded BLOCK ``callguard:non-ascii-number``: the dialer dials the
cell as written, not the number the gate read.
A blank row (every cell empty or spaces: a spreadsheet's trailing ",,,") names no one: it
is skipped and counted, not decided (it was a recorded BLOCK "no number given").
The leads file is read by ``callguard.csvfile`` (BOM, UTF-8 or Windows-1252, comma,
semicolon or tab); the output keeps the input's delimiter and byte-order mark, in UTF-8.
``--only callable`` writes the ALLOW rows alone (a file to load into a dialer),
``--only suppressed`` the BLOCK rows; the summary always counts every row.

A scrub places no call, so it reserves no call-frequency count; the caps are still judged,
read-only, against the calls already counted, and the run holds its own ALLOWed rows as
tentative calls (``ScrubCounts``): rows of one number are decided in file order, and only
as many pass as the cap leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import os
import stat
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NoReturn, TextIO

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Table
from rich.text import Text

from callguard.cli.common import (
    CliState,
    campaign_or_exit,
    output_path_or_exit,
    own_files_or_exit,
    parse_instant,
    run,
    usage_error,
)
from callguard.cli.output import console
from callguard.cli.render import print_json
from callguard.compliance.report import spreadsheet_cell
from callguard.csvfile import CsvTable, read_csv
from callguard.decision import Decision
from callguard.errors import UsageError
from callguard.facts.frequency import FREQUENCY, ScrubCounts
from callguard.gate import CheckRequest, Gate
from callguard.numbers.parse import named_character
from callguard.numbers.redact import redact_digits
from callguard.policy import DialingMode
from callguard.policy.core import FAIL_CLOSED, refusal

__all__ = ["NON_ASCII_NUMBER", "lists_read", "not_ascii", "scrub"]

_NUMBER_COLUMNS = ("phone", "number", "telephone", "phone_number", "tel")
_LOCATION_COLUMNS = ("zip", "postal_code", "zipcode", "tz", "time_zone", "timezone")
ADDED = ("callguard_verdict", "callguard_rule", "callguard_reason", "callguard_decision_id",
         "callguard_lists")
_WINDOW = 256  # rows decided together (the output keeps the input's order)
MALFORMED_ROW = "callguard:malformed-row"
NON_ASCII_NUMBER = "callguard:non-ascii-number"


_ONLY = {"callable": "ALLOW", "suppressed": "BLOCK"}


def _write_row(writer: Any, keep: list[int], width: int, row: list[str], decision: Decision,
               verdicts: Counter[str], rules: Counter[str], only: str | None) -> None:
    deciding = decision.verdict.deciding
    rule = deciding.rule_id if deciding else ""
    verdicts[decision.verdict.verdict] += 1
    rules[rule or "ALLOW"] += 1
    if only is not None and decision.verdict.verdict != _ONLY[only]:
        return
    padded = [row[i] if i < len(row) else "" for i in keep]
    # cells past the header's last column after the added ones: under their own header,
    # the verdict is where the dialer reads it, and nothing of the row is lost (hrev157)
    writer.writerow(_cells([*padded, decision.verdict.verdict, rule, decision.verdict.reason,
                            decision.decision_id, lists_read(decision),
                            *row[width:]]))


def _cells(row: list[str]) -> list[str]:
    """The output row as a spreadsheet shows text: a vendor's lead file is not trusted, and
    a cell ``=HYPERLINK(...)`` ran when the officer opened the scrubbed file in Excel
    (``spreadsheet_cell``, as evidence and report CSVs). A cell starting ``+``/``-`` with no
    letter names no function, cell or DDE program (arithmetic at worst): it is kept as
    written, for the dialer reads it (``+1 801 555 0123``, a UTC offset ``-07:00``, a
    ``-`` placeholder; review 61)."""
    return [cell if cell[:1] in ("+", "-") and not any(c.isalpha() for c in cell)
            else str(spreadsheet_cell(cell)) for cell in row]


def _turns(window: list[list[str]], number_index: int) -> list[list[int]]:
    """Row indexes of ``window`` in turns: turn k holds each number's k-th row, so rows of
    one number are decided one after another, in file order (each sees the ones before it
    as tentative calls), and rows of different numbers together."""
    turns: list[list[int]] = []
    seen: Counter[str] = Counter()
    for index, row in enumerate(window):
        digits = "".join(ch for ch in (row[number_index] if number_index < len(row) else "")
                         if ch.isdigit())
        key = digits[1:] if len(digits) == 11 and digits.startswith("1") else digits
        turn = seen[key]
        seen[key] += 1
        if turn == len(turns):
            turns.append([])
        turns[turn].append(index)
    return turns


async def _decide(gate: Gate, window: list[list[str]], lines: list[int], width: int,
                  number_index: int,
                  request: Callable[[list[str]], CheckRequest]) -> list[Decision]:
    """Every row of ``window``, a turn at a time (``_turns``), in the window's order; a row
    with more cells than the header's ``width`` is the recorded BLOCK ``MALFORMED_ROW``, one
    whose number is not written in ASCII ``NON_ASCII_NUMBER`` (``not_ascii``)."""
    def one(i: int) -> Awaitable[Decision]:
        row = window[i]
        if len(row) <= width:
            why = not_ascii(row[number_index]) if number_index < len(row) else None
            if why is None:
                return gate.check(request(row))
            return gate.refuse(request(row), refusal(NON_ASCII_NUMBER, FAIL_CLOSED, why),
                               started=time.perf_counter())
        return gate.refuse(request(row), refusal(
            MALFORMED_ROW, FAIL_CLOSED,
            f"line {lines[i]} has {len(row)} cells, the header names {width}: which is the "
            "number is a guess (a delimiter in a name, a column without a header?); fix "
            "the row and scrub again"), started=time.perf_counter())

    decisions: dict[int, Decision] = {}
    for turn in _turns(window, number_index):
        decided = await asyncio.gather(*(one(i) for i in turn))
        decisions.update(zip(turn, decided, strict=True))
    return [decisions[i] for i in range(len(window))]


def not_ascii(cell: str) -> str | None:
    """Why a number cell not written in ASCII is refused, or None. The gate reads any
    script's digits as ASCII (``callguard.numbers.parse``), but the output gives the dialer
    the cell as written, never the number checked: full-width "801…" dialled, if dialled at all, is
    not the ASCII number the ALLOW was for. So, as FastAGI refuses an ARG1 that Dial() would
    not dial as checked (``not_dialable``), the row is the recorded BLOCK
    ``NON_ASCII_NUMBER`` (the record names the number read: a lookup by it finds the row).
    HTTP and SIP answer with the ASCII E.164 to dial (``number``, the 302 Contact)."""
    if cell.isascii():
        return None
    char = next(c for c in cell if not c.isascii())
    return (f"the number is written with {named_character(char)}, not in ASCII; the "
            "scrubbed file gives the dialer the number as written, not the number checked: "
            "write it in ASCII digits (0-9, a leading +) in the lead file and scrub again")


def lists_read(decision: Decision) -> str:
    """``attr-wireless v3; national v12``: every list version the decision read (do-not-call
    and number attribute lists alike), as in its compliance record's ``lists``."""
    return "; ".join(f"{name} v{version}" for name, version in decision.verdict.lists)


class _RowRate(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} rows/s" if speed else "", style="progress.data.speed")


def _pick(fields: list[str], wanted: str | None, candidates: tuple[str, ...],
          what: str, *, required: bool) -> str | None:
    """The column to read, refused when two could be it: the verdict covers one number,
    and a dialer reading the other would dial what was not checked. Of location columns
    the first candidate is taken (zip and tz may both be there), of one name only one."""
    if wanted is not None:
        if wanted not in fields:
            usage_error(f"--{what}-column {wanted!r} is not a column; columns: "
                        f"{redact_digits(str(fields))}{_no_header(fields)}")
        if wanted.strip().lower() in ADDED:  # hnew26/hnew30: was taken, and decided
            usage_error(f"--{what}-column {wanted!r} is a column an earlier scrub wrote "
                        "(its verdicts; this run replaces them): name the leads' own "
                        f"{what} column")
        _once_or_exit(fields, wanted, what)
        return wanted
    found = sorted((f for f in fields if f.lower() in candidates),
                   key=lambda f: candidates.index(f.lower()))
    if what == "number" and len({f.lower() for f in found}) > 1:
        usage_error(f"columns {', '.join(map(repr, found))} could each be the {what} column; "
                    f"name the one to decide with --{what}-column (the verdict covers that "
                    "column alone)")
    if found:
        _once_or_exit(fields, found[0], what)
        return found[0]
    if required:
        usage_error(f"no {what} column found (looked for {', '.join(candidates)}); the "
                    f"file's columns: {redact_digits(', '.join(map(repr, fields)))}; name "
                    f"the {what} column with --{what}-column{_no_header(fields)}")
    return None


def _no_header(fields: list[str]) -> str:
    """When the first line holds a phone number, the file has no header line: say so (and
    never repeat the number: stderr reaches cron mail and journald)."""
    if any(redact_digits(field) != field for field in fields):
        return ("; its first line holds a phone number, so it has no header line: add one "
                "naming the columns (e.g. phone,zip), or the first lead is read as the header")
    return ""


def _once_or_exit(fields: list[str], name: str, what: str) -> None:
    """A column name the header gives twice (in any case) names no one column."""
    places = [str(i + 1) for i, f in enumerate(fields) if f.lower() == name.lower()]
    if len(places) > 1:
        usage_error(f"the {what} column {name!r} appears {len(places)} times in the header "
                    f"(columns {', '.join(places)}): the verdict would read the first alone "
                    "while the dialer may read another; rename the others")


def _quotes_closed_or_exit(leads: Path, table: CsvTable) -> None:
    """A quote opened and never closed (a file cut short, a stray ``"`` typed in a name)
    makes the rest of the file one value: its leads were neither decided nor written, and
    the summary counted one row; on the last line of a file cut short (``Cal,"80155501``)
    the value read to the end was decided as a number. ``read_csv`` finds it in the text
    it decoded (``CsvTable.unclosed_quote``): the file is not read again — a pipe cannot be
    (hrev157)."""
    if table.unclosed_quote is None:
        return
    start, lines = table.unclosed_quote
    spans = (f"lines {start}-{lines} would be read as one value and their leads"
             if lines > start else f"the rest of line {start} would be read as one "
             "value, cut where the file ends, and its lead")
    usage_error(f"{leads}: a quote opened on line {start} is never closed, so {spans} "
                "neither decided nor written; close or remove that quote (nothing was "
                "decided)")


def _target(state: CliState, leads: Path, output: Path | None,
            as_json: bool) -> tuple[Path, bool]:
    """Where the CSV goes, and whether that is standard output; checked before any work."""
    from callguard.runtime import log_path  # noqa: PLC0415 - lazy, like every command

    to_stdout = output is not None and str(output) == "-"
    if to_stdout and as_json:
        usage_error("--output - and --json both want standard output; write the CSV to a "
                    "file (--output FILE) or drop --json")
    target = output_path_or_exit("--output", output or default_output(leads))
    data_dir = state.settings.data_dir
    own_files_or_exit("--output", target, data_dir=data_dir, archive=data_dir / "archive",
                      logs=(log_path(state.settings),))
    if not to_stdout and target.exists() and target.samefile(leads):
        usage_error(f"--output {target} is the lead file itself: writing it would destroy "
                    "the leads; choose another path (default: LEADS with .scrubbed.csv)")
    if not to_stdout and not _replaceable(target):
        usage_error(f"{target} exists and is no scrub's output (its header has no "
                    "callguard_verdict column): writing it would destroy it, and it may be "
                    "another lead file; move it away or name another file with --output")
    return target, to_stdout


def default_output(leads: Path) -> Path:
    """Beside the leads: ``leads.csv`` -> ``leads.scrubbed.csv``; any other name is kept
    whole, ``leads`` -> ``leads-scrubbed.csv``, ``leads.txt`` -> ``leads.txt-scrubbed.csv``.
    ``leads`` and ``leads.csv`` both wrote ``leads.scrubbed.csv``, the second run over the
    first's output; a ``.csv`` input's output ends ``.scrubbed.csv``, any other's
    ``-scrubbed.csv``, so no two inputs of one folder share one."""
    if leads.suffix.lower() == ".csv":
        return leads.with_name(f"{leads.stem}.scrubbed{leads.suffix}")
    return leads.with_name(f"{leads.name}-scrubbed.csv")


def _replaceable(target: Path) -> bool:
    """True for a path scrub may write: none yet, empty, not a regular file (a pipe,
    /dev/null), or an earlier scrub's output (its header names ``callguard_verdict``).
    Anything else — a lead file, a report — is someone's data."""
    try:
        if not target.is_file() or target.stat().st_size == 0:
            return True
        with target.open("rb") as handle:
            first = handle.readline(1 << 16)
    except OSError:
        return True  # unreadable: output_path_or_exit already said whether it is writable
    for encoding in ("utf-8", "utf-16"):
        try:
            if ADDED[0] in first.decode(encoding).lower():
                return True
        except UnicodeDecodeError:
            continue
    return False


def _kept(header: list[str]) -> list[int]:
    """Indexes of the input columns written out: all but the ``callguard_*`` columns of an
    earlier scrub (yesterday's output scrubbed again), which this run's replace — written
    twice, a dialer would read whichever verdict came first."""
    return [i for i, name in enumerate(header) if name.strip().lower() not in ADDED]


def _columns(header: list[str], number_column: str | None,
             location_column: str | None) -> tuple[int, int | None]:
    """Indexes of the number column (required) and the location column (optional)."""
    number_col = _pick(header, number_column, _NUMBER_COLUMNS, "number", required=True)
    location_col = _pick(header, location_column, _LOCATION_COLUMNS, "location",
                         required=False)
    return (header.index(number_col) if number_col else 0,
            header.index(location_col) if location_col else None)


@click.command()
@click.argument("leads", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--campaign", required=True, help="Campaign id from the configuration.")
@click.option("--at", "at_text", required=True, metavar="ISO-8601",
              help="When the calls will be placed (with UTC offset).")
@click.option("--mode", type=click.Choice([m.value for m in DialingMode]),
              help="Dialing mode; default: the campaign's.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Output CSV ('-': standard output); default: LEADS with .scrubbed.csv.")
@click.option("--only", type=click.Choice(list(_ONLY)),
              help="Write only the callable (ALLOW) or the suppressed (BLOCK) rows.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the summary as JSON on standard output.")
@click.option("--number-column", help="Column holding the phone number.")
@click.option("--location-column", help="Column holding a ZIP code or IANA time zone.")
@click.pass_obj
def scrub(state: CliState, leads: Path, campaign: str, at_text: str, mode: str | None,
          output: Path | None, only: str | None, as_json: bool, number_column: str | None,
          location_column: str | None) -> None:
    """Decide every row of LEADS for CAMPAIGN at --at; write verdicts and a summary."""
    at = parse_instant(at_text)
    campaign_or_exit(state.settings, campaign)
    target, to_stdout = _target(state, leads, output, as_json)
    table, blank = _leads_or_exit(leads)
    keep = _kept(table.header)
    header, rows = table.header, table.rows
    number_index, location_index = _columns(header, number_column, location_column)
    err = console(stderr=True)
    if not rows:
        _no_rows(err, leads, campaign, at.isoformat(), table, only, as_json, target,
                 to_stdout, blank)
    runtime = state.runtime()
    verdicts: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    malformed: list[str] = []

    async def go() -> None:
        await runtime.start_deciding()
        try:
            with _opened(target, table) as out, Progress(
                    TextColumn("scrubbing"), BarColumn(), TextColumn("{task.completed:,}/"
                    "{task.total:,} rows"), _RowRate(), console=err) as progress:
                writer = csv.writer(out, delimiter=table.delimiter)
                writer.writerow(_cells([*(header[i] for i in keep), *ADDED]))
                task = progress.add_task("scrub", total=len(rows))
                # No frequency store: the caps' facts are unfetched and the gate BLOCKs.
                stores = ({FREQUENCY: ScrubCounts(runtime.frequency)}
                          if runtime.frequency is not None else None)

                def request(row: list[str]) -> CheckRequest:
                    number = row[number_index] if number_index < len(row) else ""
                    location = (row[location_index] if location_index is not None
                                and location_index < len(row) else None)
                    return CheckRequest(number=number, campaign=campaign, mode=mode, at=at,
                                        location=location or None, front="scrub",
                                        stores=stores)

                # Rows are decided _WINDOW at a time: their compliance records share one
                # write (and one fdatasync under [log] durability = "group").
                for first in range(0, len(rows), _WINDOW):
                    window = rows[first:first + _WINDOW]
                    lines = table.line_numbers[first:first + _WINDOW]
                    decisions = await _decide(runtime.gate, window, lines, len(header),
                                              number_index, request)
                    for line, row, decision in zip(lines, window, decisions, strict=True):
                        if len(row) != len(header):
                            malformed.append(f"line {line}: {len(row)} fields, header has "
                                             f"{len(header)}")
                        _write_row(writer, keep, len(header), row, decision, verdicts,
                                   rules, only)
                        progress.advance(task)
        finally:
            await runtime.aclose()

    run(go())
    outcome = _Outcome(leads, campaign, at.isoformat(), table, verdicts, rules, malformed,
                       only, "standard output" if to_stdout else str(target), blank)
    if as_json:
        print_json(outcome.to_json())
    else:
        _summary(err, f"scrub of {leads.name} for {campaign} at {outcome.at}", verdicts,
                 rules, malformed)
    if len(keep) < len(header):
        err.print(f"{leads.name} holds an earlier scrub's callguard_* columns: replaced by "
                  "this run's (one verdict per row)", highlight=False)
    err.print(outcome.line(), highlight=False)
    sys.exit(0)


def _leads_or_exit(leads: Path) -> tuple[CsvTable, list[int]]:
    """The lead file read (a usage error if it cannot be), without its blank rows, and
    their line numbers."""
    try:
        table = read_csv(leads)
    except UsageError as exc:
        usage_error(str(exc))
    _quotes_closed_or_exit(leads, table)
    return _without_blank_rows(table)


def _without_blank_rows(table: CsvTable) -> tuple[CsvTable, list[int]]:
    """The table without its blank rows, and their line numbers. Blank: every cell of the
    row (an earlier scrub's ``callguard_*`` columns aside) empty or spaces — those past the
    header's last column too: ",,Ann Smith" under "name,phone" names someone, a malformed
    row to decide and report, never to skip (it was skipped as blank: hrev140)."""
    earlier = set(range(len(table.header))) - set(_kept(table.header))
    blank = [i for i, row in enumerate(table.rows)
             if not any(cell.strip() for k, cell in enumerate(row) if k not in earlier)]
    if not blank:
        return table, []
    skipped = set(blank)
    kept = [i for i in range(len(table.rows)) if i not in skipped]
    return (replace(table, rows=[table.rows[i] for i in kept],
                    line_numbers=[table.line_numbers[i] for i in kept]),
            [table.line_numbers[i] for i in blank])


def _no_rows(err: Console, leads: Path, campaign: str, at: str, table: CsvTable,
             only: str | None, as_json: bool, target: Path, to_stdout: bool,
             blank: list[int]) -> NoReturn:
    """A header and no rows: nothing to decide, and exit 0 — a day with no leads is not a
    fault for the cron job that runs the scrub — but the output is still written, header
    only, so that a dialer loading it calls no one instead of yesterday's rows (scrubbed
    for another instant). The gate is not started: no record is made."""
    with _opened(target, table) as out:
        csv.writer(out, delimiter=table.delimiter).writerow(
            _cells([*(table.header[i] for i in _kept(table.header)), *ADDED]))
    outcome = _Outcome(leads, campaign, at, table, Counter(), Counter(), [], only,
                       "standard output" if to_stdout else str(target), blank)
    if as_json:
        print_json(outcome.to_json())
    err.print(f"{leads} has a header and no rows: nothing to decide (exit 0: an empty lead "
              f"file is not an error); {outcome.line()} — header only, so a dialer loading "
              "it calls no one", highlight=False)
    sys.exit(0)


@dataclass(frozen=True, slots=True)
class _Outcome:
    """What a scrub did, for the summary line and ``--json``."""

    leads: Path
    campaign: str
    at: str
    table: CsvTable
    verdicts: Counter[str]
    rules: Counter[str]
    malformed: list[str]
    only: str | None
    where: str
    blank: list[int]  # line numbers of the blank rows skipped

    @property
    def written(self) -> int:
        return len(self.table.rows) if self.only is None else self.verdicts[_ONLY[self.only]]

    def to_json(self) -> dict[str, Any]:
        return {"leads": str(self.leads), "campaign": self.campaign, "at": self.at,
                "rows": len(self.table.rows), "verdicts": dict(self.verdicts),
                "rules": {r: n for r, n in self.rules.most_common() if r != "ALLOW"},
                "malformed": self.malformed, "blank_skipped": len(self.blank),
                "output": self.where, "only": self.only,
                "written": self.written,
                "read_as": {"encoding": self.table.encoding,
                            "delimiter": self.table.delimiter}}

    def line(self) -> str:
        only = "" if self.only is None else f", {self.only} only"
        return (f"wrote {self.where} ({self.written:,} of {len(self.table.rows):,} rows{only}; "
                f"{self.blank_note()}read as {self.table.encoding}, "
                f"{self.table.delimiter_name}-separated)")

    def blank_note(self) -> str:
        """"N blank rows skipped (lines ...); " or nothing (the first 20 lines named)."""
        if not self.blank:
            return ""
        lines = ", ".join(map(str, self.blank[:20])) + (" ..." if len(self.blank) > 20 else "")
        rows, at = ("row", "line") if len(self.blank) == 1 else ("rows", "lines")
        return f"{len(self.blank):,} blank {rows} skipped ({at} {lines}); "


@contextlib.contextmanager
def _opened(target: Path, table: CsvTable) -> Iterator[TextIO]:
    """The output: standard output for '-', else the file, replaced whole once written;
    UTF-8, with a BOM when the input had one (Excel then reads the names right)."""
    # utf-32 too: read since hadm23, its output lost the mark (hrev101)
    encoding = "utf-8-sig" if table.encoding in ("utf-8-sig", "utf-16", "utf-32") else "utf-8"
    if str(target) == "-":
        out = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, newline="",
                               write_through=True)
        try:
            yield out
        finally:
            out.detach()
        return
    if target.exists() and not target.is_file():  # a pipe, /dev/null: written as it goes
        with target.open("w", newline="", encoding=encoding) as handle:
            yield handle
        return
    # A file appears whole or not at all: a scrub that dies half-way (a store gone, a
    # kill) must not leave a cut file a dialer loads as the day's callable leads, nor
    # destroy yesterday's output before today's is complete.
    # rename() replaces a symbolic link, not the file it names (POSIX rename): the file
    # behind a link is the one replaced, as open("w") wrote it before (a link to the
    # dialer's import directory kept yesterday's leads there, hrev19); its permissions
    # are kept too (a new file took the umask's).
    target = Path(os.path.realpath(target))
    try:
        mode: int | None = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        mode = None
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with partial.open("w", newline="", encoding=encoding) as handle:
            yield handle
            handle.flush()
            if mode is not None:
                os.fchmod(handle.fileno(), mode)
            os.fsync(handle.fileno())
        os.replace(partial, target)
        _sync_directory(target.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()


def _sync_directory(directory: Path) -> None:
    """fsync the directory, so the rename itself survives a power cut (without it the
    old file may come back after a crash, fsync(2): an fsync of the file does not make
    its directory entry durable)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # a directory this user may write but not read: the file is written
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _summary(err: Console, title: str, verdicts: Counter[str], rules: Counter[str],
             malformed: list[str]) -> None:
    err.print(title, highlight=False)  # above, not a table title rich would wrap
    table = Table("verdict / deciding rule", "rows")
    for verdict, count in verdicts.most_common():
        table.add_row(f"[bold]{verdict}[/]", f"{count:,}")
        if verdict == "BLOCK":  # the deciding rules right under the BLOCK count
            for rule, blocked in rules.most_common():
                if rule != "ALLOW":
                    table.add_row(f"  {rule}", f"{blocked:,}")
    err.print(table)
    for problem in malformed[:20]:
        err.print(f"[yellow]malformed {problem}[/] (decided and written, not skipped)",
                  highlight=False)
