"""After a full restart the watchdog finds a call's number digest in the decision record.

Three layers, each said where it is:

- ``decisions_newest_first`` (compliance/reader.py) on real files: a current file, closed
  segments (one seekable-zstd), lines written by the real record writer, plus lines
  SYNTHESISED here (said at each) to prove where the walk stops;
- the pure tracker on a synthetic clock: the straight-to-the-customer call of
  ``tests/test_watchdog.py`` (SYNTHESIZED from lab ``originate-app-answered``, said
  there) followed again with neither the number nor the asking channel, as a restarted
  process follows it;
- over the fake AMI's TCP (``tests/fake_ami.py``: it synthesises the picture and the
  Getvar answers, said there) with a real runtime whose gate wrote the decision to a real
  compliance log, then a second runtime — the restarted process — on the same data dir.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from callguard.compliance.reader import decisions_newest_first
from callguard.watchdog.ami import AmiSettings
from callguard.watchdog.calls import (
    CallTracker,
    FindNumber,
    Followed,
    ReadVariable,
    TrackerSettings,
    dialled_numbers,
    plain_digest,
)
from callguard.watchdog.lease import SoleFollower
from callguard.watchdog.recorded import decided_at
from tests.fake_ami import CRLF, FakeAmi
from tests.test_watchdog import (
    AGENT,
    CUSTOMER,
    NUMBER,
    UTAH,
    TestStraightToTheCustomerAfterAnOutage,
    _settle,
    carried,
    hangups_of,
    reads_of,
    straight_to_the_customer,
    until,
    written,
)

LINKEDID = TestStraightToTheCustomerAfterAnOutage.LINKEDID
DECISION = "019ae5a0-0000-7000-8000-0000000000a1"  # a UUIDv7 (2025-12-03T19:10:59.584Z)
DIGEST = plain_digest(NUMBER)


# --- the reader: by decision id, from the end, never past the decision ------------------

def _line(decision_id: str, logged_at: str, number_hash: str = "a" * 64, **extra) -> bytes:
    """A decision record's line, SYNTHESISED here (the fields the lookup reads, in the
    writer's order: ``logged_at`` third, ``decision_id`` after ``node``)."""
    record = {"schema": 1, "event": "decision", "logged_at": logged_at, "node": "n",
              "decision_id": decision_id, "verdict": "ALLOW", "number_hash": number_hash,
              "key_id": "k", "linkedid": LINKEDID, **extra}
    return orjson.dumps(record) + b"\n"


