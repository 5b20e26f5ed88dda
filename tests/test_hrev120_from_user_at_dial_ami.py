"""hrev120 over AMI: a stalled endpoint read that starts at DialBegin and ends while the
called party rings does not hold the release up.

The fake AMI (tests/fake_ami.py) REPLAYS REAL Asterisk 22.10.1 TRAFFIC from
``../shared/fixtures/asterisk/ami/lab-asterisk-22.10.1/`` (call-01, answered, the callee
hangs up; Dial(...,g) as in test_hrev113_from_user_review), the called party renamed
``PJSIP/itsp-00000001`` as in test_hcid24_from_user_ami. The endpoint Getvar replies and
their stall are SYNTHESISED (the lab has no PJSIP trunk), in manager.c ``action_getvar``'s
format; the stall holds the session as manager.c ``session_do`` does (one action at a time).
"""

from __future__ import annotations

import time

import pytest

from callguard.watchdog.calls import PRESENTATION_VARIABLE
from tests.fake_ami import parse
from tests.test_hcid24_from_user_ami import FROM_USER, PJSIP_CALLED, _pjsip_events
from tests.test_hrev113_from_user_review import PROBE, ShippedTimeoutNode, StalledAmi
from tests.test_watchdog import CALLER_01, until, with_g_option


async def _rung_then_short(stall_s: float) -> tuple[dict, object, list[float]]:
    """Replay up to the called party's DialBegin; let the endpoint reads (stalling
    ``stall_s`` each) be answered while it rings; then its answer and, once its caller
    ID is decided, its hangup. The line-release record, the node, and when each endpoint
    read was sent relative to the answer (negative: before it)."""
    fake = StalledAmi()
    fake.stall_s = stall_s
    fake.endpoint_values[FROM_USER] = ""
    fake.endpoint_values[PROBE] = "rfc4733"
    n = await ShippedTimeoutNode(fake).start()
    before, held = with_g_option(_pjsip_events(), PJSIP_CALLED)
    fake.hold(held)
    fake.variables[(PJSIP_CALLED, PRESENTATION_VARIABLE)] = "allowed_not_screened"
    n.follow(_pjsip_events(), caller_id="+4930123456")
    dial = next(i for i, e in enumerate(before) if parse(e).get("Event") == "DialBegin"
                and parse(e).get("DestChannel") == PJSIP_CALLED)
    await fake.send(before[:dial + 1])
    # the read went out at DialBegin and stalls; the called party rings meanwhile
    await until(lambda: fake.stalled_at is not None, timeout=3.0)
    await until(lambda: "itsp" in n.tracker._from_users, timeout=4 * stall_s + 3.0)
    answer_at = time.monotonic()
    cut = next(i for i, e in enumerate(before) if parse(e).get("Event") == "BridgeEnter")
    await fake.send(before[dial + 1:cut])
    # answered: its caller ID decided on the read made while it rang (no new read)
    await until(lambda: any(c.caller_id for c in n.tracker.calls.values()), timeout=3.0)
    await fake.send(before[cut:])
    await until(lambda: n.named("line-release"), timeout=10.0)
    sent = [at - answer_at for at, a in fake.actions
            if a.get("Variable", "").startswith("PJSIP_ENDPOINT(")]
    return n.named("line-release")[0], n, sent


@pytest.mark.parametrize("stall_s", [0.0, 1.5])
async def test_a_read_stalled_while_ringing_leaves_the_release_alone(stall_s):
    """Before (the read issued at the answer): no read at DialBegin (``stalled_at`` never
    set), and with the stall behind the answer hrev113 measured release_ms 1492 for 1.5 s.
    Now: the release as without any stall."""
    record, n, sent = await _rung_then_short(stall_s)
    try:
        assert set(n.fake.hangups()) == set(CALLER_01)
        assert len(sent) == 2, sent  # from_user, then dtmf_mode proving "" unset
        assert all(at < 0 for at in sent), sent  # both before the answer
        assert record["release_ms"] < 400, record  # the 1.5 s stall is not in it
        assert record["within_limit"] is True, record
        assert record["caller_id"] == "verified", record
        assert "PJSIP_ENDPOINT(itsp,from_user)=unset" in record["caller_id_how"]
        [read] = [a for _, a in n.fake.actions if a.get("Variable") == FROM_USER]
        assert "Channel" not in read
    finally:
        await n.stop()
