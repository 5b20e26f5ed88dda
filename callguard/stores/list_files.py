"""Read do-not-call list files in the forms call centers receive.

One number per line (``8015550123``, ``18015550123``, ``+1 801-555-0123``), the
registry's ``area code,phone number`` lines (``801,5550123``), optionally gzip'd, or
zipped alone in a ZIP archive (the registry hands its downloads zipped: ``_zip_member``).
Blank lines and ``#`` comments are skipped, and so is a first line that is a header
(column names: letters and no digit at all, e.g. ``AreaCode,PhoneNumber`` from a
spreadsheet or a vendor's export; the registry's own full-list files have none). Any
other line that is not a number, the first included, is malformed: reported with its
number and counted (its digits redacted: the report reaches logs); a file whose bad
share exceeds the limit is refused whole. Digits of other scripts are read as
``callguard.numbers`` reads them, so a list and a call agree on what a number is.

A file whose last line is malformed and has no line break was cut short (a download or
a copy interrupted mid-line): it is refused whole (``cut_short``), whatever the bad share.
Counted as one bad line, the cut let a first import (nothing to compare ``--max-shrink``
with) publish half a list, and every number past the cut was called as not listed.
A whole last line without a line break (a hand-made file) is read as usual.

A stretch of zeros (``_ROW`` NUL bytes or more) is refused whole (``zero_filled``): a
download manager that preallocates (segmented downloads, aria2c, browsers) writes the file
at full size first, so one stopped early has the right size and zeros where a piece never
came. As malformed lines they passed the bad-share limit (a 1 MiB hole is 0.04 % of the
national list's fixed-width rows; on the line forms a whole hole, no line break in it, was
ONE bad line) and every number in the hole was called as not listed (hlist18).
"""

from __future__ import annotations

import array
import contextlib
import gzip
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator, MutableSequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import numpy as np

from callguard.csvfile import (
    BYTE_ORDER_MARKS,
    HEAD,
    LineTooLong,
    decoded_lines,
    not_text,
    text_encoding,
)
from callguard.errors import ListImportError, NumberError
from callguard.numbers.parse import ascii_digits, quoted_number
from callguard.numbers.parse import split_extension as _split_extension

__all__ = ["ParsedDelta", "ParsedList", "cut_short", "national_and_extension", "no_numbers",
           "parse_delta_file", "parse_list_file", "split_extension"]

_PUNCT = str.maketrans("", "", " -.()+\t")
_DOS_EOF = "\x1a"  # Ctrl-Z, which old DOS/Windows tools write after the last line
_MAX_REPORTED = 20
_PROGRESS_EVERY = 100_000
_ROW = 11  # 10 digits and LF
_BLOCK_ROWS = 4_000_000
_HOLE = b"\0" * _ROW  # no list line holds a row's worth of NULs: a zero-filled stretch
_HOLE_TEXT = _HOLE.decode()
_MAX_LINE = 8192  # characters: no list line is longer; a longer one is not read whole
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # a member first; an empty archive
# A ZIP member is read streamed, never extracted; a bomb is refused before a byte is read.
# The whole national registry as 'area code,number' lines is about 3 GB; the densest list
# (every number of its exchanges, sorted) deflates about 5:1, a bomb about 1000:1.
MAX_UNZIPPED_BYTES = 8 * 2**30
MAX_ZIP_RATIO = 100
_RATIO_FROM = 2**20  # bytes: below, a member's ratio is not judged (it cannot hurt)


@dataclass
class ParsedList:
    """Numbers by area code (NXX*10000+line), and what was wrong with the file."""

    by_area: dict[int, MutableSequence[int]] = field(default_factory=dict)
    lines: int = 0
    bad: int = 0
    bad_examples: list[str] = field(default_factory=list)
    header: str | None = None  # the first line, skipped as column names (not counted)
    extensions: int = 0  # numbers read without the extension their line gave

    @property
    def count(self) -> int:
        """Numbers read (duplicates included)."""
        return sum(len(v) for v in self.by_area.values())


def _is_header(line: str) -> bool:
    """Column names, not a number: letters and no digit of any script.

    Only the first line may be one; a line with a digit is read as a number (and counted
    malformed when it is none), so a damaged number never passes for a header.
    """
    return any(ch.isalpha() for ch in line) and not any(ch.isdigit() for ch in line)


class _Headed(Protocol):
    """A parse result that keeps the header line it skipped."""

    header: str | None