class TestDecisionsNewestFirst:
    def test_found_by_id_from_the_end_and_never_past_since(self, tmp_path):
        """The id asked twice: the newer record is the one given. An id whose only record
        lies before ``since`` (less the clock margin) is not reached: the walk stopped."""
        path = tmp_path / "compliance.jsonl"
        old = "2026-12-05T09:00:00.000Z"
        path.write_bytes(_line("too-old", old) + _line("d1", "2026-12-05T10:00:00.000Z", "1" * 64)
                         + _line("d1", "2026-12-05T10:01:00.000Z", "2" * 64)
                         + b'{"schema":1,"event":"line-release","logged_at":'
                           b'"2026-12-05T10:02:00.000Z","decision_id":"d1"}\n')
        since = datetime(2026, 12, 5, 9, 59, tzinfo=UTC)
        found = list(decisions_newest_first(path, ["d1", "too-old"], since))
        assert [(r["decision_id"], r["number_hash"]) for r in found] == [("d1", "2" * 64)]
        older = list(decisions_newest_first(path, ["too-old"], since - timedelta(hours=2)))
        assert [r["decision_id"] for r in older] == ["too-old"]

    def test_closed_segments_newest_first_and_those_before_since_unopened(self, tmp_path):
        """Real segments: one plain, one seekable zstd (``compress_closed``); one closed
        before ``since`` holds garbage that no reader could take for a zstd frame — opening
        it would raise, so the walk proves it left it shut."""
        from callguard.compliance.compress import compress_closed
        from callguard.compliance.segments import stamp_name

        path = tmp_path / "compliance.jsonl"
        ancient = stamp_name(path, datetime(2026, 12, 1, tzinfo=UTC))
        ancient.with_name(ancient.name + ".zst").write_bytes(b"not a zstd frame")
        packed = stamp_name(path, datetime(2026, 12, 5, 10, 30, tzinfo=UTC))
        packed.write_bytes(_line("in-zst", "2026-12-05T10:20:00.000Z"))
        compress_closed(path)
        plain = stamp_name(path, datetime(2026, 12, 5, 11, 0, tzinfo=UTC))
        plain.write_bytes(_line("in-plain", "2026-12-05T10:45:00.000Z"))
        path.write_bytes(_line("current", "2026-12-05T11:05:00.000Z"))
        assert packed.with_name(packed.name + ".zst").exists()
        since = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
        found = list(decisions_newest_first(path, ["in-zst", "in-plain", "current"], since))
        assert [r["decision_id"] for r in found] == ["current", "in-plain", "in-zst"]

    def test_stop_ends_the_walk(self, tmp_path):
        """Lines written by the real writer path are many; ``stop`` ends the walk between
        blocks of lines (the tracker's wait is over), the id beyond it not reached."""
        path = tmp_path / "compliance.jsonl"
        filler = b"".join(_line(f"f{i}", "2026-12-05T10:30:00.000Z") for i in range(10_000))
        path.write_bytes(_line("far", "2026-12-05T10:10:00.000Z") + filler)
        since = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
        assert list(decisions_newest_first(path, ["far"], since, stop=lambda: True)) == []
        assert [r["decision_id"] for r in decisions_newest_first(path, ["far"], since)] == [
            "far"]

    def test_torn_and_foreign_lines_are_passed_over(self, tmp_path):
        path = tmp_path / "compliance.jsonl"
        path.write_bytes(_line("d1", "2026-12-05T10:00:00.000Z")
                         + _line("d1", "2026-12-05T10:01:00.000Z")[:60] + b"\n"  # torn
                         + b"not json at all \"decision_id\":\"d1\"\n")
        since = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
        [record] = decisions_newest_first(path, ["d1"], since)
        assert record["logged_at"] == "2026-12-05T10:00:00.000Z"

    def test_the_decision_time_is_read_from_a_uuid7_only(self):
        from callguard.decision import new_decision_id

        made = new_decision_id()
        at = decided_at(made)
        assert at is not None
        assert abs(at.timestamp() - time.time()) < 5
        assert decided_at("decision-1") is None
        assert decided_at("6f1c2a8e-6c1b-4d3e-9f00-1234567890ab") is None  # v4


def test_dialled_numbers_reads_each_run_as_e164_nanp_and_international():
    assert "+18015550123" in dialled_numbers("PJSIP/918015550123@trunk")
    assert "+18015550123" in dialled_numbers("8015550123@itsp")
    assert "+442071234567" in dialled_numbers("PJSIP/011442071234567@trunk")
    assert "+442071234567" in dialled_numbers("SIP/00442071234567")
    # a site dial prefix (dial_prefixes = ["8"]) before the number the gate allowed
    assert "+18015550123" in dialled_numbers("PJSIP/88015550123@trunk")
    assert "+442071234567" in dialled_numbers("PJSIP/9011442071234567@trunk")
    assert dialled_numbers("agent") == set()
    assert dialled_numbers("Local/201@callee") == set()  # an extension, not a number


# --- the tracker: followed again after a restart, the digest from the record --------------

