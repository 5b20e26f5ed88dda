"""Reassigned-number data: number -> date of its last permanent disconnect, per area code.

A roaring bitmap holds membership only, so this data has its own chunk codec (``dated``),
stored, checksummed and replicated exactly like a bitmap chunk (``list_chunks``). One
chunk per area code is two parallel sorted arrays: the 7-digit remainders (uint32) and
the disconnect days (uint16, days since 1970-01-01, good until 2149). 6 bytes a number:
~35 M disconnects a year is ~210 MB a year of history, loaded whole like a list, looked up
by binary search (``bisect`` over ``array``, no Python objects per number). SQLite was
the other choice: it holds dates too, but it would be a second storage path with its own
replication, while these bytes travel through the list machinery (manifest SHA-256,
versions, rollback, the Redis replica) unchanged.

File form: one ``NUMBER,DATE`` per line (``,``, ``;``, tab or spaces between), ``NUMBER``
in any form the do-not-call importer reads, ``DATE`` as ``YYYY-MM-DD`` or ``YYYYMMDD``;
``#`` comments and blank lines skipped; a number given twice keeps its latest date.
"""

from __future__ import annotations

import array
import bisect
import hashlib
import re
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from callguard.errors import ListImportError, StoreError
from callguard.numbers.parse import number_text
from callguard.numbers.redact import clipped, clipped_repr, redact_digits
from callguard.stores.list_files import (
    _content,
    _lines,
    _national,
    _regular_or_refuse,
    cut_short,
    no_numbers,
)

if TYPE_CHECKING:
    from callguard.stores.interfaces import ListMeta

__all__ = [
    "DATED_CODEC",
    "DatedChunk",
    "DatedSnapshot",
    "ParsedDated",
    "build_dated",
    "decode_dated_chunk",
    "parse_dated_file",
]

DATED_CODEC = "dated"
_MAGIC = b"CGD1"
_HEAD = struct.Struct("<4sI")
_EPOCH = date(1970, 1, 1).toordinal()
_SPLIT = re.compile(r"[,;\t ]+")
_MAX_REPORTED = 20
_AREA_SPAN = 10_000_000


def _day(text: str) -> int | None:
    """Days since 1970-01-01 of an ISO or compact date, or None."""
    text = text.strip()
    if len(text) == 8 and text.isdigit():
        text = f"{text[:4]}-{text[4:6]}-{text[6:]}"
    try:
        day = date.fromisoformat(text).toordinal() - _EPOCH
    except ValueError:
        return None
    return day if 0 <= day <= 0xFFFF else None


@dataclass
class ParsedDated:
    """Disconnect days by area code and 7-digit remainder, and what was wrong."""

    by_area: dict[int, dict[int, int]] = field(default_factory=dict)
    lines: int = 0
    bad: int = 0
    bad_examples: list[str] = field(default_factory=list)
    header: str | None = None  # the first line, skipped as column names (not counted)
    read: int = 0  # numbers read, a repeat included (``count`` is distinct numbers)
    differing: int = 0  # repeats whose date differs from the one before (latest kept)

    @property
    def count(self) -> int:
        """Distinct numbers read."""
        return sum(len(v) for v in self.by_area.values())


def _shown(line: str) -> str:
    """A bad line as a report shows it: the number field redacted as `check` quotes a number
    (``number_text``: "801555O101" is one, mistyped); the rest (the date) only has its digit
    runs taken out; the whole spelt by ``repr`` once (hfold22: the number field was spelt
    twice, a control character in it shown with a backslash the file does not hold).
    Redacted again once ``repr`` has spelt it (an unprintable character's code point is
    spelt in digits: "x\\U00080155" + "50123" was quoted with 8015550123 in clear, hrev76)."""
    head, comma, rest = line.partition(",")
    if not head:
        return clipped_repr(line, 40)
    return redact_digits(repr(number_text(head, limit=40) + comma + clipped(rest, 40)))


def _record(parsed: ParsedDated, number: int, line: str) -> None:
    parsed.bad += 1
    if len(parsed.bad_examples) < _MAX_REPORTED:
        parsed.bad_examples.append(f"line {number}: {_shown(line)} (want NUMBER,YYYY-MM-DD)")


