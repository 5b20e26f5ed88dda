"""A workbook, an archive or a PDF given where callguard reads text is refused saying what
it is and how to make the CSV (hadm23). Read as lines, an .xlsx or a .zip was "cut short
(an interrupted download?) ... Fetch the file again" or "a stretch of zeros", an .xls "no
numbers in the file", a PDF "100 % malformed", and `consent import` of a workbook said
"the header row lacks number, kind, ...": none said what the file was, and the advice sent
the admin to fetch the same file again. The files are real ones of each kind, made here:
an .xlsx and an .ods are ZIP archives (built with zipfile, as Excel and LibreOffice lay
them out), an .xls an OLE2 compound file (its 8-byte signature and a sector), a PDF its
header. UTF-16 and UTF-32 with a byte-order mark (Excel's "Unicode text") are read as the
mark says; without one they are refused, as before.
"""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import pytest

from callguard.csvfile import decode, not_text, read_csv
from callguard.errors import ListImportError, UsageError
from callguard.stores.attributes import parse_dated_file
from callguard.stores.list_files import parse_delta_file, parse_list_file
from callguard.stores.record_csv import read_record_file
from tests.test_cli_ux import PUBLISHED, USAGE, cli, one_line

LINES = "8015550101\n8015550102\n"
SAVE_AS = '"CSV UTF-8 (Comma delimited) (*.csv)"'
# What a text reading of these files used to say instead of what they are.
MISLEADING = ("cut short", "stretch of zeros", "malformed", "header row lacks", "Fetch")


def xlsx(path: Path, *, padding: int = 0) -> Path:
    """An Excel workbook as Excel lays it out: [Content_Types].xml first, then xl/.
    ``padding`` bytes of an uncompressed docProps member first push every xl/ name past
    the bytes a reader looks at (openpyxl and others order members differently)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        if padding:
            book.writestr(zipfile.ZipInfo("docProps/custom.xml"), "x" * padding)
        book.writestr("[Content_Types].xml",
                      '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                      'package/2006/content-types"/>')
        book.writestr("_rels/.rels", "<Relationships/>")
        book.writestr("xl/workbook.xml", "<workbook/>")
        book.writestr("xl/worksheets/sheet1.xml",
                      "<worksheet><sheetData><row r='1'><c r='A1'><v>8015550101</v></c></row>"
                      "</sheetData></worksheet>")
    return path


def ods(path: Path) -> Path:
    """An OpenDocument spreadsheet: its mimetype member first and stored, as ODF requires."""
    with zipfile.ZipFile(path, "w") as book:
        book.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet")
        book.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
        book.writestr("META-INF/manifest.xml", "<manifest:manifest/>", zipfile.ZIP_DEFLATED)
    return path


def archive(path: Path) -> Path:
    """Two lists zipped together (one text file zipped alone is read since hrea24:
    tests/test_hrea24_zip_import.py)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
        zipped.writestr("national.txt", LINES)
        zipped.writestr("ut-state.txt", LINES)
    return path


def xls(path: Path) -> Path:
    """An OLE2 compound file (Excel 97-2003): the signature, a header sector, a sector."""
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + b"\x09\x08" * 256)
    return path


def pdf(path: Path) -> Path:
    path.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"
                     b"BT (801-555-0101) Tj ET\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n")
    return path


KINDS = {
    "list.xlsx": (xlsx, "an Excel workbook (.xlsx)", SAVE_AS),
    "list.ods": (ods, "an OpenDocument spreadsheet (.ods)", '"Text CSV (.csv)"'),
    "list.xls": (xls, "an Excel 97-2003 workbook (.xls)", SAVE_AS),
    "list.zip": (archive, "a ZIP archive holding", "unzip"),  # 2 files: the lists say so
    "list.pdf": (pdf, "a PDF document", "as CSV or text"),
}


