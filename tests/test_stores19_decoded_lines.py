"""``callguard.csvfile.decoded_lines`` bounds a line (hsto19): the list files' reader
(``stores.list_files._lines``) kept its own copy of the decoding to read each line at most
8,192 characters at a time; it reads through ``decoded_lines`` now, one decoding for all."""

from __future__ import annotations

import codecs
import io
from pathlib import Path

import pytest

from callguard.csvfile import LineTooLong, decoded_lines
from callguard.errors import ListImportError
from callguard.stores.list_files import parse_list_file


def test_a_line_longer_than_the_bound_is_refused_with_its_number_and_start() -> None:
    stream = io.BytesIO(codecs.BOM_UTF8 + b"8015550123\n" + b"\xe9" * 50 + b"\n")
    with pytest.raises(LineTooLong) as refused:
        list(decoded_lines(stream, max_line=20))
    assert (refused.value.number, refused.value.start) == (2, "é" * 20)
    assert not stream.closed  # the caller's stream, the caller's to close


def test_lines_within_the_bound_and_a_last_line_without_break_are_read() -> None:
    stream = io.BytesIO(b"8015550123\r\n8015550124")
    assert list(decoded_lines(stream, max_line=11)) == ["8015550123\n", "8015550124"]


def test_the_list_reader_refuses_an_overlong_line_through_it(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"8015550123\n" + b"x" * 9000 + b"\n8015550124\n")
    with pytest.raises(ListImportError, match="line 2 is longer than 8,192 characters"):
        parse_list_file(path)


def test_a_dos_end_after_a_hole_is_still_a_hole(tmp_path: Path) -> None:
    """The last line a stretch of zeros, closed by DOS's Ctrl-Z (no line break): refused
    as zeros, not read as a finished last line."""
    path = tmp_path / "list.txt"
    numbers = b"".join(b"+1 %d\n" % n for n in range(8015550000, 8015553000))
    path.write_bytes(numbers + b"\0" * 64 + b"\x1a")
    with pytest.raises(ListImportError, match="stretch of zeros"):
        parse_list_file(path)
