"""The one fact fetch for lists: a snapshot and a number in, a ``ListCheck`` out.

Attribute lists (wireless, ported, litigator) are bitmaps read like any do-not-call list;
reassigned data also gives the number's last permanent disconnect date.
"""

from __future__ import annotations

from callguard.memo import remember
from callguard.numbers import NumberInfo
from callguard.policy.model import ListCheck
from callguard.policy.rules.number_kind import PORTED_WIRELESS_LIST, WIRELESS_LIST
from callguard.stores.interfaces import ListSnapshot

__all__ = ["list_check"]

# A ListCheck is a value, and for a list without disconnect dates there are two per loaded
# version (listed or not; the area code covered or not): reuse them rather than build one
# per list per call.
_CHECKS: dict[tuple[str, int, object, bool, bool], ListCheck] = {}
_CHECKS_LIMIT = 4096
# A wireless copy speaks only for the area codes it holds numbers in: one imported with
# `--covers all` before the import narrowed it (or one `dnc rollback` goes back to) made
# every number of an area code it has none in read as a landline, so a predictive call
# there needed no written consent (64.1200(a)(2); hrev77). Read so, whatever it says.
_HOLDERS_ONLY = frozenset({WIRELESS_LIST, PORTED_WIRELESS_LIST})


def list_check(name: str, snapshot: ListSnapshot | None, number: NumberInfo) -> ListCheck | None:
    """What one loaded list version says about the number (None: no version loaded)."""
    if snapshot is None:
        return None
    meta = snapshot.meta
    national = number.national
    disconnected = getattr(snapshot, "disconnected", None)
    area = number.area_code or 0
    covered = snapshot.covers(area)
    if covered and name in _HOLDERS_ONLY:
        chunks = getattr(snapshot, "chunks", None)
        if isinstance(chunks, dict):
            covered = bool(chunks.get(area))
    if disconnected is not None:
        day = disconnected(national)
        return ListCheck(name, meta.version, meta.published, day is not None, covered, day)
    key = (name, meta.version, meta.published, snapshot.contains(national), covered)
    check = _CHECKS.get(key)
    if check is None:
        check = remember(_CHECKS, key, ListCheck(name, meta.version, meta.published, key[3],
                                                 covered), _CHECKS_LIMIT)
    return check
