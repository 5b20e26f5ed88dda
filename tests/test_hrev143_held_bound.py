"""hrev143: review of hwd30's glue of a message cut by a header value ending in CRLF.

A message is kept back (``_GuardedProtocol._held``) while the text read after it has begun
and is not yet known to be a new message. On hwd30 nothing bounded that: a read ending on
the first letters of the next event ("Ev"), on a partial UTF-8 character, or on text that
is no message start kept the called party's Hangup back until the NEXT read — seconds
later on a quiet line, never if nothing followed (47 U.S.C. 227(d)(3)(B) gives the line
5 s). Now it is handed over at most ``_TAIL_WAIT_S`` after it was read; a tail arriving
later finds no message and is lost (the picture is taken again), as before hwd30.

Also: the watchdog counts ``messages_glued`` (hwd30 left ``factory.message_glued`` unwired).

Bytes fed to ``_GuardedProtocol`` in a running loop (its timer needs one); the watchdog
test runs the fake manager (tests/fake_ami.py) replaying the lab recording call-01, the
CRLF at the end of the caller name SYNTHESISED as in tests/test_hwd30_crlf_value.py.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from callguard.watchdog import ami
from tests.fake_ami import FakeAmi, lab_events
from tests.test_hwd30_crlf_value import HANGUP, WHOLE, _crlf_name, _protocol
from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, Node, until, with_g_option

SHORT = b"Event: Hangup\r\nChannel: PJSIP/itsp-00000001\r\nUniqueid: 1795326250.7\r\n\r\n"


async def _handed_over(seen: list[dict[str, object]], limit: float) -> float:
    """Seconds until ``seen`` has a message (fails past ``limit``)."""
    start = time.monotonic()
    while not seen:
        assert time.monotonic() - start < limit, "the Hangup is still held"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


class TestHoldBounded:
    @pytest.mark.parametrize("after", [b"Ev", b"Eve", b"R", b"\xc3", b"Garbage", b"Uniq"],
                             ids=["Ev", "Eve", "R", "utf8-half", "no-message", "tail-start"])
    async def test_a_hangup_ending_a_read_is_handed_over_without_the_next_read(self, after):
        """The Hangup is the last message read; what follows it in the read is cut and
        nothing more comes. Failed on hwd30: held until the next read (here: never)."""
        for data in (SHORT + after, SHORT.replace(b"\r\n", b"\n") + after):
            protocol, seen, _ = _protocol()
            protocol.data_received(data)
            took = await _handed_over(seen, 2.0)
            assert took <= ami._TAIL_WAIT_S + 0.5
            assert seen[0]["Event"] == "Hangup"
            assert seen[0]["Uniqueid"] == "1795326250.7"

    async def test_a_tail_arriving_within_the_bound_is_still_glued(self):
        protocol, seen, factory = _protocol()
        cut = HANGUP.index(b"Uniqueid") + 3
        protocol.data_received(HANGUP[:cut])
        await asyncio.sleep(ami._TAIL_WAIT_S / 5)
        assert seen == []
        protocol.data_received(HANGUP[cut:])
        assert seen == [WHOLE]
        assert factory.lost == 0

    async def test_a_tail_arriving_past_the_bound_is_lost_not_waited_for(self):
        """The head is handed over at the bound (no Uniqueid); the tail, read later, finds
        no message: dropped and counted lost, so the picture is taken again."""
        protocol, seen, factory = _protocol()
        cut = HANGUP.index(b"Uniqueid") + 3
        protocol.data_received(HANGUP[:cut])
        await _handed_over(seen, 2.0)
        assert seen[0]["Event"] == "Hangup"
        assert "Uniqueid" not in seen[0]
        protocol.data_received(HANGUP[cut:])
        assert seen[1] == {"bad": "neither an Event nor a Response header"}
        assert factory.lost == 1

    async def test_a_closed_session_hands_nothing_over_later(self):
        protocol, seen, _ = _protocol()

        class Transport:
            def close(self) -> None:
                pass

        protocol.transport = Transport()
        protocol.data_received(SHORT + b"Ev")
        protocol.close()
        await asyncio.sleep(ami._TAIL_WAIT_S * 3)
        assert seen == []


class TestGluedCounted:
    async def test_the_watchdog_counts_messages_glued(self):
        """Failed on hwd30: no ``messages_glued`` (the factory had no ``message_glued``)."""
        n = await Node(FakeAmi()).start()
        try:
            before, held = with_g_option(_crlf_name(lab_events(CALL_01)), CALLED_01)
            n.fake.hold(held)
            n.follow(lab_events(CALL_01))
            await n.fake.send(before)
            await until(lambda: n.named("line-release"))
            assert sorted(n.fake.hangups()) == CALLER_01
            assert n.watchdog is not None
            glued = n.watchdog.stats["messages_glued"]
            assert glued == sum(e.count("Alice Caller\r\n") for e in before + held) > 0
            assert n.watchdog.stats["malformed_messages"] == 0
        finally:
            await n.stop()


class TestNotATail:
    def test_a_damaged_message_behind_another_is_lost_not_glued(self):
        """SYNTHESISED: a Hangup whose Event line was damaged ("Evnt", a proxy) read behind
        another call's event. Asterisk writes each header of a message once (channel
        variables aside), so a piece repeating the message's own headers is no tail of it.
        Failed on hwd30: glued, the other call's Linkedid put on the first event, and
        nothing counted lost (no picture taken again: the line held). hwd32: the Newstate
        before it is dropped and counted lost too (a message followed by a piece that is
        not its tail may be one a header value wrote); was handed over."""
        data = (b"Event: Newstate\r\nPrivilege: call,all\r\nChannel: PJSIP/a-00000001\r\n"
                b"Uniqueid: 1795326250.7\r\n\r\n"
                b"Evnt: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/b-00000002\r\n"
                b"Uniqueid: 1795326250.9\r\nLinkedid: 1795326250.9\r\nCause: 16\r\n\r\n")
        protocol, seen, factory = _protocol()
        protocol.data_received(data)
        assert "Event" not in seen[0]
        assert seen[1] == {"bad": "neither an Event nor a Response header"}
        assert factory.lost == 2

    def test_channel_variables_and_status_variables_may_repeat(self):
        """A real tail repeats only what Asterisk writes one line each: ChanVariable
        (channelvars) and Variable (the Status action's Variables)."""
        data = (b"Event: Status\r\nChanVariable: A=1\r\nVariable: X=1\r\nCallerIDName: a\r\n"
                b"\r\nChanVariable: B=2\r\nVariable: Y=2\r\nUniqueid: 1795326250.7\r\n\r\n")
        protocol, seen, factory = _protocol()
        protocol.data_received(data)
        assert factory.lost == 0
        assert seen[0]["ChanVariable"] == ["A=1", "B=2"]
        assert seen[0]["Variable"] == ["X=1", "Y=2"]
        assert seen[0]["Uniqueid"] == "1795326250.7"
