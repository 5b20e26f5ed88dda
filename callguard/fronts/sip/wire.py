"""The method and transaction key of a request, read from its bytes without a full parse.

Half of the datagrams a redirect server receives are ACKs, and under loss many more are
retransmissions: both only need the top Via's branch and sent-by to find their
transaction (RFC 3261 §17.2.3). Reading those from the raw header block costs a few
microseconds; aiosipua's full parse is kept for requests that start a transaction.
Requests from RFC 2543 clients (no magic cookie) are not peeked: they take the full path.
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from callguard.fronts.sip.transactions import MAGIC_COOKIE, transaction_key

__all__ = ["peek", "sent_by"]

_TOP_VIA = re.compile(rb"\n(?:via|v)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)


def sent_by(text: str) -> str:
    """``host:port`` with the default port filled in, the host lower-cased."""
    text = text.strip().lower()
    if text.startswith("["):
        host, _, rest = text.partition("]")
        return f"{host}]:{rest[1:] if rest.startswith(':') else '5060'}"
    host, colon, port = text.rpartition(":")
    return text if colon and port.isdigit() else f"{text}:5060"


def peek(data: bytes) -> tuple[str, Hashable] | None:
    """(method, key) of an RFC 3261 request; None for anything else or anything odd."""
    space = data.find(b" ", 0, 32)
    end = data.find(b"\r\n\r\n")
    if space <= 0 or end < 0:
        return None
    method = data[:space].decode("ascii", "replace").upper()
    if method.startswith("SIP/"):
        return None
    match = _TOP_VIA.search(data, 0, end + 2)
    if match is None:
        return None
    value = match.group(1).split(b",", 1)[0].decode("utf-8", "replace")
    first, *params = value.split(";")
    branch = next((p.split("=", 1)[1].strip() for p in params
                   if "=" in p and p.split("=", 1)[0].strip().lower() == "branch"), "")
    parts = first.split()
    if not branch.startswith(MAGIC_COOKIE) or len(parts) < 2:
        return None
    return method, transaction_key(branch=branch, sent_by=sent_by(parts[-1]), method=method,
                                   call_id="", cseq=0, from_tag="")
