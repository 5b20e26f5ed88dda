"""The FastAGI front over real TCP, driven by a fake Asterisk replaying recorded traffic.

Quoting is checked with ``tests/asterisk_replica.py``, a port of Asterisk's own argument
parsing (res_agi.c parse_args, app.c __ast_app_separate_args, MSet).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from callguard.config import load_settings
from callguard.errors import StoreError
from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.fronts.fastagi.wire import AgiChannel, encode_mset
from callguard.logredact import redact_event
from callguard.numbers.redact import has_digit_run
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from tests.asterisk_replica import exec_mset_variables
from tests.fake_asterisk import (
    LAB,
    REPLY_520_BLOCK,
    REPLY_HANGUP_THEN_511,
    REPLY_HANGUP_THEN_OK,
    REPLY_OK,
    agi_session,
    asterisk_answer,
    header_block,
)

UT = "ut-solar-manual"


class SlowRecords:
    """The real record store, with an optional delay or failure on reads."""

    def __init__(self, inner):
        self.inner = inner
        self.delay = 0.0
        self.fail = False

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def company_dnc(self, *args):
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail:
            raise StoreError("record store unreachable (simulated)")
        return await self.inner.company_dnc(*args)

    async def apply(self, *args):
        """A record write (an opt-out's) held as long as a read."""
        if self.delay:
            await asyncio.sleep(self.delay)
        return await self.inner.apply(*args)


@pytest.fixture
async def node(tmp_path):
    """A runtime with fresh lists, a FastAGI server on a free port, and a clock in hours."""
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    # Dated the clock's day (below): a copy dated after the call is not fresh (issue 17).
    today = date(2026, 11, 25)
    for name in ("national", "ut-state"):
        write_version(tmp_path, name, listed, published=today, area_codes=None, source="t")
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, fastagi=replace(settings.fastagi, port=0, budget_ms=250,
                                                 header_timeout_ms=500))
    runtime = open_runtime(settings)
    # A Wednesday 11:00 in Denver, so the verdicts do not depend on when the suite runs.
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


def compliance_records(server):
    return compliance_records_of(server.runtime)


def compliance_records_of(runtime):
    path = runtime.settings.data_dir / "compliance.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


class TestContract:
    """Arguments in, channel variables out, in one AGI command."""

    async def test_allow_sets_verdict_and_forces_caller_id(self, node):
        """ALLOW: CALLERID(num) and num-pres allowed_not_screened (13-25a-103(6), 106(4)).
        The decision carries the recorded ``agi_channel`` (the watchdog reads the asking
        channel's state), which the record does not."""
        seen = []
        node.runtime.followers.append(seen.append)
        result = await agi_session(node.port, c.ROUTE_CHECK,
                                   ["8015550123", UT, "", "1795326441.70", ""])
        assert [d.channel for d in seen] == ["Local/long@fakephone-00000023;1"]
        assert len(result.commands) == 2
        assert result.commands[0].startswith("EXEC MSet ")
        # confirmed by a reply only Asterisk can write: the fresh id the MSet set
        assert result.commands[1] == f"GET VARIABLE {c.VAR_DECISION_ID}"
        assert node.stats.counts["answer_unconfirmed"] == 0
        assert node.stats.counts["withdrawn"] == 0
        v = result.variables
        assert v[c.VAR_VERDICT] == "ALLOW", v
        assert v[c.VAR_CALLERID_NUM] == "+18015550100"
        assert v[c.VAR_CALLERID_PRES] == c.PRESENTATION_ALLOWED
        assert v[c.VAR_RULE] == ""
        records = compliance_records(node)
        assert records[-1]["decision_id"] == v[c.VAR_DECISION_ID]
        assert records[-1]["linkedid"] == "1795326441.70"
        assert records[-1]["front"] == "fastagi"
        assert "fakephone" not in json.dumps(records[-1])

    async def test_block_names_rule_reason_and_cause(self, node):
        """BLOCK: the rule, a reason with commas and parentheses intact, cause 21."""
        result = await agi_session(node.port, c.ROUTE_CHECK, ["8015550199", UT])
        v = result.variables
        assert v[c.VAR_VERDICT] == "BLOCK"
        assert v[c.VAR_RULE] == "us-federal:64.1200(c)(2)"
        assert v[c.VAR_CAUSE] == "21"
        assert c.VAR_CALLERID_NUM not in v
        assert v[c.VAR_REASON] == compliance_records(node)[-1]["reason"]
        assert "(47 CFR 64.1200(c)(2); 16 CFR 310.4(b)(1)(iii)(B))" in v[c.VAR_REASON]

    async def test_query_string_stays_in_network_script(self, node):
        """Recorded: agi_network_script keeps '?tenant=acme&mode=test'; still routed."""
        result = await agi_session(node.port, "callguard?tenant=acme&mode=test",
                                   ["8015550123", UT])
        assert result.variables[c.VAR_VERDICT] == "ALLOW"

    async def test_mode_and_location_arguments(self, node):
        """MODE predictive without consent blocks; LOCATION widens the zones."""
        result = await agi_session(node.port, c.ROUTE_CHECK,
                                   ["8015550123", UT, "predictive", "l.1", "10001"])
        assert result.variables[c.VAR_RULE] == "us-federal:64.1200(a)(2)"
        assert {z[0] for z in compliance_records(node)[-1]["zones"]} == {"America/Denver",
                                                                     "America/New_York"}

    @pytest.mark.parametrize(("args", "rule"), [
        ([], "callguard:bad-agi-request"),  # no argument at all (hagi30: was unknown-campaign)
        (["", UT], "callguard:number-not-dialable"),
        (["hello", UT], "callguard:number-not-dialable"),
        (["8015550123", "nope"], "callguard:unknown-campaign"),
        (["8015550123", UT, "robocall"], "callguard:unknown-mode"),
        (["8015550123", UT, "", "", "Mars/Base"], "callguard:bad-location"),
    ])
    async def test_garbage_arguments_block(self, node, args, rule):
        """Missing or bad arguments are a BLOCK with the reason, never an error."""
        result = await agi_session(node.port, c.ROUTE_CHECK, args)
        assert result.variables[c.VAR_VERDICT] == "BLOCK"
        assert result.variables[c.VAR_RULE] == rule

    @pytest.mark.parametrize("spelled", [
        "801 555 0123", "(801) 555-0123", "801-555-0123", "tel:+18015550123",
        "sip:8015550123@elsewhere.example", "".join(chr(0xFF10 + int(d)) for d in "8015550123"),
        "8015550123&PJSIP/other/8015550124",
    ])
    async def test_what_dial_would_not_dial_as_checked_is_blocked(self, node, spelled):
        """The dialplan dials ARG1 as given (Dial(PJSIP/${ARG1}@trunk)): a spelling
        the parser reads as an allowed number but Dial() would send elsewhere, or not at all
        as checked, is BLOCKed and recorded so; plain digits with a leading + still pass."""
        result = await agi_session(node.port, c.ROUTE_CHECK, [spelled, UT])
        assert result.variables[c.VAR_VERDICT] == "BLOCK", result.variables
        assert result.variables[c.VAR_RULE] == "callguard:number-not-dialable"
        assert "0123" not in result.variables[c.VAR_REASON]
        record = compliance_records(node)[-1]
        assert (record["verdict"], record["decision_id"]) == (
            "BLOCK", result.variables[c.VAR_DECISION_ID])
        plain = await agi_session(node.port, c.ROUTE_CHECK, ["+18015550123", UT])
        assert plain.variables[c.VAR_VERDICT] == "ALLOW", plain.variables

    async def test_unknown_route_blocks(self, node):
        """A URL with another script gets an explicit BLOCK."""
        result = await agi_session(node.port, "something-else", ["8015550123", UT])
        assert result.variables[c.VAR_RULE] == "callguard:unknown-route"


