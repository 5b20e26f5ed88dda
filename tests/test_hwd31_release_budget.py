"""hwd31: a called party's Hangup seen while a restart's checks are still under way is
released within the legal limit less a margin, whatever those checks still wait for.

The worst case hrev141 computed: after a restart the watchdog's picture may take its whole
``action_timeout_ms`` (2 s) and BridgeList 0.2 s more, the events held meanwhile
(ami.py ``_held``); a called party's Hangup held from the start of that hold is applied
only then, at its own arrival time. The call, first seen in the picture, then waits for
its number's digest (``number_lookup_s``, 1 s) and, found, for the DIALEDPEERNUMBER reads of
the picture's AppDial leg and the call's first leg (a Getvar each, up to
``action_timeout_ms``). Every wait taken whole: the Hangup action went out 2.2 + 1 + 2 =
5.2 s after the Hangup — past 47 U.S.C. 227(d)(3)(B)'s 5 s (the transfer variables,
``transfer_check_s``, are not waited for on this path: a seen Hangup's release keeps its
grace, ``_check_transfer`` ``wait=False``).

Now the waits share one budget, from the Hangup's arrival: the limit less
``RELEASE_MARGIN_S`` (the Hangup action's own round trip and the last channel's Hangup
event). At its end with a check still open:

- no other channel left could be the called party (``_may_be_called``: the dialer's Local
  halves only): released on the picture's word, as an unanswered read is decided; the
  record says ``release_budget: released-unchecked``;
- a person who may be the called party is left (the customer in Queue() whose agent's leg
  the picture showed): NOT hung up on the picture's word — the check goes on and decides
  (released late, or nothing); the record says ``release_budget: held-for-check``.

SYNTHESISED call (the shape of ``test_hwd23_bridgelist_hold``: a dialer's Local pair,
``;2`` Dial()ing the trunk, channelvars on) and the queue shape of
``test_hrev81_queue_customer``. Pure tracker, synthetic clock.
"""

from __future__ import annotations

from typing import Any

from callguard.watchdog.calls import (
    RELEASE_MARGIN_S,
    CallTracker,
    FindNumber,
    HangupChannel,
    ReadVariable,
    TrackerSettings,
    plain_digest,
)
from tests import test_hrev81_queue_customer as queue
from tests.test_watchdog import NUMBER, carried, written

CALL = "1795600000.0"
ONE, TWO = "Local/100@callguard-dial-00000001;1", "Local/100@callguard-dial-00000001;2"
TRUNK = "PJSIP/trunk-00000002"  # the called party
IDS = {ONE: CALL, TWO: "1795600000.1", TRUNK: "1795600000.2"}
APPS = {ONE: "Playback", TWO: "Dial", TRUNK: "AppDial"}
VALUE = carried(mode="prerecorded", limit=5.0, decision="d-hwd31-budget")
LIMIT_S = 5.0

HANGUP_AT = 10.0  # the called party's Hangup arrives (held: the hold began here)
PICTURE_AT = 12.2  # CoreShowChannels took 2 s, BridgeList 0.2 s: the hold ends
FOUND_AT = 13.19  # the digest found just inside number_lookup_s (1 s)
READ_S = 1.99  # each DIALEDPEERNUMBER Getvar answered just inside action_timeout_ms


def _item(name: str) -> dict[str, str]:
    return {"Event": "CoreShowChannel", "Channel": name, "Uniqueid": IDS[name],
            "Linkedid": CALL, "ChannelState": "6", "Application": APPS[name],
            "BridgeId": "b-1" if name != ONE else "", "Duration": "00:00:30",
            "ChanVariable": f"CALLGUARD_FOLLOW={VALUE}"}


def _hangup(name: str) -> dict[str, str]:
    return {"Event": "Hangup", "Channel": name, "Uniqueid": IDS[name], "Linkedid": CALL,
            "ChannelState": "6", "Cause": "16"}


