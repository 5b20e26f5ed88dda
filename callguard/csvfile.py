"""The one reader of the files people export from spreadsheets and CRMs.

Every importer (consent, business relationships, company do-not-call, registry lists)
and ``scrub`` read through here, so a file that one accepts, all accept:

- a byte-order mark is dropped (Excel's "CSV UTF-8" writes one; UTF-16 "Unicode text"
  starts with one too and is read as such, and so is UTF-32 with its mark);
- a file that is no text at all (a workbook, an archive, a PDF, compressed) is refused
  saying what it is and how to make the CSV (``not_text``), known by its first bytes: an
  .xlsx read as text was "cut short", "a stretch of zeros" or "no numbers", and the admin was sent
  to fetch the same file again;
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
import zipfile
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from callguard.errors import UsageError

__all__ = ["BYTE_ORDER_MARKS", "DELIMITERS", "CsvTable", "LineTooLong", "NotText", "decode",
           "decoded_lines", "not_of_its_mark", "not_text", "read_csv", "refuse_not_text",
           "sniff_delimiter", "text_encoding"]

DELIMITERS = (",", ";", "\t")
_SNIFF_LINES = 20
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_UTF32_BOMS = (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)  # FF FE 00 00 starts like UTF-16 LE
# Every byte-order mark ``decode`` and ``text_encoding`` read
BYTE_ORDER_MARKS = (codecs.BOM_UTF8, *_UTF16_BOMS, *_UTF32_BOMS)
HEAD = 4096  # bytes of a file's start that ``not_text`` looks at

# The first bytes ("magic numbers") of the formats lists and leads arrive in that are not
# text. A .xlsx, .xlsm, .ods and .docx are ZIP archives; .xls (and .doc, .msg) are OLE2
# compound files.
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # a member first; an empty archive
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_PDF = b"%PDF-"
_GZIP = b"\x1f\x8b"
_ODS = b"mimetypeapplication/vnd.oasis.opendocument.spreadsheet"  # stored first, uncompressed
# Other compressions and archives (hrev101: read as text, a list was "cut short ... Fetch
# the file again"): each format's whole signature, which no list or lead file starts with
# (zstd's four bytes are "(µ/ý" in Windows-1252: no number, no column name).
_PACKED = (
    (b"\xfd7zXZ\x00", "xz-compressed, not text", "decompress it (unxz) and use the file inside"),
    (b"\x28\xb5\x2f\xfd", "zstd-compressed, not text",
     "decompress it (unzstd) and use the file inside"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive, not text",
     "extract it (7z x) and use the file inside"),
    (b"Rar!\x1a\x07", "a RAR archive, not text", "extract it (unrar x) and use the file inside"),
)
_BZIP2_BLOCKS = (b"1AY&SY", b"\x17\x72\x45\x38\x50\x90")  # "BZh" level, then a block or the end
_SAVE_AS_CSV = ('open it in Excel and use File > Save As, file type "CSV UTF-8 (Comma '
                'delimited) (*.csv)"; or in LibreOffice Calc, File > Save As, file type '
                '"Text CSV (.csv)", character set "Unicode (UTF-8)"; then use that .csv')


@dataclass(frozen=True, slots=True)
class CsvTable:
    """A whole CSV file: what it was read as, its header and its rows."""

    encoding: str
    delimiter: str
    header: list[str]
    rows: list[list[str]]
    line_numbers: list[int]  # the file line each row starts on (a quoted field may span)
    # A quote opened and never closed: (the line it opens on, the file's last line), as the
    # reader counts lines (CR, LF or CRLF); found in the decoded text, so a lead file from a
    # pipe is read once and a UTF-16 "č" (01 0D) is no line break
    unclosed_quote: tuple[int, int] | None = None

    @property
    def delimiter_name(self) -> str:
        """The delimiter as a person says it."""
        return {",": "comma", ";": "semicolon", "\t": "tab"}.get(self.delimiter,
                                                                 repr(self.delimiter))


@dataclass(frozen=True, slots=True)
class NotText:
    """A file that is no text: what it is, as a person names it, and how to get text."""

    what: str
    advice: str


def not_text(head: bytes, path: Path | None = None) -> NotText | None:
    """What a file starting with ``head`` (its first ``HEAD`` bytes) is when it is a
    workbook, an archive or a PDF, none of which callguard reads; None for anything else.
    ``path``, the file itself (not a gzip file's content): a ZIP archive's member names
    are read from it, so an .xlsx written with its workbook past ``head`` is still named."""
    if head.startswith(_OLE2):
        return NotText("an Excel 97-2003 workbook (.xls) or another old Microsoft Office "
                       "file, not text", _SAVE_AS_CSV)
    if head.startswith(_PDF):
        return NotText("a PDF document, not text",
                       "ask whoever sent it for the list as CSV or text (one number a "
                       "line); text copied out of a PDF loses and merges lines")
    if head.startswith(_GZIP):
        return NotText("gzip-compressed, not text",
                       "decompress it (gunzip) and use the file inside")
    for signature, what, advice in _PACKED:
        if head.startswith(signature):
            return NotText(what, advice)
    if head[:3] == b"BZh" and b"1" <= head[3:4] <= b"9" and head[4:10] in _BZIP2_BLOCKS:
        return NotText("bzip2-compressed, not text",
                       "decompress it (bunzip2) and use the file inside")
    if not head.startswith(_ZIP):
        return None
    names = _zip_names(path)
    if head[30:].startswith(_ODS):
        return NotText("an OpenDocument spreadsheet (.ods), not text", _SAVE_AS_CSV)
    if any(name.startswith("xl/") for name in names) or (
            not names and (b"[Content_Types].xml" in head or b"xl/" in head)):
        return NotText("an Excel workbook (.xlsx), not text", _SAVE_AS_CSV)
    inside = "" if not names else (
        f" holding {', '.join(names[:3])}" + (f" and {len(names) - 3} more" if len(names) > 3
                                              else ""))
    return NotText(f"a ZIP archive{inside}, not text",
                   "extract it (unzip) and use the file inside")


def _zip_names(path: Path | None) -> list[str]:
    """The member names of a ZIP archive at ``path`` (files only), or [] when unreadable."""
    if path is None:
        return []
    try:
        with zipfile.ZipFile(path) as archive:
            return [name for name in archive.namelist() if not name.endswith("/")]
    except (OSError, zipfile.BadZipFile, ValueError):
        return []


def text_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark at the start of ``head`` names (UTF-32 before UTF-16:
    its little-endian mark starts with UTF-16's), or None."""
    if head.startswith(_UTF32_BOMS):
        return "utf-32"
    if head.startswith(_UTF16_BOMS):
        return "utf-16"
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    return None


def decode(data: bytes) -> tuple[str, str]:
    """(text, encoding name): UTF-8 (BOM or not), UTF-16 or UTF-32 with a BOM, else
    Windows-1252."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8):].decode("utf-8", errors="strict"), "utf-8-sig"
    wide = text_encoding(data)
    if wide is not None:
        return data.decode(wide), wide
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


def decoded_lines(stream: BinaryIO, *, max_line: int | None = None,
                  encoding: str = "utf-8-sig") -> Generator[str, None, None]:
    """Lines of a stream too large to hold (a registry list), decoded as they come: a BOM
    dropped, UTF-8, any byte that is not UTF-8 read as Windows-1252. The decoding stays in
    C (``io.TextIOWrapper`` with an error handler): a per-line Python decode cost ~10 % on
    a 2-million-line file.

    With ``max_line``, a line is read at most that many characters at a time, and one
    longer raises LineTooLong: a file with no line break for gigabytes (the zeros of a
    download that never came, a binary file) was otherwise read whole into memory. Close
    the iterator (``contextlib.closing``) before the stream: it lets the stream go.
    ``encoding``: "utf-16" or "utf-32" for a stream that starts with their byte-order mark
    (``text_encoding``); bytes that are not of it are read as Windows-1252 too."""
    text = io.TextIOWrapper(stream, encoding=encoding, errors=UTF8_ELSE_CP1252)
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


def refuse_not_text(path: Path, data: bytes) -> None:
    """A UsageError when ``data``, the file at ``path``, is a workbook, archive or PDF."""
    found = not_text(data[:HEAD], path)
    if found is not None:
        raise UsageError(f"{path} is {found.what}: callguard reads CSV files; "
                         f"{found.advice} (nothing was read)")


def not_of_its_mark(path: Path, exc: UnicodeDecodeError) -> UsageError:
    """The refusal of a file that starts with a byte-order mark and then does not decode as
    the mark says (``decode`` raised ``exc``): a copy cut at an odd byte, a lone surrogate.
    The codec names UTF-16/32 by byte order ("utf-16-le"), and UTF-8's byte is counted
    after its mark; this names the encoding as the mark does, and the byte in the file."""
    codec = exc.encoding.replace("_", "-").lower()
    name = next((n for n in ("UTF-16", "UTF-32") if codec.startswith(n.lower())), "UTF-8")
    at = exc.start + (len(codecs.BOM_UTF8) if name == "UTF-8" else 0)
    return UsageError(f"{path}: starts with a {name} byte-order mark but is not {name} "
                      f"({exc.reason} at byte {at}); save it again as CSV UTF-8")


def read_csv(path: Path) -> CsvTable:
    """The whole file as a table; an unreadable or empty file is a UsageError."""
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise UsageError(f"{path} is a directory; give a CSV file") from None
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror}") from None
    refuse_not_text(path, data)
    try:
        text, encoding = decode(data)
    except UnicodeDecodeError as exc:
        raise not_of_its_mark(path, exc) from None
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
    unclosed = ((starts[-1] if starts else 1, reader.line_num)
                if _quote_left_open(text, delimiter, [header, *rows]) else None)
    return CsvTable(encoding, delimiter, header, rows, starts, unclosed)


def _quote_left_open(text: str, delimiter: str, rows: list[list[str]]) -> bool:
    """Whether a quote is opened and never closed: the reader, not strict, reads the rest
    of the file as one value. Only text with a value spanning lines, or not ending with a
    line break (a quote opened on the last line spans none), is parsed again, strictly."""
    if (text.endswith(("\n", "\r"))
            and not any("\n" in value or "\r" in value for row in rows for value in row)):
        return False
    try:
        for _ in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True):
            pass
    except csv.Error as exc:
        return "unexpected end of data" in str(exc)  # other strictness changes no row count
    return False
