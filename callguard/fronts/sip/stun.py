"""UDP keep-alives on the SIP port: a datagram of line breaks, and a STUN Binding request.

Dialers and proxies keep a NAT binding or a flow alive with datagrams that are not SIP
messages: a bare CRLF or CRLFCRLF (pjsip's ``ka_data``, many phones; RFC 3261 §7.5 lets
a stream carry CRLFs between messages, RFC 5626 §3.5.1 makes CRLFCRLF the ping of a
connection) and, on UDP, a STUN Binding request (RFC 5626 §3.5.2 and §4.4.2: the
registrar or proxy acts as a limited STUN server on its SIP port, §8). They were parsed as
SIP and counted ``malformed``, hiding real garbage behind a dialer's heartbeat.

A datagram of CR and LF alone is answered nothing (a pong is for connections, §4.4.1;
Kamailio drops any datagram under 32 bytes as a "probing packet"). A STUN message is
told from SIP by its first two bits (zero; a SIP message starts with a letter) and its
magic cookie (RFC 5389 §6). A Binding request is answered, as RFC 5626 §8 asks of the
server a UA keeps its flow with: a Binding success response carrying the
XOR-MAPPED-ADDRESS the request came from (RFC 5389 §15.2), by which a UA notices that its
NAT mapping changed (§4.4.2) — left unanswered, such a UA deems the flow failed and
rebuilds it over and over. A request carrying a comprehension-required attribute (below
0x8000) gets a 420 (Unknown Attribute) listing it (RFC 5389 §7.3.1): this server knows
none (no credentials: not an ICE agent, not a TURN server). A FINGERPRINT, when present,
is checked, and the answer carries one too (§15.5). Anything else STUN-shaped — an
indication (a keep-alive that wants no answer, §7.3.2), a response, another method, a
message whose length or attributes do not add up — is dropped without an answer.

An answer is one datagram per request, to its source address, which already passed the
allowlist and the rate limit: 32 bytes for an IPv4 source, 44 for IPv6 (8 more with a
FINGERPRINT), a 420 some 60 bytes plus 2 per attribute named — no amplification a SIP
request could not get (an OPTIONS gets a 200 ten times as large).
RFC 3489 clients (no magic cookie) are not told from garbage and stay ``malformed``.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib

__all__ = ["MAGIC_COOKIE", "answer", "is_line_breaks", "is_stun"]

MAGIC_COOKIE = 0x2112A442
_COOKIE = MAGIC_COOKIE.to_bytes(4, "big")
_HEADER = 20
_BINDING_REQUEST = 0x0001
_BINDING_SUCCESS = 0x0101
_BINDING_ERROR = 0x0111
_XOR_MAPPED_ADDRESS = 0x0020
_ERROR_CODE = 0x0009
_UNKNOWN_ATTRIBUTES = 0x000A
_FINGERPRINT = 0x8028
_FINGERPRINT_XOR = 0x5354554E  # "STUN", RFC 5389 §15.5
_LINE_BREAKS = b"\r\n"


def is_line_breaks(data: bytes) -> bool:
    """A keep-alive of line breaks alone (CRLF, CRLFCRLF, a lone LF): nothing else in it."""
    return bool(data) and not data.strip(_LINE_BREAKS)


def is_stun(data: bytes) -> bool:
    """RFC 5389 §6: the first two bits zero and the magic cookie in bytes 4-7."""
    return len(data) >= _HEADER and data[0] < 0x40 and data[4:8] == _COOKIE


def answer(data: bytes, source: tuple[str, int]) -> bytes | None:
    """The reply to a STUN message ``is_stun`` accepted, from ``source``; None: none is
    due (an indication, a response, another method) or the message does not add up
    (RFC 5389 §7.3: discarded)."""
    kind, length = struct.unpack_from("!HH", data)
    if length % 4 or _HEADER + length != len(data) or kind != _BINDING_REQUEST:
        return None
    transaction = data[8:_HEADER]
    unknown: dict[int, None] = {}  # in order, each once: a set lookup, not a list's
    fingerprinted = False
    at = _HEADER
    while at < len(data):
        if fingerprinted or at + 4 > len(data):
            return None  # FINGERPRINT must come last (§15.5); a cut attribute header
        attribute, size = struct.unpack_from("!HH", data, at)
        end = at + 4 + size
        if end > len(data):
            return None
        if attribute == _FINGERPRINT:
            if size != 4 or struct.unpack_from("!I", data, at + 4)[0] != _fingerprint(
                    data[:at]):
                return None
            fingerprinted = True
        elif attribute < 0x8000:
            unknown[attribute] = None
        at = end + (-size % 4)
    if unknown:
        reason = b"Unknown Attribute"
        listed = struct.pack(f"!{len(unknown)}H", *unknown)
        attributes = (_attribute(_ERROR_CODE, b"\x00\x00\x04\x14" + reason)
                      + _attribute(_UNKNOWN_ATTRIBUTES, listed))
        return _message(_BINDING_ERROR, transaction, attributes, fingerprinted)
    return _message(_BINDING_SUCCESS, transaction,
                    _attribute(_XOR_MAPPED_ADDRESS, xor_mapped_address(source, transaction)),
                    fingerprinted)


def xor_mapped_address(source: tuple[str, int], transaction: bytes) -> bytes:
    """The XOR-MAPPED-ADDRESS value for ``source`` (RFC 5389 §15.2): the port XORed with
    the cookie's top half, the address with the cookie (and, for IPv6, the transaction
    ID). An IPv4 peer seen through a dual-stack socket is given its IPv4 address."""
    address = ipaddress.ip_address(source[0].partition("%")[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    port = source[1] ^ (MAGIC_COOKIE >> 16)
    mask = _COOKIE if address.version == 4 else _COOKIE + transaction
    xored = bytes(a ^ m for a, m in zip(address.packed, mask, strict=True))
    return struct.pack("!BBH", 0, 1 if address.version == 4 else 2, port) + xored


def _attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\x00" * (-len(value) % 4)


def _message(kind: int, transaction: bytes, attributes: bytes, fingerprint: bool) -> bytes:
    extra = 8 if fingerprint else 0
    head = struct.pack("!HH", kind, len(attributes) + extra) + _COOKIE + transaction
    message = head + attributes
    if fingerprint:  # its CRC covers the header whose length already counts it
        message += _attribute(_FINGERPRINT, struct.pack("!I", _fingerprint(message)))
    return message


def _fingerprint(before: bytes) -> int:
    """RFC 5389 §15.5: CRC-32 of the message up to the attribute, XORed with 0x5354554e."""
    return (zlib.crc32(before) ^ _FINGERPRINT_XOR) & 0xFFFFFFFF