class TestRecordedReplyPatterns:
    """Replies as Asterisk 22.10.1 really sends them."""

    async def test_hangup_line_before_reply(self, node):
        """Recorded: an unsolicited HANGUP can precede the reply; the session stays in step."""
        result = await agi_session(node.port, c.ROUTE_CHECK, ["8015550123", UT],
                                   reply=REPLY_HANGUP_THEN_OK)
        assert result.closed_by_server
        assert node.stats.counts["answered"] == 1
        assert node.stats.counts["answer_not_accepted"] == 0
        # the HANGUP says the channel is gone (res_agi.c run_agi): the ALLOW is withdrawn
        assert compliance_records(node)[-1]["rule"] == "callguard:hung-up"

    async def test_hangup_then_511_on_dead_channel(self, node):
        """Recorded (agi-slow): HANGUP then 511; counted, the socket closed, no crash.
        A tail can forge both lines, so a 511 is confirmed like any reply: GET VARIABLE is
        dead-safe in res_agi's command table and, the MSet refused, says ``200 result=0``
        — not the answer's id, which never comes: after the reply wait the answer is
        withdrawn (refused too on a dead channel: nothing stands either way). EXEC itself
        is dead-safe there, so a real MSet gets no 511 from Asterisk."""
        node.settings = replace(node.settings, reply_timeout_ms=300)
        result = await agi_session(node.port, c.ROUTE_CHECK, ["8015550123", UT],
                                   reply=REPLY_HANGUP_THEN_511)
        assert result.closed_by_server
        assert node.stats.counts["answer_not_accepted"] == 1
        assert result.commands[1] == f"GET VARIABLE {c.VAR_DECISION_ID}"
        assert node.stats.counts["withdrawn"] == 1

    async def test_agiexitonhangup_hangup_hangup_eof_without_a_reply(self, node):
        """Recorded shape (agi-callerhangup-exitonhangup, the shipped dialplan's
        AGIEXITONHANGUP=yes): the channel hangs up while callguard decides — ``HANGUP``
        arrives before the command — and Asterisk, leaving AGI at once (res_agi.c
        ``run_agi``: ``if (exit_on_hangup) break;`` once the hangup is noticed), writes a
        second ``HANGUP`` and closes without answering the command just sent. Counted as a
        failed reply (the call was never dialled: AGISTATUS=HANGUP), nothing escapes, the
        next call is answered. The first HANGUP comes once the decision is under way (the
        store answers in 100 ms): one that came with the block is not decided at all
        (tests/test_fastagi_hungup.py)."""
        lines = [json.loads(line) for line in
                 (LAB / "agi-callerhangup-exitonhangup.01-idle.fastagi.jsonl")
                 .read_text().splitlines()]
        after = [(r["dir"], r["data"]) for r in lines][
            [r["data"] for r in lines].index("\n") + 1:]
        assert [(d, t if d != "tx" else "command") for d, t in after[:4]] == [
            ("rx", "HANGUP\n"), ("tx", "command"), ("rx", "HANGUP\n"),
            ("note", "[EOF from Asterisk]")]
        loop = asyncio.get_running_loop()
        escaped: list[dict] = []
        loop.set_exception_handler(lambda _loop, context: escaped.append(context))
        try:
            node.records.delay = 0.1
            reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
            writer.write(header_block(c.ROUTE_CHECK, ["8015550123", UT]))
            await writer.drain()
            await headers_read(node)
            writer.write(b"HANGUP\n")
            await writer.drain()
            command = await asyncio.wait_for(reader.readline(), timeout=2)
            node.records.delay = 0.0
            assert command.startswith(b"EXEC MSet ")
            writer.write(b"HANGUP\n")
            await writer.drain()
            writer.close()
            assert await asyncio.wait_for(reader.read(), timeout=2) == b""
            await asyncio.sleep(0.1)
        finally:
            loop.set_exception_handler(None)
        assert escaped == []
        assert node.stats.counts["reply_failed"] == 1
        assert node.stats.counts["answered"] == 0
        # decided and recorded ALLOW, then withdrawn by a recorded BLOCK: the HANGUP came
        # before Asterisk's reply, so the AGI ends HANGUP and nothing is dialled
        allow, block = compliance_records(node)[-2:]
        assert allow["verdict"] == "ALLOW"
        assert (block["verdict"], block["rule"]) == ("BLOCK", "callguard:hung-up")
        assert block["withdraws"] == allow["decision_id"]
        assert await real_call_latency(node.port) < 0.5

    async def test_multiline_520_is_read_whole(self, node):
        """Recorded (agi-errors): a 520- block spans lines; all are consumed. (The MSet
        refused, its id never comes back: withdrawn after the reply wait, 300 ms here.)"""
        node.settings = replace(node.settings, reply_timeout_ms=300)
        result = await agi_session(node.port, c.ROUTE_CHECK, ["8015550123", UT],
                                   reply=REPLY_520_BLOCK)
        assert result.closed_by_server
        assert node.stats.counts["answer_not_accepted"] == 1


class TestFailClosed:
    """Silence, slowness and store errors end in BLOCK."""

    async def test_time_budget_overrun_blocks_and_is_recorded(self, node):
        """A store slower than the 250 ms budget: BLOCK callguard:time-budget, one record."""
        node.records.delay = 2.0
        result = await agi_session(node.port, c.ROUTE_CHECK, ["8015550123", UT])
        assert result.variables[c.VAR_RULE] == "callguard:time-budget"
        assert result.seconds < 1.5
        record = compliance_records(node)[-1]
        assert record["rule"] == "callguard:time-budget"
        assert record["decision_id"] == result.variables[c.VAR_DECISION_ID]

    async def test_store_failure_blocks_and_server_keeps_serving(self, node):
        """Redis or SQLite gone mid-call: BLOCK with the reason; the next call is fine."""
        node.records.fail = True
        failed = await agi_session(node.port, c.ROUTE_CHECK, ["8015550123", UT])
        assert failed.variables[c.VAR_RULE] == "callguard:store-unavailable"
        node.records.fail = False
        ok = await agi_session(node.port, c.ROUTE_CHECK, ["8015550123", UT])
        assert ok.variables[c.VAR_VERDICT] == "ALLOW"

    async def test_the_confirming_get_variable_waits_for_the_answers_reply(self, node):
        """res_agi.c ``run_agi`` waits on the socket, then reads a command with ``fgets``
        from a buffered ``FILE``: a second command that came with the first may sit in
        that buffer unread while Asterisk waits on the socket. So the ``GET VARIABLE``
        confirming the answer goes out only once the answer's reply is read; answered
        with the answer's id, nothing is withdrawn."""
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        channel: dict[str, str] = {}
        try:
            writer.write(header_block(c.ROUTE_CHECK, ["8015550123", UT, "", "1.1", ""]))
            await writer.drain()
            mset = (await asyncio.wait_for(reader.readline(), timeout=2)).decode()
            assert mset.startswith("EXEC MSet ")
            with pytest.raises(TimeoutError):  # nothing more before the reply
                await asyncio.wait_for(reader.readline(), timeout=0.2)
            writer.write(asterisk_answer(mset.rstrip("\n"), channel, REPLY_OK))
            asked = (await asyncio.wait_for(reader.readline(), timeout=2)).decode()
            assert asked == f"GET VARIABLE {c.VAR_DECISION_ID}\n"
            writer.write(asterisk_answer(asked.rstrip("\n"), channel, REPLY_OK))
            assert await asyncio.wait_for(reader.read(), timeout=2) == b""
        finally:
            writer.close()
        assert channel[c.VAR_VERDICT] == "ALLOW"
        assert (node.stats.counts["answer_unconfirmed"], node.stats.counts["withdrawn"]) == (
            0, 0)

    async def test_an_answer_asterisk_does_not_confirm_in_time_is_withdrawn(self, node):
        """The answer's reply came but no reply to ``GET VARIABLE`` within the reply wait:
        what was read for what is unknown, so the answer is withdrawn (a recorded BLOCK
        naming it) while the socket is open, never left to stand on a wait."""
        node.settings = replace(node.settings, reply_timeout_ms=200)
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        with structlog.testing.capture_logs() as logged:
            try:
                writer.write(header_block(c.ROUTE_CHECK, ["8015550123", UT, "", "1.1", ""]))
                await writer.drain()
                first = (await asyncio.wait_for(reader.readline(), timeout=2)).decode()
                writer.write(REPLY_OK)
                asked = (await asyncio.wait_for(reader.readline(), timeout=2)).decode()
                assert asked == f"GET VARIABLE {c.VAR_DECISION_ID}\n"
                again = (await asyncio.wait_for(reader.readline(), timeout=2)).decode()
                writer.write(REPLY_OK)
                # The BLOCK is read back before the ALLOW's count is given back (hast17);
                # left unanswered here, the session ends on the reply wait.
                assert await asyncio.wait_for(reader.read(), timeout=2) == (
                    f"GET VARIABLE {c.VAR_DECISION_ID}\n".encode())
            finally:
                writer.close()
        assert exec_mset_variables(first.strip())[c.VAR_VERDICT] == "ALLOW"
        # The warning names the withdrawn decision by an id the log redactor leaves whole
        # (under another key, "01a248a2-9271-7775-…" lost "2-9271-7775" as a phone number:
        # the line could not be matched to its record).
        warning = next(e for e in logged if e["event"] == "fastagi_answer_unconfirmed")
        assert redact_event(None, "warning", dict(warning))["decision_id"] == (
            exec_mset_variables(first.strip())[c.VAR_DECISION_ID])
        final = exec_mset_variables(again.strip())
        assert (final[c.VAR_VERDICT], final[c.VAR_RULE]) == ("BLOCK",
                                                             "callguard:bad-agi-request")
        assert "Asterisk did not confirm the answer" in final[c.VAR_REASON]
        record = compliance_records(node)[-1]
        assert record["withdraws"] == exec_mset_variables(first.strip())[c.VAR_DECISION_ID]
        assert (node.stats.counts["answer_unconfirmed"], node.stats.counts["withdrawn"]) == (
            1, 1)

    async def test_source_not_allowed_is_closed(self, tmp_path):
        """A peer outside allowed_sources gets a closed socket and no answer."""
        settings = load_settings(data_dir=tmp_path)
        settings = replace(settings, fastagi=replace(settings.fastagi, port=0,
                                                     allowed_sources=("10.9.9.0/24",)))
        runtime = open_runtime(settings)
        server = FastAgiServer(runtime.gate, settings.fastagi)
        await server.start()
        try:
            result = await agi_session(server.port, c.ROUTE_CHECK, ["8015550123", UT])
        finally:
            await server.close()
            await runtime.aclose()
        assert result.commands == []
        assert result.closed_by_server
        assert server.stats.counts["refused_source"] == 1


