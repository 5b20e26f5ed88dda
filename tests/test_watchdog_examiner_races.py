"""Examiner hast12, part 2: races Asterisk 22's manager can produce, over real sockets.

Written from Asterisk's source before reading the watchdog's tests; each replays lab
call-01 (Asterisk 22.10.1, exact bytes) through the AMI fake and changes only what the
source says can happen (named in each test).
"""

from __future__ import annotations

import time

from tests.fake_ami import FakeAmi, lab_events, parse
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLER_01,
    node,  # noqa: F401 - the fixture
    until,
    with_g_option,
)


class DropsOnHangup(FakeAmi):
    """The connection goes the moment callguard's first Hangup action is read, before
    manager.c ``process_message`` runs it (``action_hangup`` never called: the channels
    stay up). A reconnect then finds the leftovers in CoreShowChannels."""

    dropped: int = 0

    async def _action(self, writer, action):  # type: ignore[override]
        if action.get("Action", "").lower() == "hangup" and not self.dropped:
            self.dropped += 1
            self.actions.append((time.monotonic(), {**action, "Action": "Hangup-lost"}))
            await self.drop()
            return
        await super()._action(writer, action)


async def test_a_release_lost_with_the_session_is_sent_again_after_the_reconnect(
        node):  # noqa: F811
    """The called party hangs up; callguard's Hangup of the calling legs is lost with the
    AMI session (TCP reset, Asterisk's manager thread gone). The reconnect's picture still
    shows the calling legs: they are hung up again well inside 5 s of the called party's
    hangup (47 U.S.C. 227(d)(3)(B) / 47 CFR 64.1200(a)(6))."""
    n = await node(fake=DropsOnHangup())
    events = lab_events(CALL_01)
    before, held = with_g_option(events, CALLED_01)
    n.fake.hold(held)
    n.follow(events)
    sent = time.monotonic()
    await n.fake.send(before)
    await until(lambda: sorted(n.fake.hangups()) == CALLER_01, timeout=5.0)
    took = max(t for t, a in n.fake.actions if a.get("Action") == "Hangup") - sent
    assert took < 5.0, f"released {took:.2f} s after the called party's hangup"
    await until(lambda: n.named("line-release"))
    [record] = n.named("line-release")
    assert record["ended_by"] == "called-party"
    assert record["decision_id"] == "decision-1"


async def test_an_asterisk_restart_mid_call_ends_the_call_and_follows_the_next(
        node):  # noqa: F811
    """Asterisk restarts mid-call (``core restart now``: manager.c publishes Shutdown,
    every channel is hung up with the process, the TCP session closes; the new process
    sends FullyBooted at login and reuses channel names from 00000000). The call is
    recorded as ended while AMI was away; the same lab call replayed in the new process
    (same names, the lab's same Uniqueids stand for fresh ones) is followed and released
    as usual."""
    n = await node()
    events = lab_events(CALL_01)
    before, held = with_g_option(events, CALLED_01)
    n.follow(events)
    await n.fake.send(before[:-6])
    await until(lambda: n.tracker.followed == 1)
    await n.fake.send(["Event: Shutdown\r\nPrivilege: system,all\r\n"
                       "Shutdown: Uncleanly\r\nRestart: True"])
    n.fake.live.clear()  # every channel went with the process
    await n.fake.drop()
    await until(lambda: n.fake.logins >= 2, timeout=5.0)
    await until(lambda: n.named("line-release"), timeout=5.0)
    [gone] = n.named("line-release")
    assert gone["ended_by"] == "unknown (AMI disconnected)"
    assert n.fake.hangups() == []  # nothing of the old call is hung up
    n.fake.hold(held)
    n.follow(events)
    await n.fake.send(before)
    await until(lambda: len(n.named("line-release")) == 2, timeout=5.0)
    assert sorted(n.fake.hangups()) == CALLER_01
    assert n.named("line-release")[1]["ended_by"] == "called-party"
    assert parse(before[0]).get("Event")  # the lab stream, as recorded


class RunsHangupThenDrops(FakeAmi):
    """manager.c runs ``action_hangup`` (the channel goes) but the session is cut before
    the response and the Hangup events reach callguard: the release happened, unseen."""

    async def _action(self, writer, action):  # type: ignore[override]
        if action.get("Action", "").lower() == "hangup":
            self.actions.append((time.monotonic(), action))
            channel = self.resolve(action.get("Channel", "")) or ""  # a Uniqueid
            self.live.pop(channel, None)
            self.held.pop(channel, None)
            if not any(name in self.live for name in CALLER_01):
                await self.drop()
            return
        await super()._action(writer, action)


async def test_a_release_done_but_unseen_is_recorded_once_not_sent_again(
        node):  # noqa: F811
    """The other side of the race: the Hangups ran, their events were lost with the
    session. The reconnect's picture shows nothing left: the call is recorded ended by
    the called party, released in time (an upper bound), and no Hangup is sent twice."""
    n = await node(fake=RunsHangupThenDrops())
    events = lab_events(CALL_01)
    before, held = with_g_option(events, CALLED_01)
    n.fake.hold(held)
    n.follow(events)
    await n.fake.send(before)
    await until(lambda: n.named("line-release"), timeout=5.0)
    assert sorted(n.fake.hangups()) == CALLER_01
    [record] = n.named("line-release")
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True
    assert record["release_ms_is_upper_bound"] is True
    assert record["hangups_sent"] == {CALLER_01[0]: 1, CALLER_01[1]: 1}
