"""A list or CSV compressed other than with gzip (xz, bzip2, zstd, 7-Zip, RAR) is refused
saying what it is and to decompress it (hrev101, review of hadm23). hadm23 named a
workbook, a ZIP, a PDF and gzip (where gzip is not read) by their first bytes; these
others were still read as text: a list was "cut short (an interrupted download?) ... Fetch
the file again" — the message hadm23 set out to end, sending the admin to fetch the same
file again — and `scrub` read one as a CSV. The signatures are the formats' own (xz and
bzip2 made here by Python's lzma and bz2; zstd, 7-Zip and RAR by their magic numbers, as
no library for them is at hand), whole, which no list or lead file starts with.
"""

from __future__ import annotations

import bz2
import lzma
from pathlib import Path

import pytest

from callguard.csvfile import not_text, read_csv
from callguard.errors import ListImportError, UsageError
from callguard.stores.attributes import parse_dated_file
from callguard.stores.list_files import parse_delta_file, parse_list_file

LINES = "".join(f"80155501{i:02d}\n" for i in range(10, 99)).encode() * 20
JUNK = bytes(range(256)) * 8

KINDS = {
    "list.txt.xz": (lzma.compress(LINES), "xz-compressed"),
    "list.txt.bz2": (bz2.compress(LINES), "bzip2-compressed"),
    "list.txt.zst": (b"\x28\xb5\x2f\xfd" + JUNK, "zstd-compressed"),
    "list.7z": (b"7z\xbc\xaf\x27\x1c" + JUNK, "a 7-Zip archive"),
    "list.rar": (b"Rar!\x1a\x07\x01\x00" + JUNK, "a RAR archive"),
}
MISLEADING = ("cut short", "Fetch", "malformed", "stretch of zeros")


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_list_compressed_otherwise_than_gzip_is_refused_saying_so(tmp_path: Path,
                                                                    name: str) -> None:
    data, what = KINDS[name]
    path = tmp_path / name
    path.write_bytes(data)
    for parse in (parse_list_file, parse_dated_file, parse_delta_file):
        with pytest.raises(ListImportError) as refused:
            parse(path)
        said = str(refused.value)
        assert what in said, said
        assert "nothing was imported" in said, said
        assert not any(word in said for word in MISLEADING), said
    with pytest.raises(UsageError, match=what):
        read_csv(path)


def test_text_is_not_taken_for_a_compressed_file() -> None:
    """Only the whole signature: text may start with 'BZh' or '7z' or 'Rar!'."""
    for head in (b"BZh,phone\n", b"BZh91AY\n", b"7z,8015550101\n", b"Rar!,x\n",
                 b"(\xb5/x\n", "(µ/ý text".encode()):
        assert not_text(head) is None, head
