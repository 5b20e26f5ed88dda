"""Review 66: after a restart, the asking leg's own DIALEDPEERNUMBER unread and its
DIALEDPEERNAME naming a channel still up.

Synthetic shapes on the pure tracker, synthetic clock, on the picture of
``test_review56_peer_gone`` (SYNTHESISED from lab call-01, real Asterisk 22.10.1), re-shaped:
the asking leg back in its dialplan (``Wait``), its Dial() answered by a channel still up in
the call, out of any bridge (handed on while AMI was away). The lab's asking leg, its
dialplan running, stands for the customer's leg of an Originate straight to the customer.

app_dial.c ``dial_exec_full`` sets DIALEDPEERNAME on the channel that ran Dial() to the
channel that answered; each leg it requests gets DIALEDPEERNUMBER = its dial string's
resource, copied onto the dialling channel on the answer. An Originate straight to the
customer whose dialplan Dial()s an agent leaves DIALEDPEERNAME naming the AGENT's leg on
the customer's: the asking leg's own DIALEDPEERNUMBER (the agent's, not the number) is what
says so (hrev65, ``_called_in_dialplan``). Unread (a Getvar timeout), the live peer was
taken for the called party (``_peer_still_up``): the agent's later hangup released the
rest — the customer's leg, alive, hung up.
"""

from __future__ import annotations

from tests.test_review56_peer_gone import CUSTOMER, LINKEDID, VALUES, _picture
from tests.test_review60_called_party import _hung_up, _tracker
from tests.test_review65_called_party import _answer
from tests.test_watchdog import CALLER_01, NUMBER

AGENT = "PJSIP/agent-00000009"
ASKING = CALLER_01[0]


def _with_agent() -> list[dict[str, str]]:
    """The asking leg back in its dialplan; the leg that answered its Dial() still up,
    out of any bridge (a wrap-up context, handed on while AMI was away)."""
    return [*(i for i in _picture() if i["Channel"] != CUSTOMER),
            {"Event": "CoreShowChannel", "Channel": AGENT, "Uniqueid": "1795326250.9",
             "Linkedid": LINKEDID, "ChannelState": "6", "Application": "Wait",
             "BridgeId": ""}]


def _peer_hangs_up(tracker, values: dict, unanswered: set) -> tuple[list, list]:
    """Rebuild after the outage, answer the reads, then the live peer hangs up."""
    effects, now = _answer(tracker, tracker.reconcile(_with_agent(), 80.0),
                           {**VALUES, (ASKING, "DIALEDPEERNAME"): AGENT, **values},
                           set(unanswered), 80.0)
    effects += tracker.due(now + 1.0) + tracker.due(now + 3.0)
    later = tracker.feed({"Event": "Hangup", "Channel": AGENT, "Linkedid": LINKEDID,
                          "Uniqueid": "1795326250.9", "ChannelState": "6", "Cause": "16"},
                         now + 10.0)
    later += tracker.due(now + 11.0) + tracker.due(now + 40.0)
    return effects, later


def test_the_asking_legs_number_unread_its_live_peer_is_not_the_called_party():
    """The asking leg's DIALEDPEERNUMBER unanswered, the live peer's names another number
    (an agent): the peer is not proven the called party, and the asking leg may be the
    customer. Its hangup hangs nobody up; a violation risk says the release is unproven."""
    tracker, reports = _tracker()
    effects, later = _peer_hangs_up(tracker, {(AGENT, "DIALEDPEERNUMBER"): "201@agents"},
                                    {(ASKING, "DIALEDPEERNUMBER")})
    assert not _hung_up(effects + later) & {ASKING, CALLER_01[1]}
    call = tracker.calls[LINKEDID]
    assert call.release_unproven
    assert call.dest != AGENT
    [risk] = [fields for name, fields in reports if name == "violation-risk"]
    assert "DIALEDPEERNUMBER" in risk["reason"]
    assert "still up" in risk["reason"]


def test_the_live_peers_number_unread_too_is_not_the_called_party():
    """Neither leg's DIALEDPEERNUMBER read: which one is the customer is not known."""
    tracker, reports = _tracker()
    effects, later = _peer_hangs_up(tracker, {}, {(ASKING, "DIALEDPEERNUMBER"),
                                                  (AGENT, "DIALEDPEERNUMBER")})
    assert not _hung_up(effects + later) & {ASKING, CALLER_01[1]}
    assert tracker.calls[LINKEDID].release_unproven
    assert "violation-risk" in [name for name, _ in reports]


def test_control_the_live_peer_dialled_to_the_number_is_the_called_party():
    """The live peer's own DIALEDPEERNUMBER names the number allowed: it was dialled to the
    customer, so it is the called party, whatever the asking leg's unread one said; its
    hangup releases the rest (``_peer_still_up``, as before)."""
    tracker, _ = _tracker()
    effects, later = _peer_hangs_up(tracker, {(AGENT, "DIALEDPEERNUMBER"): f"{NUMBER}@itsp"},
                                    {(ASKING, "DIALEDPEERNUMBER")})
    assert not _hung_up(effects)
    assert tracker.calls[LINKEDID].dest == AGENT
    assert ASKING in _hung_up(later)


def test_control_the_asking_legs_number_read_as_the_number_trusts_the_live_peer():
    """The asking leg's DIALEDPEERNUMBER read, naming the number: it dialled the customer,
    whose leg is the live peer; its hangup releases the asking leg (unchanged)."""
    tracker, _ = _tracker()
    effects, later = _peer_hangs_up(tracker, {(AGENT, "DIALEDPEERNUMBER"): ""}, set())
    assert not _hung_up(effects)
    assert tracker.calls[LINKEDID].dest == AGENT
    assert ASKING in _hung_up(later)
    assert not tracker.calls[LINKEDID].release_unproven
