"""hrev108: the checked AppDial leg runs a Dial() of its own while its read waits.

SYNTHESISED events (no fixture holds a restart with a redirect): click-to-dial, the agent's
phone ``PJSIP/agent7`` (the call's first leg) Dial()s the customer, whose trunk leg is
listed "AppDial". callguard restarts while they talk; both legs' DIALEDPEERNUMBER reads go
unanswered (Asterisk busy, ami.py ``action_timeout_ms``), hwd23 asks once more 0.5 s later.
Meanwhile the CRM redirects the customer to a queue extension (AMI Redirect: no transfer
event), the agent's phone stays up in wrap-up, and the customer's channel Dial()s agent 9
(auto-answer). app_dial.c ``dial_exec_full`` clears the customer's DIALEDPEERNUMBER as that
Dial() begins and, once agent 9 answers, sets it to agent 9's number: the second read then
says "another number" of the customer's own leg, though it was dialled to the number
allowed. Pure tracker, synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
    plain_digest,
)
from tests.test_watchdog import NUMBER, carried, written

CALL = "1795400300.0"
PHONE, CUSTOMER, AGENT9 = "PJSIP/agent7-00000040", "PJSIP/itsp-00000041", "PJSIP/agent9-00000042"
IDS = {PHONE: CALL, CUSTOMER: "1795400300.1", AGENT9: "1795400300.2"}
VALUE = carried(decision="d-hrev108-redirect")


def _item(name: str, app: str, bridge: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": "6", "Application": app, "BridgeId": bridge,
            "Duration": "00:01:00", "ChanVariable": f"CALLGUARD_FOLLOW={VALUE}"}


def _event(kind: str, name: str, **more: str) -> dict[str, str]:
    return {"Event": kind, "Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL,
            "ChannelState": "6", **more}


_REDIRECTED = [  # the customer leaves the agent's bridge and Dial()s agent 9
    _event("BridgeLeave", CUSTOMER, BridgeUniqueid="b-1", BridgeType="basic"),
    _event("Newchannel", AGENT9),
    {**_event("DialBegin", CUSTOMER), "DestChannel": AGENT9, "DestUniqueid": IDS[AGENT9],
     "DestLinkedid": CALL, "DialString": "agent9"},
    {**_event("DialEnd", CUSTOMER), "DestChannel": AGENT9, "DestUniqueid": IDS[AGENT9],
     "DestLinkedid": CALL, "DialStatus": "ANSWER"},
    _event("BridgeEnter", CUSTOMER, BridgeUniqueid="b-2", BridgeType="basic"),
    _event("BridgeEnter", AGENT9, BridgeUniqueid="b-2", BridgeType="basic")]
_CUSTOMER_HANGS_UP = [
    _event("BridgeLeave", CUSTOMER, BridgeUniqueid="b-2", BridgeType="basic"),
    {**_event("Hangup", CUSTOMER), "Cause": "16"}]


class _Run:
    def __init__(self, customer_reads: list[str | None],
                 phone_reads: tuple[str | None, ...] = (None, NUMBER)) -> None:
        self.reports: list[tuple[str, dict]] = []
        self.tracker = CallTracker(TrackerSettings(number_lookup_s=1.0),
                                   report=written(self.reports))
        self.hung: dict[str, float] = {}
        self.reads: dict[str, list[str | None]] = {
            PHONE: list(phone_reads), CUSTOMER: list(customer_reads)}
        self.now = 80.0
        self.tracker.disconnected(50.0)
        self.settle(self.tracker.reconcile(
            [_item(PHONE, "Dial", "b-1"), _item(CUSTOMER, "AppDial", "b-1")], self.now))
        for event in _REDIRECTED:  # within the 0.5 s before the second read
            self.now += 0.05
            self.settle(self.tracker.feed(event, self.now))
        self.tick(2.0)
        self.hangup_at = self.now + 0.1
        for event in _CUSTOMER_HANGS_UP:
            self.now += 0.05
            self.settle(self.tracker.feed(event, self.now))
        self.tick(10.0)

    def tick(self, seconds: float) -> None:
        end = self.now + seconds
        while self.now < end:
            self.now += 0.1
            self.settle(self.tracker.due(self.now))

    def _answer(self, channel: str, variable: str) -> str | None:
        if variable == "DIALEDPEERNUMBER":
            answers = self.reads.get(channel, [""])
            return answers.pop(0) if len(answers) > 1 else answers[0]
        return {(PHONE, "DIALSTATUS"): "ANSWER",
                (PHONE, "DIALEDPEERNAME"): CUSTOMER}.get((channel, variable), "")

    def settle(self, effects: list) -> None:
        while effects:
            done, effects = effects, []
            for effect in done:
                self.now += 0.01
                if isinstance(effect, HangupChannel):
                    self.hung.setdefault(effect.channel, self.now)
                    effects += self.tracker.feed(
                        {**_event("Hangup", effect.channel), "Cause": "16"}, self.now)
                elif isinstance(effect, ReadVariable):
                    effects += self.tracker.variable_read(
                        effect.linkedid, effect.channel, effect.variable,
                        self._answer(effect.channel, effect.variable), self.now)
                elif isinstance(effect, FindNumber):
                    effects += self.tracker.number_found(
                        effect.linkedid, effect.decision_id, plain_digest(NUMBER), self.now)

    def of(self, kind: str) -> list[dict]:
        return [fields for name, fields in self.reports if name == kind]


def test_the_customers_own_dial_does_not_unmake_it_the_called_party():
    """The second read of the customer's leg names agent 9 (its own Dial()'s peer)."""
    run = _Run([None, "agent9"])
    assert CUSTOMER not in run.hung
    assert {PHONE, AGENT9} <= set(run.hung)
    assert max(run.hung.values()) - run.hangup_at <= 5.0
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert record["release_ms"] <= 5000


def test_control_the_customers_leg_read_the_number_releases():
    run = _Run([None, NUMBER])
    assert {PHONE, AGENT9} <= set(run.hung)
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"


def test_the_phones_read_unanswered_twice_hangs_up_nobody():
    """Nothing proves whom the customer's leg was dialled to: never a hangup on an unproven
    reading; the release is said unproven."""
    run = _Run([None, "agent9"], phone_reads=(None,))
    assert run.hung == {}
    call = run.tracker.calls[CALL]
    assert call.release_unproven
