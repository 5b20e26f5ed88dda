"""Examiner hast11, lead (b): Asterisk drops the AMI session while callguard's loop stalls.

manager.conf's per-user ``writetimeout`` (100 ms by default; the shipped
asterisk-dialplan/manager-callguard.conf sets none) bounds each write of the session
thread: manager.c ``send_string`` sets ``ast_iostream_set_timeout_inactivity(stream,
writetimeout)`` around ``ast_iostream_write`` and marks ``write_error`` on a short write;
``process_events`` (run by ``do_message`` before every read of an action) then returns -1
("don't send more"), ``do_message`` returns -1 and ``session_do`` ends the session: the
socket is closed and every event queued meanwhile is lost for that session. So when
callguard's event loop stalls (a GC pause, a slow disk under the compliance log) long
enough for the socket buffers to fill, Asterisk writes nothing for 100 ms and drops the
session. The called party's Hangup published after that is never sent.

callguard sees the drop only when its loop runs again. ``_on_disconnect`` passed the
moment it NOTICED to ``CallTracker.disconnected``, and the release after the reconnect
was recorded as ``release_ms_is_upper_bound`` from that moment — 53 ms in this test,
the hangup being 1.5 s older: the "upper bound" was none, and a release past the limit
was recorded within it. Now the outage counts from the send time of the last Ping
answered (``_Manager.complete_at``): the events queued before it were all read.

The stall is the test's own ``time.sleep`` on the shared loop (the fake manager runs on
it too); the drop is SYNTHESISED at the stall's start (``FakeAmi.drop``: the session
closed, as session_do closes it), and the called party's hangup with it (tracked by the
fake, not sent: the session is gone).
"""

from __future__ import annotations

import time

from tests.fake_ami import lab_events
from tests.test_watchdog import CALL_01, CALLED_01, CALLER_01, node, until, with_g_option

__all__ = ["node"]

STALL_S = 1.5
LIMIT_S = 1.0  # a limit below the stall: the release cannot have been within it


async def test_a_hangup_lost_in_a_stall_is_not_recorded_within_the_limit(node):
    n = await node()
    events = lab_events(CALL_01)
    before, held = with_g_option(events, CALLED_01)
    n.fake.hold(held)
    n.follow(events, limit=LIMIT_S)
    await n.fake.send(before[:-6])  # answered and bridged
    await until(lambda: n.tracker.calls and all(
        c.answered_at is not None for c in n.tracker.calls.values()))
    # The loop stalls. Asterisk, its writes blocked past writetimeout, closes the session;
    # the called party hangs up; nothing of it reaches callguard.
    await n.fake.drop()
    for message in before[-6:]:
        n.fake.track(message)
    time.sleep(STALL_S)
    await until(lambda: n.named("line-release"), timeout=8)
    assert sorted(n.fake.hangups()) == CALLER_01
    record = n.named("line-release")[0]
    assert record["release_ms_is_upper_bound"] is True
    assert record["release_ms"] >= STALL_S * 1000  # the hangup came before the stall ended
    assert record["within_limit"] is False
    assert n.named("violation-risk")


async def test_a_hangup_seen_before_the_stall_releases_at_once_after_it(node):
    """The control: the called party's Hangup reached callguard's socket before Asterisk
    dropped the session; read after the stall, it releases before the reconnect, from
    the moment it was read (the stall itself is not seen by the tracker)."""
    n = await node()
    events = lab_events(CALL_01)
    before, held = with_g_option(events, CALLED_01)
    n.fake.hold(held)
    n.follow(events, limit=25.0)
    await n.fake.send(before[:-6])
    await until(lambda: n.tracker.calls and all(
        c.answered_at is not None for c in n.tracker.calls.values()))
    await n.fake.send(before[-6:])  # written to the socket, not yet read by callguard
    time.sleep(0.5)
    await until(lambda: n.named("line-release"), timeout=5)
    assert sorted(n.fake.hangups()) == CALLER_01


async def test_the_last_pong_moves_the_moment_everything_was_read(node):
    """The bound follows the session: one Ping a second (``_PING_S``), each Pong moving
    ``complete_at`` to its Ping's send time."""
    n = await node()
    assert n.watchdog is not None
    manager = n.watchdog._manager
    connected = manager.complete_at
    assert connected is not None
    await until(lambda: (manager.complete_at or 0) > connected, timeout=4)
    assert time.monotonic() - (manager.complete_at or 0) < 2.5