async def headers_read(server, timeout: float = 2.0) -> None:
    """Wait until ``server`` has read a session's header block (and what came with it):
    its session count goes up only after ``read_headers`` returned. A line sent after this
    comes while the decision is under way, however slowly the loop got to the block (a
    fixed sleep raced it on a loaded machine: the line then came with the block)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while server.stats.active == 0:
        assert asyncio.get_running_loop().time() < deadline, "the block was never read"
        await asyncio.sleep(0.002)


async def real_call_latency(port):
    """Time one real session end to end."""
    result = await agi_session(port, c.ROUTE_CHECK, ["8015550123", UT])
    assert result.variables[c.VAR_VERDICT] == "ALLOW"
    return result.seconds


class TestHostilePeers:
    """Attacks on the edge; a real session's latency is measured during each."""

    async def test_connect_and_close_does_not_spin(self, node):
        """A TCP health check: panoramisk 1.4 would loop forever; we count and move on."""
        for _ in range(50):
            _, writer = await asyncio.open_connection("127.0.0.1", node.port)
            writer.close()
        latency = await real_call_latency(node.port)
        await asyncio.sleep(0.05)
        assert node.stats.counts["probe"] == 50  # counted apart, not as bad headers
        assert node.stats.counts["bad_headers"] == 0
        assert node.stats.active == 0
        assert latency < 0.5

    def test_panoramisk_handler_spins_on_early_close(self):
        """Why the handler is replaced: panoramisk 1.4 never returns on EOF before the blank
        line, and never yields either, so it runs in a child process that is killed."""
        code = (
            "import asyncio\n"
            "from panoramisk.fast_agi import Application\n"
            "async def main():\n"
            "    reader = asyncio.StreamReader()\n"
            "    reader.feed_data(b'agi_network: yes\\n')\n"
            "    reader.feed_eof()\n"
            "    await Application(loop=asyncio.get_running_loop()).handler(reader, None)\n"
            "asyncio.run(main())\n"
        )
        with pytest.raises(subprocess.TimeoutExpired):
            subprocess.run([sys.executable, "-c", code], timeout=1.0, check=False)

    async def test_slowloris_is_cut_at_the_header_timeout(self, node):
        """Headers trickling in: closed after header_timeout; real calls unaffected."""
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)

        async def trickle():
            for byte in header_block(c.ROUTE_CHECK, ["8015550123", UT])[:200]:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.01)

        trickler = asyncio.ensure_future(trickle())
        latency = await real_call_latency(node.port)
        try:
            eof = await asyncio.wait_for(reader.read(), timeout=2)
        except ConnectionResetError:  # cut while we were still sending: a reset, also refused
            eof = b""
        trickler.cancel()
        writer.close()
        assert eof == b""
        assert latency < 0.5
        assert node.stats.counts["bad_headers"] == 1

    async def test_megabyte_of_header_is_refused(self, node):
        """1 MB without a blank line: refused at the size limit."""
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        writer.write(b"agi_network: yes\n" + b"agi_x: " + b"A" * 1_000_000)
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        try:
            eof = await asyncio.wait_for(reader.read(), timeout=2)
        except ConnectionResetError:  # closed with our bytes unread: a reset, also refused
            eof = b""
        writer.close()
        assert eof == b""
        assert node.stats.counts["bad_headers"] == 1
        assert await real_call_latency(node.port) < 0.5

    async def test_binary_garbage_is_refused(self, node):
        """Random bytes with a blank line: not a header block, closed, counted."""
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        writer.write(bytes(range(256)) + b"\n\n")
        await writer.drain()
        eof = await asyncio.wait_for(reader.read(), timeout=2)
        writer.close()
        assert eof == b""
        assert node.stats.counts["bad_headers"] == 1

    async def test_thousands_of_idle_connections(self, node):
        """2,000 idle sockets hold no decision slot; a real call still answers quickly."""
        writers = []
        for _ in range(2000):
            _, writer = await asyncio.open_connection("127.0.0.1", node.port)
            writers.append(writer)
        try:
            latency = await real_call_latency(node.port)
        finally:
            for writer in writers:
                writer.close()
        assert latency < 1.0
        assert node.stats.counts["refused_busy"] == 0

    async def test_session_cap_refuses_beyond_max_sessions(self, tmp_path):
        """With max_sessions=1 and one session stuck deciding, the next is answered BLOCK
        callguard:busy and closed, not queued."""
        server, runtime, second = await _past_max_sessions(
            tmp_path, c.ROUTE_CHECK, ["8015550123", UT])
        # Answered BLOCK with the reason (the dialplan's NOTICE line says why), nothing
        # decided or recorded, and closed at once: no slot is held waiting for the reply.
        assert second.variables[c.VAR_VERDICT] == "BLOCK"
        assert second.variables[c.VAR_RULE] == "callguard:busy"
        assert "max_sessions" in second.variables[c.VAR_REASON]
        assert second.variables[c.VAR_CAUSE] == "21"
        assert c.VAR_DECISION_ID not in second.variables
        assert second.closed_by_server
        assert second.seconds < 0.4
        assert server.stats.counts["refused_busy"] == 1
        assert len([r for r in compliance_records_of(runtime) if r["event"] == "decision"]
                   ) == 1

    async def test_optout_past_the_checks_cap_is_recorded(self, tmp_path):
        """Checks filling max_sessions do not cost a do-not-call request (64.1200(d)(3)):
        an opt-out has headroom of its own and is recorded (before, it was answered FAILED,
        nothing recorded — to a caller often already gone, who never heard it)."""
        server, _, second = await _past_max_sessions(tmp_path, c.ROUTE_OPTOUT,
                                                           ["8015550142", UT])
        assert second.variables[c.OPTOUT_RESULT] == "OK", second.variables
        assert server.stats.counts["refused_busy"] == 0
        assert server.stats.counts["optout"] == 1

    async def test_optout_past_its_own_headroom_is_answered_failed(self, tmp_path):
        """Past twice max_sessions the opt-out gets the opt-out's answer, FAILED with the
        reason and nothing recorded (the dialplan reads CALLGUARD_OPTOUT), not a call's
        BLOCK saying "call not placed"."""
        server, _, second = await _past_max_sessions(
            tmp_path, c.ROUTE_OPTOUT, ["8015550142", UT], stuck_route=c.ROUTE_OPTOUT,
            stuck=2)
        assert second.variables[c.OPTOUT_RESULT] == "FAILED"
        assert "max_sessions" in second.variables[c.VAR_REASON]
        assert "nothing recorded" in second.variables[c.VAR_REASON]
        assert c.VAR_VERDICT not in second.variables
        assert second.closed_by_server
        assert server.stats.counts["refused_busy"] == 1

    async def test_concurrent_sessions_all_answered(self, node):
        """200 sessions at once: every one gets a verdict."""
        numbers = ["8015550123", "8015550199"] * 100
        results = await asyncio.gather(*(
            agi_session(node.port, c.ROUTE_CHECK, [n, UT]) for n in numbers))
        verdicts = [r.variables.get(c.VAR_VERDICT) for r in results]
        assert verdicts.count("ALLOW") == 100
        assert verdicts.count("BLOCK") == 100

    async def test_client_gone_before_answer_is_counted_and_harmless(self, node):
        """A session cut after the headers: no channel got a verdict (the dialplan then
        fails closed), the failure is counted, and the next call is answered. The close
        comes once the block is read: one read with the block is Asterisk's own hang-up
        (counted hung_up, recorded BLOCK: tests/test_fastagi_hungup.py), so which of the
        two this was must not be left to how fast the loop read the block. A close after
        the ALLOW was decided is one too (AGISIGHUP=no: no HANGUP line; res_agi.c run_agi
        leaves, and closes, only on a hangup or a failure): the ALLOW is withdrawn by a
        recorded BLOCK (tests/test_asterisk16_withdrawn.py)."""
        _reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        writer.write(header_block(c.ROUTE_CHECK, ["8015550123", UT]))
        await writer.drain()
        await headers_read(node)
        writer.close()
        await asyncio.sleep(0.2)
        assert node.stats.counts["reply_failed"] == 1
        assert node.stats.counts["answered"] == 0
        allow, block = compliance_records(node)[-2:]
        assert (block["rule"], block["withdraws"]) == ("callguard:hung-up",
                                                       allow["decision_id"])
        assert await real_call_latency(node.port) < 0.5

    async def test_reply_line_past_the_reader_limit_is_a_counted_failure(self, node):
        """A peer answering the MSet with one line longer than the reader's limit (16 KiB):
        asyncio's readline raises ValueError there, which must not escape as an unhandled
        task exception. No reply of Asterisk's is that long: it is read as a cut block's
        tail, so the answer is withdrawn (tests/test_asterisk16_withdrawn.py); this peer
        answers the withdrawing MSet so too, and never confirms: counted, closed after the
        reply wait (300 ms here)."""
        node.settings = replace(node.settings, reply_timeout_ms=300)
        assert await _escaped_after_replying(node, b"2" * 70_000 + b"\n") == []
        assert node.stats.counts["reply_failed"] == 1
        assert await real_call_latency(node.port) < 0.5

    @pytest.mark.parametrize("reply", [b"garbage 8015550123\n", b"\xff\xfe\n"],
                             ids=["words", "binary"])
    async def test_a_reply_that_is_no_agi_reply_is_counted_not_an_escaped_error(
            self, node, reply, capsys):
        """panoramisk's parse_agi_result raises ValueError on a line without a status
        code; it escaped the session as an unhandled task exception (a traceback in the
        log, nothing counted). It is an answer not accepted, counted and logged without
        the number the line held. (Its id never comes back, as the MSet is taken only on a
        200: withdrawn after the reply wait, 300 ms here.)"""
        node.settings = replace(node.settings, reply_timeout_ms=300)
        assert await _escaped_after_replying(node, reply) == []
        assert node.stats.counts["answer_not_accepted"] == 1
        assert "5550123" not in capsys.readouterr().err
        assert await real_call_latency(node.port) < 0.5

    async def test_a_blank_line_before_the_reply_is_read_as_a_cut_blocks_tail(self, node):
        """A blank line where the reply should be is no AGI reply, but it is how the tail
        of a block cut by a value ending in two line breaks begins (the forged block's own
        blank line, then setup_env's real lines): so the session reads on for the reply
        (then withdraws the answer, see TestContract). The peer closing instead is a reply
        that never came: counted, nothing escapes."""
        escaped = await _escaped_after_replying(node, b"\n", then_close=True)
        assert escaped == []
        assert node.stats.counts["reply_failed"] == 1
        assert node.stats.counts["answer_not_accepted"] == 0
        assert await real_call_latency(node.port) < 0.5

    async def test_a_non_utf8_byte_outside_the_arguments_is_still_decided(self, node):
        """Asterisk writes the caller's name as the channel holds it (res_agi.c
        ``setup_env``: ``agi_calleridname: %s``), and a legacy CRM or an ISDN display sets
        Latin-1 names. Such a byte in a line the decision does not read must not refuse
        the whole block (no answer, no record): the call is decided and recorded. The
        same byte in the number is a recorded BLOCK. (The header block is the recorded
        Asterisk 22.10.1 one, tests/fake_asterisk.py.)"""
        latin1 = header_block(c.ROUTE_CHECK, ["8015550123", UT, "", "1.1", ""]).replace(
            b"agi_calleridname: Bob", b"agi_calleridname: Jos\xe9")
        assert b"Jos\xe9" in latin1
        result = await _raw_session(node.port, latin1)
        assert result[c.VAR_VERDICT] == "ALLOW", result
        assert compliance_records(node)[-1]["decision_id"] == result[c.VAR_DECISION_ID]
        in_number = header_block(c.ROUTE_CHECK, ["801555\xe90123", UT, "", "1.1", ""]
                                 ).replace(b"\xc3\xa9", b"\xe9")
        blocked = await _raw_session(node.port, in_number)
        assert blocked[c.VAR_VERDICT] == "BLOCK"
        assert blocked[c.VAR_RULE] == "callguard:number-not-dialable"
        assert compliance_records(node)[-1]["decision_id"] == blocked[c.VAR_DECISION_ID]


