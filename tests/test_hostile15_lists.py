"""A list file saved as UTF-16 or UTF-32 (a spreadsheet's "Unicode text") is refused
saying so (hhos15). Read as UTF-8-else-Windows-1252, a little-endian file's last line is a
lone NUL: it was refused as "cut short (an interrupted download?) … Fetch the file again",
and the operator fetched the same file and got the same refusal; a big-endian one was
"100 % malformed". Both are refused as before — nothing imported — with the way out.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.errors import ListImportError
from callguard.stores.list_files import parse_list_file

LINES = "8015550101\n8015550102\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "utf-32-be"])
def test_a_wide_file_is_refused_as_utf16_or_utf32(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "list.txt"
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff",
           "utf-32-be": b"\x00\x00\xfe\xff"}.get(encoding, b"")
    path.write_bytes(bom + LINES.encode(encoding))
    with pytest.raises(ListImportError, match="UTF-16 or UTF-32 text") as refused:
        parse_list_file(path)
    assert "cut short" not in str(refused.value)
    assert "5550101" not in str(refused.value)


def test_utf8_with_a_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "list.txt"
    path.write_bytes(b"\xef\xbb\xbf" + LINES.encode())
    parsed = parse_list_file(path)
    assert (parsed.count, parsed.bad) == (2, 0)
