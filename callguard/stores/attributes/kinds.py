"""The kinds of number attribute list, and the reserved list name each is stored under."""

from __future__ import annotations

import enum

from callguard.policy.rules.number_kind import (
    LITIGATOR_LIST,
    PORTED_WIRELESS_LIST,
    PORTED_WIRELINE_LIST,
    REASSIGNED_LIST,
    WIRELESS_LIST,
)

__all__ = ["AttributeKind", "kind_of", "list_name"]


class AttributeKind(enum.StrEnum):
    """What a list says about the numbers it holds."""

    WIRELESS = "wireless"  # numbers assigned to wireless service
    PORTED_WIRELESS = "ported-wireless"  # numbers ported from wireline to wireless
    PORTED_WIRELINE = "ported-wireline"  # numbers ported from wireless to wireline
    REASSIGNED = "reassigned"  # number -> date of its last permanent disconnect
    LITIGATOR = "litigator"  # numbers of known telemarketing-law litigants (house policy)


_NAMES = {
    AttributeKind.WIRELESS: WIRELESS_LIST,
    AttributeKind.PORTED_WIRELESS: PORTED_WIRELESS_LIST,
    AttributeKind.PORTED_WIRELINE: PORTED_WIRELINE_LIST,
    AttributeKind.REASSIGNED: REASSIGNED_LIST,
    AttributeKind.LITIGATOR: LITIGATOR_LIST,
}


def list_name(kind: AttributeKind) -> str:
    """The reserved list name the kind is stored under (``attr-<kind>``)."""
    return _NAMES[kind]


def kind_of(name: str) -> AttributeKind | None:
    """The attribute kind stored under ``name``, or None for any other list."""
    for kind, reserved in _NAMES.items():
        if reserved == name:
            return kind
    return None