async def _past_max_sessions(tmp_path, route: str, args: list[str], *,
                             stuck_route: str = c.ROUTE_CHECK, stuck: int = 1):
    """A node with max_sessions=1 and ``stuck`` sessions of ``stuck_route`` held by a slow
    record write: the server, its runtime (closed) and the session asking ``route``
    meanwhile."""
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, fastagi=replace(settings.fastagi, port=0, max_sessions=1,
                                                 budget_ms=1000))
    runtime = open_runtime(settings)
    slow = SlowRecords(runtime.records)
    slow.delay = 0.5
    runtime.gate._records = slow
    server = FastAgiServer(runtime.gate, settings.fastagi)
    await server.start()
    try:
        held = ["8015550123", "8015550177"]
        first = [asyncio.ensure_future(agi_session(server.port, stuck_route, [held[i], UT]))
                 for i in range(stuck)]
        await asyncio.sleep(0.1)
        second = await agi_session(server.port, route, args)
        await asyncio.gather(*first)
    finally:
        await server.close()
        await runtime.aclose()
    return server, runtime, second


async def _raw_session(port: int, block: bytes) -> dict[str, str]:
    """Send ``block`` as it is; answer the MSet; the variables it set."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(block)
        await writer.drain()
        line = await asyncio.wait_for(reader.readline(), timeout=2)
        channel: dict[str, str] = {}
        asked = line
        while asked:  # the MSet, then the GET VARIABLE confirming it
            writer.write(asterisk_answer(asked.decode().rstrip("\n"), channel, REPLY_OK))
            await writer.drain()
            asked = await asyncio.wait_for(reader.readline(), timeout=2)
    finally:
        writer.close()
    return exec_mset_variables(line.decode().rstrip("\n")) if line else {}


class TestOptOut:
    """The callguard-optout route (64.1200(d)(3); H.B. 45 106(3)(d))."""

    async def test_optout_is_durable_then_blocks(self, node):
        """OK only once written; the next check of any campaign of the seller blocks."""
        result = await agi_session(node.port, c.ROUTE_OPTOUT, ["8015550142", UT, "", "l.9"])
        assert result.variables[c.OPTOUT_RESULT] == "OK"
        again = await agi_session(node.port, c.ROUTE_CHECK, ["8015550142",
                                                             "ut-solar-predictive", "manual"])
        assert again.variables[c.VAR_RULE] == "us-federal:64.1200(d)(3)"

    async def test_a_linkedid_carrying_the_number_is_hashed_in_the_record(self, node):
        """A dialplan that makes its LINKEDID "${EPOCH}.${NUMBER}" passed the shape of an
        Asterisk Linkedid (epoch seconds, "." and up to 10 digits), so the number was kept
        in clear in the decision and in the opt-out's source. A counter of 10 digits from
        2 up cannot be Asterisk's (a billion channels since start, starting with 1)."""
        linkedid = "1795326441.8015550142"
        check = await agi_session(node.port, c.ROUTE_CHECK, ["8015550142", UT, "", linkedid])
        assert check.variables[c.VAR_VERDICT] == "ALLOW"
        optout = await agi_session(node.port, c.ROUTE_OPTOUT, ["8015550142", UT, "", linkedid])
        assert optout.variables[c.OPTOUT_RESULT] == "OK"
        kept = await agi_session(node.port, c.ROUTE_CHECK,
                                 ["8015550123", UT, "", "1795326441.1000000142"])
        assert kept.variables[c.VAR_VERDICT] == "ALLOW"
        text = (node.runtime.settings.data_dir / "compliance.jsonl").read_text()
        assert "5550142" not in text
        decision, change, other = compliance_records(node)
        assert decision["linkedid"].startswith("hmac:")
        assert change["source"].startswith("fastagi:")
        assert "5550142" not in change["source"]
        assert other["linkedid"] == "1795326441.1000000142"  # a billion channels: kept

    async def test_optout_failure_says_why(self, node):
        """An unknown campaign records nothing and says so."""
        result = await agi_session(node.port, c.ROUTE_OPTOUT, ["8015550142", "nope"])
        assert result.variables[c.OPTOUT_RESULT] == "FAILED"
        assert "nope" in result.variables[c.VAR_REASON]

    async def test_optout_failure_reason_quotes_no_number(self, node):
        """The reason reaches Asterisk's log (the shipped dialplan's Log(WARNING, ...
        ${CALLGUARD_REASON})): a number a swapped dialplan put in the campaign's place is
        taken out, as in a check's reason."""
        result = await agi_session(node.port, c.ROUTE_OPTOUT, [UT, "8015550142"])
        assert result.variables[c.OPTOUT_RESULT] == "FAILED"
        assert "[number …0142]" in result.variables[c.VAR_REASON]
        assert not has_digit_run(result.variables[c.VAR_REASON])


