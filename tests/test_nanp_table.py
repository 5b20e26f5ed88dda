"""The NPA-NXX fast path equals phonenumbers for every NPA-NXX (issue: bench goal).

The table memoises one answer per US exchange, computed for line 0000. This test asks
phonenumbers afresh for a different line number in *every* NPA-NXX (200-999 x 000-999)
and requires the same validity, region, type and zones. It takes about a minute.
Its first run found Caribbean exchanges (Barbados 246-521) whose validity depends on the
7th digit, which is why only US answers are memoised.
"""

from __future__ import annotations

import pytest
from phonenumbers.phonemetadata import PhoneMetadata

from callguard.numbers import NanpTable, exchange_info_from_phonenumbers


@pytest.mark.slow
def test_table_equals_phonenumbers_for_every_exchange():
    """Any line in an exchange gets the answer phonenumbers gives for that line."""
    table = NanpTable()
    mismatches = []
    for npa in range(200, 1000):
        for nxx in range(1000):
            line = (npa * 7 + nxx * 13) % 10_000 or 9999
            national = npa * 10_000_000 + nxx * 10_000 + line
            expected = exchange_info_from_phonenumbers(f"{national:010d}")
            if table.lookup(national) != expected:
                mismatches.append(national)
    assert mismatches == []
    assert len(table) > 300_000  # the US exchanges took the fast path


def test_us_patterns_end_in_four_free_digits():
    """The reason the memo is exact: US validity patterns leave the last 4 digits free."""
    metadata = PhoneMetadata.metadata_for_region("US")
    for desc in (metadata.fixed_line, metadata.mobile, metadata.toll_free, metadata.premium_rate):
        pattern = desc.national_number_pattern
        assert pattern.endswith((r"\d{6}", r"\d{4}")), pattern


def test_table_detects_a_wrong_entry():
    """The equality check can fail: a doctored entry differs from phonenumbers."""
    table = NanpTable()
    table.lookup(8015550123)
    table._entries[801555] = exchange_info_from_phonenumbers("4445550000")
    assert table.lookup(8015550123) != exchange_info_from_phonenumbers("8015550123")
