"""A request body's content coding (gzip, deflate), undone here rather than by aiohttp.

aiohttp's ``DeflateBuffer`` checks that a deflate stream reached its end, but not that a
gzip one did: a gzip body cut before its CRC-32 and ISIZE trailer (RFC 1952 2.3.1) —
a dialer's buffer flushed short, a proxy that dropped the last bytes — inflated to the
JSON it held so far and was decided. Here the port runs with ``auto_decompress=False``
(``GuardedSite``) and the body, read whole within ``max_body_bytes`` as sent, is inflated
with zlib: every member complete with its CRC and length checked (zlib does, at a gzip
member's end), nothing after the last one, and at most ``max_body_bytes`` inflated (a
zip bomb stops there: 413). A body without Content-Encoding is not touched.

It inflates in slices of ``SLICE_BYTES``, the loop turning between them, as aiohttp's
inflating as the body arrived did: in one call, with ``max_body_bytes`` raised to 16 MiB,
a 16 KiB gzip body held the node's one loop about 50 ms (every front's answers and
decision budgets waiting). A body of the default 64 KiB is one slice, never a turn.
"""

from __future__ import annotations

import asyncio
import zlib

from callguard.numbers.redact import clipped_repr

__all__ = ["MAX_MEMBERS", "SLICE_BYTES", "CodingError", "InflatedTooLargeError", "inflate"]

_GZIP = 16 + zlib.MAX_WBITS  # a gzip header and trailer, nothing else
_ZLIB = zlib.MAX_WBITS  # RFC 1950 (what "deflate" means, RFC 9110 8.4.1.2)
_RAW = -zlib.MAX_WBITS  # bare RFC 1951, which some clients send as "deflate"


class CodingError(Exception):
    """The body does not decode as its Content-Encoding says: a 400 naming why."""


class InflatedTooLargeError(Exception):
    """The body inflates past ``max_body_bytes``: a 413, as a plain body that large."""


# Bytes inflated between two turns of the loop: about 1 ms of zlib (a body of zeros).
SLICE_BYTES = 256 * 1024


async def inflate(raw: bytes, coding: str, max_bytes: int) -> bytes:
    """The body ``raw`` decoded from ``coding`` (``gzip``, ``deflate``;
    ``identity`` or empty: as is). CodingError for a body cut short, with bytes after its
    end, or not in that coding; InflatedTooLargeError past ``max_bytes``."""
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return raw
    if coding == "gzip":
        return await _members(raw, coding, max_bytes)
    if coding == "deflate":
        # aiohttp's rule, kept: a first byte whose low nibble is not 8 (CM = deflate) is
        # not a zlib header, so the stream is read as bare deflate
        wbits = _ZLIB if raw[:1] and raw[0] & 0x0F == 8 else _RAW
        out, rest = await _one(raw, wbits, coding, max_bytes)
        if rest:
            raise CodingError(f"{len(rest)} bytes after the end of the deflate stream")
        return out
    raise CodingError(f"content coding {clipped_repr(coding, 40)} is not decoded here")


# Members one body may hold: a client sends one; 64 KiB of empty 20-byte members (3,276)
# took about 10 ms of the loop to inflate to nothing, 100 times a JSON parse of that size.
MAX_MEMBERS = 16


async def _members(raw: bytes, coding: str, max_bytes: int) -> bytes:
    """Every gzip member in turn (RFC 1952 2.2: a gzip body is a series of members), at
    most ``MAX_MEMBERS``."""
    out: list[bytes] = []
    size = 0
    rest = raw
    for _ in range(MAX_MEMBERS):
        member, rest = await _one(rest, _GZIP, coding, max_bytes - size)
        out.append(member)
        size += len(member)
        if not rest:
            return b"".join(out)
    raise CodingError(f"more than {MAX_MEMBERS} gzip members; send the body as one")


async def _one(raw: bytes, wbits: int, coding: str, max_bytes: int) -> tuple[bytes, bytes]:
    """One stream inflated and what follows it; the stream must end (its trailer read).
    The input goes in by ``SLICE_BYTES`` too: zlib's ``unconsumed_tail`` is a copy of
    what is left, and handed the whole body, a 16 MiB incompressible one was copied 64
    times over (0.4 s in all, against 40 ms)."""
    if not raw:
        raise CodingError(f"the body is empty, not {coding}")
    decoder = zlib.decompressobj(wbits)
    body = memoryview(raw)
    parts: list[bytes] = []
    size = 0
    taken = 0  # bytes of ``raw`` handed to zlib
    data: bytes | memoryview = b""
    while True:
        if not data:
            data = body[taken:taken + SLICE_BYTES]
            taken += len(data)
        want = min(SLICE_BYTES, max_bytes + 1 - size)  # at least 1: size <= max_bytes
        try:
            part = decoder.decompress(data, want)
        except zlib.error as exc:
            raise CodingError(f"not {coding}: {str(exc)[:80]}") from None
        parts.append(part)
        size += len(part)
        if size > max_bytes:
            raise InflatedTooLargeError
        data = decoder.unconsumed_tail
        # a slice filled may leave output inside zlib with all input taken: ask again
        if decoder.eof or (not data and taken >= len(raw) and len(part) < want):
            break
        await asyncio.sleep(0)
    if not decoder.eof:
        raise CodingError(f"the {coding} body is cut short (its end"
                          f"{' and CRC trailer' if wbits == _GZIP else ''} did not arrive)")
    return b"".join(parts), decoder.unused_data + body[taken:]
