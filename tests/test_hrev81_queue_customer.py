"""Reviewer hrev81: hwd21's "a person running a Dial() of its own may be the called party"
holds for a person in Queue() too.

An Originate straight to the customer (``PJSIP/itsp``, the call's first channel) whose
dialplan queues it, ``Queue(sales,c)``, for agents reached through Local members: the
member's ``;1`` inherits the customer's ``__CALLGUARD_FOLLOW`` (app_queue.c
``ring_entry``: ``ast_channel_inherit_variables``), its ``;2`` gets a copy (core_local.c
``local_call``) and Dial()s the agent's phone, whose leg is listed "AppDial" carrying the
value (app_dial.c ``dial_exec_full``). callguard restarts while they talk: the picture's
only AppDial leg is the agent's, taken for the called party. With no number digest to
check it (a node logging to stdout only; the record not found), the agent's hangup hung
up the customer, going on after Queue() (``c``: a survey). Nothing is hung up now; a
violation risk says the release is not proven. Control: with the digest, the agent's leg
is read dialled elsewhere, the customer is the called party, and its hangup releases the
agent's side.

Synthetic events; pure tracker, synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import TrackerSettings, plain_digest
from tests.picture_tracker import PictureRun, from_table
from tests.test_watchdog import NUMBER, carried

CALL = "1795400200.0"
CUSTOMER, AGENT = "PJSIP/itsp-0000003a", "PJSIP/agent7-0000003b"
MEMBER_1, MEMBER_2 = "Local/7@agents-0000002f;1", "Local/7@agents-0000002f;2"
IDS = {CUSTOMER: CALL, MEMBER_1: "1795400200.1", MEMBER_2: "1795400200.2",
       AGENT: "1795400200.3"}
VALUE = carried(decision="d-hrev81-queue")
READS = {(AGENT, "DIALEDPEERNUMBER"): "agent7", (MEMBER_2, "DIALEDPEERNUMBER"): "agent7",
         (MEMBER_2, "DIALSTATUS"): "ANSWER", (MEMBER_2, "DIALEDPEERNAME"): AGENT}


def _item(name: str, app: str, bridge: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": "6", "Application": app, "BridgeId": bridge,
            "Duration": "00:01:00", "ChanVariable": f"CALLGUARD_FOLLOW={VALUE}"}


def _event(kind: str, name: str, bridge: str = "") -> dict[str, str]:
    event = {"Event": kind, "Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL,
             "ChannelState": "6"}
    if bridge:
        event.update(BridgeUniqueid=bridge, BridgeType="basic")
    else:
        event["Cause"] = "16"
    return event


def _run(tail: list[dict[str, str]], *,
         digest: bool) -> tuple[set[str], list[tuple[str, dict]]]:
    run = PictureRun(from_table(READS), digest=plain_digest(NUMBER) if digest else None,
                     settings=TrackerSettings(number_lookup_s=1.0 if digest else 0.0))
    run.picture([_item(AGENT, "AppDial", "b-m"), _item(CUSTOMER, "Queue", "b-q"),
                 _item(MEMBER_1, "AppQueue", "b-q"), _item(MEMBER_2, "Dial", "b-m")])
    run.feed(tail)
    run.tick(40)
    return run.hung, run.reports


# The agent hangs up: the member pair goes, Queue(...,c) returns and the customer goes on.
_AGENT_HANGS_UP = [
    _event("BridgeLeave", AGENT, "b-m"), _event("Hangup", AGENT),
    _event("BridgeLeave", MEMBER_2, "b-m"), _event("Hangup", MEMBER_2),
    _event("BridgeLeave", MEMBER_1, "b-q"), _event("Hangup", MEMBER_1),
    _event("BridgeLeave", CUSTOMER, "b-q")]
_CUSTOMER_HANGS_UP = [_event("BridgeLeave", CUSTOMER, "b-q"), _event("Hangup", CUSTOMER)]


def test_without_the_number_the_agents_hangup_hangs_up_nobody() -> None:
    hung, reports = _run(_AGENT_HANGS_UP, digest=False)
    assert CUSTOMER not in hung
    assert hung == set()
    risks = [f for name, f in reports if name == "violation-risk"]
    assert len(risks) == 1
    assert "not proven" in risks[0]["reason"]


def test_control_with_the_number_the_agents_hangup_hangs_up_nobody() -> None:
    hung, reports = _run(_AGENT_HANGS_UP, digest=True)
    assert hung == set()
    assert not [f for name, f in reports if name == "violation-risk"]


def test_control_with_the_number_the_customers_hangup_releases_the_agent() -> None:
    hung, _ = _run(_CUSTOMER_HANGS_UP, digest=True)
    assert {MEMBER_1, MEMBER_2, AGENT} <= hung
    assert CUSTOMER not in hung