class _Restart:
    """The tracker through the restart: ``disconnected``, the picture at ``PICTURE_AT``,
    the held Hangup replayed at its own time, the digest at ``FOUND_AT``, each read
    answered ``READ_S`` after it was asked; ``due`` every 10 ms. Records what it sent."""

    def __init__(self, items: list[dict[str, str]], held: dict[str, str],
                 reads: dict[tuple[str, str], str | None], call: str, *,
                 found_at: float = FOUND_AT, read_s: float = READ_S,
                 delays: dict[tuple[str, str], float] | None = None) -> None:
        self.reports: list[tuple[str, dict]] = []
        self.warnings: list[tuple[str, dict]] = []
        self.tracker = CallTracker(TrackerSettings(number_lookup_s=1.0),
                                   report=written(self.reports))
        self.tracker.warn = lambda name, **fields: self.warnings.append((name, fields))
        self.hung: list[tuple[float, str]] = []
        self.reads = reads
        self.call = call
        self._pending: list[tuple[float, ReadVariable]] = []
        self._finds: list[tuple[float, FindNumber]] = []
        self.found_at = found_at
        self.read_s = read_s
        self.delays = delays or {}
        self.tracker.disconnected(5.0)
        self.now = PICTURE_AT
        self.run(self.tracker.reconcile(items, self.now))
        self.run(self.tracker.feed(held, HANGUP_AT))  # ami.py ``_replay``: its own time

    def run(self, effects: list) -> None:
        gone: list[str] = []
        for effect in effects:
            if isinstance(effect, HangupChannel):
                self.hung.append((self.now, effect.channel))
                gone.append(effect.channel)
            elif isinstance(effect, ReadVariable):
                self._pending.append((self.now + self.delays.get(
                    (effect.channel, effect.variable), self.read_s), effect))
            elif isinstance(effect, FindNumber):
                self._finds.append((self.found_at, effect))
        self.end(gone)  # Asterisk hangs them up: their Hangup events, at once

    def until(self, end: float) -> None:
        while self.now < end:
            self.now = round(self.now + 0.01, 2)
            for at, find in [f for f in self._finds if f[0] <= self.now]:
                self._finds.remove((at, find))
                self.run(self.tracker.number_found(find.linkedid, find.decision_id,
                                                   plain_digest(NUMBER), self.now))
            for at, read in [r for r in self._pending if r[0] <= self.now]:
                self._pending.remove((at, read))
                self.run(self.tracker.variable_read(
                    read.linkedid, read.channel, read.variable,
                    self.reads.get((read.channel, read.variable), ""), self.now))
            self.run(self.tracker.due(self.now))

    def end(self, names: list[str]) -> None:
        """These channels go (their Hangup events), now."""
        for name in names:
            self.run(self.tracker.feed(queue._event("Hangup", name) if name in queue.IDS
                                       else _hangup(name), self.now))

    def of(self, kind: str) -> list[dict]:
        return [fields for name, fields in self.reports if name == kind]


def _simple(reads: dict[tuple[str, str], str | None] | None = None, **timing: Any) -> _Restart:
    # The trunk is gone by the reads ("No such channel": None); the first leg (;1, the
    # call's Uniqueid) ran no Dial(): "".
    return _Restart([_item(ONE), _item(TWO), _item(TRUNK)], _hangup(TRUNK),
                    {(TRUNK, "DIALEDPEERNUMBER"): None, **(reads or {})}, CALL, **timing)


def test_the_release_goes_out_within_the_limit_less_the_margin():
    """Fails on main: the Hangup actions went out 5.2 s after the called party's Hangup
    (hold 2.2 s + digest 1 s + DIALEDPEERNUMBER read 2 s)."""
    run = _simple()
    run.until(HANGUP_AT + 8.0)
    assert run.hung, "nothing released"
    first = min(at for at, _ in run.hung)
    assert first - HANGUP_AT <= LIMIT_S - RELEASE_MARGIN_S + 0.02, first - HANGUP_AT
    assert [name for _, name in run.hung] == [ONE, TWO]  # once each: they went
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True
    assert record["release_budget"] == "released-unchecked"
    assert record["release_ms"] <= (LIMIT_S - RELEASE_MARGIN_S) * 1000 + 20
    [(name, fields)] = run.warnings
    assert name == "watchdog_release_budget"
    assert "8015550123" not in repr(fields)


