"""The gate decides on the UTC millisecond the record keeps, whatever the UTC offset.

6ee1e98 truncates the instant decided to the record's millisecond (21:00:00.0005 was
BLOCKed 'after 9:00 p.m.' while its record, 21:00:00.000, replays as callable), but it
truncated the local microseconds. HTTP's `at` is `datetime.fromisoformat`, which takes a
UTC offset with a fraction of a second (`-00:00:00.0005`): `2026-07-23T03:00:00-00:00:00.0005`
has no sub-millisecond local part, yet is 03:00:00.0005Z, 9:00:00.0005 p.m. in Denver —
decided so (BLOCK, after 9 p.m.) and recorded 03:00:00.000Z (callable on replay), the
very disagreement the commit removed. Review hrev63; pure function, then the real gate.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from callguard.gate import _in_ms
from tests.test_gate import check, runtime  # noqa: F401 - the fixture, used by name

HALF_MS_BEHIND = timezone(timedelta(microseconds=-500))  # UTC = local + 0.0005 s


def test_truncates_the_utc_instant_not_the_local_digits() -> None:
    at = datetime(2026, 7, 23, 3, 0, 0, tzinfo=HALF_MS_BEHIND)
    assert at.astimezone(UTC) == datetime(2026, 7, 23, 3, 0, 0, 500, tzinfo=UTC)
    assert _in_ms(at) == datetime(2026, 7, 23, 3, 0, 0, tzinfo=UTC)
    # an ordinary offset: as before
    denver = timezone(timedelta(hours=-6))
    assert _in_ms(datetime(2026, 7, 22, 21, 0, 0, 500, tzinfo=denver)) == datetime(
        2026, 7, 22, 21, 0, 0, tzinfo=denver)
    assert _in_ms(datetime(2026, 7, 22, 21, 0, 0, 7000, tzinfo=denver)).microsecond == 7000


async def test_an_offset_with_a_fraction_decides_as_recorded(runtime):  # noqa: F811
    close = datetime.fromisoformat("2026-07-22T21:00:00-06:00")
    exact = await check(runtime, at=close)
    odd = await check(runtime, at=datetime(2026, 7, 23, 3, 0, 0, tzinfo=HALF_MS_BEHIND))
    assert odd.at == close  # the instant, as the record writes it
    assert odd.verdict.deciding == exact.verdict.deciding
    assert odd.allowed == exact.allowed
