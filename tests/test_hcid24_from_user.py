"""hcid24: a PJSIP endpoint's ``from_user`` replaces the caller ID on the wire.

res_pjsip_session.c ``set_from_header`` overwrites the From URI's user part with the
endpoint's ``fromuser`` when it is set (and res_pjsip_caller_id.c
``caller_id_outgoing_request`` puts the connected line into the From only while it is
empty), so the called party is sent ``from_user`` while AMI's ConnectedLineNum and
CONNECTEDLINE() still show the campaign's number: the watchdog recorded ``verified`` for a
call that went out with another caller ID. Now it reads PJSIP_ENDPOINT(<endpoint>,from_user)
once per endpoint (kept ``from_user_ttl_s``) and records ``verified`` only when the From
carries the campaign's number.

The pure tracker, with a synthetic clock; the events are ``test_watchdog_examiner_went_on``'s
(the called party ``PJSIP/itsp-0000002a``, answered), the Getvar answers given as Asterisk
gives them (``""`` for an unset field, None for an error or a timeout: ami.py ``_getvar``).
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import (
    PRESENTATION_VARIABLE,
    CallTracker,
    Followed,
    ReadVariable,
    TrackerSettings,
    from_user_variable,
    pjsip_endpoint,
)
from tests.test_watchdog_examiner_went_on import CALL, CUSTOMER, TWO, UTAH, _customer_answered

CAMPAIGN_NUMBER = "+4930123456"
FROM_USER = "PJSIP_ENDPOINT(itsp,from_user)"


def _renamed(events: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    """The same call again as the n-th of its kind: other Uniqueids, Linkedid and channel
    counters (``PJSIP/itsp-0000002a`` -> ``PJSIP/itsp-0100002a``), the same endpoint."""
    def one(value: str) -> str:
        return value.replace("1795326441.", f"17953264{41 + n}.").replace(
            "-000000", f"-0{n}0000")
    return [{k: one(v) for k, v in event.items()} for event in events]


class _Run:
    """A tracker, its records, and the Getvars it asked (not yet answered)."""

    def __init__(self, ttl: float = 60.0) -> None:
        self.reports: list[tuple[str, dict]] = []
        self.tracker = CallTracker(TrackerSettings(from_user_ttl_s=ttl),
                                   report=lambda n, **f: self.reports.append((n, f)))
        self.reads: list[ReadVariable] = []
        self.prove_unset = True  # answer a "" from_user's dtmf_mode read at once

    def answered(self, n: int, at: float, endpoint: str = "itsp") -> str:
        """Call n answered at ``at``: its Linkedid; its reads kept in ``reads``."""
        events = _customer_answered() if n == 0 else _renamed(_customer_answered(), n)
        events = [{k: v.replace("PJSIP/itsp-", f"PJSIP/{endpoint}-") for k, v in e.items()}
                  for e in events]
        linkedid = events[0]["Linkedid"]
        asker = events[1]["Channel"]
        for i, event in enumerate(events):
            shown = ({"DestConnectedLineNum": CAMPAIGN_NUMBER}
                     if event.get("DestChannel", "").startswith(f"PJSIP/{endpoint}-")
                     else {})
            effects = self.tracker.feed({**event, **shown}, at + i * 0.01)
            if i == 6:
                effects += self.tracker.follow(Followed(
                    f"d-{n}", linkedid, "c", "predictive", 25.0, UTAH, CAMPAIGN_NUMBER,
                    asker=asker))
            self.reads += [e for e in effects if isinstance(e, ReadVariable)]
        return linkedid

    def answer(self, variable: str, value: str | None, at: float) -> None:
        for read in [r for r in self.reads if r.variable == variable]:
            self.reads.remove(read)
            effects = self.tracker.variable_read(read.linkedid, read.channel, variable,
                                                 value, at)
            self.reads += [e for e in effects if isinstance(e, ReadVariable)]
        if self.prove_unset and variable.endswith(",from_user)") and value == "":
            # a "" from_user is proven unset by the endpoint's dtmf_mode (hrev113)
            self.answer(variable.replace(",from_user)", ",dtmf_mode)"), "rfc4733", at)

    def named(self, name: str) -> list[dict]:
        return [fields for event, fields in self.reports if event == name]


def _one_call(from_user: str | None) -> tuple[str | None, _Run]:
    run = _Run()
    run.answered(0, 10.0)
    assert [r.variable for r in run.reads].count(FROM_USER) == 1, run.reads
    [read] = [r for r in run.reads if r.variable == FROM_USER]
    assert read.channel == ""  # a channel-less Getvar: the endpoint, not the call
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.5)
    run.answer(FROM_USER, from_user, 10.6)
    return run.tracker.calls[CALL].caller_id, run


def test_from_user_unset_the_connected_line_is_what_goes_out():
    caller_id, run = _one_call("")
    assert caller_id == "verified"
    assert run.reports == []


def test_from_user_equal_to_the_campaign_number_is_verified():
    caller_id, run = _one_call("+4930123456")
    assert caller_id == "verified"
    assert run.reports == []


def test_from_user_another_number_is_a_mismatch_named_so():
    """Before: ``verified`` (AMI shows the campaign's number; the From carried this)."""
    caller_id, run = _one_call("18005550199")
    assert caller_id == "mismatch"
    [mismatch] = run.named("caller-id-mismatch")
    assert mismatch["wire"] == "from_user"
    assert mismatch["from_user_last4"] == "0199"
    assert mismatch["expected_last4"] == "3456"
    assert mismatch["endpoint_variable"] == FROM_USER
    assert "18005550199" not in repr(run.reports)


@pytest.mark.parametrize("value", [None], ids=["getvar-error-or-timeout"])
def test_from_user_unreadable_is_unverified_never_verified(value):
    caller_id, run = _one_call(value)
    assert caller_id == "unverified"
    [unverified] = run.named("caller-id-unverified")
    assert FROM_USER in unverified["reason"]


def test_the_decision_waits_for_both_reads_in_either_order():
    run = _Run()
    run.answered(0, 10.0)
    run.answer(FROM_USER, "18005550199", 10.2)
    assert run.tracker.calls[CALL].caller_id is None  # the presentation not read yet
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.4)
    assert run.tracker.calls[CALL].caller_id == "mismatch"