def _restarted(**settings) -> tuple[CallTracker, list[tuple[str, dict]]]:
    """A new process's tracker: no follow() (its gate never saw the call), a lookup wait."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(number_lookup_s=1.0, **settings),
                          report=written(reports))
    tracker.disconnected(50.0)
    return tracker, reports


def _picture(*, agent_up: bool) -> list[dict[str, str]]:
    """``TestStraightToTheCustomerAfterAnOutage.picture``, carrying ``DECISION``."""
    items = TestStraightToTheCustomerAfterAnOutage().picture(agent_up=agent_up)
    follow = f"CALLGUARD_FOLLOW={carried(decision=DECISION)}"
    return [{**i, "ChanVariable": follow} for i in items]


VALUES = TestStraightToTheCustomerAfterAnOutage.VALUES


class TestTheNumberFromTheRecord:
    def test_the_customer_left_alone_is_not_hung_up(self):
        """The agent hung up while no callguard ran. Before, the customer's leg (its own
        Dial() to the agent reads DIALSTATUS=ANSWER) was hung up: nothing Asterisk shows
        tells it from click-to-dial's calling leg left alone. Now the reads wait for the
        record's digest; the customer's DIALEDPEERNUMBER (``agent``) is not the number
        allowed, so that ANSWER is not the called party's end: nothing hung up."""
        tracker, reports = _restarted()
        effects = tracker.reconcile(_picture(agent_up=False), 80.0)
        assert effects == [FindNumber(LINKEDID, DECISION)]  # nothing read before the digest
        effects = tracker.number_found(LINKEDID, DECISION, DIGEST, 80.05)
        assert reads_of(effects) == [(CUSTOMER, v) for v in (
            "DIALEDPEERNAME", "DIALEDPEERNUMBER", "DIALSTATUS")]
        out = _settle(tracker, LINKEDID, effects, VALUES, 80.05)
        assert hangups_of(out) == []
        assert tracker.calls[LINKEDID].dest == CUSTOMER
        tracker.feed({"Event": "Hangup", "Channel": CUSTOMER, "Uniqueid": LINKEDID,
                      "Linkedid": LINKEDID, "ChannelState": "6", "Cause": "16"}, 95.0)
        [record] = [f for name, f in reports if name == "line-release"]
        assert record["ended_by"] == "caller"
        assert record["followed_again"] is True

    @pytest.mark.parametrize("answer", [None, "", "late"], ids=["none", "empty", "timeout"])
    def test_control_without_the_digest_the_customer_is_released_as_before(self, answer):
        """No record (or none in time): the picture's word, as before the lookup — the
        release the statutes ask for of click-to-dial's calling leg goes ahead, and the
        customer's leg is hung up (said, not hidden: README)."""
        tracker, _ = _restarted()
        effects = tracker.reconcile(_picture(agent_up=False), 80.0)
        if answer == "late":
            effects = tracker.due(81.0)  # number_lookup_s (1 s) is over
            late = tracker.number_found(LINKEDID, DECISION, DIGEST, 81.5)
            assert late == []  # an answer after the wait changes nothing
        else:
            effects = tracker.number_found(LINKEDID, DECISION, answer, 80.05)
        assert reads_of(effects) == [(CUSTOMER, "DIALEDPEERNAME"), (CUSTOMER, "DIALSTATUS")]
        out = _settle(tracker, LINKEDID, effects, VALUES, 81.5)
        assert set(hangups_of(out)) == {CUSTOMER}

    def test_the_agents_hangup_during_the_lookup_does_not_hang_up_the_customer(self):
        """Both still bridged in the picture: the agent's ``AppDial`` leg is taken for the
        called party unless its DIALEDPEERNUMBER says otherwise. It hangs up while the
        digest is sought: its Hangup is held; with the digest, the customer's leg (the
        call's first: no asking channel after a restart) and the gone agent's are asked,
        the agent's answering "No such channel": the customer's Dial() reached ``agent``,
        not the number — the agent was not the called party, nothing is released."""
        tracker, _ = _restarted()
        effects = tracker.reconcile(_picture(agent_up=True), 80.0)
        assert effects == [FindNumber(LINKEDID, DECISION)]
        agent = {"Channel": AGENT, "Uniqueid": "1795326302.40", "Linkedid": LINKEDID,
                 "ChannelState": "6"}
        out = [(80.01, e) for e in tracker.feed({"Event": "Hangup", **agent, "Cause": "16"},
                                                80.01)]
        assert hangups_of(out) == []  # held for the digest
        effects = tracker.number_found(LINKEDID, DECISION, DIGEST, 80.02)
        reads = [e for e in effects if isinstance(e, ReadVariable)]
        assert [(e.channel, e.variable) for e in reads] == [
            (CUSTOMER, "DIALEDPEERNUMBER"), (AGENT, "DIALEDPEERNUMBER")]
        for at, read, value in ((80.03, reads[0], "agent"), (80.04, reads[1], None)):
            out.extend((at, e) for e in tracker.variable_read(
                LINKEDID, read.channel, read.variable, value, at))
        out.extend((85.0, e) for e in tracker.due(85.0))
        assert hangups_of(out) == []
        assert tracker.calls[LINKEDID].dest == CUSTOMER

    def test_control_the_called_partys_hangup_during_the_lookup_still_releases(self):
        """Click-to-dial shape (the agent's phone, originated, Dial()s the customer): the
        AppDial leg is the customer, dialled to the number. It hangs up while the digest
        is sought; once the reads say it was dialled to the number, the agent's leg is
        released at once, its hangup time kept."""
        phone = "PJSIP/agentphone-00000001"
        tracker, _ = _restarted()
        base = {"Linkedid": LINKEDID, "BridgeId": "b1",
                "ChanVariable": f"CALLGUARD_FOLLOW={carried(decision=DECISION)}"}
        picture = [{**base, "Channel": phone, "Uniqueid": LINKEDID, "Application": "Dial",
                    "ChannelState": "6"},
                   {**base, "Channel": CUSTOMER, "Uniqueid": "1795326302.37",
                    "Application": "AppDial", "ChannelState": "6"}]
        assert tracker.reconcile(picture, 80.0) == [FindNumber(LINKEDID, DECISION)]
        tracker.feed({"Event": "Hangup", "Channel": CUSTOMER, "Uniqueid": "1795326302.37",
                      "Linkedid": LINKEDID, "ChannelState": "6", "Cause": "16"}, 80.01)
        effects = tracker.number_found(LINKEDID, DECISION, DIGEST, 80.02)
        values = {(phone, "DIALEDPEERNUMBER"): f"{NUMBER[2:]}@itsp"}  # gone: unreadable
        out = _settle(tracker, LINKEDID, effects, values, 80.02)
        assert phone in hangups_of(out)
        assert tracker.calls[LINKEDID].called_hangup_at == pytest.approx(80.01)

    def test_an_answer_for_another_decision_or_call_is_ignored(self):
        tracker, _ = _restarted()
        tracker.reconcile(_picture(agent_up=False), 80.0)
        assert tracker.number_found(LINKEDID, "another", DIGEST, 80.01) == []
        assert tracker.number_found("1.2", DECISION, DIGEST, 80.01) == []
        assert tracker.calls[LINKEDID].number_due is not None  # still waiting

    def test_sought_once_per_call(self):
        """A second picture (AMI reconnects again) neither asks again nor stops waiting."""
        tracker, _ = _restarted()
        tracker.reconcile(_picture(agent_up=False), 80.0)
        tracker.disconnected(80.1)
        assert tracker.reconcile(_picture(agent_up=False), 80.2) == []
        tracker.number_found(LINKEDID, DECISION, None, 80.3)
        tracker.disconnected(80.4)
        assert not any(isinstance(e, FindNumber)
                       for e in tracker.reconcile(_picture(agent_up=False), 80.5))

    def test_a_standby_seeks_it_too(self):
        """A standby keeps the same picture: it asks the record as well (nothing is sent
        to Asterisk by that), so it has the digest should it take over."""
        tracker, _ = _restarted()
        tracker.deactivate()
        assert tracker.reconcile(_picture(agent_up=False), 80.0) == [
            FindNumber(LINKEDID, DECISION)]


