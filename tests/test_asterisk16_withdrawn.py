"""A withdrawn ALLOW gives back its call-frequency reservation, and a bare close is one.

An ALLOW the FastAGI front withdraws (Asterisk's HANGUP came before its reply; Asterisk
closed the socket before confirming the answer; the tail of a cut block came after it) is
never dialled: res_agi.c ``run_agi`` keeps AGI_RESULT_HANGUP once ``needhup`` was set, and
leaves its loop — the only way it closes the FastAGI socket while AGI() runs — at once after
the hangup with AGIEXITONHANGUP (``if (exit_on_hangup) break;``: AGISTATUS HANGUP,
``agi_exec_full`` returns -1) or on a failure (AGISTATUS FAILURE); the shipped dialplan
dials only on AGISTATUS SUCCESS. Yet the ALLOW's reservation stayed: under a cap of three
calls in 24 hours (Fla. Stat. 501.616(6)(b)) the seller lost one of the three for a call
never placed. Now the withdrawing BLOCK is recorded, then the reservation is released in
one transaction (embedded SQLite, ``FULL``) or one Lua script (Redis); a release that cannot
be written keeps it (an over-count blocks a lawful call at worst) and is logged.

With AGISIGHUP=no no HANGUP line is written: the close alone says the AGI ended. It used to
be counted ``reply_failed`` with the ALLOW standing in the record as a call cleared and
placed; it is now the recorded BLOCK ``callguard:hung-up`` that withdraws it.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
import structlog

from callguard.config import load_settings
from callguard.errors import StoreError
from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.policy.frequency import Held
from callguard.runtime import open_runtime
from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import REPLY_OK, agi_session, asterisk_answer, header_block
from tests.test_fastagi import SlowRecords, compliance_records, headers_read
from tests.test_frequency import CAP_RULE, CLAIM, HASH, NOON, redis_node

UT = "ut-solar-manual"
FLORIDA = "3055550123"  # a Florida number: 501.616(6)(b) caps it at three calls in 24 h
FORGED = FLORIDA + "\n" + "".join(
    f"agi_arg_{i}: {v}\n" for i, v in enumerate([UT, "manual", "1.1", ""], 2))


@pytest.fixture
async def node(tmp_path):
    """A FastAGI server over the embedded stores (a frequency store included), lists
    fresh for the clock's day, the clock a Wednesday 13:00 in Miami (any hour the suite
    runs)."""
    today = date(2026, 11, 25)
    for name in ("national", "ut-state", "fl-state"):
        write_version(tmp_path, name, ParsedList(), published=today, area_codes=None,
                      source="t")
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, fastagi=replace(settings.fastagi, port=0, budget_ms=1000,
                                                 header_timeout_ms=500,
                                                 reply_timeout_ms=500))
    runtime = open_runtime(settings)
    runtime.gate._clock = lambda: datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
    records = SlowRecords(runtime.records)
    runtime.gate._records = records
    server = FastAgiServer(runtime.gate, settings.fastagi)
    await server.start()
    server.records = records
    server.runtime = runtime
    yield server
    await server.close()
    await runtime.aclose()


async def verdicts_of_three_more(node) -> list[str]:
    """Three whole sessions for the Florida number, answered as Asterisk would."""
    verdicts = []
    for _ in range(3):
        result = await agi_session(node.port, c.ROUTE_CHECK, [FLORIDA, UT])
        verdicts.append(result.variables[c.VAR_VERDICT])
    return verdicts


async def hangup_while_answering(node) -> None:
    """Asterisk's HANGUP comes while the ALLOW is decided (the store holds it 100 ms),
    then its second HANGUP and its close (AGIEXITONHANGUP): lab
    agi-callerhangup-exitonhangup."""
    node.records.delay = 0.1
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, [FLORIDA, UT]))
        await writer.drain()
        await headers_read(node)
        writer.write(b"HANGUP\n")
        await writer.drain()
        command = await asyncio.wait_for(reader.readline(), timeout=2)
        assert command.startswith(b"EXEC MSet ")
        assert exec_mset_variables(command.decode().strip())[c.VAR_VERDICT] == "ALLOW"
        writer.write(b"HANGUP\n")
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
    finally:
        writer.close()
        node.records.delay = 0.0
    await asyncio.sleep(0.1)


async def close_while_answering(node) -> None:
    """AGISIGHUP=no: no HANGUP line; the socket closes once the MSet was sent, before
    Asterisk's reply (AGIEXITONHANGUP left run_agi on the hangup)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    try:
        writer.write(header_block(c.ROUTE_CHECK, [FLORIDA, UT]))
        await writer.drain()
        command = await asyncio.wait_for(reader.readline(), timeout=2)
        assert exec_mset_variables(command.decode().strip())[c.VAR_VERDICT] == "ALLOW"
        writer.write_eof()
        assert await asyncio.wait_for(reader.read(), timeout=2) == b""
    finally:
        writer.close()
    await asyncio.sleep(0.1)


