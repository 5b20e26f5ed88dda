"""A reassigned file separated by semicolons, its numbers written with spaces (hrev77).

hatt20 read a tab-separated line at its tab; a semicolon-separated one ("(801) 555-0115;
2026-02-01", a spreadsheet's CSV where the comma is the decimal sign), which the README
names as read, was still split at its last space and counted malformed: past 0.1% the
file was refused whole, and without reassigned data a previous subscriber's consent is
honoured. Real files.
"""

from __future__ import annotations

from datetime import date

from callguard.stores.attributes import parse_dated_file

EPOCH = date(1970, 1, 1).toordinal()


def test_a_semicolon_line_whose_number_has_spaces_is_read(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("(801) 555-0115;2026-02-01\n801 555 0116 ; 2026-02-02\n"
                    "(801) 555-0117\t2026-02-03\n8015550118,2026-02-04\n")
    parsed = parse_dated_file(path)
    assert parsed.bad == 0, parsed.bad_examples
    days = parsed.by_area[801]
    assert days[5550115] == date(2026, 2, 1).toordinal() - EPOCH
    assert days[5550116] == date(2026, 2, 2).toordinal() - EPOCH
    assert parsed.count == 4