class TestALateFollow:
    """Leftover (2): a follow() for a decision the tracker already follows (learned first
    from the call's variable) replaced nothing: its asking channel and number's digest,
    which the variable never carries, were lost."""

    def test_it_adds_the_asking_channel_and_the_digest(self):
        tracker = CallTracker(TrackerSettings(), report=lambda name, **f: None)
        follow = f"CALLGUARD_FOLLOW={carried(decision=DECISION)}"
        tracker.feed({"Event": "Newchannel", "Channel": CUSTOMER, "Uniqueid": LINKEDID,
                      "Linkedid": LINKEDID, "ChanVariable": follow}, 1.0)
        known = tracker.calls[LINKEDID].followed
        assert known is not None
        assert (known.asker, known.number_hash) == ("", "")
        effects = tracker.follow(Followed(DECISION, LINKEDID, "c", "predictive", 25.0, UTAH,
                                          "+1", 1.1, asker=CUSTOMER, number_hash=DIGEST))
        merged = tracker.calls[LINKEDID].followed
        assert merged is not None
        assert (merged.asker, merged.number_hash) == (CUSTOMER, DIGEST)
        assert merged.registered_at == known.registered_at  # the rest as first learned
        assert reads_of(effects) == [(CUSTOMER, "CHANNEL(state)")]

    def test_it_ends_a_wait_for_the_record(self):
        tracker, _ = _restarted()
        tracker.reconcile(_picture(agent_up=False), 80.0)
        effects = tracker.follow(Followed(DECISION, LINKEDID, "c", "predictive", 25.0, UTAH,
                                          "+1", 80.01, number_hash=DIGEST))
        assert tracker.calls[LINKEDID].number_due is None
        assert (CUSTOMER, "DIALEDPEERNUMBER") in reads_of(effects)

    def test_another_decision_still_replaces(self):
        tracker = CallTracker(TrackerSettings(), report=lambda name, **f: None)
        follow = f"CALLGUARD_FOLLOW={carried(decision=DECISION)}"
        tracker.feed({"Event": "Newchannel", "Channel": CUSTOMER, "Uniqueid": LINKEDID,
                      "Linkedid": LINKEDID, "ChanVariable": follow}, 1.0)
        tracker.follow(Followed("d-2", LINKEDID, "c", "predictive", 25.0, UTAH, "+1", 2.0))
        followed = tracker.calls[LINKEDID].followed
        assert followed is not None
        assert followed.decision_id == "d-2"


