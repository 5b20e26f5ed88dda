"""The shipped [callguard-dial] run end to end against callguard's FastAGI front.

Every step of extension ``s`` runs in the small interpreter of test_dialplan13_pjsip.py (it
refuses any construct it does not model); its ``AGI()`` is a real FastAGI session over TCP,
played the way res_agi.c plays it: ``launch_netscript`` connects (a refused connection is
AGISTATUS=FAILURE), ``setup_env`` writes the recorded Asterisk 22.10.1 header block, each
command gets Asterisk's reply (tests/fake_asterisk.py ``asterisk_answer``: an MSet that
Asterisk accepted sets the channel's variables), and the session ends on the server's EOF
(``run_agi`` returns AGI_RESULT_SUCCESS: AGISTATUS=SUCCESS whatever was or was not set),
or on a hangup (the backstop's ``TIMEOUT(absolute)``, or the caller) with AGIEXITONHANGUP
(AGISTATUS=HANGUP: ``agi_exec_full`` returns -1 and the PBX goes no further in ``s``).

What is asserted is where the shipped lines send the call from the channel state each case
leaves: Dial() only after a confirmed ALLOW with a decision id, every other way to one of
unreached / unanswered / blocked / no-trunk (each logs and hangs up, test_dialplan.py), or
the run ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from callguard.config import load_settings
from callguard.fronts.fastagi import contract as c
from callguard.fronts.fastagi.server import FastAgiServer
from callguard.runtime import open_runtime
from callguard.stores.embedded.lists import write_version
from callguard.stores.list_files import ParsedList
from tests.fake_asterisk import REPLY_520_BLOCK, REPLY_OK, asterisk_answer, header_block
from tests.test_dialplan13_pjsip import Outcome, run_s
from tests.test_fastagi import SlowRecords

UT = "ut-solar-manual"


@pytest.fixture
async def front(tmp_path):
    """callguard's runtime and FastAGI front on a free port (lists as test_fastagi's)."""
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    for name in ("national", "ut-state"):
        write_version(tmp_path, name, listed, published=date(2026, 11, 25), area_codes=None,
                      source="t")
    settings = load_settings(data_dir=tmp_path)
    settings = replace(settings, fastagi=replace(settings.fastagi, port=0, budget_ms=250,
                                                 header_timeout_ms=500))
    runtime = open_runtime(settings)
    runtime.gate._clock = lambda: datetime(2026, 11, 25, 18, 0, tzinfo=UTC)  # Wed 11:00 MST
    records = SlowRecords(runtime.records)
    runtime.gate._records = records
    server = FastAgiServer(runtime.gate, settings.fastagi)
    await server.start()
    server.records = records
    yield server
    await server.close()
    await runtime.aclose()


class Asterisk:
    """res_agi.c's side of one AGI(): connect, header block, replies, until EOF or hangup."""

    def __init__(self, reply: bytes = REPLY_OK, *, hangup_at_once: bool = False) -> None:
        self.reply = reply
        self.hangup_at_once = hangup_at_once
        self.commands: list[str] = []
        self.calls = 0

    async def __call__(self, args: list[str], channel: dict[str, str]) -> str:
        self.calls += 1
        url, *arguments = args
        where, _, script = url.removeprefix("agi://").partition("/")
        host, _, port = where.partition(":")
        try:
            reader, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            return "FAILURE"  # launch_netscript: no connection
        # The backstop: TIMEOUT(absolute) as the dialplan armed it (0 = none).
        backstop = float(channel.get("TIMEOUT(absolute)") or 0) or None
        status = "SUCCESS"
        try:
            writer.write(header_block(script, arguments, port=int(port)))
            if self.hangup_at_once:  # the caller hung up: HANGUP, then (exit on hangup) close
                writer.write(b"HANGUP\n")
                status = "HANGUP"
            else:
                await self._commands(reader, writer, channel, backstop)
        except ConnectionResetError:
            pass  # run_agi: a failed read ends the script as an EOF does
        except TimeoutError:
            status = "HANGUP"  # the soft hangup of the absolute timeout
        finally:
            writer.close()
        return status

    async def _commands(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                        channel: dict[str, str], backstop: float | None) -> None:
        async with asyncio.timeout(backstop):
            while line := await reader.readline():
                command = line.decode().rstrip("\n")
                self.commands.append(command)
                writer.write(asterisk_answer(command, channel, self.reply))
                await writer.drain()


