"""A header value that ends in CRLF: the rest of its message is glued back, not lost.

Asterisk writes header values as they are; nothing escapes CR or LF in them (manager.c
``__manager_event`` appends the event body with ``ast_str_append_va``, ``astman_append``
formats with ``ast_str_set_va``, both written by ``send_string``; manager_channels.c
``ast_manager_build_channel_state_string_prefix`` writes ``%sCallerIDName: %s\\r\\n``).
A caller name set from ``${CURL()}`` or a CNAM lookup returning "ACME\\r\\n" makes the line
``CallerIDName: ACME\\r\\n\\r\\n``: a blank line before the event's Uniqueid and Linkedid.
On main the event was handled without them and its tail dropped as "no Event header"
(a picture taken again for each): a called party's Hangup so cut named no channel
(hrev138's finding).

The framing tests feed bytes to ``_GuardedProtocol``; the socket test runs the fake
manager (tests/fake_ami.py), which REPLAYS the Asterisk 22.10.1 lab recording call-01; the
CRLF at the end of the caller name is SYNTHESISED (the lab set a literal name).
"""

from __future__ import annotations

import asyncio

import structlog

from callguard.watchdog import ami
from tests.fake_ami import CRLF, FakeAmi, lab_events
from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, Node, until, with_g_option

HANGUP = (b"Event: Hangup\r\nPrivilege: call,all\r\nChannel: PJSIP/itsp-00000001\r\n"
          b"CallerIDName: ACME\r\n\r\nConnectedLineName: <unknown>\r\n"
          b"Uniqueid: 1795326250.7\r\nLinkedid: 1795326250.6\r\nCause: 16\r\n\r\n")
WHOLE = {"Event": "Hangup", "Privilege": "call,all", "Channel": "PJSIP/itsp-00000001",
         "CallerIDName": "ACME", "ConnectedLineName": "<unknown>",
         "Uniqueid": "1795326250.7", "Linkedid": "1795326250.6", "Cause": "16"}
NEXT = b"Event: Newstate\r\nUniqueid: 1795326250.8\r\n\r\n"


class _Factory:
    asked = None

    def __init__(self, seen: list[dict[str, object]]) -> None:
        self.seen = seen
        self.lost = 0

    def bad_message(self, exc: Exception) -> None:
        self.seen.append({"bad": str(exc)})

    def events_lost(self) -> None:
        self.lost += 1

    def connection_lost(self, exc: Exception | None) -> None:
        del exc


def _protocol() -> tuple[ami._GuardedProtocol, list[dict[str, object]], _Factory]:
    seen: list[dict[str, object]] = []

    class Protocol(ami._GuardedProtocol):
        def handle_message(self, message) -> None:
            seen.append({k: v for k, v in message.items() if k != "content"})

    protocol = Protocol()
    protocol.connection_made(None)
    factory = _Factory(seen)
    protocol.factory = factory
    protocol.encoding = "utf8"
    return protocol, seen, factory


def _read(data: bytes, cuts: list[int] | None = None) -> tuple[list[dict[str, object]], int]:
    protocol, seen, factory = _protocol()
    start = 0
    for cut in [*(cuts or []), len(data)]:
        protocol.data_received(data[start:cut])
        start = cut
    return seen, factory.lost


