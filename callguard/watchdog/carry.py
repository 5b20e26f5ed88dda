"""What the watchdog needs to follow a call, carried by the call itself.

What a node follows must not live only in its memory: a restarted node, or another node
with AMI access, has to finish what one started. So the gate's ALLOW answer (its one
``EXEC MSet``) also sets ``__CALLGUARD_FOLLOW`` on the channel (MSet sets each pair with
``pbx_builtin_setvar_helper``, as ``Set()`` does: pbx_variables.c
``pbx_builtin_setvar_multiple``). The two underscores make the dialled leg inherit it;
manager.conf ``[general] channelvars = CALLGUARD_FOLLOW`` puts it on every AMI event of
those channels as ``ChanVariable: CALLGUARD_FOLLOW=<value>`` (manager_channels.c
``ast_manager_build_channel_state_string_prefix`` appends the snapshot's manager
variables to each channel block). After a reconnect the watchdog reads it from the
``CoreShowChannel`` items when they carry it, and otherwise asks each channel with
``Getvar``.

The value, version 1: eight fields joined by ``|``, each percent-encoded so the value holds
only ASCII letters, digits and ``%+-._~:@/`` — nothing Asterisk's argument parsers (MSet,
AGI words) or the AMI framing treat specially::

    1|<decision id>|<mode>|<limit s or empty>|<limit citation>|<campaign>|<caller id>|<node>

The limit is empty when no enabled pack sets one for the call (before us-federal
2026.12.17, a predictive call outside Utah; now 5 s for every predictive and prerecorded
call): the call is still followed and released; the limit only decides violation risk.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import quote, unquote

__all__ = ["FOLLOWED_MODES", "VERSION", "Carried", "decode", "encode"]

VERSION = "1"
FOLLOWED_MODES = frozenset({"predictive", "prerecorded"})
_SAFE = "+-._:@/"
_MAX = 380  # the FastAGI answer caps one value at 400 characters (wire._MAX_VALUE)
_FIELDS = 8


@dataclass(frozen=True, slots=True)
class Carried:
    """One allowed automated call, as the channel carries it."""

    decision_id: str
    mode: str
    limit_s: float | None
    limit_citation: str
    campaign: str
    caller_id: str
    origin: str  # the node whose gate allowed the call


def _field(text: str) -> str:
    return quote(text, safe=_SAFE)


def encode(carried: Carried) -> str | None:
    """The channel variable's value; the citation is dropped rather than overflow the
    answer (the node that reads it has the packs); None if even that does not fit."""
    limit = "" if carried.limit_s is None else f"{carried.limit_s:g}"
    parts = [VERSION, carried.decision_id, carried.mode, limit, carried.limit_citation,
             carried.campaign, carried.caller_id, carried.origin]
    value = "|".join(_field(p) for p in parts)
    if len(value) > _MAX:
        parts[4] = ""
        value = "|".join(_field(p) for p in parts)
    return value if len(value) <= _MAX else None


def decode(value: str) -> Carried | None:
    """The carried call, or None for an empty, foreign or damaged value."""
    parts = value.split("|")
    if len(parts) != _FIELDS or parts[0] != VERSION:
        return None
    try:
        fields = [unquote(p, errors="strict") for p in parts]
    except UnicodeDecodeError:
        return None
    _, decision_id, mode, limit, citation, campaign, caller_id, origin = fields
    if not decision_id or mode not in FOLLOWED_MODES or not campaign:
        return None
    limit_s: float | None = None
    if limit:
        try:
            limit_s = float(limit)
        except ValueError:
            return None
        if not math.isfinite(limit_s) or limit_s <= 0:
            return None
    return Carried(decision_id, mode, limit_s, citation, campaign, caller_id, origin)