class TestInjectedHeaderLines:
    """Issue 15.4: Asterisk writes agi_arg_N values unescaped (res_agi.c setup_env), so a
    newline inside a dialplan value adds header lines. A repeated key or an argument the
    route does not take is a BLOCK with a clear reason, never "last one wins"."""

    async def test_repeated_number_is_blocked_not_the_last_one(self, node):
        """The dialplan dials ${ARG1}, the listed number; a LOCATION carrying a newline and
        a second agi_arg_1 (unlisted) must not turn the check into ALLOW (main: ALLOW)."""
        result = await agi_session(node.port, c.ROUTE_CHECK, [
            "8015550199", UT, "", "1795326441.70", "84101\nagi_arg_1: 8015550123"])
        v = result.variables
        assert len(_msets(result.commands)) == 1
        assert v[c.VAR_VERDICT] == "BLOCK", v
        assert v[c.VAR_RULE] == "callguard:bad-agi-request"
        assert "agi_arg_1 more than once" in v[c.VAR_REASON]
        assert v[c.VAR_DECISION_ID]
        record = compliance_records(node)[-1]
        assert (record["decision_id"], record["rule"]) == (v[c.VAR_DECISION_ID],
                                                           "callguard:bad-agi-request")
        assert node.stats.counts["header_repeated"] == 1

    @pytest.mark.parametrize("args", [
        ["8015550123", UT, "", "1.1", "84101", "extra"],
        ["8015550123", UT, "", "1.1", "84101\nagi_arg_6: 8015550199"],
        ["8015550123", UT, "", "1.1", "84101\nagi_arg_01: 8015550199"],
    ])
    async def test_an_argument_the_contract_does_not_take_is_blocked(self, node, args):
        """A sixth argument (a comma inside a value splits it) or an invented one."""
        v = (await agi_session(node.port, c.ROUTE_CHECK, args)).variables
        assert (v[c.VAR_VERDICT], v[c.VAR_RULE]) == ("BLOCK", "callguard:bad-agi-request"), v
        assert "takes 5 arguments" in v[c.VAR_REASON]
        assert "8015550199" not in v[c.VAR_REASON]

    async def test_repeated_header_in_an_optout_records_nothing(self, node):
        """The opt-out route answers FAILED and writes nothing for either number."""
        result = await agi_session(node.port, c.ROUTE_OPTOUT, [
            "8015550142", UT, "", "l.9\nagi_arg_1: 8015550143"])
        assert result.variables[c.OPTOUT_RESULT] == "FAILED"
        assert "more than once" in result.variables[c.VAR_REASON]
        for number in ("+18015550142", "+18015550143"):
            assert await node.runtime.records.company_dnc("beehive-solar", number) is None
        five = await agi_session(node.port, c.ROUTE_OPTOUT,
                                 ["8015550142", UT, "", "l.9", "84101"])
        assert five.variables[c.OPTOUT_RESULT] == "FAILED"
        assert "takes 4 arguments" in five.variables[c.VAR_REASON]

    @staticmethod
    def cut_block_reason(v: dict[str, str]) -> str:
        assert (v[c.VAR_VERDICT], v[c.VAR_RULE]) == ("BLOCK", "callguard:bad-agi-request"), v
        assert not has_digit_run(v[c.VAR_REASON])
        return v[c.VAR_REASON]

    @pytest.mark.parametrize("args", [
        ["8015550123", UT + "\n", "predictive", "1795326441.70", "84101"],
        ["8015550123", UT, "predictive\n", "1795326441.70", "84101"],
        ["8015550123", UT, "predictive", "1795326441.70", "84101\n\nagi_arg_1: 8015550199"],
    ], ids=["campaign", "mode", "location"])
    async def test_a_blank_line_inside_an_argument_is_blocked(self, node, args):
        """res_agi.c ``setup_env`` writes ``agi_arg_N: value`` unescaped, then the later
        arguments and its closing blank line: a value ending in a newline makes a blank
        line, and the block read up to it lacks the mode, the Linkedid (the watchdog could
        not follow the call) and the location. Decided on what came before, the call was
        an ALLOW under the campaign's default mode and the rest was read as the reply to
        the answer. The rest, sent before any answer, is the tail of a cut block: BLOCK,
        recorded, the reason without the number, the reply read in step. (A blank line in
        the last argument leaves every argument in: its tail is seen all the same.)"""
        result = await agi_session(node.port, c.ROUTE_CHECK, args)
        assert len(_msets(result.commands)) == 1
        assert "went on after its blank line" in self.cut_block_reason(result.variables)
        record = compliance_records(node)[-1]
        assert (record["decision_id"], record["verdict"], record["rule"]) == (
            result.variables[c.VAR_DECISION_ID], "BLOCK", "callguard:bad-agi-request")
        assert node.stats.counts["header_cut"] == 1
        assert node.stats.counts["answer_not_accepted"] == 0

    async def test_a_tail_that_comes_a_moment_later_is_still_seen(self, node):
        """The same cut block with its tail 20 ms behind (TCP may carry setup_env's later
        writes in a later segment): nothing waits for it; seen before the answer it is
        answered BLOCK, seen after it the answer is withdrawn before it can stand (the
        tail comes before Asterisk's confirmation): the answer that stands is the BLOCK."""
        commands = await _tail_behind_session(node.port, [
            "8015550123", UT + "\n", "predictive", "1795326441.70", "84101"])
        assert "went on after" in self.cut_block_reason(
            exec_mset_variables(_msets(commands)[-1].strip()))
        assert compliance_records(node)[-1]["verdict"] == "BLOCK"

    @pytest.mark.parametrize("opening", ["a note", "200 result=0", "510 Invalid",
                                         "520-Invalid command syntax"],
                             ids=["text", "a-reply", "a-510", "a-520-block"])
    async def test_a_short_blocks_tail_is_seen_whatever_its_first_line(self, node, opening):
        """A block with fewer arguments than its route no longer waits for a tail: the
        tail's first line is the rest of the value after its blank line (the dialplan's
        text, anything: read after the answer as the reply, a reply's line is taken for
        Asterisk's, and a ``520-`` opens a usage block), but the answer stands only once
        ``GET VARIABLE`` of its fresh id is answered with nothing before it, and the rest
        of the tail (the later arguments, the closing blank line) comes first: withdrawn.
        Seen before the answer, any byte is a tail: the first answer is the BLOCK."""
        commands = await _tail_behind_session(node.port, [
            "8015550123", f"{UT}\n\n{opening}", "predictive", "1795326441.70", "84101"])
        msets = _msets(commands)
        assert len(msets) in (1, 2), commands
        assert "went on after its blank line" in self.cut_block_reason(
            exec_mset_variables(msets[-1].strip()))
        records = compliance_records(node)
        assert records[-1]["verdict"] == "BLOCK"
        if len(msets) == 2:  # answered before the tail came: that answer is withdrawn
            assert records[-1]["withdraws"] == exec_mset_variables(
                msets[0].strip())[c.VAR_DECISION_ID]
            assert node.stats.counts["withdrawn"] == 1

    @pytest.mark.parametrize(("late", "ending"), [(0.0, ""), (0.02, ""), (0.02, "\n")],
                             ids=["at-once", "20ms-behind", "tail-opens-blank"])
    async def test_a_forged_whole_block_whose_tail_comes_after_the_answer_is_withdrawn(
            self, node, late, ending):
        """A value with a line break can forge every later argument and its own blank
        line: the block read up to it has all five arguments, so nothing waits for a tail,
        and when the rest of setup_env's writes arrive a round trip later the call was
        already decided on the forged ones. res_agi.c ``setup_env`` writes the whole block
        before ``run_agi`` reads a command, so the tail comes before the reply to our
        answer; the dialplan reads the variables only when the session ends: a second
        MSet replaces the first answer with a recorded BLOCK right after its record."""
        forged = "8015550123\n" + "".join(
            f"agi_arg_{i}: {v}\n" for i, v in enumerate([UT, "manual", "1.1", ""], 2)) + ending
        commands = await _late_tail_session(
            node.port, c.ROUTE_CHECK, [forged, UT, "predictive", "1.1", "84101"], late)
        msets = _msets(commands)
        assert len(msets) == 2, commands
        answered = exec_mset_variables(msets[0].strip())
        final = exec_mset_variables(msets[-1].strip())
        assert "went on after its blank line, seen only after" in self.cut_block_reason(final)
        assert final[f"__{c.VAR_FOLLOW}"] == ""
        withdrawn = answered[c.VAR_DECISION_ID]
        records = compliance_records(node)
        assert [r["decision_id"] for r in records[-2:]] == [
            withdrawn, final[c.VAR_DECISION_ID]]
        assert records[-1]["verdict"] == "BLOCK"
        assert "first answer is withdrawn" in records[-1]["reason"]
        assert node.stats.counts["header_cut_late"] == 1
        assert node.stats.counts["answer_not_accepted"] == 0

    async def test_a_withdrawn_answer_is_no_call_in_report_evidence_or_archive(
            self, node, tmp_path):
        """The BLOCK that withdraws the first answer names it (``withdraws``, schema-valid;
        the ALLOW's record stays as written), so ``report`` counts one call, a BLOCK, and
        the ALLOW apart as withdrawn, and ``evidence`` (by number, by either decision id)
        shows the ALLOW withdrawn by the BLOCK — from the live log, then from the archive
        once the log is archived, the same. The real CLI on the node's own files."""
        from jsonschema import Draft202012Validator

        from callguard.compliance.sinks import close_segment
        from tests.conftest import ROOT
        from tests.log_files import cli, config

        forged = "8015550123\n" + "".join(
            f"agi_arg_{i}: {v}\n" for i, v in enumerate([UT, "manual", "1.1", ""], 2))
        commands = await _late_tail_session(
            node.port, c.ROUTE_CHECK, [forged, UT, "predictive", "1.1", "84101"], 0.02)
        first = exec_mset_variables(_msets(commands)[0].strip())
        final = exec_mset_variables(_msets(commands)[-1].strip())
        assert first[c.VAR_VERDICT] == "ALLOW"
        allow, block = compliance_records(node)[-2:]
        assert (allow["decision_id"], allow["verdict"]) == (first[c.VAR_DECISION_ID], "ALLOW")
        assert "withdraws" not in allow  # append-only: the first record is never rewritten
        assert block["withdraws"] == allow["decision_id"] == first[c.VAR_DECISION_ID]
        assert block["decision_id"] == final[c.VAR_DECISION_ID]
        schema = json.loads((ROOT / "callguard/data/schemas/decision.json").read_text())
        for record in (allow, block):
            Draft202012Validator(schema).validate(record)
        assert not Draft202012Validator(schema).is_valid(  # only a BLOCK withdraws
            {**allow, "withdraws": block["decision_id"]})
        # and a call after it that stands: counted as usual
        assert (await agi_session(node.port, c.ROUTE_CHECK, ["8015550124", UT, "", "1.1", ""])
                ).variables[c.VAR_VERDICT] == "ALLOW"
        (tmp_path / "cli").mkdir()
        path = config(tmp_path / "cli", tmp_path)

        def figures() -> dict:
            made = cli("report", "--json", config_path=path, key=None)
            assert made.returncode == 0, made.stderr
            return json.loads(made.stdout)

        def shown(*args: str) -> dict[str, dict]:
            made = cli("evidence", *args, "--format", "json", config_path=path, key=None)
            assert made.returncode == 0, made.stderr
            return {d["decision_id"]: d for d in json.loads(made.stdout)["decisions"]}

        def check_all() -> None:
            report = figures()
            assert (report["calls"], report["withdrawn"], report["decisions"]) == (2, 1, 3)
            assert report["by_verdict"] == {"ALLOW": 1, "BLOCK": 1}
            assert report["by_rule"] == {"callguard:bad-agi-request": 1}
            assert report["by_front"] == {"fastagi ALLOW": 1, "fastagi BLOCK": 1}
            assert [(w["verdict"], w["decisions"]) for w in report["withdrawn_days"]] == [
                ("ALLOW", 1)]
            for asked in (["8015550123"], ["--decision", allow["decision_id"]],
                          ["--decision", block["decision_id"]]):
                found = shown(*asked)
                assert set(found) == {allow["decision_id"], block["decision_id"]}, asked
                assert found[allow["decision_id"]]["withdrawn_by"] == block["decision_id"]
                assert "withdrawn_by" not in found[block["decision_id"]]
            text = cli("evidence", "8015550123", config_path=path, key=None).stdout
            assert "2 decision(s) (1 withdrawn)" in " ".join(text.split()), text
            assert f"ALLOW withdrawn by {block['decision_id']}" in text, text
            said = " ".join(cli("report", config_path=path, key=None).stdout.split())
            assert "3 decisions: 2 calls, 0 scrub decisions and 0 check --at questions " \
                   "counted apart, 1 answer(s) withdrawn (1 ALLOW)" in said, said
            rows = cli("report", "--csv", config_path=path, key=None).stdout.splitlines()
            assert [r.split(",")[1:6] for r in rows if ",withdrawn," in r] == [
                ["withdrawn", UT, "ALLOW", "", "1"]], rows

        check_all()  # the live log
        close_segment(tmp_path / "compliance.jsonl")  # as rotation does: then archived
        archived = cli("archive", "--compact-all", "--keep-segments-days", "-1", "--json",
                       config_path=path, key=None)
        assert archived.returncode == 0, archived.stderr
        assert json.loads(archived.stdout)["decisions"] == 3
        check_all()  # the archive alone

    @pytest.mark.parametrize("opening", [
        "a note", "200 result=0", "200 result=1 (guessed)", "510 Invalid",
        "HANGUP\n511 Command Not Permitted on a dead channel or intercept routine",
        "520-Invalid command syntax"],
        ids=["text", "a-reply", "a-getvariable-reply", "a-510", "a-hangup-511", "a-520"])
    @pytest.mark.parametrize("late", [0.0, 0.02], ids=["at-once", "20ms-behind"])
    async def test_a_forged_whole_blocks_late_tail_opening_with_no_header_is_withdrawn(
            self, node, opening, late):
        """A forged whole block (nothing waits) whose tail, a round trip late, opens with
        the rest of the value after the forged blank line instead of a header line: read
        as the reply to the answer (text, a reply, even a dead channel's HANGUP and 511).
        The answer stands only once Asterisk's reply to ``GET VARIABLE`` of its fresh id
        is the first reply read after it: the tail's later header lines, its closing
        blank line and the MSet's real reply come first, so the ALLOW is withdrawn."""
        forged = "8015550123\n" + "".join(
            f"agi_arg_{i}: {v}\n" for i, v in enumerate([UT, "manual", "1.1", ""], 2)
        ) + f"\n{opening}"
        commands = await _late_tail_session(
            node.port, c.ROUTE_CHECK, [forged, UT, "predictive", "1.1", "84101"], late)
        msets = _msets(commands)
        assert len(msets) == 2, commands
        assert exec_mset_variables(msets[0].strip())[c.VAR_VERDICT] == "ALLOW"
        final = exec_mset_variables(msets[-1].strip())
        assert "went on after its blank line, seen only after" in self.cut_block_reason(final)
        records = compliance_records(node)
        assert records[-1]["withdraws"] == records[-2]["decision_id"]
        assert node.stats.counts["withdrawn"] == 1

    async def test_a_reply_forged_in_the_last_argument_is_withdrawn(self, node):
        """A forged reply in the LOCATION (the last argument: no header line after it, only
        setup_env's closing blank line) is caught the same: the blank line and the real
        reply come before Asterisk's confirmation."""
        commands = await _late_tail_session(node.port, c.ROUTE_CHECK, [
            "8015550123", UT, "", "1.1", "84101\n\n200 result=0"], 0.02)
        msets = _msets(commands)
        assert len(msets) == 2, commands
        assert exec_mset_variables(msets[0].strip())[c.VAR_VERDICT] == "ALLOW"
        assert "seen only after" in self.cut_block_reason(
            exec_mset_variables(msets[-1].strip()))

    @pytest.mark.parametrize("opening", ["", "\n200 result=0"], ids=["header", "a-reply"])
    async def test_an_optout_whose_tail_comes_after_the_answer_is_answered_failed(
            self, node, opening):
        """The same forged block on the opt-out route: the campaign it named may be forged,
        so the seller asked for may not have the request: a second MSet says FAILED (the
        agent records it again); the entry written stays (it only ever blocks). Its tail
        opening with a reply's line is caught the same: the opt-out's answer carries its
        own random id (``CALLGUARD_OPTOUT_ID``) for Asterisk to confirm."""
        forged = "8015550142\n" + "".join(
            f"agi_arg_{i}: {v}\n" for i, v in enumerate([UT, "", "l.9"], 2)) + opening
        with structlog.testing.capture_logs() as logged:
            commands = await _late_tail_session(
                node.port, c.ROUTE_OPTOUT, [forged, UT, "", "l.9"], 0.02)
        msets = _msets(commands)
        assert len(msets) == 2, commands
        assert exec_mset_variables(msets[0].strip())[c.OPTOUT_RESULT] == "OK"
        # The opt-out's id under its own key (it was logged as a decision_id, an id no
        # decision record has), left whole by the redactor.
        (warning,) = [e for e in logged if e["event"].startswith("fastagi_")
                      and e.get("route") == c.ROUTE_OPTOUT]
        assert "decision_id" not in warning
        assert redact_event(None, "warning", dict(warning))["optout_id"] == (
            exec_mset_variables(msets[0].strip())[c.OPTOUT_ID])
        assert commands[1] == f"GET VARIABLE {c.OPTOUT_ID}\n"
        final = exec_mset_variables(msets[1].strip())
        assert final[c.OPTOUT_RESULT] == "FAILED"
        assert "record it again" in final[c.VAR_REASON]
        assert await node.runtime.records.company_dnc("beehive-solar", "+18015550142")
        assert node.stats.counts["withdrawn"] == 1

    @pytest.mark.parametrize("args", [
        ["8015550123", UT + "\r\n", "predictive", "1795326441.70", "84101"],
        ["8015550123", UT, "predic\rtive", "1795326441.70", "84101"],
        ["8015550123", UT, "predictive\r\n\r\n", "1795326441.70", "84101"],
    ], ids=["crlf", "cr", "crlf-crlf"])
    async def test_a_carriage_return_inside_an_argument_is_blocked(self, node, args):
        """A CR (a CRM's CR LF) inside a value: the line is no clean header (a lone ``\r``
        line used to close the session unanswered; the dialplan then said only "no usable
        answer"). BLOCK with the reason, recorded."""
        result = await agi_session(node.port, c.ROUTE_CHECK, args)
        assert len(_msets(result.commands)) == 1
        assert "control character or a line break" in self.cut_block_reason(
            result.variables)
        assert compliance_records(node)[-1]["verdict"] == "BLOCK"
        assert node.stats.counts["answer_not_accepted"] == 0

    @pytest.mark.parametrize(("args", "named"), [
        (["801\u00a0555\u00a00123", UT, "", "1.1", ""], "U+00A0 NO-BREAK SPACE"),
        (["8015550123", "ut-solar\u00a0manual", "", "1.1", ""], "U+00A0 NO-BREAK SPACE"),
        (["8015550123", UT, "manual\u200b", "1.1", ""], "U+200B ZERO WIDTH SPACE"),
    ], ids=["nbsp-number", "nbsp-campaign", "zero-width-mode"])
    async def test_a_no_break_space_is_named_as_what_it_is(self, node, args, named):
        """A no-break space (a value pasted from a document) was refused as "a control
        character or a line break": the reason now names the character; the call is still
        BLOCKed and recorded (no argument is written with one; a number never)."""
        result = await agi_session(node.port, c.ROUTE_CHECK, args)
        reason = self.cut_block_reason(result.variables)
        assert named in reason, reason
        assert "control character" not in reason
        assert "line break" not in reason
        assert compliance_records(node)[-1]["verdict"] == "BLOCK"
        assert node.stats.counts["header_character"] >= 1

    async def test_the_contracts_own_argument_counts_pass(self, node):
        """Five arguments (an empty LOCATION included) for the check, four for the opt-out,
        exactly as asterisk-dialplan/extensions-callguard.conf passes them."""
        check = await agi_session(node.port, c.ROUTE_CHECK, ["8015550123", UT, "", "1.1", ""])
        assert check.variables[c.VAR_VERDICT] == "ALLOW"
        optout = await agi_session(node.port, c.ROUTE_OPTOUT, ["8015550144", UT, "", "1.1"])
        assert optout.variables[c.OPTOUT_RESULT] == "OK"


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(
    st.sampled_from([c.VAR_VERDICT, c.VAR_RULE, c.VAR_REASON, c.VAR_CALLERID_NUM]),
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=120),
    min_size=1))