async def long_tail_after_answer(node, length: int) -> list[str]:
    """A value forging every later argument and its own blank line; the tail setup_env
    wrote after it (its first line ``length`` bytes long) arrives after our answer, ahead
    of Asterisk's reply (res_agi.c setup_env writes the whole block before run_agi reads a
    command). Every command answered as Asterisk would; the commands, in order."""
    block = header_block(c.ROUTE_CHECK, [FORGED, UT, "predictive", "1.1", "84101"],
                         port=node.port)
    cut = block.index(b"\n\n") + 2
    tail = b"agi_arg_6: " + b"x" * length + b"\n" + block[cut:]
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
    commands: list[str] = []
    channel: dict[str, str] = {}
    try:
        writer.write(block[:cut])
        await writer.drain()
        commands.append((await asyncio.wait_for(reader.readline(), timeout=2)).decode())
        writer.write(tail + asterisk_answer(commands[0].rstrip("\n"), channel, REPLY_OK))
        await writer.drain()
        while line := await asyncio.wait_for(reader.readline(), timeout=3):
            commands.append(line.decode())
            writer.write(asterisk_answer(line.decode().rstrip("\n"), channel, REPLY_OK))
            await writer.drain()
    finally:
        writer.close()
    await asyncio.sleep(0.1)
    return commands


class TestWithdrawnAllowGivesBackItsCall:
    """Each way an ALLOW is withdrawn; then the seller still has its three calls."""

    async def test_a_hangup_while_answering(self, node):
        await hangup_while_answering(node)
        allow, block = compliance_records(node)[-2:]
        assert block["withdraws"] == allow["decision_id"]
        assert node.stats.counts["cap_released"] == 1
        assert await verdicts_of_three_more(node) == ["ALLOW"] * 3
        fourth = await agi_session(node.port, c.ROUTE_CHECK, [FLORIDA, UT])
        assert fourth.variables[c.VAR_RULE] == CAP_RULE  # the cap itself still holds

    async def test_a_bare_close_while_answering(self, node):
        """Item 2: recorded as the BLOCK it is (not a ``reply_failed`` beside a standing
        ALLOW), and its reservation given back."""
        await close_while_answering(node)
        allow, block = compliance_records(node)[-2:]
        assert allow["verdict"] == "ALLOW"
        assert (block["verdict"], block["rule"]) == ("BLOCK", "callguard:hung-up")
        assert block["withdraws"] == allow["decision_id"]
        assert "closed the FastAGI connection" in block["reason"]
        assert node.stats.counts["hung_up"] == 1
        assert await verdicts_of_three_more(node) == ["ALLOW"] * 3

    async def test_a_cut_blocks_tail_after_the_answer(self, node):
        commands = await long_tail_after_answer(node, 20)
        msets = [m for m in commands if m.startswith("EXEC MSet ")]
        assert len(msets) == 2, commands
        records = compliance_records(node)
        assert records[-1]["withdraws"] == records[-2]["decision_id"]
        assert node.stats.counts["cap_released"] == 1
        assert await verdicts_of_three_more(node) == ["ALLOW"] * 3

    async def test_a_failed_release_keeps_the_reservation_and_says_so(self, node,
                                                                       monkeypatch):
        """The release cannot be written: the withdrawal is recorded all the same, the
        count stays (conservative: the cap then blocks a call early, never late), and the
        log says so without the number."""
        async def unwritable(e164, held):
            raise StoreError("call-frequency counts: disk I/O error (simulated)")

        monkeypatch.setattr(node.runtime.frequency, "release", unwritable)
        with structlog.testing.capture_logs() as logs:
            await hangup_while_answering(node)
        failed = [e for e in logs if e["event"] == "frequency_release_failed"]
        assert len(failed) == 1
        assert "stays counted" in failed[0]["effect"]
        assert "5550123" not in str(failed)
        assert node.stats.counts["cap_release_failed"] == 1
        assert compliance_records(node)[-1]["rule"] == "callguard:hung-up"
        assert await verdicts_of_three_more(node) == ["ALLOW", "ALLOW", "BLOCK"]


