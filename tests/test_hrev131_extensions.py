"""hrev131: one extension grammar, the parser's, for the list and CSV importers too.

hnum25 taught ``NumberParser.parse`` the marks ``dnc import`` reads, plus ``extn``; the list
importer kept its own copy of the pattern, without ``extn``. So ``801-555-0142 extn 12`` in
a do-not-call list file was malformed (skipped under ``--max-bad-share``: the listed line
then called as not listed, hsto19's bug again for one spelling), and in an internal-dnc
CSV the row was refused ("has an extension, which callguard does not check") while
``ext 12`` was recorded as the line. Now the importers read ``callguard.numbers.parse``'s
``split_extension``: one pattern.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.numbers import NumberParser
from callguard.stores.list_files import national_and_extension, parse_list_file
from callguard.stores.record_csv import read_record_csv
from tests.test_stores19_extensions import FILLER, _numbers

MARKS = ["x", " x", " ext ", " ext. ", " extn ", "extn", " EXTN. ", " extension ", "#", " #",
         ";ext=", " ; ext = "]


@pytest.mark.parametrize("mark", MARKS)
def test_a_list_line_reads_every_mark_the_parser_reads(mark: str) -> None:
    assert national_and_extension(f"801-555-0142{mark}12") == (8015550142, True)


def test_a_list_file_lists_an_extn_line_as_its_line(tmp_path: Path) -> None:
    path = tmp_path / "company.txt"
    path.write_text("\n".join([*FILLER, "801-555-0142 extn 12"]) + "\n")
    parsed = parse_list_file(path)
    assert 8015550142 in _numbers(parsed)
    assert (parsed.bad, parsed.extensions) == (0, 1)


def test_an_internal_dnc_csv_records_an_extn_line_as_its_line() -> None:
    rows = ["number,source", "801-555-0142 extn 12,crm", "801-555-0143 ext 5,crm"]
    done = read_record_csv(rows, "internal-dnc", parser=NumberParser(),
                           solicitors=frozenset({"s"}), solicitor="s")
    assert done.errors == ()
    assert [w.number for w in done.writes] == ["+18015550142", "+18015550143"]
    assert done.extensions == 2