def test_mset_quoting_round_trips_through_asterisk_parsing(variables):
    """Any printable value (commas, quotes, parentheses, brackets, backslashes) arrives intact."""
    assert exec_mset_variables(encode_mset(variables)) == variables


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_mset_command_is_one_line_whatever_the_value(value):
    """Control characters (newlines, NUL) never reach the AGI line; the rest arrives."""
    command = encode_mset({c.VAR_REASON: value})
    assert "\n" not in command
    assert "\r" not in command
    assert "\x00" not in command
    decoded = exec_mset_variables(command)[c.VAR_REASON]
    assert decoded == "".join(ch if ch.isprintable() else " " for ch in value[:400])


def test_mset_command_fits_asterisk_line_buffer():
    """Values are bounded so the command fits Asterisk's AGI line, in bytes with its LF
    (res_agi.c ``run_agi``: ``fgets`` into ``buf[AGI_BUF_LEN]``; the whole answer's
    pairs: tests/test_hagi25_agi_line.py)."""
    command = encode_mset({c.VAR_REASON: "(" * 5000, c.VAR_RULE: "x" * 5000})
    assert len(command.encode()) + 1 <= 2047


def test_latency_figures_are_ordered():
    """Sanity of time.perf_counter for the latency assertions above."""
    a = time.perf_counter()
    assert time.perf_counter() >= a


