"""hwd22: a queued customer after a restart, the number's digest at hand but the
agent's leg unread.

The shape of ``test_hrev81_queue_customer`` (SYNTHESISED, said there): an Originate
straight to the customer (``PJSIP/itsp``, the call's first channel) queued with
``Queue(sales,c)`` for agents rung through Local members; callguard restarts while they
talk, and the picture's only AppDial leg is the agent's, taken for the called party. With
the number's digest (this node's decision, found in its record), whom that leg was dialled
to is read: its DIALEDPEERNUMBER (app_dial.c ``dial_exec_full``), and the asking leg's.
Here neither answers: the agent's Getvar times out (ami.py ``_getvar`` gives None: every
call's legs are asked at once after a restart), and the customer, which ran no Dial() of
its own, has none (manager.c ``action_getvar``: an unset variable is an empty Value).

Before: "nothing readable" was taken as the picture's word AND as a checked number, so the
guard for a person running its own Dial()/Queue() (``_dialler_unknown``, which stands down
when a digest is at hand) stood down: the agent's hangup hung up the customer going on
after Queue(...,c), recorded ``ended_by: called-party``; the customer's own hangup first
was recorded ``ended_by: caller`` with no ``release_unproven`` — a record claiming who
ended the call when callguard never proved who the called party was. The same for the
customer's hangup first with no digest at all.

Synthetic events; pure tracker, synthetic clock.
"""

from __future__ import annotations

from callguard.watchdog.calls import TrackerSettings, plain_digest
from tests.picture_tracker import PictureRun, from_table
from tests.test_hrev81_queue_customer import (
    _AGENT_HANGS_UP,
    _CUSTOMER_HANGS_UP,
    AGENT,
    CUSTOMER,
    MEMBER_1,
    MEMBER_2,
    READS,
    _event,
    _item,
)
from tests.test_watchdog import NUMBER

UNREAD = {**READS, (AGENT, "DIALEDPEERNUMBER"): None}  # the Getvar timed out
_AGENT_SIDE_HANGS_UP = [
    _event("BridgeLeave", AGENT, "b-m"), _event("Hangup", AGENT),
    _event("BridgeLeave", MEMBER_2, "b-m"), _event("Hangup", MEMBER_2),
    _event("BridgeLeave", MEMBER_1, "b-q"), _event("Hangup", MEMBER_1)]


def _run(tail: list[dict[str, str]], reads: dict, *,
         digest: bool = True) -> tuple[set[str], list[tuple[str, dict]]]:
    run = PictureRun(from_table(reads), digest=plain_digest(NUMBER) if digest else None,
                     settings=TrackerSettings(number_lookup_s=1.0 if digest else 0.0))
    run.picture([_item(AGENT, "AppDial", "b-m"), _item(CUSTOMER, "Queue", "b-q"),
                 _item(MEMBER_1, "AppQueue", "b-q"), _item(MEMBER_2, "Dial", "b-m")])
    for event in tail:
        run.feed([event])
        run.tick(3, step=0.5)
    run.tick(40)
    return run.hung, run.reports


def _of(reports: list[tuple[str, dict]], kind: str) -> list[dict]:
    return [fields for name, fields in reports if name == kind]


def test_the_agents_hangup_does_not_hang_up_the_customer_when_its_number_is_unread():
    hung, reports = _run([*_AGENT_HANGS_UP, _event("Hangup", CUSTOMER)], UNREAD)
    assert CUSTOMER not in hung
    assert hung == set()
    [risk] = _of(reports, "violation-risk")
    assert "not proven" in risk["reason"]
    [record] = _of(reports, "line-release")
    assert record["ended_by"] == "unknown (called party not proven)"
    assert record["release_unproven"] is True


def test_the_customers_hangup_first_is_not_recorded_the_callers_when_unread():
    """The customer (the called party, as it happens) hangs up first; the agent's side,
    taken for the called party, goes on its own later. Nothing proves who the called
    party was: not ``caller``, and the release is not proven."""
    hung, reports = _run([*_CUSTOMER_HANGS_UP, *_AGENT_SIDE_HANGS_UP], UNREAD)
    assert hung <= {MEMBER_1, MEMBER_2}  # the queue's Local halves left, no person
    [record] = _of(reports, "line-release")
    assert record["ended_by"] != "caller"
    assert record["ended_by"] == "unknown (called party not proven)"
    assert record["release_unproven"] is True


def test_without_the_number_the_customers_hangup_first_is_not_the_callers_either():
    hung, reports = _run([*_CUSTOMER_HANGS_UP, *_AGENT_SIDE_HANGS_UP], READS, digest=False)
    assert hung <= {MEMBER_1, MEMBER_2}
    [record] = _of(reports, "line-release")
    assert record["ended_by"] == "unknown (called party not proven)"
    assert record["release_unproven"] is True
    # the agent's side stayed up past went_on_after_s after a possible called party's end
    [risk] = _of(reports, "violation-risk")
    assert "not proven" in risk["reason"]


def test_control_read_dialled_elsewhere_the_customers_hangup_releases_the_agent():
    hung, reports = _run([*_CUSTOMER_HANGS_UP, *_AGENT_SIDE_HANGS_UP], READS)
    assert {MEMBER_1, MEMBER_2, AGENT} <= hung
    assert CUSTOMER not in hung
    [record] = _of(reports, "line-release")
    assert record["ended_by"] == "called-party"
    assert "release_unproven" not in record


def test_control_read_dialled_elsewhere_the_agents_hangup_first_is_the_callers():
    """Seen live, the agent's side went first and the customer went on: ``caller``."""
    hung, reports = _run([*_AGENT_HANGS_UP, _event("Hangup", CUSTOMER)], READS)
    assert hung == set()
    [record] = _of(reports, "line-release")
    assert record["ended_by"] == "caller"
    assert "release_unproven" not in record
    assert not _of(reports, "violation-risk")