def _content(lines: Iterable[str], parsed: _Headed) -> Iterator[tuple[int, str, bool]]:
    """Each line that holds content, stripped, with its line number and whether it ended
    (a line break after it: only a file's last line may lack one): blank lines and ``#``
    comments skipped, and a first line of column names (``_is_header``) kept as
    ``parsed.header``, not counted (no digit in it: nothing to redact)."""
    first = True
    for number, raw in enumerate(lines, start=1):
        line, ended = _read_line(raw)
        if not line or line.startswith("#"):
            continue
        if first:
            first = False
            if _is_header(line):
                parsed.header = line[:80]
                continue
        yield number, line, ended


def _read_line(raw: str) -> tuple[str, bool]:
    """A line stripped, and whether it ended: a line break after it, or the Ctrl-Z that
    old DOS/Windows tools write at the end of a file (after the last line break, or right
    after the last line's text when it had none: the writer finished, nothing was cut)."""
    line = raw.strip()
    if line.endswith(_DOS_EOF):
        return line.rstrip(_DOS_EOF).strip(), True
    return line, raw.endswith(("\n", "\r"))


def cut_short(path: Path, number: int, shown: str) -> ListImportError:
    """The refusal of a file whose malformed last line has no line break (``shown``: the
    line, its digits already redacted)."""
    return ListImportError(
        f"{path}: the last line ({number}: {shown}) is not whole and has no line break: the "
        "file was cut short (an interrupted download or copy?); nothing was imported. "
        "Fetch the file again")


def no_numbers(path: Path, header: str | None) -> ListImportError:
    """The refusal of a file with no line to read: why (it said "no numbers" alone)."""
    size = path.stat().st_size
    if size == 0:
        why = "it is empty (0 bytes): an export or download that wrote nothing?"
    elif size <= 4 and path.read_bytes() in BYTE_ORDER_MARKS:
        # Excel's "Unicode text" of an empty sheet (hrev101: "only blank lines, # comments")
        why = ("it is empty (a byte-order mark and nothing else): an export that wrote "
               "nothing?")
    else:
        why = ("it holds only blank lines, # comments" +
               (f" and a header line ({header!r})" if header is not None else "") +
               "; a list is one number a line (or the registry's 'area code,number' lines)")
    return ListImportError(f"{path}: no numbers in the file: {why}; nothing was imported")


def zero_filled(path: Path, number: int) -> ListImportError:
    """The refusal of a file with a stretch of zeros at line ``number``."""
    return ListImportError(
        f"{path}: line {number} is a stretch of zeros (NUL bytes), what a download that "
        "stopped early leaves where a piece never came; the numbers there are missing, so "
        "nothing was imported. Fetch the file again (and let the download finish)")


def _overlong(path: Path, number: int, start: str) -> ListImportError:
    """The refusal of a line longer than ``_MAX_LINE`` (``start``: its first characters)."""
    if _HOLE_TEXT in start:
        return zero_filled(path, number)
    return ListImportError(
        f"{path}: line {number} is longer than {_MAX_LINE:,} characters: not a list of "
        "numbers (one a line); nothing was imported. Check that this is the list file")


def _regular_or_refuse(path: Path) -> None:
    """Refuse anything but a regular file, saying what it is: a named pipe (``<(zcat …)``)
    or a directory was refused as "no such file", though it was right there."""
    if path.is_file():
        return
    if path.exists():
        raise ListImportError(f"{path}: not a regular file (a directory, a named pipe or a "
                              "device); nothing was imported. Save the list to a file and "
                              "import that")
    raise ListImportError(f"{path}: no such file")


def _national(line: str) -> int | None:
    """The 10-digit number a line holds (digits of any script read as ASCII), or None;
    a number with an extension is its line (``national_and_extension``)."""
    return national_and_extension(line)[0]


def national_and_extension(line: str) -> tuple[int | None, bool]:
    """The 10-digit number a line holds, or None, and whether an extension was dropped.

    A line with an extension (``801-555-0142 x12``, ``;ext=12``, ``ext. 12``, ``#12``)
    is the listed line's number: the extension reaches a desk behind the line, the
    person asked the LINE not be called. It was read as malformed, skipped under
    ``--max-bad-share``, and the number was called as not listed (hsto19).
    """
    if not line.isascii():
        try:
            line = ascii_digits(line)  # the one canonical reading (callguard.numbers)
        except NumberError:
            return None, False
    national = _digits_national(line)
    if national is not None:
        return national, False
    head, extension = split_extension(line)
    national = _digits_national(head) if extension else None
    return national, national is not None