async def _late_tail_session(port: int, route: str, args: list[str], late: float,
                             ) -> list[str]:
    """A block cut by a blank line inside a value, its head sent alone and its tail
    ``late`` seconds after our first command arrived, as Asterisk writes it: the whole
    block before it reads any command (res_agi.c ``setup_env`` then ``run_agi``). Every
    command is answered as Asterisk would (``asterisk_answer``: an MSet ``200 result=0``);
    returns them, in order."""
    block = header_block(route, args, port=port)
    cut = block.index(b"\n\n") + 2
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    commands: list[str] = []
    channel: dict[str, str] = {}
    try:
        writer.write(block[:cut])
        await writer.drain()
        commands.append((await asyncio.wait_for(reader.readline(), timeout=2)).decode())
        await asyncio.sleep(late)
        writer.write(block[cut:] + asterisk_answer(commands[0].rstrip("\n"), channel,
                                                   REPLY_OK))
        await writer.drain()
        await _answer_until_closed(reader, writer, channel, commands)
    finally:
        writer.close()
    return commands


async def _answer_until_closed(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                               channel: dict[str, str], commands: list[str]) -> None:
    """Answer each command as Asterisk would (``asterisk_answer``) until the server closes,
    adding each to ``commands``."""
    while line := await asyncio.wait_for(reader.readline(), timeout=3):
        commands.append(line.decode())
        writer.write(asterisk_answer(line.decode().rstrip("\n"), channel, REPLY_OK))
        await writer.drain()