@pytest.mark.parametrize("name", sorted(KINDS))
def test_a_list_file_that_is_no_text_is_refused_saying_what_it_is(tmp_path: Path,
                                                                  name: str) -> None:
    make, what, advice = KINDS[name]
    path = make(tmp_path / name)
    for parse in (parse_list_file, parse_dated_file, parse_delta_file):
        with pytest.raises(ListImportError) as refused:
            parse(path)
        said = str(refused.value)
        assert what in said, said
        assert advice in said, said
        assert "nothing was imported" in said, said
        assert not any(word in said for word in MISLEADING), said
        assert "5550101" not in said


def test_an_xlsx_is_named_though_its_workbook_is_past_the_head(tmp_path: Path) -> None:
    """The member names are read from the archive, not guessed from its first bytes."""
    path = xlsx(tmp_path / "list.xlsx", padding=20_000)
    assert b"xl/" not in path.read_bytes()[:4096]
    with pytest.raises(ListImportError, match=r"an Excel workbook \(\.xlsx\)"):
        parse_list_file(path)


def test_a_gzipped_workbook_is_refused_as_what_is_inside(tmp_path: Path) -> None:
    """A gzip list is read (the registry's .gz); what it decompresses to is judged."""
    path = tmp_path / "list.txt.gz"
    path.write_bytes(gzip.compress(xlsx(tmp_path / "inner.xlsx").read_bytes()))
    with pytest.raises(ListImportError) as refused:
        parse_list_file(path)
    said = str(refused.value)
    assert "an Excel workbook (.xlsx)" in said, said
    assert "inside its gzip compression" in said, said
    assert not any(word in said for word in MISLEADING), said


def test_a_gzipped_list_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "list.txt.gz"
    path.write_bytes(gzip.compress(LINES.encode()))
    assert parse_list_file(path).count == 2


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                      "utf-32-le", "utf-32-be"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_read(tmp_path: Path,
                                                         encoding: str) -> None:
    """Excel's "Unicode text" (UTF-16 LE, BOM, CRLF, a header): the mark says how to read
    it, so it is read — it was refused with "save it as UTF-8" (hhos15), an extra round
    trip through a spreadsheet for a file whose encoding is not in doubt."""
    bom = {"utf-16-le": b"\xff\xfe", "utf-16-be": b"\xfe\xff", "utf-32-le": b"\xff\xfe\x00\x00",
           "utf-32-be": b"\x00\x00\xfe\xff"}.get(encoding, b"")
    listing = tmp_path / "list.txt"
    listing.write_bytes(bom + "Phone\r\n8015550101\r\n801-555-0102\r\n".encode(encoding))
    parsed = parse_list_file(listing)
    assert (parsed.count, parsed.bad, parsed.header) == (2, 0, "Phone")
    dated = tmp_path / "reassigned.txt"
    dated.write_bytes(bom + "8015550101\t2026-02-01\r\n".encode(encoding))
    assert (parse_dated_file(dated).read, parse_dated_file(dated).bad) == (1, 0)
    delta = tmp_path / "delta.txt"
    delta.write_bytes(bom + "+8015550101\r\n-8015550102\r\n".encode(encoding))
    assert parse_delta_file(delta).additions.count == 1


def test_utf32_with_a_byte_order_mark_is_read_as_csv(tmp_path: Path) -> None:
    """UTF-32 LE's mark starts with UTF-16 LE's: it was decoded as UTF-16, NULs between
    the letters of every header name."""
    path = tmp_path / "leads.csv"
    path.write_bytes("phone,name\n8015550101,Ana\n".encode("utf-32"))
    table = read_csv(path)
    assert (table.encoding, table.header, table.rows) == ("utf-32", ["phone", "name"],
                                                          [["8015550101", "Ana"]])
    assert decode("x".encode("utf-16"))[1] == "utf-16"


