"""Review of hagi20 (FastAGI front bounded against hostile peers), hrev67.

- A quote spelt by ``repr`` is redacted after it is spelt (``wire.quoted``): ``repr``
  writes a character that is not printable by its code point, in ASCII digits, so a
  script "x\\U00080155" + "50123" (five digits: no run to the redaction) was answered
  'x\\U0008015550123' in CALLGUARD_REASON, which the shipped dialplan logs (NOTICE).
- A 520 usage block keeps a bounded number of lines, each bounded (``wire._cut``): a
  line may be as long as the reader's limit ([fastagi] max_header_bytes, no upper bound),
  and the reply that follows the block is still the next command's own.
- The refused-source log names a new address again once the remembered ones are a minute
  old: a scan past ``_REFUSED_LOG_SOURCES`` does not hide, for good, the Asterisk the
  operator forgot to list.

Over real sockets where a peer is involved; the rate limit's arithmetic on a synthetic
clock.
"""

from __future__ import annotations

import asyncio

import pytest
import structlog.testing

from callguard.config import load_settings
from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi import server as server_module
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.fronts.fastagi.wire import AgiChannel, quoted
from callguard.numbers.redact import has_digit_run
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_fastagi import UT, node

__all__ = ["node"]  # the fixture, from test_fastagi

NUMBER = "8015550123"

# Scripts whose repr spells digits next to a short run of the peer's: an unassigned code
# point whose hex digits are all decimal ("\U00080155": 801 55 ...), a C1 control ("\x80"),
# an unassigned BMP point between two halves of a number ("\u0378").
SPELT = ["callguardx\U00080155" + "50123", "callguardx\x80" + "155501",
         "callguardx801555\u03780123"]


@pytest.mark.parametrize("script", SPELT)
def test_a_quote_spelt_by_repr_holds_no_digit_run(script):
    assert not has_digit_run(quoted(script, 40)), quoted(script, 40)
    assert not has_digit_run(quoted(script * 20, 40)), quoted(script * 20, 40)


@pytest.mark.parametrize("script", SPELT)
async def test_an_unknown_routes_reason_holds_no_number_spelt_by_repr(node, script):
    """The unknown route's BLOCK goes to Asterisk in CALLGUARD_REASON unredacted by the
    gate (no decision is made): the dialplan's NOTICE line logs it as answered."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(script, [NUMBER, UT], port=node.port))
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=2)
        command = line.decode().rstrip("\n")
        writer.write(asterisk_answer(command, {}, REPLY_OK))
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
    finally:
        writer.close()
    variables = exec_mset_variables(command)
    assert variables[c.VAR_RULE] == "callguard:unknown-route"
    reason = variables[c.VAR_REASON]
    assert reason.startswith("no FastAGI route 'callguardx"), reason
    assert not has_digit_run(reason), reason


async def _channel_replying(reply: bytes, limit: int,
                            ) -> tuple[list[dict], list[str]]:
    """An ``AgiChannel`` on a real socket (reader limit ``limit``, as the front's
    ``max_header_bytes``) sends EXEC then GET VARIABLE; the peer answers the first with
    ``reply`` and the second with Asterisk's reply to it. The replies read, and the
    commands the peer got."""
    got: list[str] = []

    async def asterisk(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        got.append((await reader.readline()).decode().rstrip("\n"))
        writer.write(reply)
        await writer.drain()
        got.append((await reader.readline()).decode().rstrip("\n"))
        writer.write(b"200 result=1 (id-42)\n")
        await writer.drain()
        await reader.read()
        writer.close()

    listener = await asyncio.start_server(asterisk, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=limit)
    try:
        channel = AgiChannel({}, reader, writer, reply_timeout=5.0)
        first = await channel.send_command("EXEC MSet A=1")
        second = await channel.send_command("GET VARIABLE X")
    finally:
        writer.close()
        listener.close()
        await listener.wait_closed()
    return [first, second], got


async def test_a_520_block_keeps_few_lines_each_bounded_and_the_next_reply_in_step():
    """500 usage lines of 60,000 characters under a 64 KiB reader limit: the 520 reply
    keeps at most 17 lines of a few hundred characters (it is only ever logged clipped to
    300), with its end line; the next command reads its own reply."""
    long_line = ("Usage " + NUMBER + " ") * 3500  # 60,000 characters
    reply = ("520-Invalid command syntax.  Proper usage follows:\n"
             + "".join(f"{long_line}\n" for _ in range(500))
             + "520 End of proper usage.\n").encode()
    (first, second), got = await _channel_replying(reply, limit=65536)
    assert got == ["EXEC MSet A=1", "GET VARIABLE X"]
    assert first["status_code"] == 520
    lines = first["msg"].split("\n")
    assert lines[0].startswith("520-Invalid command syntax.")
    assert lines[-1] == "520 End of proper usage."
    assert len(lines) <= 17, len(lines)
    assert max(map(len, lines)) <= 401, max(map(len, lines))
    assert second.get("status_code") == 200, second
    assert second.get("result") == ("1", "id-42"), second


def _bare_server(tmp_path) -> FastAgiServer:
    """A server object for its refusal log only (nothing listens)."""
    server = FastAgiServer.__new__(FastAgiServer)
    server.settings = load_settings(data_dir=tmp_path).fastagi
    server._refused_log = server_module._refused_sources_log()  # hagi32: KindLog
    return server


def test_a_new_source_is_named_again_once_the_remembered_are_a_minute_old(
        tmp_path, monkeypatch):
    """A scan fills the remembered sources; a minute on, an Asterisk missing from
    ``allowed_sources`` is logged by its own address, not under "*" — and the state
    stays bounded."""
    server = _bare_server(tmp_path)
    clock = [5000.0]
    monkeypatch.setattr(server_module.time, "monotonic", lambda: clock[0])
    with structlog.testing.capture_logs() as logged:
        for host in range(200):
            server._log_refused(f"10.0.0.{host}")
        clock[0] += 61.0
        server._log_refused("192.0.2.10")
    assert logged[-1]["source"] == "192.0.2.10", logged[-1]
    assert len(server._refused_log) <= server_module._REFUSED_LOG_SOURCES + 1
