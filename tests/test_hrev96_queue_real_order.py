"""hrev96: test_hwd22_queue_unread's "customer hangs up first", in the order Asterisk tears
a queued call down.

There the agent's side went first (the agent, then the Local member's halves). Hung up
while queued with Queue(sales,c), the customer's bridge with the member's ``;1`` half
(app_queue.c) dissolves: that half goes, core_local.c hangs up its ``;2`` half, whose Dial()
returns, and the agent's AppDial leg, left alone in Dial()'s basic bridge, goes last. Bridge
events carry the bridge state string of the lab 22.10.1 captures (basic/simple_bridge,
``<unknown>`` creator and name), Hangups their Cause-txt. The code gives the same records in
this order. SYNTHESISED (no lab capture has a Queue()); pure tracker, synthetic clock.
"""

from __future__ import annotations

import pytest

from tests.test_hrev81_queue_customer import (
    _CUSTOMER_HANGS_UP,
    AGENT,
    MEMBER_1,
    MEMBER_2,
    READS,
    _event,
)
from tests.test_hwd22_queue_unread import UNREAD, _of, _run

_TORN_DOWN = [_event("BridgeLeave", MEMBER_1, "b-q"), _event("Hangup", MEMBER_1),
              _event("BridgeLeave", MEMBER_2, "b-m"), _event("Hangup", MEMBER_2),
              _event("BridgeLeave", AGENT, "b-m"), _event("Hangup", AGENT)]


def _as_sent(events: list[dict[str, str]]) -> list[dict[str, str]]:
    return [{**event, "BridgeTechnology": "simple_bridge", "BridgeCreator": "<unknown>",
             "BridgeName": "<unknown>", "BridgeNumChannels": "1",
             "BridgeVideoSourceMode": "none"} if "BridgeUniqueid" in event
            else {**event, "Cause-txt": "Normal Clearing"} for event in events]


@pytest.mark.parametrize(("reads", "digest"), [(UNREAD, True), (READS, False)],
                         ids=["number-unread", "no-digest"])
def test_the_customers_hangup_first_is_not_the_callers_in_asterisks_order(reads, digest):
    hung, reports = _run(_as_sent([*_CUSTOMER_HANGS_UP, *_TORN_DOWN]), reads, digest=digest)
    assert hung <= {MEMBER_1, MEMBER_2}
    [record] = _of(reports, "line-release")
    assert record["ended_by"] == "unknown (called party not proven)"
    assert record["release_unproven"] is True


def test_control_read_dialled_elsewhere_it_is_the_called_partys_in_asterisks_order():
    hung, reports = _run(_as_sent([*_CUSTOMER_HANGS_UP, *_TORN_DOWN]), READS)
    assert {MEMBER_1, MEMBER_2, AGENT} <= hung
    [record] = _of(reports, "line-release")
    assert record["ended_by"] == "called-party"
    assert "release_unproven" not in record