def parse_dated_file(path: Path, *, max_bad_share: float = 0.001,
                     on_progress: Callable[[int], None] | None = None) -> ParsedDated:
    """Read a whole reassigned-number file, or raise ListImportError when too much is bad."""
    _regular_or_refuse(path)  # a named pipe is no "no such file" (hsto19)
    parsed = ParsedDated()
    cut: ListImportError | None = None
    # a first line "phone,disconnect_date": column names, as in the list files
    for number, line, ended in _content(_lines(path), parsed):
        parsed.lines += 1
        # the separator the line has, comma, semicolon then tab, before spaces: "(801)
        # 555-0115<TAB>2026-02-01" (a spreadsheet's TSV) or "(801) 555-0115;2026-02-01" (a
        # European spreadsheet's CSV) split at its last space was malformed
        sep = next((s for s in (",", ";", "\t") if s in line), " ")
        head, _, tail = line.rpartition(sep)
        if not head:
            parts = _SPLIT.split(line)
            head, tail = " ".join(parts[:-1]), parts[-1]
        national, day = _national(head.strip()), _day(tail)
        if national is None or day is None:
            if not ended:  # the last line, cut mid-way (raised once the file is closed)
                cut = cut_short(path, number, _shown(line))
                continue
            _record(parsed, number, line)
            continue
        bucket = parsed.by_area.setdefault(national // _AREA_SPAN, {})
        rest = national % _AREA_SPAN
        before = bucket.get(rest)
        parsed.read += 1
        if before is not None and before != day:
            parsed.differing += 1
        bucket[rest] = day if before is None else max(day, before)
        if on_progress is not None and parsed.lines % 100_000 == 0:
            on_progress(parsed.lines - parsed.bad)
    if cut is not None:
        raise cut
    if on_progress is not None:
        on_progress(parsed.lines - parsed.bad)
    if parsed.lines == 0:
        raise no_numbers(path, parsed.header)
    if parsed.bad / parsed.lines > max_bad_share:
        raise ListImportError(
            f"{path}: {parsed.bad} of {parsed.lines} lines malformed "
            f"({parsed.bad / parsed.lines:.2%}, limit {max_bad_share:.2%}); nothing was "
            f"imported. First: {'; '.join(parsed.bad_examples[:5])}")
    return parsed


def _encode(numbers: array.array[int], days: array.array[int]) -> bytes:
    if sys.byteorder != "little":  # the stored form is little-endian everywhere
        numbers, days = array.array("I", numbers), array.array("H", days)
        numbers.byteswap()
        days.byteswap()
    return _HEAD.pack(_MAGIC, len(numbers)) + numbers.tobytes() + days.tobytes()


@dataclass(frozen=True, slots=True)
class DatedChunk:
    """One area code's sorted remainders and their disconnect days."""

    numbers: array.array[int]
    days: array.array[int]

    def day_of(self, rest: int) -> int | None:
        """The disconnect day of the 7-digit remainder, or None."""
        index = bisect.bisect_left(self.numbers, rest)
        if index < len(self.numbers) and self.numbers[index] == rest:
            return int(self.days[index])
        return None

    def __len__(self) -> int:
        return len(self.numbers)


def build_dated(parsed: ParsedDated) -> tuple[dict[int, bytes], dict[int, str],
                                               dict[int, int]]:
    """(chunk bytes, SHA-256, count) per area code."""
    chunks: dict[int, bytes] = {}
    digests: dict[int, str] = {}
    counts: dict[int, int] = {}
    for area, entries in sorted(parsed.by_area.items()):
        keys = sorted(entries)
        data = _encode(array.array("I", keys), array.array("H", (entries[k] for k in keys)))
        chunks[area], digests[area], counts[area] = (
            data, hashlib.sha256(data).hexdigest(), len(keys))
    return chunks, digests, counts


def decode_dated_chunk(data: bytes | None, expected_sha: str, where: str,
                       expected_count: int | None = None) -> DatedChunk:
    """Verify and decode one dated chunk; a missing or altered chunk refuses the version."""
    if data is None:
        raise StoreError(f"{where} is missing; version refused")
    if hashlib.sha256(data).hexdigest() != expected_sha:
        raise StoreError(f"{where} is corrupt or truncated (SHA-256 mismatch); version refused")
    if len(data) < _HEAD.size:
        raise StoreError(f"{where} is not a dated chunk; version refused")
    magic, count = _HEAD.unpack_from(data)
    if magic != _MAGIC or len(data) != _HEAD.size + 6 * count:
        raise StoreError(f"{where} is not a dated chunk; version refused")
    numbers, days = array.array("I"), array.array("H")
    numbers.frombytes(data[_HEAD.size:_HEAD.size + 4 * count])
    days.frombytes(data[_HEAD.size + 4 * count:])
    if sys.byteorder != "little":
        numbers.byteswap()
        days.byteswap()
    if expected_count is not None and count != expected_count:
        raise StoreError(f"{where} holds {count} numbers, its manifest says "
                         f"{expected_count}; version refused")
    if count > 1 and not bool((np.diff(np.frombuffer(numbers, dtype=np.uint32)
                                       .astype(np.int64)) > 0).all()):
        raise StoreError(f"{where} is not sorted; version refused")
    return DatedChunk(numbers, days)


@dataclass(frozen=True, slots=True)
class DatedSnapshot:
    """One immutable version of reassigned-number data in memory."""

    meta: ListMeta
    chunks: dict[int, DatedChunk]

    def disconnected(self, national: int) -> date | None:
        """The number's last permanent disconnect, or None when the data holds none."""
        chunk = self.chunks.get(national // _AREA_SPAN)
        if chunk is None:
            return None
        day = chunk.day_of(national % _AREA_SPAN)
        return None if day is None else date.fromordinal(_EPOCH + day)

    def contains(self, national: int) -> bool:
        """Whether the data holds a disconnect for the number."""
        return self.disconnected(national) is not None

    def covers(self, area_code: int) -> bool:
        """Whether the version speaks for the area code."""
        areas = self.meta.area_codes
        return areas is None or area_code in areas
