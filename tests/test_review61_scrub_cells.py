"""review 61: scrub's output keeps what a dialer imports when no spreadsheet formula can
call anything in it (session 22).

hoff18 neutralised every output cell starting ``+``/``-`` but a "dialable number": a lead
file's UTC offset ``-07:00`` (the dialer's own calling-hours field), a ``-`` placeholder
and ``+44 20 7946 0958 #2`` went to the dialer as ``'-07:00``, ``'-``, ``'+44…``. A cell
with no letter names no function, no cell and no DDE program (``cmd|``): opened in a
spreadsheet it is arithmetic at worst, and the dialer reads it as written. A letter after
``+``/``-``, and any ``=``, ``@``, tab or CR start, still get the leading ``'``.
"""

from __future__ import annotations

import pytest

from callguard.cli.scrub import _cells


@pytest.mark.parametrize("cell", ["-07:00", "-", "+44 20 7946 0958 #2", "+18015550123",
                                  "801-555-0124", "-7.00", "+1 (801) 555-0123"])
def test_a_cell_without_a_letter_reaches_the_dialer_as_written(cell):
    assert _cells([cell]) == [cell]


@pytest.mark.parametrize("cell", ["-2+cmd|' /C calc'!A0", "+plain", "-Smith", "+A1*2",
                                  "=1+2", "@camp", "@", "\t801", "\r-1", "+1 801 555 0123 x12",
                                  "-ÉTÉ"])
def test_a_cell_that_can_start_a_formula_is_still_neutralised(cell):
    assert _cells([cell]) == ["'" + cell]