def test_control_checks_answered_in_time_decide_as_before():
    """The digest and the reads answered at once: no budget reached, no field."""
    fast = _simple(found_at=12.3, read_s=0.05)
    fast.until(HANGUP_AT + 8.0)
    first = min(at for at, _ in fast.hung)
    assert first - HANGUP_AT < 2.5
    [record] = fast.of("line-release")
    assert record["within_limit"] is True
    assert "release_budget" not in record
    assert fast.warnings == []


def _queue(reads: dict[tuple[str, str], str | None]) -> _Restart:
    items = [{**queue._item(name, app, bridge), "ChanVariable": f"CALLGUARD_FOLLOW={VALUE}"}
             for name, app, bridge in ((queue.AGENT, "AppDial", "b-m"),
                                       (queue.CUSTOMER, "Queue", "b-q"),
                                       (queue.MEMBER_1, "AppQueue", "b-q"),
                                       (queue.MEMBER_2, "Dial", "b-m"))]  # prerecorded, 5 s
    return _Restart(items, queue._event("Hangup", queue.AGENT), reads, queue.CALL)


def test_a_person_who_may_be_the_called_party_is_not_hung_up_on_the_pictures_word():
    """The hrev81 queue: the picture's AppDial leg is the agent's, the customer waits in
    Queue(). The agent's Hangup is held; the budget runs out with its DIALEDPEERNUMBER read
    still out: nothing is hung up then. The read answers ("agent7": another number): the
    customer is the called party, alive — never hung up."""
    run = _queue(dict(queue.READS))
    run.until(HANGUP_AT + LIMIT_S - RELEASE_MARGIN_S + 0.05)
    assert run.hung == []  # the budget's end hangs up nobody
    [(name, fields)] = run.warnings
    assert name == "watchdog_release_budget"
    assert fields["decided"] == "held-for-check"
    run.until(HANGUP_AT + 8.0)
    assert queue.CUSTOMER not in {name for _, name in run.hung}
    assert run.tracker.calls[queue.CALL].dest == queue.CUSTOMER  # the check decided
    for event in queue._CUSTOMER_HANGS_UP:  # its own hangup later releases the agent's side
        run.run(run.tracker.feed(event, run.now))
    run.until(HANGUP_AT + 9.0)
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is True
    assert record["release_budget"] == "held-for-check"


def test_held_for_the_check_a_late_proof_releases_late_and_says_so():
    """The same picture, the agent's leg read dialled to the number allowed: it was the
    called party. Released when the check answers, 5.2 s after its Hangup: the record says
    so (``within_limit`` false, ``release_budget`` held-for-check) and a violation risk is
    written — a late release, chosen over hanging up on the picture's word."""
    run = _queue({**queue.READS, (queue.AGENT, "DIALEDPEERNUMBER"): NUMBER})
    run.until(HANGUP_AT + 8.0)
    first = min(at for at, _ in run.hung)
    assert first - HANGUP_AT > LIMIT_S, first - HANGUP_AT
    [record] = run.of("line-release")
    assert record["ended_by"] == "called-party"
    assert record["within_limit"] is False
    assert record["release_budget"] == "held-for-check"
    assert record["release_ms"] > LIMIT_S * 1000
    assert run.of("violation-risk")


def test_the_margin_is_the_hangup_actions_round_trip_inside_the_limit():
    assert 0 < RELEASE_MARGIN_S < 1.0


def test_decided_on_what_was_read_by_then_no_release_says_so():
    """The call's first leg (the witness) answered at once, dialling another number; the
    trunk's own read is still out at the budget's end. Decided then on what was read (the
    AppDial leg set aside, as ``_not_the_number`` does with that answer): nothing is hung
    up, and the warning says ``decided-unchecked``, not "released"."""
    run = _simple({(ONE, "DIALEDPEERNUMBER"): "agent7"},
                  delays={(ONE, "DIALEDPEERNUMBER"): 0.05})
    run.until(HANGUP_AT + LIMIT_S - RELEASE_MARGIN_S + 0.05)
    [(name, fields)] = run.warnings
    assert (name, fields["decided"]) == ("watchdog_release_budget", "decided-unchecked")
    assert run.hung == []