# --- over the socket: a real log written by the real gate, a restarted node --------------

def _message(event: dict[str, str]) -> str:
    return CRLF.join(f"{k}: {v}" for k, v in event.items())


async def _restart_with_the_customer_alone(tmp_path, monkeypatch, *, recorded: bool,
                                           stream=None):
    """Runtime A's gate allows the straight-to-the-customer call (its decision record in
    ``data/compliance.jsonl``); A stops. Asterisk goes on: the agent answers, is bridged,
    hangs up; the customer's leg is left in its own dialplan. Runtime B — the restarted
    process — opens the same data dir (``recorded``) or an empty one, and its watchdog
    logs in to the fake AMI. Returns B's fake AMI and node (closed by the caller)."""
    from callguard.config import load_settings
    from callguard.fronts.fastagi.contract import VAR_FOLLOW
    from callguard.gate import CheckRequest
    from callguard.policy import ConsentKind, ConsentRecord
    from callguard.runtime import open_runtime
    from callguard.stores.embedded.tallies import EmbeddedTallies
    from callguard.stores.writes import AddConsent
    from callguard.watchdog.node import WatchdogNode, follow_variable
    from tests.test_compliance_log import AT, _config, _lists

    monkeypatch.setenv("CALLGUARD_LOG_KEY", "ab" * 32)
    data = tmp_path / "data"
    _lists(data)
    runtime = open_runtime(load_settings(_config(tmp_path, "n", None, data)))
    await runtime.start()
    try:
        await runtime.gate.write([AddConsent(
            "beehive-solar", "+18015550123",
            ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC)), "web")])
        decision = await runtime.gate.check(CheckRequest(
            "8015550123", "ut-solar-predictive", at=AT, linkedid=LINKEDID,
            front="fastagi", channel=CUSTOMER))
        assert decision.allowed, decision.verdict.reason
        value = follow_variable("n")(decision)
        assert value is not None
    finally:
        await runtime.aclose()  # the process ends; its record is in the file

    fake = FakeAmi(channelvars=(VAR_FOLLOW,))
    events, agent_gone = straight_to_the_customer()
    bridged = next(i for i, e in enumerate(events) if e.get("Event") == "BridgeEnter"
                   and e["Channel"] == AGENT) + 1
    for channel in (CUSTOMER, AGENT):  # MSet on the customer's leg; Dial() inheritance
        fake.set_variable(channel, VAR_FOLLOW, value)
    bridge = events[bridged - 1]["BridgeUniqueid"]
    agent = {k: agent_gone[k] for k in ("Channel", "Uniqueid", "Linkedid")}
    await fake.send([_message(e) for e in events[:bridged]] + [
        _message({"Event": "BridgeLeave", "BridgeUniqueid": bridge, **agent}),
        _message(agent_gone)])  # nobody logged in: Asterisk goes on alone
    assert list(fake.live) == [CUSTOMER]
    fake.applications[CUSTOMER] = "Playback"  # Dial(...,g) returned: a survey, alone
    fake.variables.update(VALUES)  # app_dial.c dial_exec_full on the customer's leg
    port = await fake.start()

    second = data if recorded else tmp_path / "empty"
    if not recorded:
        _lists(second)
    if stream is not None:  # A's records in the shared stream, as its stream sender adds them
        client, key = stream
        for line in (data / "compliance.jsonl").read_bytes().splitlines():
            await client.xadd(key, {"r": line})
    runtime_b = open_runtime(load_settings(_config(tmp_path, "n", None, second)))
    await runtime_b.start()
    node = WatchdogNode(AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                                    reconnect_max_s=0.5), fake.secret,
                        runtime_b.compliance, runtime_b.metrics,
                        EmbeddedTallies(tmp_path / "abandonment.sqlite"),
                        SoleFollower(tmp_path / "alive"), stream=stream)
    await node.start()
    return fake, node, runtime_b, decision


