"""Review of hadm23 (UTF-16/UTF-32 with a byte-order mark read; workbooks refused), hrev101.

A CSV that starts with a UTF-16 or UTF-32 mark and then does not decode (a copy cut at an
odd byte, a lone surrogate) is refused, nothing read — but the record imports said "not
UTF-8 text after its byte-order mark" and `scrub` "a utf-16-le byte-order mark", and both
gave the byte within the text after a UTF-8 mark, not within the file. `scrub` writes its
output "in UTF-8, with a BOM when the input had one" (README "CLI"): a UTF-32 input, read
since hadm23, had its mark dropped, and Excel then reads "José" as "JosÃ©".
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import pytest

from callguard.csvfile import read_csv
from callguard.errors import ListImportError, UsageError
from callguard.stores.attributes import parse_dated_file
from callguard.stores.list_files import parse_list_file
from callguard.stores.record_csv import read_record_file
from tests.test_cli_ux import cli, import_lists
from tests.test_http import AT

CONSENT = "number,kind,granted_at\n8015550101,written,2026-01-01\n"
NAME = "José Peña"


def _readers(path: Path) -> list[str]:
    """What scrub's reader and the record imports say of ``path`` (each must refuse)."""
    said = []
    with pytest.raises(UsageError) as refused:
        read_csv(path)
    said.append(str(refused.value))
    with pytest.raises(UsageError) as refused:
        read_record_file(path, "consent", parser=None,  # type: ignore[arg-type]
                         solicitors=frozenset())
    said.append(str(refused.value))
    return said


@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_a_wide_csv_cut_at_an_odd_byte_is_refused_naming_its_encoding(
        tmp_path: Path, encoding: str, name: str) -> None:
    data = CONSENT.encode(encoding)
    unit = 2 if name == "UTF-16" else 4
    path = tmp_path / "consent.csv"
    path.write_bytes(data[:-1])
    for said in _readers(path):
        assert f"starts with a {name} byte-order mark but is not {name}" in said, said
        assert f"at byte {len(data) - unit}" in said, said  # the code unit cut short
        assert "UTF-8 text" not in said, said
        assert "save it again as CSV UTF-8" in said, said


def test_a_lone_surrogate_in_utf16_is_refused_at_its_byte_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "consent.csv"
    good = codecs.BOM_UTF16_LE + "number\n".encode("utf-16-le")
    path.write_bytes(good + b"\x00\xd8" + "8015550101\n".encode("utf-16-le"))
    for said in _readers(path):
        assert "UTF-16 byte-order mark but is not UTF-16" in said, said
        assert f"at byte {len(good)}" in said, said


def test_a_utf8_mark_then_bytes_that_are_not_utf8_says_the_byte_in_the_file(
        tmp_path: Path) -> None:
    """The byte was counted after the mark: 3 short of where the file holds it."""
    path = tmp_path / "consent.csv"
    good = codecs.BOM_UTF8 + b"number\n"
    path.write_bytes(good + b"\xff8015550101\n")
    for said in _readers(path):
        assert "UTF-8 byte-order mark but is not UTF-8" in said, said
        assert f"at byte {len(good)}" in said, said


def test_scrub_keeps_the_mark_of_a_utf32_input(tmp_path: Path) -> None:
    root = tmp_path / "node"
    root.mkdir()
    import_lists(root)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(
        [["name", "phone", "zip"], [NAME, "801-555-0123", "84101"]])
    leads = tmp_path / "leads.csv"
    leads.write_bytes(out.getvalue().encode("utf-32"))  # its mark first
    written = tmp_path / "out.csv"
    result = cli(root, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at", AT,
                 "--output", str(written))
    assert result.returncode == 0, result.stderr
    assert written.read_bytes().startswith(codecs.BOM_UTF8), written.read_bytes()[:8]
    rows = list(csv.DictReader(io.StringIO(written.read_text(encoding="utf-8-sig"))))
    assert [r["name"] for r in rows] == [NAME]


@pytest.mark.parametrize("mark", [codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE,
                                  codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE])
def test_a_list_that_is_a_byte_order_mark_alone_is_called_empty(tmp_path: Path,
                                                                 mark: bytes) -> None:
    """Excel's "Unicode text" of an empty sheet is its mark alone: refused as "only blank
    lines, # comments", the admin sent looking for lines the file does not have."""
    path = tmp_path / "list.txt"
    path.write_bytes(mark)
    for parse in (parse_list_file, parse_dated_file):
        with pytest.raises(ListImportError) as refused:
            parse(path)
        said = str(refused.value)
        assert "it is empty (a byte-order mark and nothing else" in said, said
        assert "blank lines" not in said, said
        assert "nothing was imported" in said, said