def split_extension(text: str) -> tuple[str, bool]:
    """``text`` without an extension after its number (``x12``, ``;ext=12``, ``ext. 12``,
    ``extn 12``, ``#12``), and whether there was one; ``text`` as it is when there is none.

    The parser's reading (``callguard.numbers.parse.split_extension``), one pattern: this
    module kept a copy of it without ``extn``, so ``801-555-0142 extn 12`` was a malformed
    list line (skipped: the line called as not listed) while the gate read the line (hrev131).
    """
    head, extension = _split_extension(text)
    return head, bool(extension)


def _digits_national(line: str) -> int | None:
    """The 10-digit number of an ASCII line of digits and punctuation, or None."""
    if "," in line:
        area, _, rest = line.partition(",")
        digits = area.strip() + rest.strip().translate(_PUNCT)
    else:
        digits = line.translate(_PUNCT)
    if len(digits) == 11 and digits[0] == "1":
        digits = digits[1:]
    if (len(digits) != 10 or not digits.isascii() or not digits.isdigit()
            or digits[0] in "01" or digits[3] in "01"):
        return None
    return int(digits)


def _add(by_area: dict[int, MutableSequence[int]], national: int) -> None:
    """File a number under its area code (4 bytes a number, not a Python int)."""
    area = national // 10_000_000
    bucket = by_area.get(area)
    if bucket is None:
        bucket = by_area[area] = array.array("I")
    bucket.append(national % 10_000_000)


Progress = Callable[[int, int], None]  # (numbers read, bytes of the file read)


def _wide(path: Path, head: bytes) -> ListImportError | None:
    """The refusal of UTF-16/32 text without a byte-order mark (``iconv -t UTF-16LE``, some
    exporters), from its first bytes ``head``: every other byte of ASCII digits is NUL in
    UTF-16 (three of four in UTF-32), which no text list holds. Read as UTF-8, its lines
    were numbers with NULs between the digits, all malformed, and a little-endian file's
    last line a lone NUL, refused as "cut short: fetch the file again" (hrev31). With a
    byte-order mark (Excel's "Unicode text") it is read as what the mark names."""
    if len(head) >= 4 and head.strip(b"\0") and (  # all NUL: a zero-filled download
            not head[1::2].strip(b"\0") or not head[0::2].strip(b"\0")):
        return ListImportError(
            f"{path}: the file is UTF-16 or UTF-32 text (every other byte of its start is "
            "NUL; no byte-order mark); nothing was imported. Save it as UTF-8 or ASCII text "
            "(one number a line) and import that")
    return None


def _not_text(path: Path, head: bytes, inside: str = "") -> ListImportError | None:
    """The refusal of a workbook, archive or PDF (``callguard.csvfile.not_text``): read as
    lines, an .xlsx or .zip was "cut short" or "a stretch of zeros" (fetch it again), an
    .xls "no numbers", a PDF "100 % malformed"; none said what the file was. ``inside``:
    where ``head`` was read when it is not the file's own start (a gzip or ZIP member)."""
    found = not_text(head, None if inside else path)
    if found is None:
        return None
    return ListImportError(
        f"{path}: the file is {found.what}{inside}; nothing was imported. A list is text, "
        f"one number a line (or the registry's 'area code,number' lines): {found.advice}")


def _zip_damaged(path: Path, exc: BaseException) -> ListImportError:
    return ListImportError(
        f"{path}: a ZIP archive that cannot be read whole ({type(exc).__name__}: {exc}): "
        "cut short or damaged in the download; nothing was imported. Fetch it again")


