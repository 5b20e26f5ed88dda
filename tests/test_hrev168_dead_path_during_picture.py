"""A path lost as a picture is asked, after a reconnect as well (hrev168, third look at
hwd34).

hwd34 takes a CoreShowChannels unanswered within its timeout for a slow list: the next
one gets twice the time (up to 8 s), and the main session may stay silent as long while a
list may be under way (``AmiWatchdog._tick``). A path that dies as the list is asked (a
firewall or NAT dropping the flow, no FIN: tests/fake_ami.py ``wedge``) is unanswered
too: the timeout doubled, and — not brought back on login — the NEXT session's login
picture was asked with it, and a path lost again then was waited out that much longer
again (4 s, then 8 s at the default 2 s action timeout). Measured with this fake
(action timeout 1 s; /tmp script, three paths lost in a row, each as its list was
asked): the third dead session was left 9.07 s after its path was lost on hrev164
(72cc0d3d), 3.07 s with this fix, 2.07 s on main (hwd34's doubling still costs the FIRST
such loss one action timeout: left in the report). A new session's first list says
nothing yet of Asterisk's speed: it is asked with the action timeout, and doubled again
only if it is slow too.

Over real TCP with the fake manager (tests/fake_ami.py). SYNTHESISED: the path lost
exactly as a CoreShowChannels is asked (twice), and an "event: Garbage" (dropped unread)
to ask for the first picture.
"""

from __future__ import annotations

from tests.fake_ami import CRLF, FakeAmi
from tests.test_watchdog import Node, until


class _PathLostAtTheList(FakeAmi):
    traps = 0  # CoreShowChannels still to answer by losing the path

    async def _action(self, writer, action):  # type: ignore[no-untyped-def]
        if (self.traps and writer not in self._wedged
                and action.get("Action", "").lower() == "coreshowchannels"):
            self.traps -= 1
            self.wedge()  # no answer, no FIN: as a path lost without a reset
            return
        await super()._action(writer, action)


class TestDeadPathDuringPicture:
    async def test_a_new_session_asks_its_list_with_the_action_timeout(self):
        """Fails on hrev164 (72cc0d3d): the second session's picture was asked with 2 s,
        its dead path left after 5 s. Now 1 s, as the first one's."""
        fake = _PathLostAtTheList()
        n = await Node(fake).start()
        try:
            watchdog = n.watchdog
            assert watchdog is not None
            await until(lambda: watchdog.rebuilt)
            fake.traps = 2
            logins = fake.logins
            await fake.send_raw(b"event: Garbage" + (CRLF + CRLF).encode())
            await until(lambda: fake.logins > logins, timeout=10)
            assert watchdog.stats["pictures_timed_out"] == 1
            # the second session's login picture, asked on a path lost again
            await until(lambda: fake.traps == 0, timeout=5)
            assert watchdog._picture_timeout_s == 1.0  # the action timeout, not 2 s
            logins = fake.logins
            await until(lambda: fake.logins > logins, timeout=10)
            assert watchdog.stats["pictures_timed_out"] == 2
            assert watchdog.stats["ami_silent"] == 2
            await until(lambda: watchdog.rebuilt, timeout=5)  # a live path: read at once
            assert watchdog._picture_timeout_s == 1.0
        finally:
            await n.stop()
