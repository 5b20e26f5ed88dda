"""callguard.csvfile on real files as spreadsheets write them, and `scrub` and the record
importers reading them through it."""

from __future__ import annotations

import codecs
import csv
import io
import json
from datetime import UTC, datetime

import pytest

from callguard.csvfile import decode, decoded_lines, read_csv, sniff_delimiter
from callguard.errors import UsageError
from tests.test_cli_ux import cli, import_lists
from tests.test_http import AT

NAME = "José Peña"


class TestDecode:
    """BOM, UTF-8, Windows-1252: the names come back right."""

    def test_utf8_with_bom(self, tmp_path):
        """Excel's "CSV UTF-8": the BOM is not part of the first column's name."""
        path = tmp_path / "leads.csv"
        path.write_bytes(codecs.BOM_UTF8 + f"phone,name\n8015550123,{NAME}\n".encode())
        table = read_csv(path)
        assert (table.encoding, table.header, table.rows) == (
            "utf-8-sig", ["phone", "name"], [["8015550123", NAME]])

    def test_windows_1252(self, tmp_path):
        """Excel's "CSV" on a Western Windows: é and ñ as single bytes."""
        path = tmp_path / "leads.csv"
        path.write_bytes(f"phone,name\n8015550123,{NAME}\n".encode("cp1252"))
        table = read_csv(path)
        assert table.encoding == "cp1252"
        assert table.rows == [["8015550123", NAME]]

    def test_bytes_windows_1252_leaves_undefined_are_kept(self):
        """0x81 has no Windows-1252 character: read as Latin-1, nothing lost or replaced."""
        text, encoding = decode(b"a\x81b\xe9")
        assert (text, encoding) == ("a\x81bé", "cp1252")
        assert "\ufffd" not in text

    def test_utf16_with_bom(self, tmp_path):
        """Excel's "Unicode text": UTF-16 with a BOM, tab-separated."""
        path = tmp_path / "leads.txt"
        path.write_bytes(f"phone\tname\n8015550123\t{NAME}\n".encode("utf-16"))
        table = read_csv(path)
        assert (table.delimiter, table.rows) == ("\t", [["8015550123", NAME]])

    def test_plain_utf8_stays_utf8(self):
        """Valid UTF-8 is never read as Windows-1252 (é would become Ã©)."""
        assert decode(NAME.encode()) == (NAME, "utf-8")

    def test_list_lines_drop_the_bom_and_read_cp1252(self):
        """The streaming reader of list files: the BOM dropped, UTF-8 and Windows-1252 bytes."""
        stream = io.BytesIO(codecs.BOM_UTF8 + b"8015550123\n8015550124 \xe9\n"
                            + "8015550125 é\n".encode())
        assert list(decoded_lines(stream)) == ["8015550123\n", "8015550124 é\n",
                                               "8015550125 é\n"]


class TestDelimiter:
    """Comma, semicolon (a comma decimal mark's Excel) and tab."""

    @pytest.mark.parametrize("delimiter", [",", ";", "\t"])
    def test_each_delimiter(self, tmp_path, delimiter):
        path = tmp_path / "leads.csv"
        out = io.StringIO()
        csv.writer(out, delimiter=delimiter).writerows(
            [["name", "phone", "zip"], [NAME, "801-555-0123", "84101"],
             ["Peña, Ann", "8015550199", "84101"]])
        path.write_text(out.getvalue())
        table = read_csv(path)
        assert table.delimiter == delimiter
        assert table.rows[1] == ["Peña, Ann", "8015550199", "84101"]

    def test_commas_inside_a_semicolon_file(self):
        """Names with commas do not make a semicolon file look comma-separated."""
        text = "name;phone\nPeña, José;8015550123\nAnn;8015550199\n"
        assert sniff_delimiter(text) == ";"

    def test_one_column_defaults_to_comma(self):
        assert sniff_delimiter("phone\n8015550123\n") == ","

    def test_empty_file_is_a_usage_error(self, tmp_path):
        path = tmp_path / "empty.csv"
        path.write_bytes(b"")
        with pytest.raises(UsageError, match="empty"):
            read_csv(path)


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    root = tmp_path_factory.mktemp("csv")
    import_lists(root)
    return root


def _leads(tmp_path, *, encoding="utf-8", bom=False, delimiter=","):
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(
        [["name", "phone", "zip"], [NAME, "801-555-0123", "84101"],
         ["Ann", "8015550199", "84101"]])
    path = tmp_path / "leads.csv"
    path.write_bytes((codecs.BOM_UTF8 if bom else b"") + out.getvalue().encode(encoding))
    return path


