"""A CoreShowChannel item dropped unread: the picture is not read as "that channel is gone".

Over real TCP with the fake manager (tests/fake_ami.py), which REPLAYS the Asterisk
22.10.1 lab recording call-01 (answered, bridged; the calling legs' events held back until
callguard's Hangup names them). SYNTHESISED: the called party's CoreShowChannel item in the
first picture after a reconnect written with its header names lower-cased (a proxy
rewriting them; manager.c writes "Event: "), so panoramisk reads no Event header in it and
it is dropped unread (``_GuardedProtocol._bad``) — any message lost while the list arrives
(too long, unreadable) does the same.
"""

from __future__ import annotations

import asyncio
import time

from tests.fake_ami import CRLF, FakeAmi, lab_events
from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, Node, until, with_g_option


class _SpoilCalledItem(FakeAmi):
    """The called party's CoreShowChannel item unreadable in the next ``spoil`` pictures."""

    spoil = 0

    def with_channelvars(self, message: str, fields: dict[str, str] | None = None) -> str:
        text = super().with_channelvars(message, fields)
        if (self.spoil and text.startswith(f"Event: CoreShowChannel{CRLF}")
                and f"{CRLF}Channel: {CALLED_01}{CRLF}" in text):
            self.spoil -= 1
            return CRLF.join(f"{k.lower()}: {v}" for k, _, v in
                             (line.partition(": ") for line in text.split(CRLF)))
        return text


async def _reconnected_mid_call(spoil: int) -> tuple[Node, list[str]]:
    fake = _SpoilCalledItem()
    n = await Node(fake).start()
    before, held = with_g_option(lab_events(CALL_01), CALLED_01)
    fake.hold(held)
    n.follow(lab_events(CALL_01))
    await fake.send(before[:-6])  # answered and bridged: the called party is talking
    logins = fake.logins
    fake.spoil = spoil
    await fake.drop()
    await until(lambda: fake.logins > logins)
    await until(lambda: n.tracker.disconnected_at is None)
    await asyncio.sleep(1.0)  # past the picture's hold and any release it decided
    return n, before


class TestItemDroppedFromThePicture:
    async def test_the_live_call_is_not_hung_up(self):
        """On 604844e the picture without the called party's item was read as "the called
        party hung up while AMI was away" and the calling legs of a LIVE, answered call
        were hung up at once (fails there: hangups == CALLER_01). Now a picture during
        which a message was dropped is taken again before it is read; the call stays up,
        and the called party's real Hangup later is released in time."""
        n, before = await _reconnected_mid_call(spoil=1)
        try:
            assert n.fake.hangups() == []
            assert n.named("line-release") == []
            assert n.watchdog is not None
            assert n.watchdog.stats["malformed_messages"] == 1
            assert n.watchdog.stats["pictures_retaken"] == 1
            await n.fake.send(before[-6:])  # now the called party hangs up
            await until(lambda: n.named("line-release"))
            assert sorted(n.fake.hangups()) == CALLER_01
            assert n.named("line-release")[0]["within_limit"] is True
        finally:
            await n.stop()

    async def test_junk_in_every_picture_blocks_nothing_for_ever(self):
        """The item unreadable in every picture: the picture is taken again once, then read
        as it is (a channel that can never be read is taken for gone, as before): the
        releases are not held back by a stream that always loses something."""
        n, _ = await _reconnected_mid_call(spoil=10**6)
        try:
            # the second list was read as it was: the unreadable called party taken for
            # gone and the calling legs released, as on 604844e at the first list
            await until(lambda: sorted(n.fake.hangups()) == CALLER_01)
            assert n.watchdog is not None
            # once per picture (the login's, and each resync's its loss asks for)
            stats = n.watchdog.stats
            assert 1 <= stats["pictures_retaken"] <= 1 + stats["resyncs"]
            assert stats["resyncs"] <= 1  # one every 2 s at most: no storm
            assert n.watchdog.rebuilt
        finally:
            await n.stop()


class _JunkInTheHold(FakeAmi):
    """SYNTHESISED: a message with no Event header written as the first BridgeList is
    asked (its header names lower-cased: written behind the list's last item in one read, a
    piece with no header naming an Event at all is that item's tail, glued to it: hwd30)
    (the picture's list read, its events still held), that BridgeList never
    answered (the hold then lasts its 1 s, ``_HOLD_S``)."""

    junk_at: float | None = None

    def bridge_listing(self, action: dict[str, str]) -> str:
        if self.junk_at is None:
            self.junk_at = time.monotonic()
            asyncio.get_running_loop().create_task(
                self.send_raw(b"event: Garbage\r\ngarbage: 8015550100\r\n\r\n"))
            return ""
        return super().bridge_listing(action)


class TestLossDuringTheHold:
    async def test_the_picture_is_taken_again_when_the_hold_ends(self):
        """A message lost during a picture's hold (after its list: a Hangup in it is not in
        the picture) is pictured again as soon as that hold ends, not up to 2 s later: on
        604844e ``_resync`` looked again only every ``_RESYNC_MIN_S`` while a picture ran,
        and the next picture came ~2 s after the loss (fails there: 2.0 s), ~1 s of a
        prerecorded call's 5 s lost."""
        fake = _JunkInTheHold(bridge_list=[])
        n = await Node(fake).start()
        try:
            await until(lambda: sum(1 for _, a in fake.actions
                                    if a.get("Action") == "CoreShowChannels") >= 2,
                        timeout=5)
            assert fake.junk_at is not None
            second = [t for t, a in fake.actions if a.get("Action") == "CoreShowChannels"][1]
            assert second - fake.junk_at < 1.4, second - fake.junk_at
            assert n.watchdog is not None
            assert n.watchdog.stats["resyncs"] == 1
        finally:
            await n.stop()
