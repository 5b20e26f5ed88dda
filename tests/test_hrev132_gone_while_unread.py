"""Reviewer hrev132: a picture's AppDial leg that hangs up while the call's CALLGUARD_FOLLOW
read is still unanswered is checked before its hangup releases anything.

hwd26 asks an unanswered follow read once more and remembers a hangup of the leg taken
for the called party meanwhile (``dest_gone_unfollowed``): once the value comes, the
release was timed from that hangup with ``_called_party_gone`` straight away. But the leg
is only the picture's word (``_rebuilt_dest``: the first AppDial leg listed), and a hangup
of it seen while the call is followed is held until whom it was dialled to is read
(``_hangup``: ``unchecked_hangup_at``; ``_check_dialled_number`` asks a gone leg only
then). Skipped, the hrev81 picture — the dialer's Local pair, ``;2`` talking with the
customer, ``;1`` with agent 9 after a transfer, agent 9's AppDial leg listed first — went
wrong as soon as the follow reads of a restart came back unanswered once: agent 9 hung up
before the re-ask, and with the number's digest found in the record (the case the check is
for) the customer, still talking through ``;2``, was hung up with the dialer's pair.

Now the remembered hangup is held as one seen during the check: the check reads ``;1``
dialled to agent 9 (another number), agent 9's leg is set aside and the customer is the
called party; the customer's own hangup later releases the dialer's pair. Without the
digest nothing can be checked: as when the read answered at once (hrev81), nothing is
hung up and a violation risk says so.

The picture, events and reads are ``test_hrev81_unread_follow``'s; every first follow read
answered with nothing (None), each re-ask with the value for its carriers (``;2``, the
customer's leg) and nothing for the others. Pure tracker, synthetic clock.
"""

from __future__ import annotations

import pytest

from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
    plain_digest,
)
from tests.test_hrev81_unread_follow import (
    _AGENT9_HANGS_UP,
    _CUSTOMER_HANGS_UP,
    AGENT9,
    CARRIERS,
    CUSTOMER,
    ONE,
    READS,
    TWO,
    VALUE,
    _event,
    _item,
)
from tests.test_watchdog import NUMBER, written

FOLLOW = "CALLGUARD_FOLLOW"


def _run(later: list[dict[str, str]], *, digest: bool,
         ) -> tuple[set[str], list[tuple[str, dict]], list[tuple[str, str]]]:
    """Restart (an outage from 50.0 to 80.0), agent 9 listed first; agent 9 hangs up from
    80.1, 0.1 s apart, before the re-asks (``retry_s`` 0.5 s); ``due`` every 0.1 s for 6 s,
    ``later`` 0.1 s apart from 83.0 (the call followed by then). The channels hung up, the
    records, the reads asked (channel, variable)."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=1.0 if digest else 0.0),
                          report=written(reports))
    hung: set[str] = set()
    asked: list[tuple[str, str]] = []
    now = 80.0

    def settle(effects: list) -> None:
        nonlocal now
        while effects:
            done, effects = effects, []
            for effect in done:
                now += 0.01
                if isinstance(effect, HangupChannel):
                    hung.add(effect.channel)
                    effects += tracker.feed(_event("Hangup", effect.channel), now)
                elif isinstance(effect, ReadVariable):
                    call = tracker.calls.get(effect.linkedid)
                    value: str | None = READS.get((effect.channel, effect.variable), "")
                    if effect.variable == FOLLOW:
                        again = (effect.channel, FOLLOW) in asked
                        value = VALUE if again and effect.channel in CARRIERS else None
                    if call is None or effect.channel not in call.channels.values():
                        value = None  # "No such channel" (lab call-08)
                    asked.append((effect.channel, effect.variable))
                    effects += tracker.variable_read(effect.linkedid, effect.channel,
                                                     effect.variable, value, now)
                elif isinstance(effect, FindNumber):
                    effects += tracker.number_found(effect.linkedid, effect.decision_id,
                                                    plain_digest(NUMBER) if digest else None,
                                                    now)

    tracker.disconnected(50.0)
    settle(tracker.reconcile([_item(AGENT9, "AppDial", "b-x"), _item(CUSTOMER, "AppDial", "b-d"),
                              _item(ONE, "Dial", "b-x"), _item(TWO, "Dial", "b-d")], now))
    for event in _AGENT9_HANGS_UP:
        now += 0.1
        settle(tracker.feed(event, now))
    later = list(later)
    for _ in range(60):
        now += 0.1
        if later and now >= 83.0:
            settle(tracker.feed(later.pop(0), now))
        settle(tracker.due(now))
    assert not later
    return hung, reports, asked


def test_agent9_gone_while_unread_is_checked_and_the_customer_not_hung_up() -> None:
    """Agent 9 (the picture's AppDial leg) hangs up before the re-ask; the re-ask finds
    the call, the digest is found: whom agent 9's leg was dialled to is read (``;1``'s
    DIALEDPEERNUMBER: agent 9, not the number) and the customer talking through ``;2`` is
    not hung up."""
    hung, reports, asked = _run([], digest=True)
    assert (TWO, FOLLOW) in asked[4:]  # followed on the re-ask, not the first read
    assert (ONE, "DIALEDPEERNUMBER") in asked  # the check was made
    assert CUSTOMER not in hung
    assert hung == set()
    assert [name for name, _ in reports if name == "line-release"] == []


def test_then_the_customers_hangup_releases_the_dialers_pair() -> None:
    hung, reports, _ = _run(_CUSTOMER_HANGS_UP, digest=True)
    assert hung == {ONE, TWO}
    [release] = [fields for name, fields in reports if name == "line-release"]
    assert release["ended_by"] == "called-party"
    assert release["called_channel"] == "PJSIP/itsp-0000002a"
    assert not [f for name, f in reports if name == "violation-risk"]


@pytest.mark.parametrize("later", [[], _CUSTOMER_HANGS_UP], ids=["agent9", "then-customer"])
def test_control_without_the_digest_nothing_is_hung_up_and_it_is_said(
        later: list[dict[str, str]]) -> None:
    """No digest, nothing to check agent 9's leg against: as hrev81 (the read answered at
    once) — not hung up, a violation risk says the release is not proven."""
    hung, reports, _ = _run(later, digest=False)
    assert hung == set()
    risks = [f for name, f in reports if name == "violation-risk"]
    assert len(risks) == 1
    assert "not proven" in risks[0]["reason"]
    assert "8015550123" not in str(reports)