async def _tail_behind_session(port: int, args: list[str]) -> list[str]:
    """A check whose block a blank line inside a value cut short, its tail sent 20 ms
    after its head (setup_env's later writes in a later segment), each command answered
    as Asterisk would, whenever it comes; returns the commands, in order."""
    block = header_block(c.ROUTE_CHECK, args, port=port)
    cut = block.index(b"\n\n") + 2
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    commands: list[str] = []
    channel: dict[str, str] = {}
    try:
        writer.write(block[:cut])
        await writer.drain()
        await asyncio.sleep(0.02)
        writer.write(block[cut:])
        await writer.drain()
        await _answer_until_closed(reader, writer, channel, commands)
    finally:
        writer.close()
    return commands


def _msets(commands: list[str]) -> list[str]:
    """The answers among the commands (each confirmed by a GET VARIABLE after it)."""
    return [command for command in commands if command.startswith("EXEC MSet ")]


async def _escaped_after_replying(node, reply: bytes, *, then_close: bool = False,
                                  ) -> list[dict]:
    """Ask for a check, answer its EXEC MSet with ``reply`` (then close our side, when
    ``then_close``; else answer what follows as Asterisk would, each MSet with ``reply``)
    and wait for the session to close; returns the exceptions that escaped to the loop's
    handler (none expected)."""
    loop = asyncio.get_running_loop()
    escaped: list[dict] = []
    loop.set_exception_handler(lambda _loop, context: escaped.append(context))
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", node.port)
        writer.write(header_block(c.ROUTE_CHECK, ["8015550123", UT]))
        await writer.drain()
        command = await asyncio.wait_for(reader.readline(), timeout=2)
        assert command.startswith(b"EXEC MSet ")
        writer.write(reply)
        if then_close:
            writer.write_eof()
        channel: dict[str, str] = {}
        asterisk_answer(command.decode().rstrip("\n"), channel, reply)
        with contextlib.suppress(ConnectionError):  # a long reply may meet the close
            await writer.drain()
            while not then_close and (asked := await asyncio.wait_for(reader.readline(),
                                                                      timeout=2)):
                writer.write(asterisk_answer(asked.decode().rstrip("\n"), channel, reply))
                await writer.drain()
            assert await asyncio.wait_for(reader.read(), timeout=2) == b""
        writer.close()
        await asyncio.sleep(0.1)
    finally:
        loop.set_exception_handler(None)
    return escaped


class TestRecordedRepliesAreNoTail:
    """``AgiChannel`` takes header or blank lines before a reply for a cut block's tail
    and the answer is withdrawn (``_late_tail``): no reply Asterisk 22 sent in the lab
    recordings (200 with a value in parentheses, 510, 511 on a dead channel, a 520 usage
    block with its blank lines, HANGUP) may be taken for one."""

    class _Sink:
        class _Transport:
            def get_write_buffer_size(self) -> int:
                return 0  # every byte taken at once (wire.send_bounded asks)

            def is_closing(self) -> bool:
                return False

        transport = _Transport()

        def write(self, data: bytes) -> None:
            del data

        async def drain(self) -> None:
            return None

    @pytest.mark.parametrize("recording", sorted(
        p.name.removesuffix(".fastagi.rx.txt") for p in LAB.glob("*.fastagi.rx.txt")))
    async def test_every_recorded_reply_is_read_as_a_reply(self, recording):

        data = (LAB / f"{recording}.fastagi.rx.txt").read_bytes()
        if b"\n\n" not in data:
            pytest.skip("closed before its header block ended")
        after = data.split(b"\n\n", 1)[1]
        reader = asyncio.StreamReader()
        reader.feed_data(after)
        reader.feed_eof()
        channel = AgiChannel({}, reader, self._Sink(), reply_timeout=1.0)
        replies = []
        with contextlib.suppress(ConnectionResetError):
            while True:
                replies.append(await channel.send_command("NOOP"))
        assert not channel.tail_seen, (recording, replies)
        assert all(r.get("error") != "AGIBadReply" and r.get("status_code") in (
            200, 510, 511, 520) for r in replies), replies
