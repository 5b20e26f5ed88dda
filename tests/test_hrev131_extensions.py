"""hrev131: one extension grammar, and every record of a number with one names the line.

hnum25 taught ``NumberParser.parse`` the marks ``dnc import`` reads, plus ``extn``; the list
importer kept its own copy of the pattern, without ``extn``. So ``801-555-0142 extn 12`` in
a do-not-call list file was malformed (skipped under ``--max-bad-share``: the listed line
then called as not listed, hsto19's bug again for one spelling), and in an internal-dnc
CSV the row was refused ("has an extension, which callguard does not check") while
``ext 12`` was recorded as the line. Now the importers read ``callguard.numbers.parse``'s
``split_extension``: one pattern.

And the gate's refusals made before the number is read (unknown campaign, store
unavailable, ...) name the number by parsing it after; an ExtensionError there was
swallowed, so such a record hashed the raw text while the number-not-dialable one hashed
the line (``evidence`` of the line found one and not the other).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from callguard.gate import CheckRequest
from callguard.numbers import NumberParser
from callguard.stores.list_files import national_and_extension, parse_list_file
from callguard.stores.record_csv import read_record_csv
from tests.test_compliance_log import AT as LOG_AT
from tests.test_compliance_log import _captured, _settings
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


@pytest.fixture
def log_key(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_compliance_log import KEY

    monkeypatch.setenv("CALLGUARD_LOG_KEY", KEY)


@pytest.mark.usefixtures("log_key")
async def test_a_refusal_before_the_number_is_read_names_the_line_too(tmp_path) -> None:
    runtime, capture = _captured(_settings(tmp_path))
    try:
        decided = await runtime.gate.check(CheckRequest(
            "801-364-0188 x204", "no-such-campaign", at=LOG_AT, front="http"))
    finally:
        await runtime.aclose()
    assert not decided.allowed
    assert decided.verdict.deciding is not None
    assert decided.verdict.deciding.rule_id != "callguard:number-not-dialable"
    (record,) = capture.records
    assert record["number_hash"] == runtime.protector.hash("+18013640188")
    assert record["number_last4"] == "0188"
    assert "number_parsed" not in record
