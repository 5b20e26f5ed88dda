"""Times and dates read back from a record store, refused with the record named.

A record written by callguard carries its UTC offset. One edited by hand (a SQL UPDATE
with ``'2026-12-06 11:18:17'``, a Redis hash rewritten) may not, or may hold no date at
all: compared with the call's instant it raised TypeError (or ValueError), and the call
was BLOCKed as ``callguard:internal-error (TypeError)``, naming no record and no fix. It
is a StoreError now: the gate BLOCKs the call with this reason (fail closed: the record
may be a do-not-call request) and keeps serving other numbers.
"""

from __future__ import annotations

from datetime import date, datetime

from callguard.errors import StoreError

__all__ = ["stored_date", "stored_instant"]


def stored_instant(text: str, record: str, column: str) -> datetime:
    """``text`` as an aware datetime; StoreError naming the ``record`` (``the record
    store's company do-not-call record of the number``; no number: the reason reaches
    logs) and its ``column`` when it is not one."""
    what = f"{record}: its {column}"
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise StoreError(f"{what} {text[:40]!r} is not a date and time (edited by hand?); "
                         "the call is BLOCKed until it is: write it as ISO 8601 with its "
                         "UTC offset, e.g. 2026-12-06T11:18:17+00:00") from None
    if value.tzinfo is None:
        raise StoreError(f"{what} {text[:40]!r} has no UTC offset (edited by hand?): it "
                         "cannot be placed in time, so the call is BLOCKed; write the offset "
                         f"it was written in, e.g. {value.isoformat()}+00:00 if it is UTC "
                         "(callguard writes every time so)")
    return value


def stored_date(text: str, record: str, column: str) -> date:
    """``text`` as a date; StoreError naming the ``record`` and ``column`` when it is not
    one."""
    what = f"{record}: its {column}"
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise StoreError(f"{what} {text[:40]!r} is not a date (edited by hand?); the call "
                         "is BLOCKed until it is: write it as YYYY-MM-DD") from None
