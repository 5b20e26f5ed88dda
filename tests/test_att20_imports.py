"""Attribute files as providers send them, at the edges (hatt20)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from callguard.stores.attributes import parse_dated_file
from tests.test_cli import ALLOW, cli

EPOCH = date(1970, 1, 1)


def test_a_tab_separated_reassigned_file_with_spaced_numbers_is_read(tmp_path):
    """"(801) 555-0115<TAB>2026-02-01" was split at its last space and counted malformed:
    a TSV export of the data was refused whole (or its spaced lines dropped)."""
    path = tmp_path / "rnd.tsv"
    path.write_text("+1 (801) 555-0115\t2026-02-01\n801 555 0116\t20260301\n"
                    "8015550117 2026-01-05\n")
    parsed = parse_dated_file(path)
    assert parsed.bad == 0
    assert parsed.by_area[801] == {5550115: (date(2026, 2, 1) - EPOCH).days,
                                   5550116: (date(2026, 3, 1) - EPOCH).days,
                                   5550117: (date(2026, 1, 5) - EPOCH).days}


def test_a_disconnect_dated_after_the_copy_is_said_on_import(tmp_path):
    """A copy cannot know a disconnect after its own date: the import said nothing of it."""
    today = datetime.now(UTC).date()
    later = today + timedelta(days=400)
    path = tmp_path / "rnd.csv"
    path.write_text(f"8015550123,{later}\n8015550124,2025-01-01\n")
    result = cli("attributes", "import", str(path), "--kind", "reassigned", "--published",
                 today.isoformat(), "--covers", "all", data_dir=tmp_path)
    assert result.returncode == ALLOW, result.stderr
    said = " ".join(result.stderr.split())
    assert f"1 disconnect date(s) after the copy's published date {today}" in said
    assert "5550123" not in result.stderr
    quiet = tmp_path / "quiet"
    quiet.mkdir()
    path.write_text("8015550124,2025-01-01\n")
    result = cli("attributes", "import", str(path), "--kind", "reassigned", "--published",
                 today.isoformat(), "--covers", "all", data_dir=quiet)
    assert "after the copy's published date" not in result.stderr


def test_a_number_given_twice_is_counted_in_the_record_and_a_differing_date_said(tmp_path):
    """The list-change record's ``duplicates`` of a reassigned import was always 0 (distinct
    numbers read less distinct numbers stored), and nothing said that a number came twice
    with two disconnect dates, the earlier one discarded."""
    today = datetime.now(UTC).date().isoformat()
    path = tmp_path / "rnd.csv"
    path.write_text("8015550123,2025-03-01\n8015550123,2026-02-01\n"
                    "8015550124,2025-01-01\n8015550124,2025-01-01\n8015550125,2025-01-01\n")
    result = cli("attributes", "import", str(path), "--kind", "reassigned", "--published",
                 today, "--covers", "all", data_dir=tmp_path)
    assert result.returncode == ALLOW, result.stderr
    assert "1 number(s) given again with another disconnect date: the latest kept" in (
        " ".join(result.stderr.split()))
    (change,) = [json.loads(line) for line in
                 (tmp_path / "compliance.jsonl").read_text().splitlines()]
    assert (change["list"], change["duplicates"]) == ("attr-reassigned", 2)
    parsed = parse_dated_file(path)
    assert (parsed.count, parsed.read, parsed.differing) == (3, 5, 1)
    assert parsed.by_area[801][5550123] == (date(2026, 2, 1) - EPOCH).days
