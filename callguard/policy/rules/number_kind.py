"""What the attribute lists say about a number's kind: wireless, wireline, or unknown.

A number is taken as a **wireline** (landline) number only when every list the rule
needs is loaded, within its age limit, speaks for the number's area code, and does not
mark the number wireless: not on the wireless list, not on the ported-to-wireless list
(a block-level wireless list misses numbers ported into wireless service), or on the
ported-to-wireline list (a wireless block's number ported to a landline) and not also on
the ported-to-wireless list (ported both ways, the copies do not say which came last). Anything else
is **wireless or unknown**, and the rules for wireless numbers apply (fail closed:
today's behaviour, libphonenumber cannot tell US wireless from wireline).
"""

from __future__ import annotations

from dataclasses import dataclass

from callguard.policy.model import ListCheck
from callguard.policy.rules.base import Context

__all__ = [
    "KIND_LISTS",
    "LITIGATOR_LIST",
    "PORTED_WIRELESS_LIST",
    "PORTED_WIRELINE_LIST",
    "REASSIGNED_LIST",
    "WIRELESS_LIST",
    "NumberKind",
    "fresh",
    "number_kind",
]

WIRELESS_LIST = "attr-wireless"
PORTED_WIRELESS_LIST = "attr-ported-wireless"
PORTED_WIRELINE_LIST = "attr-ported-wireline"
REASSIGNED_LIST = "attr-reassigned"
LITIGATOR_LIST = "attr-litigator"
KIND_LISTS = (WIRELESS_LIST, PORTED_WIRELESS_LIST, PORTED_WIRELINE_LIST)


def fresh(check: ListCheck | None, ctx: Context, max_age_days: int) -> str | None:
    """Why the copy cannot be relied on for the call, or None when it can (its age on
    ``Context.copy_day``: a copy dated by its import's day, later than the call's date
    where that day has not begun, is 0 days old)."""
    if check is None:
        return "not loaded"
    today = ctx.copy_day(check.name, check.published)
    tag = f"{check.name} v{check.version}"
    if check.published is None:
        return f"{tag} has no published date"
    if check.published > today:
        return f"{tag} is dated {check.published}, after the date of the call"
    age = (today - check.published).days
    if age > max_age_days:
        return f"{tag} is {age} days old (at most {max_age_days})"
    if not check.covered:
        return f"{tag} does not cover the area code"
    return None


@dataclass(frozen=True, slots=True)
class NumberKind:
    """The answer: wireline or not, and the sentence that justifies it."""

    wireline: bool
    why: str


def number_kind(ctx: Context, needs: tuple[str, ...], max_age_days: int,
                unless_on: tuple[str, ...] = (), unless_on_max_age_days: int = 0) -> NumberKind:
    """Wireline only on fresh, covering lists that do not mark the number wireless.

    ``unless_on``: do-not-call lists whose holding the number takes away the allowance
    for ports the copies cannot show yet (47 CFR 64.1200(a)(1)(iv): ported within 15
    days, 'provided the number is not already on the national do-not-call registry'). A
    number listed there, or a copy that is not loaded, does not cover the area code, is
    undated, dated after the call or older than ``unless_on_max_age_days`` (it cannot show
    the number is not on the list), is never shown wireline: a port since the copies were
    published is not excused.
    """
    kind = _kind(ctx, needs, max_age_days)
    if not kind.wireline:
        return kind
    for name in unless_on:
        check = ctx.facts.lists.get(name)
        state = fresh(check, ctx, unless_on_max_age_days)
        if state is None and check is not None and check.listed:
            state = f"the number is on {check.name} v{check.version}"
        if state is not None:
            state = f"list {name!r} is not loaded" if state == "not loaded" else state
            return NumberKind(False, f"kind unknown: {kind.why.removeprefix('wireline: ')}, "
                                     f"but {state}, so a port made since those copies were "
                                     "published is not excused (47 CFR 64.1200(a)(1)(iv))")
    return kind


def _kind(ctx: Context, needs: tuple[str, ...], max_age_days: int) -> NumberKind:
    """What the attribute lists alone say (see ``number_kind``)."""
    lists = ctx.facts.lists
    for name in needs:
        problem = fresh(lists.get(name), ctx, max_age_days)
        if problem is not None:
            label = problem if problem != "not loaded" else f"list {name!r} is not loaded"
            return NumberKind(False, f"kind unknown: {label}")
    ported_wireline = lists.get(PORTED_WIRELINE_LIST)
    tags = ", ".join(f"{lists[n].name} v{lists[n].version}"  # type: ignore[union-attr]
                     for n in needs)
    ported_wireless = lists.get(PORTED_WIRELESS_LIST)
    if (ported_wireline is not None and ported_wireline.listed
            and fresh(ported_wireline, ctx, max_age_days) is None):
        if ported_wireless is not None and ported_wireless.listed:
            # Ported both ways and the copies carry no port dates: the last port may have
            # been into wireless service (47 CFR 64.1200(a)(1)(iii)); fail closed.
            return NumberKind(False, f"kind unknown: on both {ported_wireless.name} "
                                     f"v{ported_wireless.version} and {ported_wireline.name} "
                                     f"v{ported_wireline.version}; which port came last is "
                                     "not known")
        return NumberKind(True, f"wireline: ported to wireline per {ported_wireline.name} "
                                f"v{ported_wireline.version}")
    for name in needs:
        check = lists[name]
        if check is not None and check.listed and name != PORTED_WIRELINE_LIST:
            return NumberKind(False, f"wireless: on {check.name} v{check.version}")
    # A ported-to-wireless copy holding the number marks it wireless even when the rule
    # does not need that list (kind_lists = ["wireless"]) and whatever its age: a port into
    # cellular service an older copy shows is undone only by a later port to wireline,
    # which the ported-to-wireline list (both held: unknown, above) would show.
    if ported_wireless is not None and ported_wireless.listed:
        return NumberKind(False, f"wireless: on {ported_wireless.name} "
                                 f"v{ported_wireless.version}")
    return NumberKind(True, f"wireline: on none of {tags}")