def channel(port: int, number: str = "8015550123", **more: str) -> dict[str, str]:
    """A channel entering Gosub(callguard-dial,s,1(NUMBER,CAMPAIGN,manual,,)) with the
    administrator's [globals] (a channel variable reads the same to the dialplan)."""
    return {"CALLGUARD_TRUNK": "PJSIP/itsp", "CALLGUARD_AGI": f"agi://127.0.0.1:{port}",
            "ARG1": number, "ARG2": UT, "ARG3": "manual", "ARG4": "", "ARG5": "",
            "CHANNEL(linkedid)": "1795326441.70", **more}


# What a first Gosub on the same channel left behind: it must not speak for this call.
STALE_ALLOW = {c.VAR_VERDICT: "ALLOW", c.VAR_DECISION_ID: "0f1e2d3c-stale"}


async def test_an_allow_is_dialled_on_the_trunk_with_the_campaigns_caller_id(front):
    chan = channel(front.port)
    outcome = await run_s(chan, Asterisk())
    assert outcome == Outcome("dial", dial=["PJSIP/8015550123@itsp", "30"])
    assert chan[c.VAR_CALLERID_NUM] == "+18015550100"
    assert chan[c.VAR_CALLERID_PRES] == c.PRESENTATION_ALLOWED


async def test_a_block_goes_to_blocked(front):
    chan = channel(front.port, "8015550199")
    assert await run_s(chan, Asterisk()) == Outcome("goto", "blocked")
    assert chan[c.VAR_CAUSE] == "21"


async def test_callguard_answering_slowly_is_a_block(front):
    """A store past the 250 ms budget: callguard answers BLOCK callguard:time-budget."""
    front.records.delay = 2.0
    chan = channel(front.port)
    assert await run_s(chan, Asterisk()) == Outcome("goto", "blocked")
    assert chan[c.VAR_RULE] == "callguard:time-budget"


