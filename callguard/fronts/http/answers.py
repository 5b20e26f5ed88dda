"""The HTTP front's JSON answers, written so that no escape spells a phone number.

``json.dumps`` (aiohttp's default, ``ensure_ascii=True``) writes every non-ASCII character
as ``\\uXXXX``: a campaign sent as U+8015 + "550123" (six digits, no run, quoted as is by
``clipped_repr``) came back as ``\\u8015550123`` — 8015550123 in the answer bytes, kept by
any proxy or dialer log of the body (hrev79). Here non-ASCII is written as UTF-8
(``ensure_ascii=False``: the answer is ``application/json; charset=utf-8``, RFC 8259 8.1).
Two escapes remain, as JSON requires: a control character (``\\u0001``) and a lone
surrogate (``\\udXXX``; Python's encoder leaves those raw, and UTF-8 cannot carry them: the
answer would have been a 500). A string whose escapes, so spelt, make a run of digits is
sent as that spelling with the run redacted (text, not the escape: ``\\\\u[number …1555]``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from callguard.numbers.redact import has_digit_run, redact_digits

__all__ = ["dumps", "json_response"]

# Characters JSON writes as \uXXXX with ensure_ascii=False: C0 controls but the five with a
# short escape (\b \t \n \f \r), and lone surrogates (a str holds a valid pair as one).
_ESCAPED = re.compile("[\x00-\x07\x0b\x0e-\x1f\ud800-\udfff]")
# In the text json.dumps wrote: a \u escape of a control, or a surrogate left raw.
_WRITTEN = re.compile(r"\\u[0-9a-fA-F]{4}|[\ud800-\udfff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def _spelt(char: re.Match[str]) -> str:
    return f"\\u{ord(char.group()):04x}"


def _value(value: Any) -> Any:
    """``value`` with each string whose escapes spell a digit run replaced by that
    spelling, redacted."""
    if isinstance(value, str):
        if _ESCAPED.search(value) is None:
            return value
        spelt = _ESCAPED.sub(_spelt, value)
        return redact_digits(spelt) if has_digit_run(spelt) else value
    if isinstance(value, dict):
        return {_value(k): _value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return value


def dumps(data: Any) -> str:
    """``data`` as JSON text for an answer body: UTF-8-encodable, valid JSON, and no
    ``\\uXXXX`` escape that makes a run of digits with what follows it."""
    text = json.dumps(data, ensure_ascii=False)
    if _WRITTEN.search(text) is None:  # the usual answer: one scan, no walk
        return text
    text = json.dumps(_value(data), ensure_ascii=False)
    return _SURROGATE.sub(_spelt, text)


def json_response(data: Any, *, status: int = 200,
                  headers: Mapping[str, str] | None = None) -> web.Response:
    """``web.json_response`` written by ``dumps``: every JSON answer of the HTTP front."""
    return web.json_response(data, status=status, headers=headers, dumps=dumps)
