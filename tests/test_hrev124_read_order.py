"""Reviewer hrev124: the Getvars' answers may now come before events queued earlier.

Since the Getvars have their own AMI session (ami.py ``_reader``), a read's answer no
longer follows the events Asterisk had queued for the main session before it (manager.c
``do_message`` ran ``process_events`` ahead of each action of the one session). A read of
a channel that has just hung up answers "No such channel" (None) and may be read before
that channel's Hangup event. These tracker cases feed the two in that order, the one the
old session never produced, with a synthetic clock. REPLAYS lab call-01 (tests/fake_ami
``lab_events``) as the TestStraightToTheCustomerAfterAnOutage cases of test_watchdog do.
"""

from __future__ import annotations

import pytest

from tests import test_watchdog as tw
from tests.test_watchdog import CALLED_01, CALLER_01, NUMBER, hangups_of, reads_of

pytestmark = pytest.mark.watchdog


def test_the_callee_gone_its_read_answered_before_its_hangup_still_releases():
    """The callee hangs up right behind the picture; the read session answers both
    DIALEDPEERNUMBER reads (the callee's "No such channel") BEFORE the main session
    delivers the callee's BridgeLeave and Hangup (0.3 s behind). The calling legs are
    released at the Hangup event, as in the old order
    (``test_control_click_to_dial_the_callee_gone_before_the_read_still_releases``)."""
    case = tw.TestStraightToTheCustomerAfterAnOutage()  # its set-up, not its tests
    tracker, effects, events, cut = case.click_to_dial_outage()
    assert reads_of(effects) == [(CALLED_01, "DIALEDPEERNUMBER"),
                                 (CALLER_01[0], "DIALEDPEERNUMBER")]
    out: list[tuple[float, object]] = []
    at = 80.0
    for read, value in ((CALLER_01[0], f"{NUMBER}@callee"), (CALLED_01, None)):
        at += 0.01
        out.extend((at, e) for e in tracker.variable_read(
            "1795326250.0", read, "DIALEDPEERNUMBER", value, at))
    at += 0.3
    for event in events[cut:cut + 2]:
        at += 0.01
        out.extend((at, e) for e in tracker.feed(event, at))
    for tick in (81.0, 82.0, 85.0):
        out.extend((tick, e) for e in tracker.due(tick))
    assert set(hangups_of(out)) == set(CALLER_01)  # sent, and retried unconfirmed
    first = min(t for t, e in out if type(e).__name__ == "HangupChannel")
    assert first == pytest.approx(at)  # at the Hangup event, not a retry later