def test_one_read_per_endpoint_kept_for_its_lifetime_then_read_again():
    run = _Run(ttl=60.0)
    first = run.answered(0, 10.0)
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.5)
    run.answer(FROM_USER, "", 10.6)
    assert run.tracker.calls[first].caller_id == "verified"
    second = run.answered(1, 40.0)  # within 60 s: the endpoint's value is known
    assert FROM_USER not in [r.variable for r in run.reads]
    run.answer(PRESENTATION_VARIABLE, "allowed", 40.5)
    assert run.tracker.calls[second].caller_id == "verified"
    run.answered(2, 80.0)  # 69.4 s after the read: an admin may have reloaded pjsip.conf
    assert [r.variable for r in run.reads].count(FROM_USER) == 1


def test_a_failed_read_is_not_kept_and_calls_waiting_share_one_read():
    run = _Run()
    first = run.answered(0, 10.0)
    second = run.answered(1, 10.1)  # answered while the first read is in flight
    assert [r.variable for r in run.reads].count(FROM_USER) == 1
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.5)
    run.answer(FROM_USER, None, 12.0)  # a timeout
    assert run.tracker.calls[first].caller_id == "unverified"
    assert run.tracker.calls[second].caller_id == "unverified"
    run.answered(3, 13.0)
    assert [r.variable for r in run.reads].count(FROM_USER) == 1  # asked again


def test_no_release_waits_for_the_read():
    """The called party hangs up while the from_user read is in flight: the line is
    released at once (the grace 0) and the record says the caller ID is unverified."""
    run = _Run()
    run.answered(0, 10.0)
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.2)
    effects = run.tracker.feed({"Event": "Hangup", "Channel": CUSTOMER,
                                "Uniqueid": "1795326441.80", "Linkedid": CALL,
                                "Cause": "16"}, 10.3)
    assert {getattr(e, "channel", None) for e in effects} >= {TWO}
    assert run.tracker.calls[CALL].caller_id is None


def test_an_endpoint_named_by_a_number_is_not_recorded_in_clear():
    """A registration endpoint named after its DID: the records name the Getvar with the
    endpoint's number redacted, as channel names are (events.py ``safe_channel``)."""
    run = _Run()
    run.answered(0, 10.0, endpoint="18015550177")
    variable = "PJSIP_ENDPOINT(18015550177,from_user)"
    assert variable in [r.variable for r in run.reads]  # asked as it is named
    run.answer(PRESENTATION_VARIABLE, "allowed", 10.5)
    run.answer(variable, "18005550199", 10.6)
    [mismatch] = run.named("caller-id-mismatch")
    assert "18015550177" not in repr(run.reports)
    assert mismatch["endpoint_variable"].endswith("0177],from_user)")


def test_only_pjsip_channels_have_an_endpoint():
    assert pjsip_endpoint("PJSIP/itsp-0000002a") == "itsp"
    assert pjsip_endpoint("PJSIP/my-trunk-eu-000001ff") == "my-trunk-eu"
    assert pjsip_endpoint("Local/201@callee-00000001;1") is None
    assert pjsip_endpoint("IAX2/peer-1234") is None
    assert from_user_variable("itsp") == FROM_USER
