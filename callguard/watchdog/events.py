"""AMI messages made safe for the tracker and for records.

panoramisk turns a repeated header into a list (Asterisk repeats ``ChanVariable`` when
manager.conf lists several channel variables; a hostile or broken peer may repeat any
header). The tracker reads plain ``str`` values: ``normalize`` keeps the first value of a
repeated header, except for the ``…ChanVariable`` headers, where the one naming
``CALLGUARD_FOLLOW`` is kept. Non-string values never reach the tracker.

Channel names can hold a phone number (``Local/8015550123@ctx-0000000a;1``): every name
bound for a log or a record goes through ``safe_channel``, which runs the part before
Asterisk's own ``-<8 hex>[;n]`` sequence through ``redact_digits`` (the one function for
numbers in free text) and keeps the sequence, so ``PJSIP/itsp-0000001a`` stays readable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from callguard.fronts.fastagi.contract import VAR_FOLLOW
from callguard.numbers.redact import redact_digits

__all__ = ["FOLLOW_PREFIX", "DamagedEvent", "follow_value", "normalize", "safe_channel",
           "safe_channels"]

FOLLOW_PREFIX = f"{VAR_FOLLOW}="
_VAR_KEYS = ("ChanVariable", "DestChanVariable", "LocalOneChanVariable",
             "LocalTwoChanVariable")
_SEQUENCE = re.compile(r"^(.*?)(-[0-9a-fA-F]{8}(?:;\d+)?)$")


class DamagedEvent(ValueError):
    """An event the tracker refuses to act on: what it says cannot be what Asterisk wrote
    (a header value carrying CR LF wrote it, hwd32). The AMI session counts it, says it
    and takes the picture again, as for a message dropped unread."""


def _pick(key: str, values: list[Any]) -> str:
    texts = [v for v in values if isinstance(v, str)]
    if key.endswith("ChanVariable"):
        for text in texts:
            if text.startswith(FOLLOW_PREFIX):
                return text
    return texts[0] if texts else ""


def normalize(message: Mapping[str, Any]) -> dict[str, str]:
    """Header -> one string (see the module docstring)."""
    # panoramisk 1.4's CaseInsensitiveDict keeps (key, value) pairs in ``_store``; reading
    # them directly costs a third of going through its generic ``items()``.
    store = getattr(message, "_store", None)
    pairs = store.values() if isinstance(store, dict) else message.items()
    out: dict[str, str] = {}
    for key, value in pairs:
        if type(value) is str:
            out[key] = value
        elif isinstance(value, list) and isinstance(key, str):
            out[key] = _pick(key, value)
    return out


def follow_value(event: Mapping[str, str]) -> str | None:
    """The CALLGUARD_FOLLOW value on this event's channel blocks; "" when present but
    empty (channelvars is configured, the channel carries nothing); None when absent."""
    found: str | None = None
    for key in _VAR_KEYS:
        text = event.get(key)
        if text is not None and text.startswith(FOLLOW_PREFIX):
            value = text[len(FOLLOW_PREFIX):]
            if value:
                return value
            found = ""
    return found


def safe_channel(name: str | None) -> str | None:
    """A channel name with any written number taken out (the sequence suffix kept)."""
    if name is None:
        return None
    match = _SEQUENCE.match(name)
    if match is None:
        return redact_digits(name)
    return redact_digits(match.group(1)) + match.group(2)


def safe_channels(names: Iterable[str]) -> list[str]:
    """``safe_channel`` for each, sorted."""
    return sorted(safe_channel(n) or "" for n in names)
