"""Examiner hwd21: Dial(A&B) still ringing both legs when callguard restarts.

The dialer's ``;2`` rings the customer on two trunks at once (``Dial(PJSIP/n@itsp1&
PJSIP/n@itsp2)``). callguard restarts while both ring: the CoreShowChannels picture lists
two "AppDial" legs, ringing (ChannelState 5), and ``_rebuild_call`` takes the first for
the called party. app_dial.c ``wait_for_answer`` publishes the answering leg's DialEnd
ANSWER, then ``hanguptree`` cancels the other (DialEnd CANCEL, Hangup cause 26). When the
second listed answered, its ANSWER — a leg no DialBegin was seen for — was ignored: the
call was recorded ``not-answered`` (``dial_status: CANCEL``) though the customer talked
for 30 s, and the customer's hangup released nothing (47 U.S.C. 227(d)(3)(B); Utah Code
13-25a-103(5)(e)). Synthetic events; pure tracker, synthetic clock.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import CallTracker, HangupChannel, TrackerSettings
from tests.test_watchdog import carried, written

CALL = "1795400200.0"
ONE, TWO = "Local/s@dialer-00000011;1", "Local/s@dialer-00000011;2"
LEG_A, LEG_B = "PJSIP/itsp1-00000001", "PJSIP/itsp2-00000002"
IDS = {ONE: CALL, TWO: "1795400200.1", LEG_A: "1795400200.2", LEG_B: "1795400200.3"}
FOLLOW = f"CALLGUARD_FOLLOW={carried(decision='d-hwd21-ab')}"


def _item(name: str, app: str, state: str, follow: str = FOLLOW) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": state, "Application": app, "BridgeId": "",
            "Duration": "00:00:05", "ChanVariable": follow}


def _ch(name: str) -> dict[str, str]:
    return {"Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL, "ChannelState": "6"}


def _dial_end(leg: str, status: str) -> dict[str, str]:
    return {"Event": "DialEnd", **_ch(TWO), "DestChannel": leg, "DestUniqueid": IDS[leg],
            "DestLinkedid": CALL, "DialStatus": status}


def _bridge(event: str, name: str) -> dict[str, str]:
    return {"Event": event, "BridgeUniqueid": "b-1", "BridgeType": "basic", **_ch(name)}


def _hangup(name: str, cause: str = "16") -> dict[str, str]:
    return {"Event": "Hangup", "Cause": cause, **_ch(name)}


@pytest.mark.parametrize("answering", [LEG_A, LEG_B])
def test_the_leg_that_answers_is_the_called_party(answering: str) -> None:
    other = LEG_B if answering == LEG_A else LEG_A
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=written(reports))
    tracker.disconnected(50.0)
    tracker.reconcile([_item(LEG_A, "AppDial", "5"), _item(LEG_B, "AppDial", "5"),
                       _item(TWO, "Dial", "6"),
                       _item(ONE, "AppDial2", "0", "CALLGUARD_FOLLOW=")], 80.0)
    timeline = [(82.0, _dial_end(answering, "ANSWER")), (82.01, _dial_end(other, "CANCEL")),
                (82.02, _hangup(other, "26")), (82.1, _bridge("BridgeEnter", TWO)),
                (82.1, _bridge("BridgeEnter", answering)),
                (112.0, _bridge("BridgeLeave", answering)), (112.01, _hangup(answering))]
    hung: set[str] = set()
    for at, event in timeline:
        hung |= {e.channel for e in tracker.feed(event, at) + tracker.due(at)
                 if isinstance(e, HangupChannel)}
    assert hung == {ONE, TWO}
    for at, name in ((112.3, TWO), (112.31, ONE)):
        tracker.feed(_hangup(name), at)
    (release,) = [f for name, f in reports if name == "line-release"]
    assert release["ended_by"] == "called-party"
    assert release["dial_status"] == "ANSWER"
    assert release["within_limit"] is True
