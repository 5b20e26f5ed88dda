"""What a scrub writes back is what the dialer dials (hcli33).

A lead's number in full-width or another script's digits was ALLOWed — the gate reads it
as its ASCII number — and written back as written: the dialer dials the cell, not the
number checked (FastAGI refuses such an ARG1 for the same reason, ``not_dialable``). It is
now the recorded BLOCK ``callguard:non-ascii-number``, the record naming the number read
(its hash and last four, as any decision). And a letter inside a number's digits
("801-555-01X2") is garbage, not an extension: an extension follows the whole number.
Real ``python -m callguard`` processes on a data dir of their own.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from callguard.errors import NumberError
from callguard.numbers import NumberParser
from callguard.numbers.parse import ExtensionError
from tests.test_cli import weekday_at
from tests.test_hsml26_scrub_blank import _cli, _decisions, with_lists

WIDE = "".join(chr(0xFF10 + int(d)) for d in "8015550142")  # full-width
ARABIC_INDIC = "".join(chr(0x0660 + int(d)) for d in "8015550143")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return with_lists(tmp_path_factory.mktemp("scrub-ascii"))


def test_a_number_not_in_ascii_is_a_recorded_block(data: Path, tmp_path: Path) -> None:
    leads = tmp_path / "leads.csv"
    leads.write_text(f"name,phone\nAnn,{WIDE}\nBob,{ARABIC_INDIC}\nCal,\uff0b18015550144\n"
                     "Dee,801-555-0145\n", encoding="utf-8")
    before = len(_decisions(data))
    result = _cli(data, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                  weekday_at(11).isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["rules"] == {"callguard:non-ascii-number": 3}, summary
    with (tmp_path / "leads.scrubbed.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["callguard_verdict"] for r in rows] == ["BLOCK", "BLOCK", "BLOCK", "ALLOW"]
    first = rows[0]["callguard_reason"]
    assert "FULLWIDTH DIGIT EIGHT" in first, first
    assert "ASCII" in first, first
    assert "0142" not in first.replace("…0142", ""), first  # its last four at most
    records = _decisions(data)[before:]
    assert [r["rule"] for r in records[:3]] == ["callguard:non-ascii-number"] * 3
    # the record names the number read (found by it), not the text
    assert [r["number_last4"] for r in records[:3]] == ["0142", "0143", "0144"]
    for record in records:
        assert "8015550" not in json.dumps(record, ensure_ascii=False)


PARSER = NumberParser()


@pytest.mark.parametrize("text", ["801-555-01X2", "801555012x3", "+1 801-555-01x23"])
def test_a_letter_inside_the_digits_is_no_extension(text: str) -> None:
    with pytest.raises(NumberError) as caught:
        PARSER.parse(text)
    assert not isinstance(caught.value, ExtensionError)
    reason = str(caught.value)
    assert "inside its digits" in reason, reason
    assert "has an extension" not in reason, reason
    assert "5550" not in reason, reason


def test_an_extension_after_the_whole_number_is_still_one() -> None:
    with pytest.raises(ExtensionError):
        PARSER.parse("801-555-0123x2")
    with pytest.raises(NumberError, match="has an extension; without it"):
        PARSER.parse("801-555-012 x3")


def test_no_number_column_lists_the_files_columns(data: Path, tmp_path: Path) -> None:
    """"no number column found (looked for phone, ...)" did not say what the file holds:
    its columns are listed (a header naming a number is still never repeated)."""
    leads = tmp_path / "leads.csv"
    leads.write_text("name,mobile,zip\nAnn,8015550142,84101\n")
    result = _cli(data, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                  weekday_at(11).isoformat())
    assert result.returncode == 2, result.stderr
    said = " ".join(result.stderr.split())
    assert "no number column found" in said, said
    assert "'name', 'mobile', 'zip'" in said, said


def test_evidence_by_the_ascii_number_finds_the_non_ascii_block(data: Path,
                                                                tmp_path: Path) -> None:
    """hrev165: the commit says the record names the number read so ``evidence NUMBER``
    finds the row: shown through the real ``evidence`` command, --json (its hash), not
    only the record's last four."""
    wide = "".join(chr(0xFF10 + int(d)) for d in "8015550177")
    leads = tmp_path / "leads.csv"
    leads.write_text(f"name,phone\nEve,{wide}\n", encoding="utf-8")
    result = _cli(data, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                  weekday_at(11).isoformat())
    assert result.returncode == 0, result.stderr
    found = _cli(data, "evidence", "8015550177", "--json")
    assert found.returncode == 0, found.stderr
    rules = [d["rule"] for d in json.loads(found.stdout)["decisions"]]
    assert rules == ["callguard:non-ascii-number"], found.stdout


def test_letters_inside_the_digits_are_named_as_letters() -> None:
    """hrev165: "80155501ext2" said "contains the letter 'ext'": three letters."""
    with pytest.raises(NumberError) as caught:
        PARSER.parse("80155501ext2")
    reason = str(caught.value)
    assert "the letters 'ext' inside its digits" in reason, reason
    assert "5550" not in reason, reason


def test_a_separator_not_in_ascii_is_the_same_block_recorded_by_its_last_four(
        data: Path, tmp_path: Path) -> None:
    """hrev165: a no-break space or an en dash between ASCII digits (a spreadsheet's, a word
    processor's) is a number the gate does not read (it refused it on main too, as
    number-not-dialable): now the same non-ascii-number BLOCK, the character named, but
    the record cannot name the number read (``number_parsed`` false, its last four only),
    so ``evidence NUMBER`` does not find it: the README says so, not "evidence finds it"."""
    leads = tmp_path / "leads.csv"
    leads.write_text("name,phone\nEve,801\u00a0555\u00a00166\nFay,801\u2013555\u20130167\n",
                     encoding="utf-8")
    before = len(_decisions(data))
    result = _cli(data, "scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
                  weekday_at(11).isoformat(), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["rules"] == {"callguard:non-ascii-number": 2}
    records = _decisions(data)[before:]
    assert ["NO-BREAK SPACE" in str(records[0]["reason"]),
            "EN DASH" in str(records[1]["reason"])] == [True, True]
    assert [(r["number_parsed"], r["number_last4"]) for r in records] == [
        (False, "0166"), (False, "0167")]
    for record, tail in zip(records, ("5550166", "5550167"), strict=True):
        assert tail not in json.dumps(record, ensure_ascii=False)
    found = _cli(data, "evidence", "8015550166", "--json")
    assert json.loads(found.stdout)["decisions"] == [], found.stdout
    readme = " ".join((Path(__file__).parent.parent / "README.md").read_text().split())
    assert "no-break space or an en dash between its digits" in readme