async def test_callguard_down_is_unreached_even_after_an_earlier_allow(front):
    """Nothing listens: AGISTATUS=FAILURE. The earlier answer on the channel was cleared
    before AGI() (Set(CALLGUARD_VERDICT=) ...), and the AGISTATUS check comes first."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    chan = channel(closed, **STALE_ALLOW)
    assert await run_s(chan, Asterisk()) == Outcome("goto", "unreached")
    assert chan["AGISTATUS"] == "FAILURE"


async def test_callguard_closing_without_an_answer_is_unanswered(front):
    """callguard closes at once (here: this Asterisk is not in allowed_sources): AGISTATUS
    is SUCCESS all the same, the verdict is empty, the earlier ALLOW does not count."""
    front._networks = []  # as if allowed_sources named another host
    asterisk = Asterisk()
    chan = channel(front.port, **STALE_ALLOW)
    assert await run_s(chan, asterisk) == Outcome("goto", "unanswered")
    assert (chan["AGISTATUS"], chan[c.VAR_VERDICT], asterisk.commands) == ("SUCCESS", "", [])


async def test_an_answer_asterisk_refuses_leaves_nothing_to_dial(front):
    """Asterisk answers the MSet with a 520 usage block (it did not run): nothing is set,
    the confirmation fails, the withdrawing BLOCK is refused too: unanswered."""
    chan = channel(front.port, **STALE_ALLOW)
    assert await run_s(chan, Asterisk(REPLY_520_BLOCK)) == Outcome("goto", "unanswered")


async def test_a_hangup_during_the_agi_ends_the_run(front):
    chan = channel(front.port)
    assert await run_s(chan, Asterisk(hangup_at_once=True)) == Outcome("ended", "HANGUP")


async def test_a_silent_callguard_is_cut_by_the_backstop(front):
    """A callguard that accepts and never answers (a stopped process): TIMEOUT(absolute),
    armed by the shipped lines before AGI(), ends it with AGISTATUS=HANGUP."""
    silent = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        chan = channel(port, CALLGUARD_BACKSTOP="1")
        async with asyncio.timeout(3):
            assert await run_s(chan, Asterisk()) == Outcome("ended", "HANGUP")
        assert chan["TIMEOUT(absolute)"] == "1"
    finally:
        silent.close()
        with contextlib.suppress(Exception):
            await silent.wait_closed()


@pytest.mark.parametrize("answer", [
    'EXEC MSet "CALLGUARD_VERDICT=allow,CALLGUARD_DECISION_ID=x"',
    'EXEC MSet "CALLGUARD_VERDICT=ALLOW"',  # no decision id
    'EXEC MSet "CALLGUARD_VERDICT=ALLOW ,CALLGUARD_DECISION_ID=x"',
    'EXEC MSet "CALLGUARD_VERDICT=MAYBE,CALLGUARD_DECISION_ID=x"',
    "hello",  # no AGI command at all (res_agi: 510)
], ids=["lowercase", "no-id", "trailing-space", "unknown", "garbage"])
async def test_an_answer_that_is_not_allow_with_an_id_is_never_dialled(answer):
    """A peer at callguard's address answering anything but ALLOW with a decision id."""
    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\n\n")
        writer.write(answer.encode() + b"\n")
        await writer.drain()
        await reader.readline()
        writer.close()

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        reply = REPLY_OK if answer.startswith("EXEC") else b"510 Invalid or unknown command\n"
        outcome = await run_s(channel(port, **STALE_ALLOW), Asterisk(reply))
    finally:
        server.close()
    assert outcome == Outcome("goto", "unanswered")


async def test_no_trunk_is_refused_before_callguard_is_asked(front):
    asterisk = Asterisk()
    chan = channel(front.port, CALLGUARD_TRUNK="PJSIP/CHANGE-ME")
    assert await run_s(chan, asterisk) == Outcome("goto", "no-trunk")
    assert asterisk.calls == 0


# channel.c ast_party_id_presentation, for names from callerid.c pres_types.
_RESTRICTION = {"allowed_not_screened": "allowed", "allowed": "allowed",
                "prohib_not_screened": "restricted", "prohib": "restricted",
                "unavailable": "unavailable"}


def party_presentation(name_valid: bool, name_pres: str, number_pres: str) -> str:
    """The combined presentation: a restricted name (priority 0) outranks an allowed
    number (1), which outranks unavailable (2) and an invalid name (3)."""
    priority = {"restricted": 0, "allowed": 1, "unavailable": 2}
    name = _RESTRICTION[name_pres] if name_valid else "invalid"
    number = _RESTRICTION[number_pres]
    return name if priority.get(name, 3) < priority[number] else number


@pytest.mark.parametrize("name_pres", ["prohib_not_screened", "prohib", "allowed"])
async def test_an_allow_presents_the_campaigns_number_whatever_the_phone_hid(front, name_pres):
    """A phone that sent Privacy: id (chan_pjsip: name and number restricted), or a
    CALLERID(name-pres) set before the Gosub: res_pjsip_session.c set_from_header puts
    the connected line in the From only when ast_party_id_presentation is allowed (or the
    trunk trusts outbound ids), and add_id_headers likewise for P-Asserted-Identity. The
    ALLOW's MSet must leave the combined presentation allowed."""
    chan = channel(front.port, **{"CALLERID(name-pres)": name_pres,
                                  "CALLERID(num-pres)": "prohib_not_screened"})
    outcome = await run_s(chan, Asterisk())
    assert outcome.how == "dial"
    assert party_presentation(True, chan["CALLERID(name-pres)"],
                              chan["CALLERID(num-pres)"]) == "allowed"
    assert chan[c.VAR_CALLERID_NUM] == "+18015550100"
