"""A ZIP archive holding one text list is imported, streamed, with a plain file's checks
(hrea24).

The FTC's National Do Not Call Registry hands its downloads "compressed or zipped" (its
telemarketer access pages): `lists import` / `attributes import` refused every .zip with
"extract it (unzip)". Now a .zip holding exactly one file, a text list, is read through
``zipfile`` without extracting it, and judged as that file would be. Refused with what is
wrong: more than one file, folders only, an empty archive, an encrypted member, a member
that is an archive or no text, a bomb (declared size past the ceiling, or compressed past
the ratio), a member that holds more than it declares, a truncated or damaged archive.
Real archives built here with ``zipfile`` (an encrypted one by its flag bit, as PKZIP
sets it; a lying size by its header fields, as a crafted bomb does); the CLI in a
subprocess, nothing imported when refused.
"""

from __future__ import annotations

import gzip
import struct
import zipfile
from pathlib import Path

import pytest

from callguard.errors import ListImportError
from callguard.stores import list_files
from callguard.stores.attributes import parse_dated_file
from callguard.stores.list_files import parse_delta_file, parse_list_file
from tests.test_cli import cli
from tests.test_hadm23_not_text import xlsx

NUMBERS = [8015550100 + i for i in range(2_000)]
TEXT = "".join(f"{n}\n" for n in NUMBERS)
REGISTRY = "".join(f"{n // 10_000_000},{n % 10_000_000}\n" for n in NUMBERS)
PARSERS = (parse_list_file, parse_dated_file, parse_delta_file)


def zipped(path: Path, members: dict[str, str | bytes], *, method: int = zipfile.ZIP_DEFLATED
           ) -> Path:
    with zipfile.ZipFile(path, "w", method) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _refused(path: Path, *words: str, parsers=PARSERS) -> None:
    for parse in parsers:
        with pytest.raises(ListImportError) as refused:
            parse(path)
        said = str(refused.value)
        assert "nothing was imported" in said, said
        for word in words:
            assert word in said, said
        assert "5550101" not in said, said


def _numbers(parsed) -> list[int]:
    return sorted(area * 10_000_000 + n for area, ns in parsed.by_area.items() for n in ns)


