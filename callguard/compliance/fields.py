"""What a peer-filled field may keep in a compliance record: a plausible id, or its hash.

Utah Code 13-44-201 (reasonable procedures; subsection unverified, see
compliance/purge.py) and ARCHITECTURE.md: no phone number in clear
in any log, whatever field it sits in. A dialplan that swaps NUMBER and CAMPAIGN, or a
dialer that puts the number in its call id, must not put it in the record. So each field
a peer fills is kept only when it looks like what it claims to be; anything else becomes
``hmac:`` + 16 hex of its keyed hash (the same value always gives the same hash, so
records still group by it; nothing in it can be read back). Free text goes through
``callguard.numbers.redact.redact_digits``, the one function that takes numbers out.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection

from callguard.numbers.redact import (
    _GAP,
    _KEPT,
    _SEPARATORS,
    MIN_RUN,
    _digit,
    _gap_width,
    _kept,
    has_digit_run,
    redact_digits,
)

__all__ = ["FieldGuard", "plausible_linkedid", "plausible_reference", "redact_line",
           "safe_channel"]

# Asterisk's uniqueid/linkedid: "%li.%d" (epoch seconds, a channel counter) or, with a
# systemname in asterisk.conf, "%s-%li.%d" (main/channel.c, __ast_channel_alloc_ap). Epoch
# seconds of 2001-2033 are 10 digits starting with 1; no NANP number starts with 1 (NPA is
# [2-9]XX), so the stamp cannot be a called number. The counter is a C int, counted from 0
# at start: of 10 digits only when a billion channels were made, so it starts with 1 too.
# A 10-digit "counter" from 2 up is a number ("${EPOCH}.${NUMBER}" from a dialplan: its
# 8015550123 was kept in clear), hashed like anything else that is no Linkedid.
_LINKEDID = re.compile(
    r"(?:(?P<sys>[A-Za-z0-9_.@-]{1,64})-)?1\d{9}\.-?(?:\d{1,9}|1\d{9})")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}")
# A channel name ends in "-" + 8 hex digits (a counter), ";1"/";2" for Local halves.
_DECISION_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_CHANNEL_TAIL = re.compile(r"-[0-9a-f]{8}(?:;[12])?$")
_MAX_ID = 128
# ``MIN_RUN`` ASCII digits, at most ``_GAP`` of redaction's separators between two: a run
# ``has_digit_run`` finds unless a shape it keeps readable (``_KEPT``) lies in it
# (``_plain_run``). SIPp's Call-IDs ("1234-56789@10.0.0.1") hold one.
_ASCII_SEPARATORS = "".join(sorted(c for c in _SEPARATORS if c.isascii()))
_PLAIN_RUN = re.compile(
    rf"[0-9](?:[{re.escape(_ASCII_SEPARATORS)}]{{0,{_GAP}}}[0-9]){{{MIN_RUN - 1}}}")


def canonical_decision_id(value: str) -> str | None:
    """A UUID as decision records spell it (lowercase, hyphenated), or None if not one."""
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def is_decision_id(value: str) -> bool:
    """Spelled exactly as records spell a decision id (safe to quote in SQL)."""
    return _DECISION_ID.fullmatch(value) is not None


def plausible_linkedid(value: str) -> bool:
    """An Asterisk Linkedid (``1733250000.12`` or ``sysname-1733250000.12``)."""
    match = _LINKEDID.fullmatch(value)
    if match is None:
        return False
    system = match.group("sys")
    return system is None or not has_digit_run(system)


def plausible_reference(value: str) -> bool:
    """A front's own call id (SIP Call-ID, an HTTP caller's reference) with no number in it."""
    if not value or len(value) > _MAX_ID or not value.isprintable() or not value.isascii():
        return False
    return _UUID.fullmatch(value) is not None or not (
        _plain_run(value) or has_digit_run(value))


def _plain_run(value: str) -> bool:
    """Whether ``value`` holds a run ``has_digit_run`` finds, shown without its pass over
    every character (half the CPU of a SIP decision's record, on every call whose Call-ID
    has one): a ``_PLAIN_RUN`` before the first shape redaction keeps, so none of its
    digits is kept and they are one run. False proves nothing (``has_digit_run`` decides)."""
    run = _PLAIN_RUN.search(value)
    if run is None:
        return False
    kept = _KEPT.search(value)
    return kept is None or kept.start() >= run.end()


def redact_line(text: str) -> str:
    """One field a person typed (an evidence reference, a source) with every number taken
    out, also one written across what ``redact_digits`` reads as the end of a run: a line
    break ("801555\\n0123" from a CSV cell), a comma, colon or hash ("801555,0123"), any
    other script's punctuation (a full-width full stop). ``redact_digits`` keeps those apart
    for multi-line text (a traceback's line numbers); a one-line reference has no such
    lines, so when the text read with them as separators still holds a run, it is
    redacted so read (its punctuation then shown as spaces). Text with no such run is
    ``redact_digits``'s answer, unchanged."""
    redacted = redact_digits(text)
    if not has_digit_run(_loosened(redacted)):
        return redacted
    return redact_digits(_loosened(text))


def _loosened(text: str) -> str:
    """``text`` with every character that ends a digit run (not a digit, a letter, a run's
    separator, nor part of a shape redaction keeps: a date, a time) as a space."""
    kept = _kept(text)[0]
    return "".join(
        char if index in kept or char.isalpha() or _digit(char) is not None
        or _gap_width(char) is not None else " " for index, char in enumerate(text))


def safe_channel(name: str) -> str:
    """A channel name with any number in its resource taken out; the counter suffix kept.

    ``Local/8015550123@outbound-0000001a;1`` names the dialled number; the trailing counter
    (8 hex digits, often all decimal) is not one and identifies the channel.
    """
    tail = _CHANNEL_TAIL.search(name)
    if tail is None:
        return redact_digits(name)
    return redact_digits(name[:tail.start()]) + tail.group()


class FieldGuard:
    """Applies the rules above, hashing with the node's log key."""

    def __init__(self, keyed_hash: Callable[[str], str], campaigns: Collection[str]) -> None:
        self._hash = keyed_hash
        self._campaigns = frozenset(campaigns)

    def hashed(self, value: str) -> str:
        """``hmac:`` + 16 hex of the keyed hash: groups equal values, reveals nothing."""
        return "hmac:" + self._hash(value)[:16]

    def campaign(self, value: str) -> str:
        """A configured campaign id as is; anything else hashed."""
        return value if value in self._campaigns else self.hashed(value)

    def decision_id(self, value: str) -> str:
        """A decision id (a UUID) as is; anything else hashed."""
        return value if _UUID.fullmatch(value) else self.hashed(value)

    def linkedid(self, value: str) -> str:
        """A plausible Asterisk Linkedid as is; anything else hashed."""
        return value if plausible_linkedid(value) else self.hashed(value)

    def reference(self, value: str) -> str:
        """A plausible call id as is; anything else hashed."""
        return value if plausible_reference(value) else self.hashed(value)

    def source(self, value: str) -> str:
        """A record change's source (``agent``, ``fastagi:<linkedid>``), numbers taken out."""
        head, _, tail = value.partition(":")
        if tail and plausible_linkedid(tail) and not has_digit_run(head):
            return value
        return redact_line(value)
