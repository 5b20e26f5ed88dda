"""Files of old DOS/Windows tools are no cut files (review hrev18): the Ctrl-Z they write at
the end was skipped as a line of its own in a list file, but a delta file ending with it
was refused whole as "cut short", and so was a list whose Ctrl-Z follows the last number
with no line break between (the writer finished: nothing was cut)."""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.errors import ListImportError
from callguard.stores.attributes.dated import parse_dated_file
from callguard.stores.list_files import parse_delta_file, parse_list_file

NUMBERS = [8015550000 + 7 * i for i in range(2000)]


def test_a_delta_file_ending_with_a_dos_end_of_file_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "delta.txt"
    path.write_bytes(b"".join(b"+%d\r\n" % n for n in NUMBERS[:10]) + b"\x1a")
    delta = parse_delta_file(path)
    assert sum(len(v) for v in delta.additions.by_area.values()) == 10


def test_a_mark_right_after_the_last_number_is_no_cut(tmp_path: Path) -> None:
    path = tmp_path / "dos.txt"
    path.write_bytes(b"\r\n".join(b"%d" % n for n in NUMBERS[:10]) + b"\x1a")
    assert parse_list_file(path).count == 10
    dated = tmp_path / "reassigned.txt"
    dated.write_bytes(b"\r\n".join(b"%d,2026-11-0%d" % (n, 1 + i % 9)
                                   for i, n in enumerate(NUMBERS[:10])) + b"\x1a")
    assert parse_dated_file(dated).count == 10


def test_a_line_cut_short_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "delta.txt"
    path.write_bytes(b"".join(b"+%d\n" % n for n in NUMBERS[:10]) + b"+80155")
    with pytest.raises(ListImportError, match="cut short"):
        parse_delta_file(path)
