"""hwd32: a header value that INJECTS headers or a whole message into the AMI stream.

Asterisk writes header values as they are (manager_channels.c
``ast_manager_build_channel_state_string_prefix`` writes ``%sCallerIDName: %s\\r\\n``): a
caller name from ``${CURL()}``, a CNAM lookup or an inbound caller's own name may carry CR
LF. hwd30 glued a message cut by a value ending in CRLF back together; a value can do more:

(a) "X\\r\\n\\r\\nEvent: Hangup\\r\\n...Uniqueid: <another call's>\\r\\n\\r\\n": a forged
    Hangup between the cut event's head and its tail. On hwd30/hrev149 the real tail
    repeats Uniqueid, so it was no tail of the forged Hangup, and the forged Hangup was
    HANDED TO THE TRACKER (the other call's line released, its called party still
    talking); without the trailing blank line the forged Hangup took the real tail and
    held two Uniqueids, the first (the attacker's) kept.
(b) "X\\r\\nUniqueid: V": one header line more inside a genuine event, before its real
    Uniqueid: the first won, the event was put on another channel.

Asterisk writes each header of a message once, but for the variables (``_REPEATED_KEYS``),
so a message with a header twice is damaged: dropped, counted lost, the picture taken
again. A held message followed by a piece that is neither a new message nor its tail is
suspect too (it may be the forged one): dropped with it.

The base bytes are the Asterisk 22.10.1 lab recording call-01 (tests/fake_ami.py
``lab_events``); the injected values are SYNTHESISED.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.fake_ami import CRLF, FakeAmi, lab_events, parse
from tests.test_hwd30_crlf_value import _protocol
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLER_01,
    Node,
    replay,
    until,
    with_g_option,
)

CALLER = "Local/long@fakephone-00000000;1"
BEFORE, HELD = with_g_option(lab_events(CALL_01), CALLED_01)
CALLED_HANGUP = BEFORE[-1]
# the caller's last event before the called party hangs up: its name is the attacker's
CARRIER = next(e for e in reversed(BEFORE[:-1])
               if parse(e).get("Channel") == CALLER and "CallerIDName: Alice Caller" in e)
VICTIM = parse(CALLED_HANGUP)
FORGED = (f"Event: Hangup{CRLF}Privilege: call,all{CRLF}Channel: {VICTIM['Channel']}{CRLF}"
          f"Uniqueid: {VICTIM['Uniqueid']}{CRLF}Linkedid: {VICTIM['Linkedid']}{CRLF}"
          f"Cause: 16")


def _named(name: str) -> str:
    """``CARRIER`` with the caller name ``name`` (as the dialplan set it)."""
    return CARRIER.replace("CallerIDName: Alice Caller", "CallerIDName: " + name)


def _hangup_named(name: str) -> str:
    """The called party's Hangup (an event the tracker reads) with the name ``name``."""
    return CALLED_HANGUP.replace("CallerIDName: Alice Phone", "CallerIDName: " + name)


def _feed(data: bytes, cuts: list[int] | None = None):
    protocol, seen, factory = _protocol()
    start = 0
    for cut in [*(cuts or []), len(data)]:
        protocol.data_received(data[start:cut])
        start = cut
    protocol._release()  # what is still held is handed over (the bound, or the next read)
    return seen, factory.lost


def _acted_on(seen: list[dict[str, object]]) -> list[dict[str, object]]:
    return [m for m in seen if "Event" in m]


NEXT = (f"Event: Newstate{CRLF}Channel: PJSIP/b-00000009{CRLF}Uniqueid: 1795326250.9"
        f"{CRLF}Linkedid: 1795326250.9").encode()


