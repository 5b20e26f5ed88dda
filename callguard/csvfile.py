"""The one reader of the files people export from spreadsheets and CRMs.

Every importer (consent, business relationships, company do-not-call, registry lists)
and ``scrub`` read through here, so a file that one accepts, all accept:

- a byte-order mark is dropped (Excel's "CSV UTF-8" writes one; UTF-16 "Unicode text"
  starts with one too and is read as such);
- the text is UTF-8 when it decodes as UTF-8, else Windows-1252 (Excel's "CSV" on a
  Western Windows; ``Jos\\xe9 Pe\\xf1a`` comes back as José Peña, not ``Jos� Pe�a``). A
  byte that Windows-1252 leaves undefined is read as Latin-1, so nothing is lost;
- the delimiter is the one of comma, semicolon (Excel where the decimal mark is a
  comma) and tab that splits the header into the most fields, the same number in the
  rows below.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from callguard.errors import UsageError

__all__ = ["DELIMITERS", "CsvTable", "LineTooLong", "decode", "decoded_lines", "read_csv",
           "sniff_delimiter"]

DELIMITERS = (",", ";", "\t")
_SNIFF_LINES = 20
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A whole CSV file: what it was read as, its header and its rows."""

    encoding: str
    delimiter: str
    header: list[str]
    rows: list[list[str]]
    line_numbers: list[int]  # the file line each row starts on (a quoted field may span)

    @property
    def delimiter_name(self) -> str:
        """The delimiter as a person says it."""
        return {",": "comma", ";": "semicolon", "\t": "tab"}.get(self.delimiter,
                                                                 repr(self.delimiter))


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name): UTF-8 (BOM or not), UTF-16 with a BOM, else Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    if data.startswith(_UTF16_BOMS):
        return data.decode("utf-16"), "utf-16"
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        return _cp1252(data), "cp1252"


def _latin1_for_undefined(error: UnicodeError) -> tuple[str, int]:
    """The bytes Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D), as Latin-1."""
    assert isinstance(error, UnicodeDecodeError)
    return error.object[error.start:error.end].decode("latin-1"), error.end


codecs.register_error("callguard-cp1252", _latin1_for_undefined)


def _cp1252(data: bytes) -> str:
    """Windows-1252, never an error: nothing of the file is lost."""
    return data.decode("cp1252", errors="callguard-cp1252")


def _cp1252_for_invalid(error: UnicodeError) -> tuple[str, int]:
    """Bytes that are not UTF-8, read as Windows-1252 (undefined ones as Latin-1)."""
    assert isinstance(error, UnicodeDecodeError)
    return _cp1252(error.object[error.start:error.end]), error.end


UTF8_ELSE_CP1252 = "callguard-utf8-else-cp1252"
codecs.register_error(UTF8_ELSE_CP1252, _cp1252_for_invalid)


class LineTooLong(ValueError):
    """A line of ``decoded_lines`` longer than its ``max_line``: its number (from 1) and
    its first ``max_line`` characters (what it is: a binary file? zeros of a download?)."""

    def __init__(self, number: int, start: str) -> None:
        super().__init__(f"line {number} is longer than {len(start):,} characters")
        self.number = number
        self.start = start


def decoded_lines(stream: BinaryIO, *, max_line: int | None = None) -> Generator[str, None, None]:
    """Lines of a stream too large to hold (a registry list), decoded as they come: a BOM
    dropped, UTF-8, any byte that is not UTF-8 read as Windows-1252. The decoding stays in
    C (``io.TextIOWrapper`` with an error handler): a per-line Python decode cost ~10 % on
    a 2-million-line file.

    With ``max_line``, a line is read at most that many characters at a time, and one
    longer raises LineTooLong: a file with no line break for gigabytes (the zeros of a
    download that never came, a binary file) was otherwise read whole into memory. Close
    the iterator (``contextlib.closing``) before the stream: it lets the stream go."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors=UTF8_ELSE_CP1252)
    try:
        if max_line is None:
            yield from text
            return
        number = 0
        while line := text.readline(max_line):
            number += 1
            if len(line) == max_line and not line.endswith("\n") and text.read(1):
                raise LineTooLong(number, line)
            yield line
    finally:
        text.detach()  # the caller closes its own stream


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the header into the most fields, consistently below.

    ``csv.Sniffer`` guesses from character frequencies and picks letters or spaces on
    short files; the candidates here are the three that spreadsheets write.
    """
    head = text.splitlines()[:_SNIFF_LINES]
    if not head:
        return ","
    best, best_fields = ",", 1
    for delimiter in DELIMITERS:
        rows = [r for r in csv.reader(io.StringIO("\n".join(head)), delimiter=delimiter) if r]
        fields = len(rows[0]) if rows else 1
        # Rows below the header agree on the field count (a comma inside a name in a
        # semicolon file splits only some rows); the last may be cut by the sample.
        consistent = all(len(r) == fields for r in rows[1:-1])
        if fields > best_fields and consistent:
            best, best_fields = delimiter, fields
    return best


def read_csv(path: Path) -> CsvTable:
    """The whole file as a table; an unreadable or empty file is a UsageError."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory; give a CSV file") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    try:
        text, encoding = decode(data)
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: starts with a UTF-8 byte-order mark but is not UTF-8 "
                         f"({exc.reason} at byte {exc.start}); save it again as CSV UTF-8"
                         ) from None
    delimiter = sniff_delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [name.strip() for name in next(reader)]
    except StopIteration:
        raise UsageError(f"{path} is empty; the first line must name the columns") from None
    rows: list[list[str]] = []
    starts: list[int] = []
    start = reader.line_num + 1
    for row in reader:
        if row:  # a blank line is no row
            rows.append(row)
            starts.append(start)
        start = reader.line_num + 1
    return CsvTable(encoding, delimiter, header, rows, starts)
