"""What a FastAGI peer sends costs the node bounded work, and refusals are said (hagi20).

A quote of a peer's text in a reason or a log is cut back first, then redacted
(``clipped``): redacting a 16 KiB line whole to keep 60 characters took about 5 ms of the
event loop per session (every other call waited), and a 520 usage block with no end held
every line until ``reply_timeout``, then redacted all of it in one go. A peer refused by
``allowed_sources`` is logged (its address, a line a minute at most): counted only, the
operator of an Asterisk missing from the list saw ``callguard:no-answer`` and no address.
Each test runs over a real socket against the FastAGI front.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace

import pytest
import structlog.testing

import callguard.numbers.redact as redact_module
from callguard.config import load_settings
from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi import server as server_module
from callguard.fronts.fastagi import wire as wire_module
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.runtime import open_runtime
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, asterisk_answer, header_block
from tests.test_fastagi import UT, _escaped_after_replying, compliance_records, node

__all__ = ["node"]  # the fixture, from test_fastagi

NUMBER = "8015550123"
LONG = 16_000  # a line near [fastagi] max_header_bytes (16,384)


@pytest.fixture
def redacted(monkeypatch) -> list[int]:
    """The length of every text the FastAGI front had redacted (the real redaction runs;
    its cost grows with the text)."""
    seen: list[int] = []
    real = redact_module.redact_digits

    def spy(text: str) -> str:
        seen.append(len(text))
        return real(text)

    for module in (redact_module, wire_module, server_module):
        monkeypatch.setattr(module, "redact_digits", spy)
    return seen


async def test_a_long_malformed_header_line_is_quoted_at_bounded_cost(node, redacted):
    """A first line that is no header (no Asterisk wrote it), 16 KiB of a number written
    over and over: the reason quotes at most 60 characters, says it was cut, keeps the
    number out, and no more than that was redacted."""
    line = ("x" + NUMBER + " ") * (LONG // 12)
    with structlog.testing.capture_logs() as logged:
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        writer.write(line.encode() + b"\nagi_network: yes\n\n")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
        writer.close()
        await asyncio.sleep(0.05)
    bad = [e for e in logged if e["event"] == "fastagi_bad_headers"]
    assert len(bad) == 1, logged
    assert "malformed header line" in bad[0]["reason"]
    assert "\u2026" in bad[0]["reason"]  # says it was cut
    assert NUMBER[:5] not in bad[0]["reason"]
    assert max(redacted) < 200, max(redacted)


async def test_a_long_reply_that_is_no_agi_reply_is_quoted_at_bounded_cost(node, redacted):
    """A 16 KiB line where Asterisk's reply should be (``not an AGI reply``)."""
    node.settings = replace(node.settings, reply_timeout_ms=300)
    reply = ("garbage " + (NUMBER + " ") * (LONG // 11) + "\n").encode()
    with structlog.testing.capture_logs() as logged:
        assert await _escaped_after_replying(node, reply) == []
    bad = [e for e in logged if e["event"] == "fastagi_answer_not_accepted"]
    assert bad, logged
    assert "not an AGI reply" in bad[0]["reply"]
    assert NUMBER[:5] not in bad[0]["reply"]
    assert max(redacted) < 500, max(redacted)


async def test_an_endless_520_block_is_read_in_step_but_not_kept(node):
    """A ``520-`` block of 20,000 usage lines (res_agi.c ``agi_handle_command`` writes the
    command's usage text: a few lines) before its ``520 End of proper usage.``: the front
    reads to its end, keeps a few lines, logs at most a few hundred characters, and the
    answer stays unconfirmed (withdrawn), never an ALLOW left standing."""
    usage = "".join(f"520-Usage: line {i} {NUMBER}\n" for i in range(20_000))
    reply = ("520-Invalid command syntax.  Proper usage follows:\n" + usage
             + "520 End of proper usage.\n").encode()
    node.settings = replace(node.settings, reply_timeout_ms=1500)
    with structlog.testing.capture_logs() as logged:
        assert await _escaped_after_replying(node, reply) == []
    bad = [e for e in logged if e["event"] == "fastagi_answer_not_accepted"]
    assert bad, logged
    assert len(bad[0]["reply"]) <= 400, len(bad[0]["reply"])
    assert NUMBER[:5] not in bad[0]["reply"]
    assert node.stats.counts["allow"] == node.stats.counts["withdrawn"] or (
        node.stats.counts["allow"] == 0)


async def test_a_long_unknown_route_is_quoted_at_bounded_cost(node, redacted):
    """A script of 7 KiB (``agi://host/<long>``; Asterisk writes it twice, in
    ``agi_network_script`` and ``agi_request``): the BLOCK's reason quotes at most 40
    characters of it, and no more was redacted."""
    script = "callguardx?" + ("n=" + NUMBER + "&") * (7000 // 13)
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
    assert NUMBER[:5] not in variables[c.VAR_REASON]
    assert max(redacted) < 200, max(redacted)


async def test_a_refused_source_is_logged_once_a_minute_with_its_address(tmp_path):
    """Twenty connections from a source outside ``allowed_sources``: each closed unanswered
    and counted, one warning naming the address (no byte the peer sent)."""
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, fastagi=replace(settings.fastagi, port=0,
                                                 allowed_sources=("10.9.9.0/24",)))
    runtime = open_runtime(settings)
    server = FastAgiServer(runtime.gate, settings.fastagi)
    await server.start()
    try:
        with structlog.testing.capture_logs() as logged:
            for _ in range(20):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(header_block(c.ROUTE_CHECK, [NUMBER, UT], port=server.port))
                # Closed with our block unread: a reset, as good as a close.
                with contextlib.suppress(ConnectionResetError):
                    assert await asyncio.wait_for(reader.read(), timeout=2) == b""
                writer.close()
    finally:
        await server.close()
        await runtime.aclose()
    assert server.stats.counts["refused_source"] == 20
    refused = [e for e in logged if e["event"] == "fastagi_refused_source"]
    assert len(refused) == 1, refused
    assert refused[0]["source"] == "127.0.0.1"
    assert "allowed_sources" in refused[0]["fix"]
    assert NUMBER[-4:] not in str(logged)


def _bare_server(tmp_path) -> FastAgiServer:
    """A server object for its refusal log only (nothing listens)."""
    server = FastAgiServer.__new__(FastAgiServer)
    server.settings = load_settings(data_dir=tmp_path).fastagi
    server._refused_log = server_module._refused_sources_log()  # hagi32: KindLog
    return server


def test_refusals_past_a_minute_are_logged_again_with_their_count(tmp_path, monkeypatch):
    """The rate limit's arithmetic, on a synthetic clock: the first refusal of a source is
    logged, the next ones only counted, and the first after a minute says how many."""
    server = _bare_server(tmp_path)
    clock = [1000.0]
    monkeypatch.setattr(server_module.time, "monotonic", lambda: clock[0])
    with structlog.testing.capture_logs() as logged:
        for step in (0, 1, 30, 59):
            clock[0] = 1000.0 + step
            server._log_refused("10.0.0.7")
        clock[0] = 1061.0
        server._log_refused("10.0.0.7")
    assert [e["refused"] for e in logged] == [1, 4]


def test_a_scan_of_many_sources_cannot_fill_the_log(tmp_path, monkeypatch):
    """A thousand sources in a minute: one line each for the first ones remembered, then
    one line for all the others, whose refusals are counted under it."""
    server = _bare_server(tmp_path)
    monkeypatch.setattr(server_module.time, "monotonic", lambda: 5000.0)
    with structlog.testing.capture_logs() as logged:
        for host in range(1000):
            server._log_refused(f"10.0.{host // 250}.{host % 250}")
    sources = [e["source"] for e in logged]
    assert len(sources) == server_module._REFUSED_LOG_SOURCES + 1, len(sources)
    assert sources[-1] == "*"
    assert server._refused_log.pending("*") == 1000 - len(sources)


async def _raw_answer(port: int, block: bytes) -> dict[str, str]:
    """Send ``block`` as Asterisk would, answer as Asterisk would; the answer's variables."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    channel: dict[str, str] = {}
    first = ""
    try:
        writer.write(block)
        await writer.drain()
        while line := await asyncio.wait_for(reader.readline(), timeout=3):
            command = line.decode().rstrip("\n")
            first = first or command
            writer.write(asterisk_answer(command, channel, REPLY_OK))
            await writer.drain()
    finally:
        writer.close()
    return exec_mset_variables(first)


def _block_with(extra: list[str], args: list[str]) -> bytes:
    """A recorded block with ``args``, and ``extra`` lines after them (a value's line
    breaks forged them)."""
    block = header_block(c.ROUTE_CHECK, args)[:-1]
    return block + "".join(f"{line}\n" for line in extra).encode() + b"\n"


@pytest.mark.parametrize("forged", [
    # A key given twice, its name as long as the block allows.
    ["agi_" + "a" * 6000 + ": 1", "agi_" + "a" * 6000 + ": 2"],
    # An argument past the contract, with a long name.
    ["agi_arg_" + "9" * 12000 + ": 1"],
    # A control character in an argument with a long name.
    ["agi_arg_" + "7" * 12000 + ": a\x01b"],
])
async def test_a_forged_long_header_name_is_quoted_short(node, redacted, forged):
    """A value's line break can forge a header name as long as the block: the BLOCK's
    reason (answered, logged, and kept in the compliance record for years) quotes a few
    dozen characters of it, and no more was redacted."""
    variables = await _raw_answer(node.port, _block_with(forged, [NUMBER, UT]))
    assert variables[c.VAR_VERDICT] == "BLOCK"
    assert variables[c.VAR_RULE] == "callguard:bad-agi-request"
    record = compliance_records(node)[-1]
    assert len(record["reason"]) < 600, len(record["reason"])
    assert max(redacted) < 600, max(redacted)


async def test_connections_closed_at_max_connections_are_logged_once_a_minute(tmp_path):
    """Idle peers (from an allowed source) hold ``max_connections`` sockets: each further
    connection is closed unanswered and counted, and one warning says so (the dialplan
    of the calls closed on says only ``callguard:no-answer``)."""
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, fastagi=replace(settings.fastagi, port=0, max_connections=2,
                                                 header_timeout_ms=3000))
    runtime = open_runtime(settings)
    server = FastAgiServer(runtime.gate, settings.fastagi)
    await server.start()
    idle = []
    try:
        for _ in range(2):
            idle.append(await asyncio.open_connection("127.0.0.1", server.port))
        while server.stats.connected < 2:
            await asyncio.sleep(0.01)
        with structlog.testing.capture_logs() as logged:
            for _ in range(5):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                with contextlib.suppress(ConnectionResetError):
                    assert await asyncio.wait_for(reader.read(), timeout=2) == b""
                writer.close()
    finally:
        for _, writer in idle:
            writer.close()
        await server.close()
        await runtime.aclose()
    assert server.stats.counts["refused_busy"] == 5
    capped = [e for e in logged if e["event"] == "fastagi_connections_capped"]
    assert len(capped) == 1, capped
    assert (capped[0]["cap"], capped[0]["refused"]) == (2, 1)