class TestInjectedMessage:
    def test_a_forged_hangup_between_head_and_tail_is_never_handed_over(self):
        """(a) with the trailing blank line. Failed on main: the forged Hangup of the
        called party (its Uniqueid) reached the tracker."""
        data = (_named(f"X{CRLF}{CRLF}{FORGED}{CRLF}") + CRLF * 2).encode() + NEXT + b"\r\n\r\n"
        for cuts in ([], [len(data) // 3], [data.index(b"Cause: 16") + 3]):
            seen, lost = _feed(data, cuts)
            assert not [m for m in _acted_on(seen) if m["Event"] == "Hangup"], cuts
            assert lost >= 1, cuts
            assert _acted_on(seen)[-1]["Event"] == "Newstate", cuts

    def test_a_forged_hangup_that_takes_the_real_tail_is_never_handed_over(self):
        """(a) without the trailing blank line: the forged Hangup and the real tail are one
        message with two Uniqueids. Failed on main: handed over with the first (the called
        party's) Uniqueid."""
        data = (_named(f"X{CRLF}{CRLF}{FORGED}") + CRLF * 2).encode() + NEXT + b"\r\n\r\n"
        seen, lost = _feed(data)
        assert not [m for m in _acted_on(seen) if m["Event"] == "Hangup"]
        assert lost >= 1
        assert _acted_on(seen)[-1]["Event"] == "Newstate"


class TestInjectedHeader:
    def test_an_extra_uniqueid_inside_an_event_drops_it(self):
        """(b) "X\\r\\nUniqueid: V" in the called party's Hangup. Failed on main: the
        Hangup handed over as channel V's (the first Uniqueid wins), nothing lost."""
        data = (_hangup_named(f"X{CRLF}Uniqueid: 1795326250.99") + CRLF * 2).encode() + NEXT
        seen, lost = _feed(data + b"\r\n\r\n")
        assert [m["Event"] for m in _acted_on(seen)] == ["Newstate"]
        assert lost == 1

    def test_any_header_twice_but_the_variables_drops_the_message(self):
        """Lower case too (panoramisk keeps both spellings: normalize would keep either)."""
        for extra in ("Linkedid: 1.1", "linkedid: 1.1", "Channel: PJSIP/x-00000001",
                      "Event: Hangup"):
            seen, lost = _feed((_hangup_named(f"X{CRLF}{extra}") + CRLF * 2).encode())
            assert _acted_on(seen) == [], extra
            assert lost == 1, extra

    def test_a_forged_channel_variable_of_a_name_already_written_drops_the_message(self):
        """A variable Asterisk writes once a block (channelvars: one line a name): the
        injected CALLGUARD_FOLLOW before the real one would be read first."""
        event = (_hangup_named(f"X{CRLF}ChanVariable: CALLGUARD_FOLLOW=theirs")
                 + f"{CRLF}ChanVariable: CALLGUARD_FOLLOW=mine")
        seen, lost = _feed((event + CRLF * 2).encode())
        assert _acted_on(seen) == []
        assert lost == 1

    def test_the_variables_asterisk_writes_one_line_each_still_pass(self):
        """One line a name and block; the same line twice (a name listed twice in
        channelvars) misleads nobody: passes."""
        event = (CALLED_HANGUP + f"{CRLF}ChanVariable: B=2{CRLF}ChanVariable: "
                 f"CALLGUARD_FOLLOW=mine{CRLF}ChanVariable: B=2"
                 f"{CRLF}DestChanVariable: CALLGUARD_FOLLOW=x")
        seen, lost = _feed((event + CRLF * 2).encode())
        assert lost == 0
        assert _acted_on(seen)[0]["ChanVariable"] == ["B=2", "CALLGUARD_FOLLOW=mine", "B=2"]

    def test_the_real_events_are_untouched(self):
        for event in (CARRIER, CALLED_HANGUP):
            seen, lost = _feed((event + CRLF * 2).encode())
            assert lost == 0
            assert _acted_on(seen)[0]["Uniqueid"] == parse(event)["Uniqueid"]

    def test_a_picture_item_with_an_injected_uniqueid_is_dropped(self):
        """A CoreShowChannel item (the picture: manager.c ``action_coreshowchannels``,
        the snapshot block after its ActionID) is read as the events are. Dropped, the
        picture is asked again (hrev138's lossy picture)."""
        item = (CALLED_HANGUP.replace("Event: Hangup", f"Event: CoreShowChannel{CRLF}"
                                      "ActionID: action/abc/1/3")
                .replace("CallerIDName: Alice Phone", f"CallerIDName: X{CRLF}Uniqueid: 1.1"))
        seen, lost = _feed((item + CRLF * 2).encode())
        assert _acted_on(seen) == []
        assert lost == 1

    def test_a_value_with_a_colon_or_empty_is_no_repeat(self):
        """The quick check (one stored value per ": ") falls back to reading the lines."""
        for name in ("a: b", "", "Uniqueid: 1.1 (a name)"):
            seen, lost = _feed((_hangup_named(name) + CRLF * 2).encode())
            assert lost == 0, name
            assert _acted_on(seen)[0]["Uniqueid"] == VICTIM["Uniqueid"], name

    def test_an_event_the_tracker_does_not_read_is_not_looked_at(self):
        """A UserEvent may carry any header twice (manager.c ``action_userevent`` copies
        the action's headers): ignored by the tracker, it costs no picture."""
        seen, lost = _feed(f"Event: UserEvent{CRLF}A: 1{CRLF}A: 2{CRLF}{CRLF}".encode())
        assert lost == 0
        assert _acted_on(seen)[0]["A"] == ["1", "2"]


class TestActionIdPiece:
    def test_a_piece_carrying_an_actionid_is_no_tail(self):
        """Asterisk writes ActionID before any value of a message (manager.c
        ``astman_send_response_full``, the list events' ``idText`` first): a piece after a
        blank line that carries one is no tail of the held event. Glued on hwd30, an
        asynchronous event took the ActionID (panoramisk would route it to that action)."""
        data = (_named(f"X{CRLF}{CRLF}ActionID: action/abc/1/7") + CRLF * 2).encode()
        seen, lost = _feed(data)
        assert _acted_on(seen) == []
        assert lost >= 1


class TestOverTcp:
    async def test_a_forged_hangup_of_the_called_party_releases_nothing(self):
        """The caller's name carries a Hangup of the called party while the called party
        is still talking. Failed on main: the line released (callguard's Hangups of the
        calling legs). Now dropped, the picture taken again (the called party still
        there): nothing released until the real Hangup, then the line in time."""
        n = await Node(FakeAmi()).start()
        try:
            n.fake.hold(HELD)
            n.follow(lab_events(CALL_01))
            await n.fake.send(BEFORE[:-1])
            await n.fake.send_raw((_named(f"X{CRLF}{CRLF}{FORGED}{CRLF}")
                                   + CRLF * 2).encode())
            assert n.watchdog is not None
            watchdog = n.watchdog
            await until(lambda: watchdog.stats["resyncs"] >= 1)
            await until(lambda: watchdog._held is None and not watchdog._resync_due)
            await asyncio.sleep(0.3)
            assert n.fake.hangups() == []
            assert not n.named("line-release")
            await n.fake.send([CALLED_HANGUP])
            await until(lambda: n.named("line-release"))
            assert sorted(n.fake.hangups()) == CALLER_01
            assert n.named("line-release")[0]["within_limit"] is True
        finally:
            await n.stop()

    async def test_a_real_hangup_dropped_as_damaged_is_released_by_the_picture(self):
        """The called party's own Hangup carries an injected Uniqueid (its name): dropped
        as damaged, counted lost; the picture taken again no longer shows the called
        party, and the line is released within the limit."""
        n = await Node(FakeAmi()).start()
        try:
            n.fake.hold(HELD)
            n.follow(lab_events(CALL_01))
            damaged = CALLED_HANGUP.replace("CallerIDName: Alice Phone",
                                            f"CallerIDName: X{CRLF}Uniqueid: 1795326250.99")
            assert damaged != CALLED_HANGUP
            await n.fake.send([*BEFORE[:-1], damaged])
            await until(lambda: n.named("line-release"), timeout=10.0)
            assert sorted(n.fake.hangups()) == CALLER_01
            assert n.named("line-release")[0]["within_limit"] is True
            assert n.watchdog is not None
            assert n.watchdog.stats["malformed_messages"] >= 1
            assert n.watchdog.stats["resyncs"] >= 1
        finally:
            await n.stop()

    async def test_a_forged_hangup_that_ends_where_the_tail_begins(self):
        """"X\\r\\n\\r\\nEvent: Hangup\\r\\nChannel: <called party>\\r\\nCause: 16"
        (no Uniqueid, no blank line after it) and the real tail (ConnectedLineNum ...
        Uniqueid, Linkedid of the CALLER's leg) read as one message, no header twice: a
        Hangup naming the called party's channel with the caller leg's Uniqueid. Failed on
        hwd32 (a strict xfail there): the tracker took the caller's leg as gone, and at the
        real Hangup of the called party only the other calling leg was hung up, the
        line-release record saying in time while the first leg was still up. hrev152: a
        Hangup whose Channel is not the name known for its Uniqueid is not acted on
        (``CallTracker._misnamed``): counted, said, the picture taken again."""
        n = await Node(FakeAmi()).start()
        try:
            n.fake.hold(HELD)
            n.follow(lab_events(CALL_01))
            await n.fake.send(BEFORE[:-1])
            forged = (f"Event: Hangup{CRLF}Privilege: call,all{CRLF}"
                      f"Channel: {VICTIM['Channel']}{CRLF}Cause: 16")
            await n.fake.send_raw((_named(f"X{CRLF}{CRLF}{forged}") + CRLF * 2).encode())
            assert n.watchdog is not None
            watchdog = n.watchdog
            await until(lambda: watchdog.stats["malformed_messages"] >= 1)
            assert watchdog.stats["events_lost"] >= 1
            await until(lambda: watchdog.stats["resyncs"] >= 1)
            await until(lambda: watchdog._held is None and not watchdog._resync_due)
            assert n.fake.hangups() == []
            await n.fake.send([CALLED_HANGUP])
            await until(lambda: n.named("line-release"))
            await until(lambda: sorted(n.fake.hangups()) == CALLER_01, timeout=3.0)
            assert n.named("line-release")[0]["within_limit"] is True
        finally:
            await n.stop()


class TestAHangupNamesItsOwnChannel:
    """The pure tracker (``CallTracker._misnamed``): a Hangup names the channel its
    Uniqueid names. channel.c ``channel_do_masquerade`` swaps the Uniqueids and the names
    of the two channels together (``ast_channel_name_set``, "no spurious rename events"),
    and Local optimisation (12+) renames nothing: in every lab recording (Asterisk
    22.10.1) and cacofonisk's (13) each Hangup's Channel is the name its Uniqueid had."""

    def _stream(self) -> list[dict[str, str]]:
        return [parse(e) for e in lab_events(CALL_01)]

    def test_a_hangup_with_another_channels_name_is_refused(self):
        from callguard.watchdog.events import DamagedEvent
        events = self._stream()
        caller = next(e for e in events if e.get("Event") == "Newchannel"
                      and e.get("Channel") == CALLER)
        tracker, _, _ = replay(events[:events.index(caller) + 1], [caller["Linkedid"]])
        forged = {"Event": "Hangup", "Channel": "Local/8015550123@out-0000000a;1",
                  "Cause": "16", "Uniqueid": caller["Uniqueid"], "Linkedid": caller["Linkedid"]}
        with pytest.raises(DamagedEvent) as refused:
            tracker.feed(forged, 10.0)
        assert "8015550" not in str(refused.value)
        call = tracker.calls[caller["Linkedid"]]
        assert call.channels[caller["Uniqueid"]] == CALLER  # not taken as gone
        # nor noted as hung up: its real Hangup later counts
        tracker.feed({**forged, "Channel": CALLER}, 11.0)
        assert caller["Uniqueid"] not in call.channels
        for missing in ({k: v for k, v in forged.items() if k != "Channel"},):
            tracker, _, _ = replay(events[:events.index(caller) + 1], [caller["Linkedid"]])
            with pytest.raises(DamagedEvent):
                tracker.feed(missing, 10.0)

    def test_the_recorded_hangups_pass(self):
        """Every lab recording replayed whole: no Hangup refused."""
        for scenario in (CALL_01, "call-05-answered-caller-hangs-up", "call-02-busy",
                         "call-07-ami-hangup-action-cause21", "originate-sync-answered"):
            events = [parse(e) for e in lab_events(scenario)]
            replay(events, [])  # raises DamagedEvent on a refused Hangup

    def test_a_hangup_of_a_channel_never_seen_is_not_judged(self):
        """No name known for its Uniqueid (before the picture, another call's): nothing to
        compare, handled as before."""
        tracker, _, _ = replay([], [])
        tracker.feed({"Event": "Hangup", "Channel": "PJSIP/x-00000001", "Cause": "16",
                      "Uniqueid": "1795326250.77", "Linkedid": "1795326250.77"}, 1.0)


class TestARenamedCalledParty:
    """hrev156: a called party's genuine Hangup under a name Asterisk gave it after its
    Newchannel (channel.c ``ast_change_name``, a Rename event the tracker does not read:
    chan_dahdi, chan_iax2). Refused by ``_misnamed`` (hrev152), its line waited for a
    picture taken again: on an Asterisk answering CoreShowChannels later than the action
    timeout it was never released, where main released it at once. The called party's
    own Uniqueid is acted on whatever its name: a forged one can only come from the
    called party's own values (the real tail's Uniqueid is the carrier's), and all it
    does is end that called party's own call."""

    def _before(self):
        events = [parse(e) for e in BEFORE]
        return events[:-1], events[-1]

    def _effects(self, hangup: dict[str, str]) -> list[str]:
        from callguard.watchdog.calls import HangupChannel
        before, _ = self._before()
        tracker, _, _ = replay(before, [VICTIM["Linkedid"]])
        effects = tracker.feed(hangup, 100.0) + tracker.due(100.0)
        return sorted(e.channel for e in effects if isinstance(e, HangupChannel))

    def test_the_called_partys_hangup_under_a_new_name_releases_the_line(self):
        _, hangup = self._before()
        assert hangup["Channel"] == CALLED_01
        released = self._effects(hangup)
        assert released == CALLER_01
        assert self._effects({**hangup, "Channel": "DAHDI/i1/8015550123-5"}) == released

    def test_another_legs_hangup_under_a_new_name_is_still_refused(self):
        from callguard.watchdog.events import DamagedEvent
        before, _ = self._before()
        caller = next(e for e in before if e.get("Event") == "Newchannel"
                      and e.get("Channel") == CALLER)
        tracker, _, _ = replay(before, [VICTIM["Linkedid"]])
        with pytest.raises(DamagedEvent):
            tracker.feed({"Event": "Hangup", "Channel": CALLED_01, "Cause": "16",
                          "Uniqueid": caller["Uniqueid"], "Linkedid": caller["Linkedid"]},
                         100.0)