class TestScrubReads:
    """`scrub` through the shared reader, and its new outputs."""

    def test_bom_file_is_scrubbed(self, node, tmp_path):
        """Excel's CSV UTF-8 (the old scrub: "no number column found")."""
        leads = _leads(tmp_path, bom=True)
        out = tmp_path / "out.csv"
        result = cli(node, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at", AT,
                     "--output", str(out))
        assert result.returncode == 0, result.stderr
        assert out.read_bytes().startswith(codecs.BOM_UTF8)  # Excel reads it back right
        rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
        assert [(r["name"], r["callguard_verdict"]) for r in rows] == [
            (NAME, "ALLOW"), ("Ann", "BLOCK")]

    def test_cp1252_semicolon_file_keeps_names_and_delimiter(self, node, tmp_path):
        """José Peña comes back as such; the output keeps the semicolons."""
        leads = _leads(tmp_path, encoding="cp1252", delimiter=";")
        out = tmp_path / "out.csv"
        result = cli(node, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at", AT,
                     "--output", str(out))
        assert result.returncode == 0, result.stderr
        text = out.read_text(encoding="utf-8")
        assert text.startswith("name;phone;zip;callguard_verdict;")
        assert f"{NAME};801-555-0123;84101;ALLOW;" in text
        assert "cp1252, semicolon-separated" in " ".join(result.stderr.split())

    def test_output_dash_is_stdout_and_only_callable(self, node, tmp_path):
        """--output - writes the CSV to stdout (no file named '-'); --only callable."""
        leads = _leads(tmp_path, delimiter="\t")
        result = cli(node, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at", AT,
                     "--output", "-", "--only", "callable")
        assert result.returncode == 0, result.stderr
        assert not (tmp_path / "-").exists()
        rows = list(csv.DictReader(io.StringIO(result.stdout), delimiter="\t"))
        assert [(r["name"], r["callguard_verdict"]) for r in rows] == [(NAME, "ALLOW")]

    def test_only_suppressed_with_json_summary(self, node, tmp_path):
        """--only suppressed writes the BLOCK rows; --json counts every row."""
        leads = _leads(tmp_path)
        out = tmp_path / "suppressed.csv"
        result = cli(node, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at", AT,
                     "--output", str(out), "--only", "suppressed", "--json")
        assert result.returncode == 0, result.stderr
        summary = json.loads(result.stdout)
        assert summary["rows"] == 2
        assert summary["verdicts"] == {"ALLOW": 1, "BLOCK": 1}
        assert summary["written"] == 1
        assert summary["rules"] == {"us-federal:64.1200(c)(2)": 1}
        rows = list(csv.DictReader(out.open(encoding="utf-8")))
        assert [r["name"] for r in rows] == ["Ann"]

    def test_output_dash_with_json_is_a_usage_error(self, node, tmp_path):
        """Both want stdout: refused before any row is decided."""
        result = cli(node, "scrub", str(_leads(tmp_path)), "--campaign", "ut-solar-manual",
                     "--at", AT, "--output", "-", "--json")
        assert result.returncode == 2
        assert "--output FILE" in result.stderr


class TestImportersRead:
    """The record importers read the same files the same way."""

    def test_consent_import_of_a_cp1252_semicolon_file(self, node, tmp_path):
        """A semicolon file in Windows-1252 imports whole, the evidence's name intact."""
        path = tmp_path / "consents.csv"
        path.write_bytes(("number;kind;granted_at;source;evidence\n"
                          "8015550188;written;2026-11-01T00:00:00+00:00;web;"
                          f"form signed by {NAME}\n").encode("cp1252"))
        result = cli(node, "consent", "import", str(path), "--solicitor", "beehive-solar")
        assert result.returncode == 0, result.stderr
        assert "1 row(s) imported" in result.stderr
        shown = json.loads(cli(node, "consent", "show", "8015550188", "--solicitor",
                               "beehive-solar", "--json").stdout)
        assert [c["evidence"] for c in shown["consents"]] == [f"form signed by {NAME}"]

    def test_list_file_with_a_bom(self, tmp_path):
        """A registry list saved by a spreadsheet: the BOM does not spoil line 1."""
        listing = tmp_path / "national.txt"
        listing.write_bytes(codecs.BOM_UTF8 + b"8015550199\n8015550123\n")
        result = cli(tmp_path, "dnc", "import", str(listing), "--list", "national",
                     "--published", datetime.now(UTC).date().isoformat())
        assert result.returncode == 0, result.stderr
        assert "2 numbers" in result.stderr
        assert "0 malformed" in result.stderr