@pytest.mark.parametrize("text", [TEXT, REGISTRY], ids=["one-a-line", "area-code,number"])
@pytest.mark.parametrize("method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED,
                                    zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
def test_one_text_file_zipped_reads_as_the_file(tmp_path, text, method) -> None:
    plain = tmp_path / "national.txt"
    plain.write_text(text)
    path = zipped(tmp_path / "national.zip", {"national.txt": text}, method=method)
    expected = parse_list_file(plain)
    got = parse_list_file(path)
    assert _numbers(got) == _numbers(expected) == NUMBERS
    assert (got.lines, got.bad) == (expected.lines, expected.bad)


def test_a_zipped_file_meets_a_plain_files_checks(tmp_path) -> None:
    """Too many bad lines, a last line cut short, a zero-filled stretch: as a plain file."""
    bad = zipped(tmp_path / "bad.zip", {"l.txt": TEXT + "nonsense\n" * 50})
    _refused(bad, "malformed", parsers=(parse_list_file,))
    cut = zipped(tmp_path / "cut.zip", {"l.txt": TEXT + "80155"})
    _refused(cut, "cut short", parsers=(parse_list_file,))
    hole = zipped(tmp_path / "hole.zip", {"l.txt": TEXT + "\0" * 40 + "\n" + TEXT})
    _refused(hole, "zeros", parsers=(parse_list_file,))


def test_a_folder_beside_the_one_file_is_no_second_file(tmp_path) -> None:
    path = tmp_path / "dl.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.mkdir("dnc") if hasattr(archive, "mkdir") else archive.writestr("dnc/", "")
        archive.writestr("dnc/national.txt", TEXT)
    assert parse_list_file(path).count == len(NUMBERS)


def test_the_dated_and_delta_forms_read_zipped(tmp_path) -> None:
    dated = zipped(tmp_path / "rnd.zip", {"rnd.csv": "8015550123,2026-02-01\n"})
    assert parse_dated_file(dated).by_area == {801: {5550123: 20485}}
    delta = zipped(tmp_path / "delta.zip", {"d.txt": "+8015550123\n-8015550124\n"})
    parsed = parse_delta_file(delta)
    assert (parsed.additions.count, parsed.deletions.count) == (1, 1)


def test_more_than_one_file_is_refused(tmp_path) -> None:
    path = zipped(tmp_path / "two.zip", {"national.txt": TEXT, "ut.txt": TEXT})
    _refused(path, "holding 2 files", "'national.txt'", "'ut.txt'", "unzip")


def test_folders_only_or_an_empty_archive_is_refused(tmp_path) -> None:
    folders = zipped(tmp_path / "folders.zip", {"dnc/": "", "dnc/801/": ""})
    _refused(folders, "holding no file")
    empty = zipped(tmp_path / "empty.zip", {})
    assert empty.read_bytes()[:4] == b"PK\x05\x06"
    _refused(empty, "holding no file")


def _flag_encrypted(path: Path) -> Path:
    """Set the 'encrypted' bit (general purpose flag bit 0) in the local and central
    headers, as an encrypting zip tool does; the data stays as it was."""
    data = bytearray(path.read_bytes())
    data[6] |= 1  # local file header: flags at offset 6
    central = data.find(b"PK\x01\x02")
    data[central + 8] |= 1  # central directory header: flags at offset 8
    path.write_bytes(bytes(data))
    return path


def test_an_encrypted_member_is_refused(tmp_path) -> None:
    path = _flag_encrypted(zipped(tmp_path / "locked.zip", {"national.txt": TEXT}))
    assert zipfile.ZipFile(path).infolist()[0].flag_bits & 1
    _refused(path, "encrypted", "'national.txt'")


@pytest.mark.parametrize(("member", "data", "what"), [
    ("inner.zip", None, "a ZIP archive"),
    ("national.txt.gz", gzip.compress(TEXT.encode()), "gzip-compressed"),
    ("list.pdf", b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n%%EOF\n", "a PDF document"),
    ("list.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "Excel 97-2003"),
], ids=["zip", "gzip", "pdf", "xls"])
def test_a_member_that_is_an_archive_or_no_text_is_refused(tmp_path, member, data,
                                                            what) -> None:
    if data is None:
        data = zipped(tmp_path / "inner.zip", {"national.txt": TEXT}).read_bytes()
    path = zipped(tmp_path / "outer.zip", {member: data})
    _refused(path, what, f"inside its ZIP archive, '{member}'")


def test_a_workbook_is_still_named_as_one(tmp_path) -> None:
    """An .xlsx is a ZIP archive of several members: refused as a workbook, not as 'more
    than one file'."""
    _refused(xlsx(tmp_path / "list.xlsx"), "an Excel workbook (.xlsx)", "CSV")


def test_a_bomb_is_refused_before_it_is_read(tmp_path) -> None:
    """4 MiB of one number repeated compresses about 300:1; zeros about 1000:1."""
    for name, data in (("same.txt", "8015550123\n" * 400_000), ("zeros.txt", "0" * 2**22)):
        path = zipped(tmp_path / f"{name}.zip", {name: data})
        _refused(path, "ZIP bomb", f"at most {list_files.MAX_ZIP_RATIO}:1")


def test_a_member_past_the_size_ceiling_is_refused(tmp_path, monkeypatch) -> None:
    """The ceiling (8 GiB) lowered to what a test can build: its message and its check."""
    path = zipped(tmp_path / "big.zip", {"national.txt": TEXT})
    monkeypatch.setattr(list_files, "MAX_UNZIPPED_BYTES", len(TEXT) - 1)
    _refused(path, f"{len(TEXT):,} bytes uncompressed", f"over the {len(TEXT) - 1:,} bytes")
    monkeypatch.setattr(list_files, "MAX_UNZIPPED_BYTES", len(TEXT))
    assert parse_list_file(path).count == len(NUMBERS)


def _declare_size(path: Path, size: int) -> Path:
    """Rewrite the member's declared uncompressed size (local header offset 22, central
    header offset 24), as a crafted bomb declares a small size for a large stream."""
    data = bytearray(path.read_bytes())
    data[22:26] = struct.pack("<I", size)
    central = data.find(b"PK\x01\x02")
    data[central + 24:central + 28] = struct.pack("<I", size)
    path.write_bytes(bytes(data))
    return path


def test_a_member_holding_more_than_it_declares_is_not_read_past_it(tmp_path) -> None:
    """zipfile stops at the declared size and checks the CRC there: refused as damaged,
    the stream past the declared 1,000 bytes never decompressed into the list."""
    path = _declare_size(zipped(tmp_path / "liar.zip", {"national.txt": TEXT}), 1_000)
    _refused(path, "cannot be read whole", "CRC")


def test_a_truncated_or_damaged_archive_is_refused(tmp_path) -> None:
    whole = zipped(tmp_path / "whole.zip", {"national.txt": TEXT}).read_bytes()
    cut = tmp_path / "cut.zip"
    cut.write_bytes(whole[: len(whole) // 2])
    _refused(cut, "cannot be read whole", "Fetch it again")
    damaged = bytearray(whole)
    damaged[100:160] = b"\xff" * 60  # inside the deflate stream
    bad = tmp_path / "damaged.zip"
    bad.write_bytes(bytes(damaged))
    _refused(bad, "cannot be read whole", "Fetch it again")


def test_the_cli_imports_a_zip_and_refuses_a_bad_one_whole(tmp_path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    ok = zipped(tmp_path / "national.zip", {"2026-12-01.txt": REGISTRY})
    result = cli("dnc", "import", str(ok), "--list", "national", "--published", "2026-12-01",
                 "--covers", "all", data_dir=data)
    assert result.returncode == 0, result.stderr
    status = cli("dnc", "status", data_dir=data).stdout
    assert "national" in status, status
    assert f"{len(NUMBERS):,}" in status, status
    two = zipped(tmp_path / "two.zip", {"a.txt": TEXT, "b.txt": TEXT})
    result = cli("dnc", "import", str(two), "--list", "ut-state", "--published", "2026-12-01",
                 "--covers", "all", data_dir=data)
    assert result.returncode != 0
    assert "holding 2 files" in " ".join(result.stderr.split()), result.stderr
    assert (data / "lists" / "national" / "CURRENT").exists()
    assert not (data / "lists" / "ut-state" / "CURRENT").exists()  # nothing imported
    rnd = zipped(tmp_path / "rnd.zip", {"rnd.csv": "8015550123,2026-02-01\n"})
    result = cli("attributes", "import", str(rnd), "--kind", "reassigned", "--published",
                 "2026-12-01", "--covers", "all", data_dir=data)
    assert result.returncode == 0, result.stderr
    cut = tmp_path / "cut.zip"
    cut.write_bytes(ok.read_bytes()[:200])
    result = cli("attributes", "import", str(cut), "--kind", "wireless", "--published",
                 "2026-12-01", "--covers", "all", data_dir=data)
    assert result.returncode != 0
    assert "cannot be read whole" in " ".join(result.stderr.split()), result.stderr
    assert (data / "lists" / "attr-reassigned" / "CURRENT").exists()
    assert not (data / "lists" / "attr-wireless" / "CURRENT").exists()
