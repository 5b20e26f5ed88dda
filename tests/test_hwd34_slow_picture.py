"""A CoreShowChannels answered later than ``action_timeout_ms`` still makes a picture.

A called party's Hangup DROPPED unread (only a picture can show it gone) is released by
the picture taken again (``AmiWatchdog._events_lost``). On an Asterisk slow to list its
channels (thousands of channels: manager.c ``action_coreshowchannels`` writes the list
ack, then walks every channel, then ``astman_send_list_complete_start``/``_end``, in the
session's own thread, with no time limit of its own) every picture failed by timeout and
was asked again with the same timeout, for as long as the load lasted: the calling legs
held the line (hrev156: the list 2.5 s late, not released in 12 s). Now a picture that
timed out is asked again with twice the time, up to ``_PICTURE_TIMEOUT_MAX_S``; the
release is late, and the line-release says so (``within_limit`` false, its
``release_ms`` an upper bound counted from the loss).

Over real TCP with the fake manager (tests/fake_ami.py), which REPLAYS the Asterisk
22.10.1 lab recording call-01 (answered, bridged). SYNTHESISED: the called party's Hangup
arrives with its header names lower-cased (dropped unread, as tests/test_hrev133_value_lf),
and every CoreShowChannels after the first picture is answered 2.5 action timeouts late
(the action timeout here 1 s: hrev156's 2.5 s at the default 2 s, scaled).
"""

from __future__ import annotations

import asyncio
import time

from tests.fake_ami import CRLF, FakeAmi, lab_events
from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, Node, until, with_g_option

_LATE_S = 2.5


class _SlowLists(FakeAmi):
    """CoreShowChannels answered ``_LATE_S`` late while ``slow``; ``lists_done``: when
    each list was written whole."""

    slow = False

    def __init__(self) -> None:
        super().__init__()
        self.lists_done: list[float] = []

    async def _action(self, writer, action):  # type: ignore[no-untyped-def]
        listing = action.get("Action", "").lower() == "coreshowchannels"
        if self.slow and listing:
            await asyncio.sleep(_LATE_S)  # the session's thread walks the channels
        await super()._action(writer, action)
        if listing:
            self.lists_done.append(time.monotonic())


def _lowered(message: str) -> bytes:
    """The message with its header names lower-cased: dropped unread (no Event header)."""
    return (CRLF.join(f"{k.lower()}: {v}" for k, _, v in
                      (line.partition(": ") for line in message.split(CRLF)))
            + CRLF + CRLF).encode()


class TestSlowPicture:
    async def test_a_dropped_hangup_is_released_when_the_list_comes_late(self):
        """Fails on f5d22875: every picture timed out at 1 s, the line never released
        (no line-release in 12 s). Now the third picture (4 s allowed) reads the 2.5 s
        list and the calling legs are hung up, ~7 s after the loss: late for a 5 s
        prerecorded limit, and recorded so. A picture answered in time again brings the
        normal timeout back."""
        fake = _SlowLists()
        n = await Node(fake).start()
        try:
            before, held = with_g_option(lab_events(CALL_01), CALLED_01)
            fake.hold(held)
            n.follow(lab_events(CALL_01), mode="prerecorded", limit=5.0)
            watchdog = n.watchdog
            assert watchdog is not None
            await fake.send(before[:-1])  # answered and bridged: the called party talks
            fake.slow = True
            fake.track(before[-1])
            lost = time.monotonic()
            await fake.send_raw(_lowered(before[-1]))
            await until(lambda: n.named("line-release"), timeout=12)
            released = min(t for t, a in fake.actions if a.get("Action") == "Hangup")
            assert sorted(fake.hangups()) == CALLER_01
            assert watchdog.stats["pictures_slow"] >= 1
            [record] = n.named("line-release")
            assert record["ended_by"] == "called-party"
            assert record["within_limit"] is False  # late, and said so
            assert record["release_ms_is_upper_bound"] is True
            assert record["release_ms"] >= (released - lost) * 1000 - 50, record
            assert n.named("violation-risk")
            # Answered in time again: the normal timeout is back.
            fake.slow = False
            rebuilds = watchdog.stats["rebuilds"]
            await fake.send_raw(b"event: Garbage" + (CRLF + CRLF).encode())
            await until(lambda: watchdog.stats["rebuilds"] > rebuilds, timeout=6)
            assert watchdog._picture_timeout_s == 1.0
        finally:
            await n.stop()


class TestAValueWritingValue:
    """A Getvar answer whose value carries a line break and "Value: ..." (manager.c
    ``action_getvar`` writes ``Value: %s\\r\\n`` raw; a variable set from a caller-set
    string, ``${CURL(...)}`` or ``${SHELL(...)}``, may hold both) repeats the Value header:
    dropped unread as written by a value (hwd32, ``_damaged``), rightly — which Value is
    Asterisk's cannot be told. SYNTHESISED (the value; the fake AMI answers as manager.c
    writes). The read waited for the action timeout, 1 s here (2 s in service) of a
    release chain's budget, to answer "unknown"; now the answer read unreadable fails the
    read at once: still unknown, never the value."""

    async def test_an_unreadable_answer_fails_the_read_at_once(self):
        fake = FakeAmi()
        channel = "PJSIP/trunk-00000012"
        fake.live[channel] = {"Event": "Newchannel", "Channel": channel,
                              "Uniqueid": "1795610000.2", "Linkedid": "1795610000.0"}
        fake.set_variable(channel, "DIALEDPEERNUMBER", "8015550123\r\nValue: 555")
        fake.set_variable(channel, "PLAIN", "Value: 555")  # no line break: read as is
        n = await Node(fake).start()
        try:
            watchdog = n.watchdog
            assert watchdog is not None
            await until(lambda: watchdog.reading)
            plain = await watchdog._read({"Action": "Getvar", "Channel": channel,
                                          "Variable": "PLAIN"})
            assert plain.get("Value") == "Value: 555"
            asked = time.monotonic()
            try:
                reply = await watchdog._read({"Action": "Getvar", "Channel": channel,
                                              "Variable": "DIALEDPEERNUMBER"})
            except (TimeoutError, ConnectionError) as exc:
                failed: BaseException | None = exc
            else:
                failed = None
                raise AssertionError(f"read a value from an unreadable answer: {reply}")
            took = time.monotonic() - asked
            assert isinstance(failed, ConnectionError), failed  # not the timeout
            assert took < 0.5, took
            assert watchdog.stats["malformed_messages"] == 1
        finally:
            await n.stop()