class TestARestartedNodeOverTheSocket:
    async def test_finds_the_number_in_the_log_and_leaves_the_customer_alone(
            self, tmp_path, monkeypatch):
        fake, node, runtime, decision = await _restart_with_the_customer_alone(
            tmp_path, monkeypatch, recorded=True)
        try:
            await until(lambda: node.ami is not None and node.ami.stats["number_found"] == 1)
            await until(lambda: any(a.get("Variable") == "DIALSTATUS"
                                    for _, a in fake.actions))
            await asyncio.sleep(0.8)  # past transfer_check_s: a release would have gone
            assert fake.hangups() == []
            asked = fake.getvars()
            assert (CUSTOMER, "DIALEDPEERNUMBER") in asked
            call = node.tracker.calls[LINKEDID]
            assert call.dest == CUSTOMER
            assert call.followed is not None
            assert call.followed.decision_id == decision.decision_id
            assert call.followed.number_hash == runtime.compliance.protector.hash(NUMBER)
        finally:
            await node.aclose()
            await fake.close()
            await runtime.aclose()

    async def test_control_without_the_record_the_customer_is_hung_up(self, tmp_path,
                                                                      monkeypatch):
        """The same restart on a data dir without the decision's record (the log lost, or
        another node's decision): not found, the tracker does what it did before — and
        the customer's leg is hung up. This is what the first test would see if the
        lookup did nothing."""
        fake, node, runtime, _ = await _restart_with_the_customer_alone(
            tmp_path, monkeypatch, recorded=False)
        try:
            await until(lambda: fake.hangups() != [], timeout=5)
            assert set(fake.hangups()) == {CUSTOMER}
            assert node.ami is not None
            assert node.ami.stats["number_not_found"] == 1
        finally:
            await node.aclose()
            await fake.close()
            await runtime.aclose()


class TestATakeoverOverTheSocket:
    async def test_another_nodes_decision_is_found_in_the_stream(
            self, tmp_path, monkeypatch, redis_server):
        """The control's restart (B's own file has no record of the call: another node
        decided it) with the shared stream holding A's records, as A's stream sender
        added them: B finds the number there and leaves the customer alone (the control
        above, without the stream, hangs the customer up)."""
        from redis import asyncio as aioredis

        client = aioredis.Redis.from_url(redis_server.url)
        key = "callguard:log"
        fake, node, runtime, decision = await _restart_with_the_customer_alone(
            tmp_path, monkeypatch, recorded=False, stream=(client, key))
        try:
            own = tmp_path / "empty" / "compliance.jsonl"  # B's file: not the decision
            assert decision.decision_id.encode() not in (
                own.read_bytes() if own.exists() else b"")
            await until(lambda: node.ami is not None and (
                node.ami.stats["number_found"] + node.ami.stats["number_not_found"]) >= 1)
            await asyncio.sleep(0.8)  # past transfer_check_s: a release would have gone
            assert node.ami.stats["number_found"] == 1
            assert fake.hangups() == []
            call = node.tracker.calls[LINKEDID]
            assert call.followed is not None
            assert call.followed.number_hash == runtime.compliance.protector.hash(NUMBER)
        finally:
            await node.aclose()  # closes the stream's client too
            await fake.close()
            await runtime.aclose()


