"""Reading requests off the wire: the transaction key without a parse, and the parse.

Half of the datagrams a redirect server receives are ACKs, and under loss many more are
retransmissions: both only need the top Via's branch and sent-by to find their
transaction (RFC 3261 §17.2.3). Reading those from the raw header block costs a few
microseconds; the full parse is kept for requests that start a transaction.
Requests from RFC 2543 clients (no magic cookie) are not peeked: they take the full path.

The full parse (``parse``) is aiosipua's ``SipMessage.parse``, rule for rule, at half
its cost: a header value without a comma is not walked character by character to be
split, and header lines (which cannot hold a line break or a colon in their names once
split) are filed without aiosipua's per-header injection checks.
tests/test_sip_wire.py holds it to aiosipua's result.
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from aiosipua import SipRequest, SipResponse
from aiosipua.headers import COMPACT_HEADERS, MULTI_INSTANCE_HEADERS, CaseInsensitiveDict
from aiosipua.message import MAX_HEADERS, _reconcile_content_length, _split_multi_value

from callguard.fronts.sip.transactions import MAGIC_COOKIE, transaction_key

__all__ = ["Identity", "header_tag", "max_forwards_ok", "parse", "peek", "request_line_ok",
           "sent_by"]

_TOP_VIA = re.compile(rb"\n(?:via|v)[ \t]*:[ \t]*([^\r\n]*)", re.IGNORECASE)


# RFC 3261 §25.1: a quoted-string's rest after its opening DQUOTE (quoted-pairs skipped)
_QUOTED_REST = re.compile(r'(?:[^"\\]|\\.)*"', re.DOTALL)
# what ends a display-name or an addr-spec at the top of a From/To value
_ADDRESS_MARK = re.compile(r'["<;]')
# text up to the first SEMI outside a quoted-string; then one "; name [= value]" each
_NOT_SEMI = re.compile(r'(?:"(?:[^"\\]|\\.)*"?|[^;"])*', re.DOTALL)
_PARAM = re.compile(r';((?:"(?:[^"\\]|\\.)*"?|[^;"])*)', re.DOTALL)
_TAG_WORD = re.compile("tag", re.IGNORECASE)


# RFC 3261 §25.1: Request-Line = Method SP Request-URI SP SIP-Version CRLF; Method a token
# (case-sensitive, §7.1), a Request-URI holds no SP or CTL, the version "SIP/2.0" (its
# letters case-insensitive, §25.1). One SP each, none before or after.
_REQUEST_LINE = re.compile(rb"[A-Za-z0-9.!%*_+`'~-]+ [^\x00-\x20\x7f]+ [Ss][Ii][Pp]/2\.0\r?")


def request_line_ok(data: bytes) -> bool:
    """Whether a request's first line is ``Method SP Request-URI SP SIP/2.0`` (RFC 3261
    §7.1: "The elements are separated by single space (SP) characters"; §25.1).

    ``parse`` splits the line on any run of blanks and strips it, so ``INVITE  sip:…``,
    a tab for a space, or a blank before the method or after the version was read — and
    decided — as a call. RFC 4475 §3.1.2.9 and §3.1.2.10 (multiple SP, SP at the end)
    say it is acceptable to reject such a request as malformed; a front whose answer sends
    a call to a number reads only what the grammar writes (the 400 is ``server.py``'s).
    A line ended by LF alone is tolerated as elsewhere (``_head_refusal``)."""
    end = data.find(b"\n")
    return _REQUEST_LINE.fullmatch(data, 0, end if end >= 0 else len(data)) is not None


def max_forwards_ok(values: list[str] | None) -> bool:
    """Whether a request's Max-Forwards, if it has one, is one value of ASCII digits in
    0-255 (RFC 3261 §25.1: ``Max-Forwards = "Max-Forwards" HCOLON 1*DIGIT``; §20.22:
    "an integer in the range 0-255"). ``-1``, ``x``, ``256``, an empty value, a list or
    two rows (§7.3.1: it is not a list) are not: which hop count did the sender mean?

    A value of 0 is fine here: callguard is a redirect server and forwards nothing (§8.3;
    its 302 is an answer). §16.3's "Max-Forwards check" (483 Too Many Hops at 0) is a
    proxy's, made before it forwards; §8.2, the UAS processing a redirect server follows,
    has no such check, and an INVITE a proxy forwarded with its last hop (0) is one a
    redirect server is meant to answer."""
    if not values:
        return True
    if len(values) != 1:
        return False
    value = values[0].strip(" \t")
    return 0 < len(value) <= 10 and value.isascii() and value.isdigit() and int(value) <= 255


def header_tag(value: str) -> str | None:
    """The ``tag`` header parameter of a To or From value (RFC 3261 §20.39, §20.20,
    §25.1), or None when it has none; "" for a ``tag`` given no value.

    The one reading of "does the To carry a tag" for the whole front (the 481 of a
    re-INVITE, the merge of a forked copy, the tag a response adds). The grammar:
    ``( name-addr / addr-spec ) *( SEMI to-param )``. In a name-addr the parameters
    follow the ``>``: a ``;tag=`` inside a quoted display-name (``"a;tag=b" <sip:…>``,
    escaped quotes and all) or inside the ``<URI>`` (a URI parameter) is not the
    header's tag. Without angle brackets, §20.10: "any semicolon-delimited parameters
    are header-parameters, not URI parameters" — they start at the first ``;``.
    Parameter names compare case-insensitively (§7.3.1), with SWS around SEMI and
    EQUAL; a ``gen-value`` may be a quoted-string holding ``;``. Total: a value that
    breaks the grammar (an unbalanced quote, an unclosed ``<``) is read as before: its
    parameters follow the last ``>`` (all of it without one) — fail closed, a ``;tag=``
    there is a dialog (481), never a new call decided and recorded."""
    if "tag" not in value and _TAG_WORD.search(value) is None:  # nothing to parse
        return None
    at = _params_at(value)
    if at is None:
        at = value.rfind(">") + 1
    if '"' not in value[at:]:  # no quoted-string among the parameters: split at SEMI
        params = value[at:].split(";")[1:]
    else:
        skipped = _NOT_SEMI.match(value, at)  # before the first SEMI: nothing the
        at = skipped.end() if skipped else at  # grammar allows there; skipped
        params = [param.group(1) for param in _PARAM.finditer(value, at)]
    for param in params:
        name, equals, given = param.partition("=")
        if name.strip(" \t").lower() == "tag":
            return given.strip(" \t") if equals else ""
    return None


def _params_at(value: str) -> int | None:
    """Where a From/To value's header parameters start: its first ``;`` (an addr-spec),
    or just after the ``>`` (a name-addr, past any quoted display-name); None if the
    value breaks off first."""
    at = 0
    while True:
        mark = _ADDRESS_MARK.search(value, at)
        if mark is None:
            return None
        if mark.group() == ";":
            return mark.start()
        if mark.group() == "<":
            end = value.find(">", mark.end())
            return None if end < 0 else end + 1
        if "\\" in value:  # the display-name's quoted-string, quoted-pairs and all
            quoted = _QUOTED_REST.match(value, mark.end())
            if quoted is None:
                return None
            at = quoted.end()
        else:
            at = value.find('"', mark.end()) + 1
            if at == 0:
                return None


def sent_by(text: str) -> str:
    """``host:port`` with the default port filled in, the host lower-cased."""
    text = text.strip().lower()
    if text.startswith("["):
        host, _, rest = text.partition("]")
        return f"{host}]:{rest[1:] if rest.startswith(':') else '5060'}"
    host, colon, port = text.rpartition(":")
    return text if colon and port.isascii() and port.isdigit() else f"{text}:5060"


def peek(data: bytes) -> tuple[str, Hashable] | None:
    """(method, key) of an RFC 3261 request; None for anything else or anything odd."""
    space = data.find(b" ", 0, 32)
    end = data.find(b"\r\n\r\n")
    if space <= 0 or end < 0:
        return None
    method = data[:space].decode("ascii", "replace")  # case-sensitive (RFC 3261 §7.1)
    if method.startswith("SIP/"):
        return None
    match = _TOP_VIA.search(data, 0, end + 2)
    if match is None:
        return None
    value = match.group(1).split(b",", 1)[0].decode("utf-8", "replace")
    first, *params = value.split(";")
    branch = ""
    for param in params:  # the first branch parameter, however spelt
        name, equals, given = param.partition("=")
        if equals and name.strip().lower() == "branch":
            branch = given.strip()
            break
    parts = first.split()
    if not branch.startswith(MAGIC_COOKIE) or len(parts) < 2:
        return None
    return method, transaction_key(branch=branch, sent_by=sent_by(parts[-1]), method=method,
                                   call_id="", cseq=0, from_tag="")


class Identity:
    """What a retransmission repeats byte for byte and another request under the same
    branch need not: the request line, the Call-ID, the CSeq and the headers the decision
    reads (campaign, mode, location), hashed (keyed per process: a transaction keeps a few
    bytes however long the peer made them). The transaction table refuses a request whose
    identity is not its transaction's (``Receipt.REUSED``): it was given the answer
    decided for the other one.

    The CSeq: a new request has a new CSeq number, a retransmission repeats it (RFC 3261
    §8.1.1.5, §17.1.1.2). A dialer that kept its branch and Call-ID and counted CSeq up
    for a second attempt at the same number was given the first one's 302 (hnet21): a
    call placed with no decision, no record and no count against the number's limits."""

    __slots__ = ("_fields",)

    def __init__(self, headers: tuple[str, ...]) -> None:
        names = ("call-id", "i", "cseq", *(h.lower() for h in headers))
        alternatives = b"|".join(re.escape(n.encode()) for n in dict.fromkeys(names))
        # a value with its continuation lines (§7.3.1 folding): two requests whose
        # folded values differ only after the first line are two requests
        self._fields = re.compile(rb"\n(" + alternatives + rb")[ \t]*:[ \t]*"
                                  rb"([^\r\n]*(?:\r?\n[ \t][^\r\n]*)*)", re.IGNORECASE)

    def __call__(self, data: bytes) -> int:
        """The identity of the request in ``data``."""
        line = data.find(b"\n")
        end = data.find(b"\r\n\r\n")
        if end < 0:
            end = len(data)
        return hash((data[:line], *self._fields.findall(data, 0, end + 2)))


def parse(raw: bytes) -> SipRequest | SipResponse:
    """A message as ``aiosipua.SipMessage.parse`` reads it; ValueError if it cannot."""
    if b"\r\n\r\n" in raw:
        header_blob, _, body = raw.partition(b"\r\n\r\n")
    elif b"\n\n" in raw:
        header_blob, _, body = raw.partition(b"\n\n")
    else:
        header_blob, body = raw, b""
    section = header_blob.decode("utf-8", errors="replace")
    if "\r" in section:
        section = section.replace("\r\n", "\n").replace("\r", "\n")
    lines = section.split("\n")
    start_line = lines[0].strip()
    if not start_line:
        raise ValueError("Missing start line")
    headers = _headers(_unfolded(lines))
    body = _reconcile_content_length(headers, body)
    parts = start_line.split(None, 2)
    if start_line.startswith("SIP/"):
        return SipResponse(headers=headers, body=body,
                           status_code=int(parts[1]) if len(parts) > 1 else 0,
                           reason_phrase=parts[2] if len(parts) > 2 else "")
    if len(parts) < 3:
        raise ValueError(f"Malformed request line: {start_line!r}")
    return SipRequest(headers=headers, body=body, method=parts[0], uri=parts[1])


def _unfolded(lines: list[str]) -> list[str]:
    """The header lines, continuation lines joined to theirs (RFC 3261 §7.3.1)."""
    header_lines: list[str] = []
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t" and header_lines:
            header_lines[-1] += " " + line.strip()
        else:
            header_lines.append(line)
    if len(header_lines) > MAX_HEADERS:
        raise ValueError(f"Too many headers ({len(header_lines)} > {MAX_HEADERS})")
    return header_lines


def _headers(header_lines: list[str]) -> CaseInsensitiveDict:
    """Filed as ``CaseInsensitiveDict.append`` files them: a split line holds no line
    break, and its name no colon, so the append's injection checks cannot fail here."""
    headers = CaseInsensitiveDict()
    store = headers._store  # noqa: SLF001 - filled as append would
    original = headers._original  # noqa: SLF001
    for line in header_lines:
        name, colon, value = line.partition(":")
        if not colon:
            continue
        name = name.strip()
        name = COMPACT_HEADERS.get(name.lower(), name)
        key = name.lower()
        value = value.strip()
        if key in MULTI_INSTANCE_HEADERS:
            # without a comma there is nothing to split: the value itself, if any
            split = _split_multi_value(value) if "," in value else [value] if value else []
            if not split:
                continue
        else:
            split = [value]
        values = store.get(key)
        if values is None:
            store[key] = split
            original[key] = name
        else:
            values.extend(split)
    return headers