class TestATailLineLongerThanTheReaderLimit:
    """A tail line past the reader's limit (16 KiB) used to end the session as a reset:
    the first answer (decided on forged arguments) stood, and Asterisk, which had read
    our MSet, ended AGI() SUCCESS at our close and dialled on it. Now it is read as the
    tail it is: the answer is withdrawn by a second MSet."""

    async def test_the_answer_is_withdrawn_not_left_standing(self, node):
        commands = await long_tail_after_answer(node, 40_000)
        msets = [m for m in commands if m.startswith("EXEC MSet ")]
        assert len(msets) == 2, commands
        final = exec_mset_variables(msets[-1].strip())
        assert final[c.VAR_VERDICT] == "BLOCK"
        assert final[f"__{c.VAR_FOLLOW}"] == ""
        records = compliance_records(node)
        assert records[-1]["withdraws"] == records[-2]["decision_id"]
        assert node.stats.counts["header_cut_late"] == 1


class TestRelease:
    """The stores' release: one row per subject at the reservation's instant, atomic."""

    async def test_embedded_gives_back_one_row_and_survives_a_reopen(self, tmp_path):
        path = tmp_path / "f.sqlite3"
        store = EmbeddedFrequency(path, HASH, retention_s=2 * 86_400, clock=lambda: NOON)
        try:
            first = store.reserve_sync("+13055550123", (CLAIM,), NOON)
            second = store.reserve_sync("+13055550123", (CLAIM,), NOON)  # same instant
            store.reserve_sync("+13055550123", (CLAIM,), NOON + timedelta(minutes=1))
            assert first.held is not None  # its rows named by rowid (hsto21): Held.member
            assert (first.held.stamp_ms, first.held.subjects) == (
                int(NOON.timestamp() * 1000), (CLAIM.subject,))
            assert not store.reserve_sync("+13055550123", (CLAIM,), NOON).granted
            assert await store.release("+13055550123", second.held) == 1
            assert await store.release("+13055559999", second.held) == 0  # not its number
        finally:
            await store.aclose()
        store = EmbeddedFrequency(path, HASH, retention_s=2 * 86_400, clock=lambda: NOON)
        try:
            assert store.count_batch([("+13055550123", (CLAIM,), NOON + WINDOW_END)]) == [
                (2,)]
            assert store.reserve_sync("+13055550123", (CLAIM,), NOON).granted
        finally:
            await store.aclose()

    async def test_redis_gives_back_one_member_per_subject(self, redis_server):
        store = redis_node(redis_server.url)
        try:
            granted = [await store.reserve("+13055550123", [CLAIM], NOON) for _ in range(3)]
            assert not (await store.reserve("+13055550123", [CLAIM], NOON)).granted
            assert await store.release("+13055550123", granted[0].held) == 1
            assert (await store.count("+13055550123", [CLAIM], NOON)) == (2,)
            assert (await store.reserve("+13055550123", [CLAIM], NOON)).granted
            assert await store.release("+13055550123",
                                       Held(granted[0].held.stamp_ms - 1,
                                            (CLAIM.subject,))) == 0
        finally:
            await store.aclose()


WINDOW_END = timedelta(minutes=2)
