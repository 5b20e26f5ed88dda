"""The one fact fetch for lists: a snapshot and a number in, a ``ListCheck`` out.

Attribute lists (wireless, ported, litigator) are bitmaps read like any do-not-call list;
reassigned data also gives the number's last permanent disconnect date.
"""

from __future__ import annotations

from callguard.numbers import NumberInfo
from callguard.policy.model import ListCheck
from callguard.stores.interfaces import ListSnapshot

__all__ = ["list_check"]


def list_check(name: str, snapshot: ListSnapshot | None, number: NumberInfo) -> ListCheck | None:
    """What one loaded list version says about the number (None: no version loaded)."""
    if snapshot is None:
        return None
    meta = snapshot.meta
    national = number.national
    disconnected = getattr(snapshot, "disconnected", None)
    day = disconnected(national) if disconnected is not None else None
    return ListCheck(name, meta.version, meta.published,
                     day is not None if disconnected is not None else snapshot.contains(national),
                     snapshot.covers(number.area_code or 0), day)
