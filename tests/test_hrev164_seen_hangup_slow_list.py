"""A called party's Hangup SEEN while a slow CoreShowChannels is awaited (hrev164).

hwd34 holds the events while a picture whose timeout grew (``_PICTURE_TIMEOUT_MAX_S``)
is awaited: a seen Hangup is applied when the list arrives, up to 8 s, where before the
picture failed at ``action_timeout_ms`` and the Hangup was applied then. That earlier
apply only moved callguard's SEND: manager.c ``session_do`` -> ``do_message`` handles one
action of a session at a time, and ``action_coreshowchannels`` walks every channel in that
thread, so a Hangup sent on the same session behind the list is carried out only once the
list is written, held or not. This pins that: the calling legs' Hangup reaches the
manager right after the list, not later, and the line-release is within the limit.
Measured (hrev164, same fake, list 2.5 s): held to the list (this branch), the Hangup
carried out 2.49 s after the called party's, 0.002 s after the list; applied at the
action timeout instead (the slow spell's first picture, 1 s: what main did every time),
carried out at 2.48 s all the same, after 12 Hangups sent and 8 ``hangup_unanswered``.
Fails with the hold kept 1 s past the list (an ``asyncio.sleep(1)`` before ``_rebuild``'s
reconcile): carried out 1.16 s after the list.

Over real TCP with the fake manager (tests/fake_ami.py), which handles one action of a
session at a time as manager.c does (``FakeAmi._serve``) and REPLAYS the Asterisk 22.10.1
lab recording call-01. SYNTHESISED: every CoreShowChannels after the first picture
answered 2.5 action timeouts late (hwd34's test), and a message no Asterisk sends (an
"event: Garbage", dropped unread) to ask for a picture.
"""

from __future__ import annotations

import asyncio
import time

from tests.fake_ami import CRLF, lab_events
from tests.test_hwd34_slow_picture import _SlowLists
from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, Node, until, with_g_option

_GARBAGE = b"event: Garbage" + (CRLF + CRLF).encode()


class TestSeenHangupDuringSlowList:
    async def test_the_release_follows_the_list_at_once(self):
        fake = _SlowLists()
        n = await Node(fake).start()
        try:
            before, held = with_g_option(lab_events(CALL_01), CALLED_01)
            fake.hold(held)
            n.follow(lab_events(CALL_01), mode="prerecorded", limit=5.0)
            watchdog = n.watchdog
            assert watchdog is not None
            await fake.send(before[:-1])  # answered and bridged: the called party talks
            # A slow spell: pictures time out until one has time enough (4 s).
            fake.slow = True
            await fake.send_raw(_GARBAGE)
            await until(lambda: watchdog.stats["pictures_slow"] >= 1, timeout=15)
            assert watchdog._picture_timeout_s > 1.0
            # Another loss: a picture asked with the longer timeout, its events held.
            rebuilds = watchdog.stats["rebuilds"]
            await fake.send_raw(_GARBAGE)
            await until(lambda: watchdog.stats["resyncs"] >= 2, timeout=6)
            assert watchdog._held is not None
            seen = time.monotonic()
            await fake.send([before[-1]])  # the called party's Hangup, read whole
            await until(lambda: n.named("line-release"), timeout=10)
            assert watchdog.stats["rebuilds"] > rebuilds
            assert sorted(fake.hangups()) == CALLER_01
            hung = min(t for t, a in fake.actions if a.get("Action") == "Hangup")
            listed = max(t for t in fake.lists_done if t < hung)
            # Not before the list (one action at a time), and not held past it either.
            assert hung - listed < 0.5, (hung - listed, hung - seen)
            [record] = n.named("line-release")
            assert record["ended_by"] == "called-party"
            assert record["within_limit"] is True, record
            assert record["release_ms"] >= (hung - seen) * 1000 - 50, (record, hung - seen)
        finally:
            await n.stop()


class TestSilenceAfterASlowSpell:
    """hwd34 lets the main session stay silent as long as a picture may take (a Ping
    waits behind the list in manager.c), up to 8 s — but from the picture's timeout as it
    was LAST set, which stays long after the slow spell until a picture is answered in
    time, and pictures are taken only after a loss or a login. So one slow spell made every
    later dead session (tests/test_watchdog.py's wedge: a path lost without a reset) noticed
    4 s later, for as long as the session lasted, and its lost Hangups released that much
    later. The long silence is for a list under way, not for ever after one."""

    async def test_a_wedged_session_is_dropped_at_the_normal_silence(self):
        fake = _SlowLists()
        n = await Node(fake).start()
        try:
            watchdog = n.watchdog
            assert watchdog is not None
            fake.slow = True
            await fake.send_raw(_GARBAGE)
            await until(lambda: watchdog.stats["pictures_slow"] >= 1, timeout=15)
            fake.slow = False  # the spell is over; no picture since to say so
            await asyncio.sleep(1.5)  # the Pings of the session answered meanwhile
            logins = fake.logins
            started = time.monotonic()
            fake.wedge()
            await until(lambda: fake.logins > logins, timeout=10)
            # as tests/test_watchdog.py's wedge: 1 s ping + 1 s action timeout, + backoff
            assert time.monotonic() - started < 4, time.monotonic() - started
            assert watchdog.stats["ami_silent"] == 1
        finally:
            await n.stop()