class TestFraming:
    def test_a_value_ending_in_crlf_leaves_its_message_whole(self):
        """One read, or cut anywhere but right behind the false blank line: the Hangup
        whole, with its Uniqueid and Linkedid, nothing lost (on main: the Hangup without
        them, then "neither an Event nor a Response header", one loss)."""
        data = HANGUP + NEXT
        blank = HANGUP.index(b"\r\n\r\n") + 4
        for cuts in ([], *([c] for c in range(1, len(data)) if c != blank)):
            seen, lost = _read(data, cuts)
            assert seen == [WHOLE, {"Event": "Newstate", "Uniqueid": "1795326250.8"}], cuts
            assert lost == 0, cuts

    def test_the_held_message_is_handled_at_a_read_that_ends_on_its_blank_line(self):
        """The Hangup is never kept back behind a read that ends where it ends: handled at
        once (the tail, if any came later, would find no message: lost and counted)."""
        seen, lost = _read(HANGUP)
        assert seen == [WHOLE]
        assert lost == 0
        blank = HANGUP.index(b"\r\n\r\n") + 4
        seen, lost = _read(HANGUP, [blank])
        assert seen[0]["Event"] == "Hangup"
        assert "Uniqueid" not in seen[0]
        assert seen[1] == {"bad": "neither an Event nor a Response header"}
        assert lost == 1

    def test_kept_back_only_while_its_tail_is_arriving(self):
        """A read that ends inside the tail keeps the Hangup back; the next read, which
        ends the tail, hands it over whole. A read ending on the first letters of the
        next message ("Eve") keeps it back too, until they say what they are."""
        protocol, seen, _ = _protocol()
        cut = HANGUP.index(b"Uniqueid") + 3
        protocol.data_received(HANGUP[:cut])
        assert seen == []
        protocol.data_received(HANGUP[cut:] + NEXT[:3])
        assert seen == []  # "Eve"
        protocol.data_received(NEXT[3:])
        assert seen == [WHOLE, {"Event": "Newstate", "Uniqueid": "1795326250.8"}]

    def test_a_tail_never_overrides_the_message(self):
        """SYNTHESISED: a piece that repeats the message's Uniqueid (any case): the
        message's own values never lose to it. hrev143: Asterisk writes a message's headers
        once (but its variables), so such a piece is no tail (another message, damaged):
        the piece dropped and counted lost (was: glued, lost 0, its ActionID and Linkedid
        on the message). hwd32: the message before it is dropped and counted lost too (it
        may be one a header value wrote: tests/test_hwd32_injected_header.py); was handed
        over as it was. A tail carrying an ActionID is no tail either (Asterisk writes it
        before any value), and a tail that sets a channel variable the message already set
        to another value is damaged (channelvars: one line a name): dropped, lost (hwd32;
        was glued, lost 0, both values kept). A tail adding other variables is glued."""
        data = (b"Event: Hangup\r\nUniqueid: 1.1\r\nChanVariable: CALLGUARD_FOLLOW=mine\r\n"
                b"CallerIDName: x\r\n\r\nuniqueid: 9.9\r\nActionID: 5\r\n"
                b"ChanVariable: CALLGUARD_FOLLOW=theirs\r\nLinkedid: 1.0\r\n\r\n")
        seen, lost = _read(data)
        assert lost == 2
        assert "Event" not in seen[0]  # the held Hangup: dropped
        assert seen[1] == {"bad": "neither an Event nor a Response header"}
        seen, lost = _read(data.replace(b"uniqueid: 9.9\r\n", b""))
        assert lost == 2  # the ActionID: no tail
        assert all("Event" not in m for m in seen)
        seen, lost = _read(data.replace(b"uniqueid: 9.9\r\nActionID: 5\r\n", b""))
        assert lost == 1  # CALLGUARD_FOLLOW set twice: damaged
        assert all("Event" not in m for m in seen)
        seen, lost = _read(data.replace(b"uniqueid: 9.9\r\nActionID: 5\r\n", b"")
                           .replace(b"FOLLOW=theirs", b"OTHER=theirs"))
        assert lost == 0
        assert seen[0]["Uniqueid"] == "1.1"
        assert seen[0]["Linkedid"] == "1.0"
        assert seen[0]["ChanVariable"] == ["CALLGUARD_FOLLOW=mine", "CALLGUARD_OTHER=theirs"]

    def test_a_piece_with_no_message_before_it_is_still_lost(self):
        """At the start of a session, or behind a message that ended a read: dropped,
        counted as lost (the picture is taken again), as before. A lower-cased event is a
        message of its own, never a tail: dropped and lost too."""
        seen, lost = _read(b"Uniqueid: 1.1\r\n\r\n" + NEXT)
        assert seen[0] == {"bad": "neither an Event nor a Response header"}
        assert lost == 1
        assert seen[1]["Event"] == "Newstate"
        seen, lost = _read(NEXT + b"event: Hangup\r\nuniqueid: 1.1\r\n\r\n")
        assert seen[1] == {"bad": "neither an Event nor a Response header"}
        assert lost == 1
        assert seen[0] == {"Event": "Newstate", "Uniqueid": "1795326250.8"}

    def test_a_held_message_is_handled_when_the_connection_ends(self):
        protocol, seen, _ = _protocol()

        class Transport:
            def close(self) -> None:
                pass

        protocol.transport = Transport()
        protocol.data_received(HANGUP[:HANGUP.index(b"Uniqueid") + 3])
        assert seen == []
        protocol.connection_lost(None)
        assert seen
        assert seen[0]["Event"] == "Hangup"

    def test_an_endless_tail_is_bounded(self, monkeypatch):
        """Tails glued without end (in one read; a read ending on a blank line hands the
        message over): dropped past ``_MAX_PENDING_BYTES`` and counted, the tails after
        it dropped as pieces with no message, and the next message read."""
        monkeypatch.setattr(ami, "_MAX_PENDING_BYTES", 4096)
        protocol, seen, factory = _protocol()
        protocol.data_received(b"Event: Hangup\r\nUniqueid: 1.1\r\n\r\n"
                               + b"".join(b"X-Tail-%d: " % i + b"y" * 100 + b"\r\n\r\n"
                                          for i in range(100)) + NEXT)
        assert seen[0] == {"bad": "message past 4096 bytes"}
        assert seen[-1] == {"Event": "Newstate", "Uniqueid": "1795326250.8"}
        assert factory.lost >= 1

    def test_said_once_without_the_value(self):
        with structlog.testing.capture_logs() as logs:
            seen, _ = _read(HANGUP.replace(b"ACME", b"8015550100") * 3)
        said = [e for e in logs if e["event"] == "ami_message_glued"]
        assert len(said) == 1
        assert len(seen) == 3
        assert "8015550100" not in repr(said)


def _crlf_name(events: list[str]) -> list[str]:
    """SYNTHESISED: the caller name as a CNAM lookup returns it, ending CRLF."""
    return [e.replace("Name: Alice Caller", "Name: Alice Caller" + CRLF) for e in events]


class TestOverTcp:
    async def test_the_called_partys_hangup_with_a_crlf_name_releases_the_line(self):
        """Every event of the call carries the name ending CRLF (the called party's as
        ConnectedLineName): the call is followed, the called party's Hangup read whole and
        the line released in time, no message dropped and no picture taken again. On main
        every event was cut before its Uniqueid (fails there: no line-release)."""
        n = await Node(FakeAmi()).start()
        try:
            before, held = with_g_option(_crlf_name(lab_events(CALL_01)), CALLED_01)
            assert any("Alice Caller\r\n" in e for e in before)
            n.fake.hold(held)
            n.follow(lab_events(CALL_01))
            await n.fake.send(before)
            await until(lambda: n.named("line-release"))
            assert sorted(n.fake.hangups()) == CALLER_01
            assert n.named("line-release")[0]["within_limit"] is True
            assert n.watchdog is not None
            assert n.watchdog.stats["malformed_messages"] == 0
            assert n.watchdog.stats["resyncs"] == 0
            await asyncio.sleep(0)
        finally:
            await n.stop()