def _zip_member(path: Path, raw: BinaryIO, stack: contextlib.ExitStack
                ) -> tuple[BinaryIO, str]:
    """The one file of a ZIP archive, opened for streamed reading (nothing extracted to
    disk), and where it is, for messages. Refused: a workbook (an .xlsx or .ods is a ZIP
    archive: ``_not_text`` names it), an archive that cannot be read whole, one holding no
    file or more than one, an encrypted member, and a bomb: a member whose declared
    uncompressed size exceeds ``MAX_UNZIPPED_BYTES`` or ``MAX_ZIP_RATIO`` times its
    compressed size (itself no more than the file holds: hrev115). ``zipfile`` reads a
    member only up to its declared size and checks its CRC at the end: a member that
    holds more than it declares, or other bytes, is refused as damaged (``_lines``), never
    read past the bound."""
    head = raw.read(HEAD)
    raw.seek(0)
    found = not_text(head, path)
    if found is not None and not found.what.startswith("a ZIP archive"):
        raise cast(ListImportError, _not_text(path, head))  # a workbook: save it as CSV
    try:
        archive = stack.enter_context(zipfile.ZipFile(raw))
        members = [info for info in archive.infolist() if not info.is_dir()]
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise _zip_damaged(path, exc) from None
    if not members:
        raise ListImportError(f"{path}: a ZIP archive holding no file (folders only, or "
                              "empty); nothing was imported. Fetch the download again")
    if len(members) > 1:
        names = ", ".join(repr(m.filename) for m in members[:3])
        more = f" and {len(members) - 3} more" if len(members) > 3 else ""
        raise ListImportError(
            f"{path}: a ZIP archive holding {len(members)} files ({names}{more}); nothing "
            "was imported. One list is one file: extract them (unzip) and import each, or "
            "zip the list alone")
    member = members[0]
    where = f" (inside its ZIP archive, {member.filename!r})"
    if member.flag_bits & 0x1:
        raise ListImportError(f"{path}: {member.filename!r} in the ZIP archive is encrypted "
                              "(password-protected); nothing was imported. Extract it with "
                              "its password (unzip) and import the text file")
    if member.file_size > MAX_UNZIPPED_BYTES:
        raise ListImportError(
            f"{path}: {member.filename!r} in the ZIP archive would be "
            f"{member.file_size:,} bytes uncompressed, over the {MAX_UNZIPPED_BYTES:,} "
            "bytes a list is read from a ZIP archive (the whole national registry is about "
            "3 GB); nothing was imported. Extract it (unzip) and import the text file")
    size = path.stat().st_size
    if member.compress_size > size:
        # a crafted bomb declares more compressed bytes than it holds, so that the ratio
        # below passes and ``zipfile`` inflates up to the declared size (hrev115)
        raise ListImportError(
            f"{path}: {member.filename!r} in the ZIP archive declares "
            f"{member.compress_size:,} compressed bytes in a file of {size:,}: damaged, or a "
            "ZIP bomb hiding its ratio; nothing was imported. Fetch it again")
    if (member.file_size >= _RATIO_FROM
            and member.file_size > MAX_ZIP_RATIO * max(member.compress_size, 1)):
        raise ListImportError(
            f"{path}: {member.filename!r} in the ZIP archive is compressed "
            f"{member.file_size // max(member.compress_size, 1):,}:1 (at most "
            f"{MAX_ZIP_RATIO}:1; a list of numbers is about 5:1): a ZIP bomb or not a list; "
            "nothing was imported. Check that this is the list download")
    try:
        handle = stack.enter_context(archive.open(member))
    except (zipfile.BadZipFile, NotImplementedError, OSError, EOFError, ValueError) as exc:
        raise _zip_damaged(path, exc) from None
    return cast(BinaryIO, handle), where


def _lines(path: Path, read: list[int] | None = None) -> Iterator[str]:
    """Decoded lines; ``read[0]`` follows the bytes of the file consumed (of a gzip file or
    a ZIP archive, the compressed bytes: its size is what is known in advance)."""
    try:
        with path.open("rb") as raw, contextlib.ExitStack() as stack:
            magic = raw.read(4)
            raw.seek(0)
            inside = ""
            if magic.startswith(_ZIP):
                handle, inside = _zip_member(path, raw, stack)
            elif magic.startswith(b"\x1f\x8b"):
                handle = cast(BinaryIO, gzip.GzipFile(fileobj=raw, mode="rb"))
                inside = " (inside its gzip compression)"
            else:
                handle = raw
            # callguard.csvfile's reading: a BOM dropped (UTF-16 and UTF-32 read as their
            # mark says), UTF-8 else Windows-1252; no workbook, archive or PDF
            head = handle.peek(HEAD)[:HEAD]  # type: ignore[attr-defined]
            encoding = text_encoding(head)
            refused = _not_text(path, head, inside) or (
                None if encoding else _wide(path, head[:64]))
            if refused is not None:
                raise refused
            # callguard.csvfile's reading, each line at most _MAX_LINE characters (closed
            # before the file: it lets the file go)
            with contextlib.closing(decoded_lines(handle, max_line=_MAX_LINE,
                                                  encoding=encoding or "utf-8-sig")) as lines:
                for count, line in enumerate(lines):
                    if _HOLE_TEXT in line and line.endswith(("\n", "\r")):
                        # here, so every reader of _lines refuses it (the dated parser did
                        # not); one with no line break after it is the last: cut_short
                        raise zero_filled(path, count + 1)
                    if read is not None and count % _PROGRESS_EVERY == 0:
                        read[0] = raw.tell()
                    yield line
            if read is not None:
                read[0] = raw.tell()
    except LineTooLong as exc:
        raise _overlong(path, exc.number, exc.start) from None
    except (zipfile.BadZipFile, zlib.error) as exc:  # a ZIP member's CRC, its deflate data
        raise _zip_damaged(path, exc) from None
    except (OSError, EOFError) as exc:
        raise ListImportError(f"{path}: unreadable ({exc}); nothing was imported") from None