class TestRecordedNumbers:
    """``RecordedNumbers`` on real files (lines SYNTHESISED by ``_line``, said there)."""

    @staticmethod
    async def _ask(path, ids_linkedids, *, key="k", wait_s=2.0):
        from callguard.watchdog.recorded import RecordedNumbers

        numbers = RecordedNumbers(path, key, wait_s=wait_s, max_age_s=86_400 * 365 * 20)
        got: dict[str, str | None] = {}
        for decision_id, linkedid in ids_linkedids:
            numbers.find(linkedid, decision_id,
                         lambda linked, d, h: got.__setitem__(f"{d}@{linked}", h))
        await until(lambda: len(got) == len(ids_linkedids))
        await numbers.aclose()
        return got

    async def test_only_an_allow_under_this_key_for_this_call_is_taken(self, tmp_path):
        ids = [f"019ae5a0-0000-7000-8000-00000000000{i}" for i in range(6)]
        at = "2025-12-03T19:11:00.000Z"  # just after the ids' instant
        path = tmp_path / "compliance.jsonl"
        path.write_bytes(_line(ids[0], at, "1" * 64)
                         + _line(ids[1], at, "2" * 64, verdict="BLOCK")
                         + _line(ids[2], at, "3" * 64, key_id="other")
                         + _line(ids[3], at, "4" * 64, linkedid="1795300000.1")
                         + _line(ids[4], at, "5" * 64, number_parsed=False))
        got = await self._ask(path, [(i, LINKEDID) for i in ids] + [("decision-1", LINKEDID)])
        assert got == {f"{ids[0]}@{LINKEDID}": "1" * 64,
                       **{f"{i}@{LINKEDID}": None for i in ids[1:]},
                       f"decision-1@{LINKEDID}": None}  # not a UUIDv7: nothing bounds it

    async def test_the_walk_runs_beside_the_loop(self, tmp_path):
        """A long walk (~80 MB back to the decision) while a 5 ms ticker runs on the loop:
        the ticker keeps ticking — the file is read in a thread, not on the event loop."""
        path = tmp_path / "compliance.jsonl"
        filler = _line("f", "2025-12-03T19:30:00.000Z") * 100_000
        with path.open("wb") as handle:
            handle.write(_line(DECISION, "2025-12-03T19:11:00.000Z", "1" * 64))
            for _ in range(4):
                handle.write(filler)
        ticks = 0
        walking = True

        async def ticker() -> None:
            nonlocal ticks
            while walking:
                await asyncio.sleep(0.005)
                ticks += 1

        task = asyncio.create_task(ticker())
        started = time.monotonic()
        got = await self._ask(path, [(DECISION, LINKEDID)], wait_s=30.0)
        took = time.monotonic() - started
        walking = False
        await task
        assert got == {f"{DECISION}@{LINKEDID}": "1" * 64}
        assert took > 0.05  # a walk long enough to see
        assert ticks >= min(5, took / 0.005 / 10)


def test_dialled_numbers_are_bounded_by_e164s_length():
    """Every tail of a run is a candidate, but only those E.164 can spell (7 to 15
    digits): a long run costs no more hashes than a number's."""
    found = dialled_numbers("PJSIP/" + "7" * 4000 + "18015550123@trunk")
    assert "+18015550123" in found
    assert len(found) <= 10
    assert max(len(n) for n in found) == 16  # "+" and 15 digits


