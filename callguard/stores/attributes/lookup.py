"""The one fact fetch for lists: a snapshot and a number in, a ``ListCheck`` out.

Attribute lists (wireless, ported, litigator) are bitmaps read like any do-not-call list;
reassigned data also gives the number's last permanent disconnect date.
"""

from __future__ import annotations

from callguard.memo import remember
from callguard.numbers import NumberInfo
from callguard.policy.model import ListCheck
from callguard.stores.interfaces import ListSnapshot

__all__ = ["list_check"]

# A ListCheck is a value, and for a list without disconnect dates there are two per loaded
# version (listed or not; the area code covered or not): reuse them rather than build one
# per list per call.
_CHECKS: dict[tuple[str, int, object, bool, bool], ListCheck] = {}
_CHECKS_LIMIT = 4096


def list_check(name: str, snapshot: ListSnapshot | None, number: NumberInfo) -> ListCheck | None:
    """What one loaded list version says about the number (None: no version loaded)."""
    if snapshot is None:
        return None
    meta = snapshot.meta
    national = number.national
    disconnected = getattr(snapshot, "disconnected", None)
    covered = snapshot.covers(number.area_code or 0)
    if disconnected is not None:
        day = disconnected(national)
        return ListCheck(name, meta.version, meta.published, day is not None, covered, day)
    key = (name, meta.version, meta.published, snapshot.contains(national), covered)
    check = _CHECKS.get(key)
    if check is None:
        check = remember(_CHECKS, key, ListCheck(name, meta.version, meta.published, key[3],
                                                 covered), _CHECKS_LIMIT)
    return check