def parse_list_file(
    path: Path,
    *,
    max_bad_share: float = 0.001,
    on_progress: Progress | None = None,
    extensions: bool = True,
) -> ParsedList:
    """Parse the whole file, or raise ListImportError when too much of it is bad.

    ``on_progress(numbers_read, bytes_read)`` is called every 100,000 lines (4,000,000 on
    the fixed-width path) and at the end. ``extensions=False``: a number with an extension
    is malformed, for a list whose listing lets calls through (``attr-ported-wireline``
    shows a number wireline): there, only a line that is one number is read (hrev58).
    """
    _regular_or_refuse(path)
    if _fixed_width(path):
        parsed = _parse_fixed_width(path, on_progress)
    else:
        parsed = _parse_lines(path, on_progress, extensions)
    if parsed.lines == 0:
        raise no_numbers(path, parsed.header)
    share = parsed.bad / parsed.lines
    if share > max_bad_share:
        examples = "; ".join(parsed.bad_examples[:5])
        raise ListImportError(
            f"{path}: {parsed.bad} of {parsed.lines} lines malformed ({share:.2%}, limit "
            f"{max_bad_share:.2%}); nothing was imported. First: {examples}"
        )
    return parsed


def _fixed_width(path: Path) -> bool:
    """A plain file of 10 digits + LF per line (the registry's common form): fast path."""
    size = path.stat().st_size
    if size == 0 or size % _ROW:
        return False
    with path.open("rb") as handle:
        head = handle.read(_ROW * 1000)
    if head[:2] == b"\x1f\x8b" or head.startswith(_ZIP):  # the line parser decompresses
        return False
    if _is_header(head[: _ROW - 1].decode("latin-1")):  # a 10-letter header: lines read it
        return False
    # Structure only (every line 10 bytes); the vectorised parse judges each line's content.
    # At least one LF: a head without one (CR-only line ends, old Mac) has no row to
    # disprove the form, and was refused as 100 % malformed (hlist18); lines read CR ends.
    rows = head.split(b"\n")[:-1][:1000]
    return bool(rows) and all(len(line) == _ROW - 1 for line in rows)


