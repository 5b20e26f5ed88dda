"""A list file saved as UTF-16 or UTF-32 (a spreadsheet's "Unicode text") is refused
saying so (hhos15). Read as UTF-8-else-Windows-1252, a little-endian file's last line is a
lone NUL: it was refused as "cut short (an interrupted download?) … Fetch the file again",
and the operator fetched the same file and got the same refusal; a big-endian one was
"100 % malformed". Without a byte-order mark both are refused — nothing imported — with
the way out; with one they are read as the mark says (hadm23).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.errors import ListImportError
from callguard.stores.list_files import parse_list_file

LINES = "8015550101\n8015550102\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "utf-32-be"])
def test_a_wide_file_with_a_byte_order_mark_is_read_as_the_mark_says(tmp_path: Path,
                                                                    encoding: str) -> None:
    """hadm23: refused with "save it as UTF-8" until then; the mark leaves no doubt about
    how to read it (tests/test_hadm23_not_text.py)."""
    path = tmp_path / "list.txt"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff",
           "utf-32-be": b"\x00\x00\xfe\xff"}.get(encoding, b"")
    path.write_bytes(bom + LINES.encode(encoding))
    parsed = parse_list_file(path)
    assert (parsed.count, parsed.bad) == (2, 0)


def test_utf8_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"\xef\xbb\xbf" + LINES.encode())
    parsed = parse_list_file(path)
    assert (parsed.count, parsed.bad) == (2, 0)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"])
def test_a_wide_file_without_a_byte_order_mark_is_refused_as_such(tmp_path: Path,
                                                                  encoding: str) -> None:
    """hrev31: ``iconv -t UTF-16LE`` (and exporters that write no BOM) gave a file the BOM
    check missed — refused as "cut short … fetch the file again" (little-endian) or
    100 % malformed, the trap the BOM check was written to end. Known by its NULs."""
    path = tmp_path / "list.txt"
    path.write_bytes(LINES.encode(encoding))
    with pytest.raises(ListImportError, match="UTF-16 or UTF-32 text") as refused:
        parse_list_file(path)
    assert "cut short" not in str(refused.value)
    assert "5550101" not in str(refused.value)


def test_a_zero_filled_file_is_still_cut_short_and_a_stray_nul_is_one_bad_line(
        tmp_path: Path) -> None:
    """Not every NUL is UTF-16: a download that left zeros is cut short (fetch it again),
    and one NUL inside an ASCII list is a malformed line as before."""
    zeros = tmp_path / "zeros.txt"
    zeros.write_bytes(b"\0" * 4096)
    with pytest.raises(ListImportError, match="cut short"):
        parse_list_file(zeros)
    stray = tmp_path / "stray.txt"
    stray.write_bytes(b"80155\x0000101\n" + b"".join(
        f"80155{n:05}\n".encode() for n in range(2000)))
    parsed = parse_list_file(stray)
    assert (parsed.bad, parsed.count) == (1, 2000)
