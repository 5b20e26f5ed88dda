"""Operational logs (stderr) never show a phone number, whatever field a peer put it in.

Utah Code 13-44-201; ARCHITECTURE.md: no phone number in clear reaches any log. Peers put
numbers anywhere (an AGI header line, a SIP Call-ID, an HTTP request line), and libraries
quote what they received in their own messages and tracebacks. Three nets, all through
``callguard.numbers.redact.redact_digits`` (the one function for this):

- ``redact_event``: a structlog processor for the *operational* chain, after
  ``format_exc_info`` and before the renderer — every string value (nested ones too),
  tracebacks included, except the keys that never hold peer input and whose digits mean
  something (``SAFE_KEYS``: a decision id in its UUID shape, a keyed hash, a timestamp),
  and an Asterisk Uniqueid/Linkedid in its own shape under its own key (``_ASTERISK_ID``).
  Never put it in the compliance record's chain: that record has its own fields and rules.
- ``install_stdlib_redaction``: the standard ``logging`` messages of aiohttp, asyncio and
  aiosipua (aiohttp logs a malformed request's line with its traceback) through a
  formatter that redacts the whole formatted text, to stderr.
- ``redacted_error``: an exception as one redacted line, for call sites that log one.
"""

from __future__ import annotations

import logging
import re
import sys
import traceback
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

from callguard.numbers.redact import redact_digits

__all__ = ["SAFE_KEYS", "RedactingFormatter", "install_stdlib_redaction", "redact_event",
           "redact_value", "redacted_error"]

# Keys whose values callguard makes itself and whose digit runs are not numbers.
SAFE_KEYS = frozenset({"decision_id", "optout_id", "number_hash", "key_id", "logged_at",
                       "timestamp", "level", "event", "logger", "logger_name"})


# Of those, the ids a peer can carry back to callguard (a decision id read from a channel
# variable the dialplan may have set or damaged, the watchdog's ``CALLGUARD_FOLLOW``): left
# whole only in the shape callguard makes them, a UUID; anything else is redacted.
_ID_KEYS = frozenset({"decision_id", "optout_id"})
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}")


# The Asterisk channel ids the watchdog logs (``linkedid=`` in ``watchdog_follow_unread``):
# an operator matches them against Asterisk's own log, CDR and CEL. channel.c
# ``__ast_channel_alloc_ap`` makes a Uniqueid "<epoch>.<counter>" (``%li.%d`` of the time
# and an atomic counter), "<systemname>-<epoch>.<counter>" with asterisk.conf systemname;
# a Linkedid is the Uniqueid of the call's oldest channel. Read as one digit run,
# "1795326250.20" was logged "[number …5020]". Under these keys only, and only in that shape
# with an epoch of ten digits starting with 1 (2001-09-09 to 2033-05-18), the id is left
# whole: no ten-digit NANP number starts with 1 (area codes start 2-9), and the ".counter"
# is no dialling punctuation of a number of ten digits with its country code (eleven).
# A dialer may choose a Uniqueid (Originate ``ChannelId``: any text, a number among them):
# any other shape is redacted, and a systemname goes through ``redact_digits``.
_ASTERISK_ID_KEYS = frozenset({"linkedid", "uniqueid"})
# The counter is a C int counted from 0 at start: of ten digits only past a billion
# channels, so starting with 1 (negative past 2**31); a ten-digit "counter" from 2 up is a
# number ("${EPOCH}.${NUMBER}": hwd30 logged 1795326441.8015550142 in clear), as the
# compliance record reads it (compliance/fields.py ``_LINKEDID``; hrev143).
_ASTERISK_ID = re.compile(r"(?:(.+)-)?(1[0-9]{9}\.-?(?:[0-9]{1,9}|1[0-9]{9}))")


def _asterisk_id(value: Any) -> Any:
    """``value`` with its Asterisk id left whole (see ``_ASTERISK_ID_KEYS``), else redacted."""
    if isinstance(value, str):
        match = _ASTERISK_ID.fullmatch(value)
        if match is not None:
            system, uid = match.groups()
            return uid if system is None else f"{redact_digits(system)}-{uid}"
    return redact_value(value)


def _left_whole(key: str, value: Any) -> bool:
    """Whether ``key``'s value is one callguard made (``SAFE_KEYS``, ids UUID-shaped)."""
    if key not in SAFE_KEYS:
        return False
    return key not in _ID_KEYS or (isinstance(value, str) and _UUID.fullmatch(value) is not None)


def redact_value(value: Any) -> Any:
    """``value`` with every string in it (in dicts, lists, tuples) redacted."""
    if isinstance(value, str):
        return redact_digits(value)
    if isinstance(value, Mapping):
        return {key: redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    return value


def redact_event(logger: Any, name: str,
                 event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: every value but ``SAFE_KEYS`` (and Asterisk ids in their
    shape, ``_ASTERISK_ID_KEYS``) through ``redact_digits``."""
    for key, value in event_dict.items():
        if key in _ASTERISK_ID_KEYS:
            event_dict[key] = _asterisk_id(value)
        elif not _left_whole(key, value):
            event_dict[key] = redact_value(value)
    return event_dict


def redacted_error(exc: BaseException, *, with_traceback: bool = True) -> str:
    """The exception (and its traceback) as text a log may hold."""
    if with_traceback:
        text = "".join(traceback.format_exception(exc))
    else:
        text = f"{type(exc).__name__}: {exc}"
    return redact_digits(text)


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output — message, arguments, traceback — is redacted."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as the base formatter writes it, digit runs taken out."""
        return redact_digits(super().format(record))


def install_stdlib_redaction(stream: TextIO | None = None,
                             level: int = logging.WARNING) -> logging.Handler:
    """Route the standard library's logging (aiohttp, asyncio, aiosipua) to ``stream``
    (stderr) through ``RedactingFormatter``; return the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return handler