def _parse_fixed_width(path: Path, on_progress: Progress | None) -> ParsedList:
    """Vectorised (numpy) parse; same validation and bad-line report as the line parser."""
    parsed = ParsedList()
    parts: dict[int, list[np.ndarray]] = {}
    powers = 10 ** np.arange(9, -1, -1, dtype=np.int64)
    with path.open("rb") as handle:
        offset = 0
        while block := handle.read(_ROW * _BLOCK_ROWS):
            rows = np.frombuffer(block, dtype=np.uint8).reshape(-1, _ROW)
            digits = rows[:, :10] - np.uint8(48)  # wraps below '0', so one test covers both
            valid = (digits <= 9).all(axis=1) & (rows[:, 10] == 10)
            valid &= (digits[:, 0] >= 2) & (digits[:, 3] >= 2)
            bad = np.flatnonzero(~valid)
            if len(bad) and (hole := block.find(_HOLE)) >= 0:
                raise zero_filled(path, offset + hole // _ROW + 1)
            parsed.lines += len(rows)
            parsed.bad += len(bad)
            for index in bad[: max(0, _MAX_REPORTED - len(parsed.bad_examples))]:
                text = quoted_number(rows[index, :10].tobytes().decode("latin-1"))
                parsed.bad_examples.append(f"line {offset + index + 1}: {text}")
            values = (digits[valid] if len(bad) else digits) @ powers
            if len(values) > 1 and not (values[1:] >= values[:-1]).all():
                values = np.sort(values)  # registry files are usually sorted already
            areas = values // 10_000_000
            edges = np.flatnonzero(np.diff(areas)) + 1
            for chunk in np.split(values, edges):
                if len(chunk):
                    parts.setdefault(int(chunk[0] // 10_000_000), []).append(
                        (chunk % 10_000_000).astype(np.uint32))
            offset += len(rows)
            if on_progress is not None:
                on_progress(offset - parsed.bad, offset * _ROW)
    for area, pieces in parts.items():
        numbers = array.array("I")
        numbers.frombytes(np.concatenate(pieces).tobytes())
        parsed.by_area[area] = numbers
    return parsed


def _parse_lines(path: Path, on_progress: Progress | None, extensions: bool = True
                 ) -> ParsedList:
    """Every other form, line by line."""
    parsed = ParsedList()
    read = [0]
    cut: ListImportError | None = None
    for number, line, ended in _content(_lines(path, read), parsed):
        parsed.lines += 1
        national, extension = national_and_extension(line)
        if extension and not extensions:
            national = None
        parsed.extensions += extension and extensions
        if national is None:
            if not ended:  # the last line (raised once the file is closed)
                cut = cut_short(path, number, quoted_number(line, limit=40))
                continue
            if _HOLE_TEXT in line:  # raised once the file is read and closed
                cut = cut or zero_filled(path, number)
                continue
            parsed.bad += 1
            if len(parsed.bad_examples) < _MAX_REPORTED:
                parsed.bad_examples.append(f"line {number}: {quoted_number(line, limit=40)}")
            continue
        _add(parsed.by_area, national)
        if on_progress is not None and parsed.lines % _PROGRESS_EVERY == 0:
            on_progress(parsed.lines - parsed.bad, read[0])
    if cut is not None:
        raise cut
    if on_progress is not None:
        on_progress(parsed.lines - parsed.bad, read[0])
    return parsed


@dataclass
class ParsedDelta:
    """Additions (``+NUMBER`` lines) and deletions (``-NUMBER`` lines) against a base."""

    additions: ParsedList
    deletions: ParsedList


def parse_delta_file(path: Path, *, max_bad_share: float = 0.001) -> ParsedDelta:
    """Read a delta file; every line is ``+`` or ``-`` then a number in any accepted form."""
    _regular_or_refuse(path)
    delta = ParsedDelta(ParsedList(), ParsedList())
    lines = bad = extensions = 0
    examples: list[str] = []
    cut: ListImportError | None = None
    for number, raw in enumerate(_lines(path), start=1):
        line, ended = _read_line(raw)
        if not line or line.startswith("#"):
            continue
        lines += 1
        sign, rest = line[0], line[1:].strip()
        national, extension = national_and_extension(rest) if sign in "+-" else (None, False)
        if extension and sign == "-":
            # One desk's listing withdrawn is not the line's: the line may be listed by an
            # entry of its own (one bit for both); removed, it was called (hrev58). Kept
            # listed, counted malformed, as before hsto19.
            bad += 1
            if len(examples) < _MAX_REPORTED:
                examples.append(f"line {number}: {quoted_number(line, limit=40)} (a removal "
                                "with an extension: the line stays listed; write -NUMBER "
                                "if the line's own listing is withdrawn)")
            continue
        extensions += extension
        if national is None:
            if not ended:  # the last line (raised once closed)
                cut = cut_short(path, number, quoted_number(line, limit=40))
                continue
            if _HOLE_TEXT in line:  # raised once the file is read and closed
                cut = cut or zero_filled(path, number)
                continue
            bad += 1
            if len(examples) < _MAX_REPORTED:
                examples.append(f"line {number}: {quoted_number(line, limit=40)} "
                                "(want +NUMBER or -NUMBER)")
            continue
        target = delta.additions if sign == "+" else delta.deletions
        _add(target.by_area, national)
    if cut is not None:
        raise cut
    if lines == 0:
        raise ListImportError(f"{path}: no changes in the delta file; nothing was imported")
    if bad / lines > max_bad_share:
        raise ListImportError(f"{path}: {bad} of {lines} delta lines malformed; nothing was "
                              f"imported. First: {'; '.join(examples[:5])}")
    delta.additions.bad = bad
    delta.additions.bad_examples = examples
    delta.additions.extensions = extensions
    return delta