@pytest.mark.parametrize("name", sorted(KINDS))
def test_csv_readers_refuse_what_is_no_text(tmp_path: Path, name: str) -> None:
    """scrub's leads (read_csv) and the record imports (read_record_file)."""
    make, what, advice = KINDS[name]
    path = make(tmp_path / name)
    with pytest.raises(UsageError) as refused:
        read_csv(path)
    assert what in str(refused.value), refused.value
    assert advice in str(refused.value), refused.value
    with pytest.raises(UsageError) as refused:
        read_record_file(path, "consent", parser=None,  # type: ignore[arg-type]
                         solicitors=frozenset())
    assert what in str(refused.value), refused.value
    assert "header row" not in str(refused.value)


def test_a_gzipped_csv_is_named_where_it_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "leads.csv.gz"
    path.write_bytes(gzip.compress(b"phone\n8015550101\n"))
    with pytest.raises(UsageError, match=r"gzip-compressed.*gunzip"):
        read_csv(path)


def test_text_is_not_taken_for_a_binary_format() -> None:
    for head in (b"PK,phone\n", b"%PD,x\n", LINES.encode(), b"", b"\xd0\xcf\x11"):
        assert not_text(head) is None, head


def test_no_numbers_says_why(tmp_path: Path) -> None:
    """It said "no numbers in the file" alone."""
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    with pytest.raises(ListImportError, match=r"empty \(0 bytes\)"):
        parse_list_file(empty)
    header = tmp_path / "header.txt"
    header.write_text("AreaCode,PhoneNumber\n# exported 2026-11-20\n\n")
    with pytest.raises(ListImportError, match="only blank lines, # comments and a header line "
                                              r"\('AreaCode,PhoneNumber'\)"):
        parse_list_file(header)
    with pytest.raises(ListImportError, match="only blank lines, # comments and a header"):
        parse_dated_file(header)


def test_the_cli_refuses_a_workbook_and_imports_nothing(tmp_path: Path) -> None:
    """`dnc import` and `attributes import` exit 1 with what the file is; the next good
    import is v1 (nothing was published); `scrub` and `consent import` exit 2."""
    book = xlsx(tmp_path / "national.xlsx")
    refused = cli(tmp_path, "dnc", "import", str(book), "--list", "national", "--published",
                  PUBLISHED, "--covers", "all")
    said = one_line(refused.stderr)
    assert refused.returncode == 1, said
    assert "is an Excel workbook (.xlsx), not text; nothing was imported" in said, said
    assert SAVE_AS in said, said
    assert not any(word in said for word in MISLEADING), said
    old = xls(tmp_path / "wireless.xls")
    refused = cli(tmp_path, "attributes", "import", str(old), "--kind", "wireless",
                  "--published", PUBLISHED, "--covers", "all")
    assert refused.returncode == 1, refused.stderr
    assert "Excel 97-2003 workbook (.xls)" in one_line(refused.stderr), refused.stderr
    listing = tmp_path / "national.txt"
    listing.write_text(LINES)
    imported = cli(tmp_path, "dnc", "import", str(listing), "--list", "national",
                   "--published", PUBLISHED, "--covers", "all")
    assert "published national v1:" in imported.stderr, imported.stderr
    scrubbed = cli(tmp_path, "scrub", str(pdf(tmp_path / "leads.pdf")), "--campaign",
                   "ut-solar-manual", "--at", "2026-12-08T11:00:00-07:00")
    assert scrubbed.returncode == USAGE, scrubbed.stderr
    assert "is a PDF document" in one_line(scrubbed.stderr), scrubbed.stderr
    assert not (tmp_path / "leads.scrubbed.csv").exists()
    consent = cli(tmp_path, "consent", "import", str(ods(tmp_path / "consent.ods")),
                  "--solicitor", "beehive-solar")
    assert consent.returncode == USAGE, consent.stderr
    assert "OpenDocument spreadsheet (.ods)" in one_line(consent.stderr), consent.stderr
