"""Mutation-testing gaps in hast14/hrev21's three-way bridges (hmut14).

``_kept_at`` remembers when a member left a basic bridge of three or more without
dissolving it (bridge_basic.c ``basic_hangup_hook``: END_NO_DISSOLVE when two or more
others are still in WAIT). The tracker runs for months on one process: what it keeps per
bridge must go when the bridge empties (``_leave``), as ``_members`` and ``_dissolving``
do. Bridge uniqueids are UUIDs, so a mark left behind is never read again — it only
grows, one float per three-way, forever. Dropping that cleanup let every test pass.

SYNTHESISED events, the layout of ``test_watchdog_examiner_threeway``.
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, Followed, TrackerSettings
from tests.test_watchdog_examiner_threeway import (
    AGENT,
    AGENT_ID,
    AGENTS,
    CALL,
    CUSTOMER,
    CUSTOMER_ID,
    SUPERVISOR,
    SUPERVISOR_ID,
    TWO,
    UTAH,
    _bridge,
    _customer_with_the_agent,
    _hangup,
    _run,
    _threeway,
)


def test_a_three_way_that_ends_leaves_no_bridge_state_behind():
    """The agent leaves the three-way (two others: no dissolve, its leave remembered),
    then the customer and the supervisor: the bridge is empty, and nothing of it is kept
    — no member, no dissolving mark, no kept-at time."""
    tracker = CallTracker(TrackerSettings(), report=lambda *a, **f: None)
    at = 10.0
    for i, event in enumerate([*_customer_with_the_agent(), *_threeway()]):
        at = 10.0 + i * 0.1
        tracker.feed(event, at)
        if i == 5:
            tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                    "+4930123456", asker=TWO))
    tracker.feed(_bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID), at + 5.0)
    assert AGENTS in tracker._kept_at  # the leave of one of three was remembered
    tracker.feed(_hangup(AGENT, AGENT_ID), at + 5.01)
    tracker.feed(_bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID), at + 35.0)
    tracker.feed(_hangup(CUSTOMER, CUSTOMER_ID), at + 35.01)
    tracker.feed(_bridge("BridgeLeave", AGENTS, SUPERVISOR, SUPERVISOR_ID), at + 35.1)
    tracker.feed(_hangup(SUPERVISOR, SUPERVISOR_ID), at + 35.11)
    tracker.due(at + 40.0)
    assert AGENTS not in tracker._members
    assert AGENTS not in tracker._dissolving
    assert tracker._kept_at == {}


def test_a_three_way_leave_long_before_times_no_race_of_the_customers_hangup():
    """A leave that kept the three-way (``_kept_at``) proves nothing of the called party's
    leave only within ``went_on_after_s`` (bridge_basic.c ``basic_hangup_hook``: two
    hanging up at once). The agent left 30 s before the customer hung up: the customer
    ended a call that went on, and the supervisor left on its dead line is hung up at
    once — not after the race's wait (``_went_on_after_all``), as if the agent had just
    gone. 47 CFR 64.1200(a)(6): released within 5 s of the called party's hangup; the
    wait is a second of it spent for nothing."""
    reports, sent = _run([(5.0, _bridge("BridgeLeave", AGENTS, AGENT, AGENT_ID)),
                          (5.01, _hangup(AGENT, AGENT_ID)),
                          (35.0, _bridge("BridgeLeave", AGENTS, CUSTOMER, CUSTOMER_ID)),
                          (35.01, _hangup(CUSTOMER, CUSTOMER_ID))])
    start = 10.0 + (len(_customer_with_the_agent()) + len(_threeway()) - 1) * 0.1
    assert {e.channel for _, e in sent} == {SUPERVISOR}
    first = min(when for when, _ in sent)
    assert first - (start + 35.0) < 0.5  # at the customer's leave or hangup, no wait
    [record] = [f for n, f in reports if n == "line-release"]
    assert record["ended_by"] == "called-party"
