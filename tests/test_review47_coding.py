"""The port's own inflating (hhttp18's ``fronts/http/coding.py``), reviewed (hrev47).

aiohttp inflated a body in slices as it arrived, the loop turning between them; the port
now inflates a body read whole, and did it in one call: with ``max_body_bytes`` raised to
16 MiB a 16 KiB gzip body held the node's one loop about 50 ms (FastAGI and SIP answers,
every decision's budget, waiting). It now inflates in slices, turning the loop between
them; a body of the default 64 KiB is one slice, as before. The slices must not change
what is decided: every size around a slice boundary, gzip and both deflate forms.
"""

from __future__ import annotations

import asyncio
import gzip
import inspect
import json
import random
import zlib
from collections.abc import Iterator

import pytest

from callguard.fronts.http.coding import (
    SLICE_BYTES,
    CodingError,
    InflatedTooLargeError,
    inflate,
)
from tests.serve_node import AT, ServeNode, write_lists

BIG = 16 * 1024 * 1024


async def _inflate(raw: bytes, coding: str, max_bytes: int) -> bytes:
    result = inflate(raw, coding, max_bytes)
    if inspect.isawaitable(result):
        result = await result
    assert isinstance(result, bytes)
    return result


def _run(raw: bytes, coding: str, max_bytes: int) -> bytes:
    return asyncio.run(_inflate(raw, coding, max_bytes))


def test_a_large_inflate_lets_the_loop_turn() -> None:
    """A ticker on the same loop runs while 16 MiB inflate: before, not once."""

    async def main() -> tuple[int, int]:
        ticks = 0
        done = False

        async def ticker() -> None:
            nonlocal ticks
            while not done:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        await asyncio.sleep(0)
        before = ticks
        out = await _inflate(gzip.compress(b" " * BIG), "gzip", BIG)
        during = ticks - before
        done = True
        await task
        return len(out), during

    size, during = asyncio.run(main())
    assert size == BIG
    assert during >= BIG // SLICE_BYTES // 2, during


def _raw_deflate(data: bytes) -> bytes:
    encoder = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return encoder.compress(data) + encoder.flush()


FORMS = {"gzip": gzip.compress, "zlib": zlib.compress, "raw": _raw_deflate}


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("size", [0, 1, SLICE_BYTES - 1, SLICE_BYTES, SLICE_BYTES + 1,
                                  2 * SLICE_BYTES, 3 * SLICE_BYTES + 7])
def test_every_size_around_a_slice_inflates_whole(form: str, size: int) -> None:
    data = bytes(range(256)) * (size // 256) + b"z" * (size % 256)
    coding = "gzip" if form == "gzip" else "deflate"
    encoded = FORMS[form](data)
    assert _run(encoded, coding, size) == data  # exactly at the limit: decided
    if size:
        with pytest.raises(InflatedTooLargeError):
            _run(encoded, coding, size - 1)
        with pytest.raises(CodingError):  # cut short, however long
            _run(encoded[:-1] if form != "raw" else encoded[:-2], coding, size)
    with pytest.raises(CodingError):  # bytes after its end
        _run(encoded + b"\0", coding, size + 1)


def test_members_share_the_limit_across_slices() -> None:
    one = b"a" * (SLICE_BYTES + 3)
    body = gzip.compress(one) + gzip.compress(one)
    assert _run(body, "gzip", 2 * len(one)) == one + one
    with pytest.raises(InflatedTooLargeError):
        _run(body, "gzip", 2 * len(one) - 1)


@pytest.fixture(scope="module")
def big_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeNode]:
    serve = ServeNode(tmp_path_factory.mktemp("review47big") / "node",
                      extra_http={"max_body_bytes = 65536": f"max_body_bytes = {BIG}"})
    write_lists(serve.data, [8015550199])
    serve.start()
    yield serve
    serve.stop()


def test_a_body_of_the_largest_allowed_size_is_decided(big_node: ServeNode) -> None:
    """On a real node: a gzip body inflating to exactly max_body_bytes, then one past."""
    check = json.dumps({"number": "8015550123", "campaign": "ut-solar-manual", "at": AT})
    whole = check[:-1].encode() + b" " * (BIG - len(check)) + b"}"
    assert len(whole) == BIG
    for body, expected in ((whole, 200), (whole + b" ", 413)):
        encoded = gzip.compress(body)
        status, _ = big_node.http("/v1/check", None, raw=encoded, headers={
            "Content-Type": "application/json", "Content-Encoding": "gzip"})
        assert status == expected, (status, len(body))
    assert big_node.events("http_internal_error") == []


@pytest.mark.parametrize("form", sorted(FORMS))
def test_an_incompressible_body_longer_than_a_slice_as_sent(form: str) -> None:
    """The input goes to zlib by slices too (its unconsumed tail was a copy of the rest
    of the body, each slice): what follows a stream is still found past those slices."""
    data = random.Random(47).randbytes(3 * SLICE_BYTES + 11)
    coding = "gzip" if form == "gzip" else "deflate"
    encoded = FORMS[form](data)
    assert len(encoded) > 3 * SLICE_BYTES
    assert _run(encoded, coding, len(data)) == data
    with pytest.raises(CodingError):
        _run(encoded + b"\1\2\3", coding, len(data))
    with pytest.raises(CodingError):
        _run(encoded[:-3], coding, len(data))
    with pytest.raises(InflatedTooLargeError):
        _run(encoded, coding, len(data) - 1)
    if form == "gzip":
        assert _run(encoded + encoded, coding, 2 * len(data)) == data + data


@pytest.mark.parametrize("form", sorted(FORMS))
@pytest.mark.parametrize("extra", [21, 100, 257])
def test_a_slice_filled_with_all_input_taken_is_asked_again(form: str, extra: int) -> None:
    """A long run ends a stream in a few bits zlib holds already: the slice fills with
    no input left, and the rest of the output (and the stream's end) is still inside
    zlib. Taken for a stream cut short, that was a 400 for a whole body."""
    data = b"a" * (SLICE_BYTES + extra)
    coding = "gzip" if form == "gzip" else "deflate"
    assert _run(FORMS[form](data), coding, len(data) + 4096) == data
