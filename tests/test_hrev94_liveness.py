"""Review of ``[fastagi] ask_liveness`` (hagi22, session 25): the liveness question's reply
is read from the peer, so only Asterisk's exact line for "live" may let a check be decided.

res_agi.c ``handle_getvariable`` writes ``ast_agi_send(agi->fd, chan, "200 result=1 (%s)\\n",
ret)`` for a function read (a name ending in ")": ``ast_func_read``) and ``"200
result=0\\n"`` when the read failed; func_channel.c's ``checkhangup`` copies
``ast_check_hangup(chan) ? "1" : "0"``. So Asterisk's two answers are exactly
``200 result=1 (0)`` and ``200 result=1 (1)``. panoramisk's ``parse_agi_result`` is loose
(a regex ``findall`` over the line): a line with text after the value, a second
``result=`` pair, a leading zero on the code, were all read as "live" and the check went on
to be decided. Real sockets; the peer is a scripted line, no Asterisk (none writes these).
"""

from __future__ import annotations

import asyncio

import pytest

from callguard.fronts.fastagi.wire import CHECK_HANGUP, AgiChannel


async def _ask(reply: bytes) -> bool | None:
    """``AgiChannel.hung_up`` against a peer that answers the question with ``reply``."""
    asked: list[bytes] = []

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        asked.append(await reader.readline())
        writer.write(reply)
        await writer.drain()
        await reader.read()  # until callguard's side closes
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        channel = AgiChannel({}, reader, writer, reply_timeout=2.0)
        return await channel.hung_up()
    finally:
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()
        assert asked == [CHECK_HANGUP.encode() + b"\n"]


@pytest.mark.parametrize(("reply", "said"), [
    (b"200 result=1 (0)\n", False),
    (b"200 result=1 (1)\n", True),
    (b"HANGUP\n200 result=1 (0)\n", True),  # run_agi's HANGUP before the reply
    (b"200 result=0\n", None),              # ast_func_read failed: func_channel not loaded
    (b"200 result=1 (10)\n", None),
    (b"200 result=1 ( 0)\n", None),
    (b"200 result=1 (0 )\n", None),
    (b"510 Invalid or unknown command\n", None),
])
def test_asterisk_answers_read_as_before(reply: bytes, said: bool | None) -> None:
    assert asyncio.run(_ask(reply)) is said


@pytest.mark.parametrize("reply", [
    b"200 result=1 (0)x\n",
    b"200 result=1 (0) but hung up\n",
    b"200 result=1 result=1 (0)\n",
    b"200 x result=1 (0)\n",
    b"0200 result=1 (0)\n",
    b"200 result=1  (0)\n",
    b"200  result=1 (0)\n",
    b"200 result=1 (0)\r\n",
])
def test_only_asterisks_exact_live_line_lets_the_check_be_decided(reply: bytes) -> None:
    """Each of these was read as "live" (``False``): fail open on a line Asterisk never
    writes. Now neither live nor hung up (``None``: BLOCK ``callguard:bad-agi-request``)."""
    assert asyncio.run(_ask(reply)) is None