class TestRecordedNumbersInTheStream:
    """The lookup reads the shared Redis Stream (a real redis-server; entries SYNTHESISED by
    ``_line``, added with explicit ids: the instants a server's clock would give them) for
    what this node's file cannot hold: records on stdout only (``[log] file = "-"``), or a
    call another node decided (a takeover)."""

    MS = int(datetime(2025, 12, 3, 19, 10, 59, 584_000, tzinfo=UTC).timestamp() * 1000)

    async def _stream(self, redis_server, entries: list[tuple[int, bytes]]):
        from redis import asyncio as aioredis

        client = aioredis.Redis.from_url(redis_server.url)
        async with client.pipeline(transaction=False) as pipe:
            for serial, (ms, line) in enumerate(entries):
                pipe.xadd("callguard:log", {"r": line.rstrip(b"\n")}, id=f"{ms}-{serial}")
            await pipe.execute()
        return client

    async def _ask(self, path, client, ids, *, wait_s=5.0):
        from callguard.watchdog.recorded import RecordedNumbers

        numbers = RecordedNumbers(path, "k", wait_s=wait_s, max_age_s=86_400 * 365 * 20,
                                  stream=(client, "callguard:log"))
        got: dict[str, str | None] = {}
        for decision_id in ids:
            numbers.find(LINKEDID, decision_id,
                         lambda linked, d, h: got.__setitem__(d, h))
        await until(lambda: len(got) == len(ids), timeout=10)
        await numbers.aclose()
        return got

    def _entries(self, filler: int = 2_500) -> list[tuple[int, bytes]]:
        at = "2025-12-03T19:11:00.000Z"
        return [
            # before the decision less the clock margin: never read (a wrong digest)
            (self.MS - 120_000, _line(DECISION, "2025-12-03T19:08:59.584Z", "9" * 64)),
            # another record of the same call, not its decision: passed over
            (self.MS + 100, b'{"schema":1,"event":"line-release","logged_at":"' + at.encode()
             + b'","decision_id":"' + DECISION.encode() + b'"}\n'),
            *((self.MS + 200 + i, _line("f", at)) for i in range(filler)),
            (self.MS + 5_000, _line(DECISION, at, "1" * 64)),
            (self.MS + 6_000, _line(DECISION, at, "2" * 64)),  # the first found answers
        ]

    async def test_records_on_stdout_only_are_found_in_the_stream(self, redis_server):
        """No log file at all: the decision is read from the stream, past several
        round trips, after a line-release of the same id, not before its instant."""
        client = await self._stream(redis_server, self._entries())
        try:
            got = await self._ask(None, client, [DECISION])
        finally:
            await client.aclose()
        assert got == {DECISION: "1" * 64}

    async def test_another_nodes_call_is_found_in_the_stream(self, redis_server, tmp_path):
        """A takeover: this node's file holds other decisions only; the stream has it."""
        path = tmp_path / "compliance.jsonl"
        path.write_bytes(_line("019ae5a0-0000-7000-8000-0000000000ff",
                               "2025-12-03T19:11:00.000Z", "7" * 64))
        client = await self._stream(redis_server, self._entries(filler=10))
        try:
            got = await self._ask(path, client, [DECISION])
        finally:
            await client.aclose()
        assert got == {DECISION: "1" * 64}

    async def test_control_not_in_the_stream_answers_none(self, redis_server):
        """The control: an id the stream does not hold is answered None at the stream's end,
        not at the wait."""
        client = await self._stream(redis_server, self._entries(filler=10))
        other = "019ae5a0-0000-7000-8000-0000000000ee"
        started = time.monotonic()
        try:
            got = await self._ask(None, client, [other], wait_s=30.0)
        finally:
            await client.aclose()
        assert got == {other: None}
        assert time.monotonic() - started < 5

    async def test_each_round_trip_is_short_on_the_loop(self, redis_server):
        """The stream's replies are parsed on the event loop (the file is read in a
        thread). A thousand ~1.2 KB records a round trip held the loop 8-17 ms at a time
        (median 9.9 ms over 8 walks of 60,000 entries, hrev12's measure);
        200 held it ~2 ms, the walk as fast: every answer of the gate waits behind one."""
        client = await self._stream(redis_server, self._entries())
        asked: list[int] = []
        xrange = client.xrange

        async def counted(*args, **kwargs):
            asked.append(kwargs["count"])
            return await xrange(*args, **kwargs)

        client.xrange = counted  # type: ignore[method-assign]
        try:
            got = await self._ask(None, client, [DECISION])
        finally:
            await client.aclose()
        assert got == {DECISION: "1" * 64}
        assert len(asked) > 1
        assert max(asked) <= 256, asked
