"""A do-not-call number written with an extension (hsto19).

Company lists and CRM exports write a desk's line as ``801-555-0142 x12`` or RFC 3966's
``;ext=12``. The importer read such a line as malformed, skipped it under
``--max-bad-share`` (a few in thousands pass the 0.1 % limit), and the listed line was
then called as NOT listed. The person asked that the line not be called: the number
without its extension is imported, and the import report counts them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from callguard.stores.list_files import parse_delta_file, parse_list_file
from tests.test_cli_ux import PUBLISHED, cli, one_line
from tests.test_http import AT

FILLER = [f"80155{i:05d}" for i in range(2000, 6000)]  # 4,000 plain numbers
WITH_EXTENSION = [("801-555-0142 x12", 8015550142), ("(801) 555-0143;ext=7", 8015550143),
                  ("+1 801 555 0144 ext. 3", 8015550144),
                  ("8015550145 Extension 201", 8015550145), ("801.555.0146 #4", 8015550146),
                  ("801,5550147 X9", 8015550147)]


def _numbers(parsed) -> set[int]:
    return {area * 10_000_000 + rest for area, rests in parsed.by_area.items()
            for rest in rests}


@pytest.mark.parametrize(("line", "number"), WITH_EXTENSION)
def test_a_number_with_an_extension_is_listed_as_its_line(tmp_path: Path, line: str,
                                                          number: int) -> None:
    path = tmp_path / "company.txt"
    path.write_text("\n".join([*FILLER, line]) + "\n")
    parsed = parse_list_file(path)
    assert number in _numbers(parsed)
    assert (parsed.bad, parsed.extensions) == (0, 1)


def test_a_delta_reads_extensions_too(tmp_path: Path) -> None:
    path = tmp_path / "delta.txt"
    path.write_text("+801-555-0142 x12\n-8015550143\n+8015550144 ext 4\n")
    delta = parse_delta_file(path)
    assert _numbers(delta.additions) == {8015550142, 8015550144}
    assert _numbers(delta.deletions) == {8015550143}
    assert (delta.additions.bad, delta.additions.extensions) == (0, 2)
    # a REMOVAL with an extension keeps the line listed: tests/test_review58_extensions.py


def test_what_is_not_an_extension_stays_malformed(tmp_path: Path) -> None:
    """Nine digits and an "extension" is no number; the count reports only real ones."""
    path = tmp_path / "company.txt"
    path.write_text("\n".join([*FILLER, "801555014 x2", "8015550142 x123456789"]) + "\n")
    parsed = parse_list_file(path, max_bad_share=0.01)
    assert (parsed.bad, parsed.extensions) == (2, 0)


def test_the_import_lists_it_and_says_so_and_check_blocks_it(tmp_path: Path) -> None:
    path = tmp_path / "company.txt"
    path.write_text("\n".join([*FILLER, "801-555-0142 x12"]) + "\n")
    for name in ("national", "ut-state"):
        done = cli(tmp_path, "dnc", "import", str(path), "--list", name, "--published",
                   PUBLISHED, "--covers", "all")
        assert done.returncode == 0, done.stderr
        said = one_line(done.stderr)
        assert "1 number(s) had an extension" in said
        assert "0 malformed" in said
        assert "0142" not in said  # no number in clear in the report
    checked = json.loads(cli(tmp_path, "check", "8015550142", "--campaign",
                             "ut-solar-manual", "--at", AT, "--json").stdout)
    assert checked["verdict"] == "BLOCK", checked["reason"]
    assert "number is on national v1" in checked["reason"]


def test_an_attribute_import_says_it_too(tmp_path: Path) -> None:
    """A litigator's line with an extension is the litigator's line."""
    path = tmp_path / "litigators.txt"
    path.write_text("\n".join([*FILLER, "801-555-0142 x12"]) + "\n")
    done = cli(tmp_path, "attributes", "import", str(path), "--kind", "litigator",
               "--published", PUBLISHED, "--covers", "all")
    assert done.returncode == 0, done.stderr
    assert "1 number(s) had an extension" in one_line(done.stderr)


def test_a_company_do_not_call_csv_records_the_line_and_counts_it() -> None:
    """internal-dnc import: the request covers the line (the file was refused whole for
    "contains letters; dial vanity numbers as digits"); a consent is not the line's: that
    row is refused saying why."""
    from callguard.numbers import NumberParser
    from callguard.stores.record_csv import read_record_csv

    rows = ["number,source", "8015550150,crm", "801-555-0142 x12,crm", "801-555-0143;ext=5,crm"]
    done = read_record_csv(rows, "internal-dnc", parser=NumberParser(),
                           solicitors=frozenset({"s"}), solicitor="s")
    assert done.errors == ()
    assert [w.number for w in done.writes] == ["+18015550150", "+18015550142", "+18015550143"]
    assert done.extensions == 2
    consent = read_record_csv(["number,kind,granted_at",
                               "801-555-0142 x12,written,2026-11-01T00:00:00Z"], "consent",
                              parser=NumberParser(), solicitors=frozenset({"s"}), solicitor="s")
    assert consent.writes == ()
    assert "has an extension; a consent record is a person's" in consent.errors[0].reason
    assert "0142" in consent.errors[0].reason
    assert "555" not in consent.errors[0].reason


def test_an_internal_dnc_import_says_how_many_had_an_extension(tmp_path: Path) -> None:
    """The CSV importer counted them; the command now says so (and --dry-run too)."""
    path = tmp_path / "optouts.csv"
    path.write_text("number,source\n8015550150,crm\n801-555-0142 x12,crm\n")
    for dry in (["--dry-run"], []):
        done = cli(tmp_path, "internal-dnc", "import", str(path),
                   "--solicitor", "beehive-solar", *dry)
        assert done.returncode == 0, done.stderr
        said = " ".join((done.stdout + done.stderr).split())
        assert "1 number(s) had an extension" in said, said
        assert "0142" not in said
