"""The AMI watchdog against a fake Asterisk manager replaying recorded AMI streams.

The fake (tests/fake_ami.py) speaks AMI over real TCP and sends the events Asterisk
22.10.1 sent in the lab (and cacofonisk's Asterisk 13 streams). A dialer whose Dial() has
the ``g`` option keeps the calling leg up after the called party hangs up: that case is
built from call-01 by holding back the calling legs' recorded events until callguard's
AMI Hangup names them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta

import pytest

from callguard.stores.embedded.tallies import EmbeddedTallies
from callguard.watchdog.ami import AmiSettings, AmiWatchdog, Backoff
from callguard.watchdog.calls import USED_EVENTS, CallTracker, Followed, TrackerSettings
from callguard.watchdog.events import safe_channel
from callguard.watchdog.lease import SoleFollower
from tests.fake_ami import FakeAmi, cacofonisk_events, lab_events, linkedid_of, parse

CALL_01 = "call-01-answered-callee-hangs-up"
CALLED_01 = "Local/201@callee-00000001;1"
CALLER_01 = ["Local/long@fakephone-00000000;1", "Local/long@fakephone-00000000;2"]
UTAH = "Utah Code 13-25a-103(5)(e)"


async def until(condition, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


class Node:
    """A watchdog connected to a fake AMI, with the records it wrote."""

    def __init__(self, fake: FakeAmi, *, grace: float = 0.0, retry: float = 0.2) -> None:
        self.fake = fake
        self.reports: list[tuple[str, dict]] = []
        self.tracker = CallTracker(TrackerSettings(grace_s=grace, retry_s=retry),
                                   report=lambda name, **f: self.reports.append((name, f)))
        self.watchdog: AmiWatchdog | None = None

    async def start(self) -> Node:
        port = await self.fake.start()
        settings = AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                               reconnect_max_s=0.5, action_timeout_ms=1000)
        self.watchdog = AmiWatchdog(settings, self.fake.secret, self.tracker)
        await self.watchdog.start()
        await until(lambda: self.tracker.disconnected_at is None)  # first picture taken
        return self

    async def stop(self) -> None:
        assert self.watchdog is not None
        await self.watchdog.aclose()
        await self.fake.close()

    def follow(self, events: list[str], *, mode: str = "predictive", limit: float = 25.0,
               caller_id: str = "+4930123456") -> Followed:
        followed = Followed("decision-1", linkedid_of(events), "ut-solar-predictive", mode,
                            limit, UTAH, caller_id, time.monotonic())
        self.tracker.follow(followed)
        return followed

    def named(self, name: str) -> list[dict]:
        return [fields for event, fields in self.reports if event == name]


def with_g_option(events: list[str], called: str) -> tuple[list[str], list[str]]:
    """Everything up to the called party's Hangup, and the calling legs' events after it."""
    cut = next(i for i, e in enumerate(events)
               if parse(e).get("Event") == "Hangup" and parse(e).get("Channel") == called)
    return events[:cut + 1], [e for e in events[cut + 1:] if parse(e).get("Channel")]


@pytest.fixture
async def node():
    made: list[Node] = []

    async def make(**kwargs) -> Node:
        fake_kwargs = {k: kwargs.pop(k) for k in ("only_events", "honour_hangup")
                       if k in kwargs}
        made.append(await Node(FakeAmi(**fake_kwargs), **kwargs).start())
        return made[-1]

    yield make
    for each in made:
        await each.stop()


class TestRelease:
    """47 U.S.C. 227(d)(3)(B) 5 s; Utah Code 13-25a-103(5)(e) 25 s."""

    @pytest.mark.parametrize("only_events", [None, frozenset(USED_EVENTS)],
                             ids=["unfiltered", "filtered"])
    async def test_called_party_hangs_up_first_calling_legs_released(self, node, only_events):
        n = await node(only_events=only_events)
        events = lab_events(CALL_01)
        before, held = with_g_option(events, CALLED_01)
        n.fake.hold(held)
        n.follow(events)
        await n.fake.send(before)
        await until(lambda: n.named("line-release"))
        assert sorted(n.fake.hangups()) == CALLER_01  # each once, nothing else
        record = n.named("line-release")[0]
        assert record["ended_by"] == "called-party"
        assert record["within_limit"] is True
        assert record["decision_id"] == "decision-1"
        assert record["release_ms"] >= record["first_action_ms"] >= 0
        assert record["hangups_sent"] == {CALLER_01[0]: 1, CALLER_01[1]: 1}
        assert record["agent_within_2s"] is True  # BridgeEnter came right after the answer
        assert n.named("violation-risk") == []

    async def test_grace_delays_the_hangup(self, node):
        n = await node(grace=0.3)
        events = lab_events(CALL_01)
        before, held = with_g_option(events, CALLED_01)
        n.fake.hold(held)
        n.follow(events)
        sent_at = time.monotonic()
        await n.fake.send(before)
        await until(lambda: n.named("line-release"))
        first_hangup = min(t for t, a in n.fake.actions if a.get("Action") == "Hangup")
        assert first_hangup - sent_at >= 0.3
        assert n.named("line-release")[0]["first_action_ms"] >= 300

    @pytest.mark.parametrize(("scenario", "ended_by", "status"), [
        ("call-05-answered-caller-hangs-up", "caller", "ANSWER"),
        ("call-02-busy", "not-answered", "BUSY"),
        ("call-03-no-answer", "not-answered", "NOANSWER"),
        ("call-04-rejected-cause21", "not-answered", "NOANSWER"),
        ("call-06-congestion", "not-answered", "CONGESTION"),
    ])
    async def test_calls_the_called_party_did_not_end_are_left_alone(self, node, scenario,
                                                                      ended_by, status):
        n = await node()
        events = lab_events(scenario)
        n.follow(events)
        await n.fake.send(events)
        await until(lambda: n.named("line-release"))
        record = n.named("line-release")[0]
        assert (record["ended_by"], record["dial_status"]) == (ended_by, status)
        assert record["release_ms"] is None
        assert n.fake.hangups() == []

    async def test_unfollowed_calls_are_never_touched(self, node):
        n = await node()
        before, held = with_g_option(lab_events(CALL_01), CALLED_01)
        n.fake.hold(held)
        await n.fake.send(before)  # a manual call: the gate did not ask to follow it
        await asyncio.sleep(0.3)
        assert n.fake.hangups() == []
        assert n.reports == []

    async def test_asterisk_ignoring_hangup_is_retried_then_a_violation_risk(self, node):
        n = await node(honour_hangup=False, retry=0.1)
        events = lab_events(CALL_01)
        before, held = with_g_option(events, CALLED_01)
        n.fake.hold(held)
        n.follow(events, mode="prerecorded", limit=0.5)
        await n.fake.send(before)
        await until(lambda: n.named("violation-risk"))
        risk = n.named("violation-risk")[0]
        assert risk["still_up"] == CALLER_01
        assert risk["limit_s"] == 0.5
        assert risk["elapsed_ms"] >= 500
        assert n.fake.hangups().count(CALLER_01[0]) >= 3  # retried
        n.fake.honour_hangup = True  # Asterisk comes round
        await until(lambda: n.named("line-release"))
        assert n.named("line-release")[0]["within_limit"] is False
        assert len(n.named("violation-risk")) == 1  # counted once

    async def test_blind_transfer_is_not_a_hangup(self, node):
        """cacofonisk (Asterisk 13): B transfers A to C; B's leg going is not the end."""
        n = await node()
        events = cacofonisk_events("xfer_blind/xfer_blind_abbcac.json")
        n.follow(events)
        await n.fake.send(events)
        await until(lambda: n.named("line-release"))
        assert n.named("line-release")[0]["ended_by"] == "transferred"
        assert n.fake.hangups() == []

    @pytest.mark.parametrize(("fixture", "called"), [
        ("simple/ab_success_b_hangup.json", "SIP/150010002-00000014"),
        ("simple/ab_success_a_hangup.json", "SIP/150010002-00000005"),
    ])
    async def test_asterisk_13_streams_find_the_called_party(self, node, fixture, called):
        """The called party is the SIP leg behind a Local channel (the DialBegin hop), not
        the Local channel Dial() created; both legs end by themselves: no action."""
        n = await node()
        events = cacofonisk_events(fixture)
        n.follow(events)
        await n.fake.send(events)
        await until(lambda: n.named("line-release"))
        record = n.named("line-release")[0]
        assert record["called_channel"] == safe_channel(called)  # SIP/150010002: a number
        assert record["called_channel"].endswith(called[-9:])
        assert record["dial_status"] == "ANSWER"
        assert n.fake.hangups() == []


class TestAmiConnection:
    async def test_short_drop_mid_call_then_normal_release(self, node):
        n = await node()
        events = lab_events(CALL_01)
        before, held = with_g_option(events, CALLED_01)
        n.fake.hold(held)
        n.follow(events)
        logins = n.fake.logins
        await n.fake.send(before[:-6])  # answered and bridged
        await n.fake.drop()
        await until(lambda: n.fake.logins > logins)  # reconnected with backoff
        await until(lambda: n.tracker.disconnected_at is None)
        await n.fake.send(before[-6:])
        await until(lambda: n.named("line-release"))
        assert sorted(n.fake.hangups()) == CALLER_01
        assert n.named("line-release")[0]["within_limit"] is True

    @pytest.mark.slow
    async def test_ami_gone_30_s_leftovers_released_and_logged_as_risk(self, node):
        """The called party hangs up while AMI is away for 30 s (Utah limit 25 s)."""
        n = await node()
        events = lab_events(CALL_01)
        before, held = with_g_option(events, CALLED_01)
        n.fake.hold(held)
        n.follow(events, limit=25.0)
        await n.fake.send(before[:-6])
        n.fake.accepting = False
        await n.fake.drop()
        await n.fake.send(before[-6:])  # Asterisk goes on: the called party hangs up
        assert set(n.fake.live) == set(CALLER_01)
        await asyncio.sleep(30)
        n.fake.accepting = True
        await until(lambda: n.named("line-release"), timeout=10)
        assert sorted(n.fake.hangups()) == CALLER_01
        risk = n.named("violation-risk")[0]
        assert risk["ami_outage_s"] >= 30
        assert "AMI was disconnected" in risk["reason"]
        record = n.named("line-release")[0]
        assert record["release_ms_is_upper_bound"] is True
        assert record["release_ms"] >= 30_000

    def test_backoff_doubles_to_its_cap_and_resets(self):
        backoff = Backoff(0.25, 2.0)
        assert [backoff.next() for _ in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
        backoff.reset()
        assert backoff.next() == 0.25


async def send_answered_then_rest(n: Node, events: list[str]) -> None:
    """The call stays up while the Getvar is answered (real calls last seconds)."""
    cut = next(i for i, e in enumerate(events) if parse(e).get("Event") == "BridgeEnter")
    await n.fake.send(events[:cut])
    await until(lambda: any(a.get("Action") == "Getvar" for _, a in n.fake.actions))
    await asyncio.sleep(0.05)
    await n.fake.send(events[cut:])


class TestCallerId:
    """64.1601(e); 13-25a-103(6); H.B. 45 proposed 13-26a-106(4): what reached the wire."""

    async def test_presented_number_and_presentation_match(self, node):
        n = await node()
        events = lab_events(CALL_01)
        n.fake.variables[(CALLED_01, "CONNECTEDLINE(num-pres)")] = "allowed_not_screened"
        n.follow(events, caller_id="+4930123456")
        await send_answered_then_rest(n, events)
        await until(lambda: n.named("line-release"))
        assert n.named("caller-id-mismatch") == []
        assert ("Getvar", CALLED_01) in [(a["Action"], a.get("Channel"))
                                         for _, a in n.fake.actions]

    async def test_restricted_presentation_or_other_number_is_recorded(self, node):
        n = await node()
        events = lab_events(CALL_01)
        n.fake.variables[(CALLED_01, "CONNECTEDLINE(num-pres)")] = "prohib_passed_screen"
        n.follow(events, caller_id="+18015550100")
        await send_answered_then_rest(n, events)
        await until(lambda: n.named("caller-id-mismatch"))
        mismatch = n.named("caller-id-mismatch")[0]
        assert mismatch["presentation_allowed"] is False
        assert mismatch["presented_last4"] == "3456"
        assert mismatch["expected_last4"] == "0100"

    @pytest.mark.parametrize("reply", [None, "", "something-new"],
                             ids=["getvar-error", "empty", "unknown-name"])
    async def test_unreadable_presentation_is_unverified_not_a_mismatch(self, node, reply):
        """The number matched but the presentation could not be read: say so, once."""
        n = await node()
        events = lab_events(CALL_01)
        if reply is None:
            n.fake.answer_getvar = False
        else:
            n.fake.variables[(CALLED_01, "CONNECTEDLINE(num-pres)")] = reply
        n.follow(events, caller_id="+4930123456")
        await send_answered_then_rest(n, events)
        await until(lambda: n.named("line-release"))
        assert n.named("caller-id-mismatch") == []
        [unverified] = n.named("caller-id-unverified")
        assert unverified["decision_id"] == "decision-1"
        assert unverified["presentation"] == (reply if reply is not None else None)


class TestAbandonment:
    """64.1200(a)(7): answered calls not bridged to an agent within 2 s (approximation)."""

    def test_answer_without_bridge_within_2_s_is_abandoned(self):
        outcomes: list[tuple[str, bool]] = []
        tracker = CallTracker(TrackerSettings(), report=lambda name, **f: None,
                              answered=lambda campaign, abandoned, decision_id: outcomes.append(
                                  (campaign, abandoned)))
        events = [parse(e) for e in lab_events(CALL_01)]
        tracker.follow(Followed("d", "1795326250.0", "c", "predictive", 25.0, UTAH, "+1"))
        at = 0.0
        for event in events:
            if event.get("Event") == "BridgeEnter":
                at += 2.5  # the agent came too late
            tracker.feed(event, at)
        assert outcomes == [("c", True)]


TODAY = date(2026, 11, 25)


class TestAbandonmentTallies:
    """The 30-day window survives a restart, and on Redis every node adds to one count."""

    async def test_embedded_window_counts_30_days_and_survives_reopening(self, tmp_path):
        path = tmp_path / "abandonment.sqlite"
        tallies = EmbeddedTallies(path)
        for day, abandoned in [(TODAY, True), (TODAY, False), (TODAY - timedelta(days=29),
                                                                 True),
                               (TODAY - timedelta(days=30), True)]:  # outside the window
            await tallies.add("c", day, abandoned=abandoned)
        await tallies.add("other", TODAY, abandoned=True)
        await tallies.aclose()
        reopened = EmbeddedTallies(path)  # a restart
        assert await reopened.window("c", TODAY - timedelta(days=29), TODAY) == (3, 2)
        await reopened.aclose()

    async def test_redis_nodes_add_to_one_count(self, redis_server):
        from redis import asyncio as aioredis

        from callguard.stores.redis.tallies import RedisTallies

        one = RedisTallies(aioredis.from_url(redis_server.url))
        two = RedisTallies(aioredis.from_url(redis_server.url))
        await one.add("c", TODAY, abandoned=True)
        await two.add("c", TODAY, abandoned=False)
        await two.add("c", TODAY - timedelta(days=3), abandoned=False)
        assert await one.window("c", TODAY - timedelta(days=29), TODAY) == (3, 1)
        client = aioredis.from_url(redis_server.url)
        ttl = await client.ttl("callguard:abandonment:c:2026-11-25")
        assert 39 * 86_400 < ttl <= 40 * 86_400
        await client.aclose()
        await one.aclose()
        await two.aclose()

    async def test_rate_near_the_limit_warns_and_redis_gone_is_recorded(self, tmp_path,
                                                                       monkeypatch,
                                                                       redis_server):
        """97 answered + 2 abandoned already counted (by other nodes, earlier days): the
        next abandoned call makes 3/100 = 3 % ≥ 2.5 %: a warning with the 30-day counts.
        Then Redis dies: the next answered call is an `abandonment-uncounted` record."""
        from redis import asyncio as aioredis

        from callguard.compliance.reader import read_files
        from callguard.config import load_settings
        from callguard.runtime import open_runtime
        from callguard.stores.redis.tallies import RedisTallies
        from callguard.watchdog.node import WatchdogNode
        from tests.test_compliance_log import _config, _lists

        monkeypatch.setenv("CALLGUARD_LOG_KEY", "ab" * 32)
        data = tmp_path / "data"
        _lists(data)
        runtime = open_runtime(load_settings(_config(tmp_path, "n", None, data)))
        seed = RedisTallies(aioredis.from_url(redis_server.url))
        for i in range(99):
            await seed.add("c", TODAY - timedelta(days=i % 20), abandoned=i < 2)
        await seed.aclose()
        node = WatchdogNode(AmiSettings(), "x", runtime.compliance, runtime.metrics,
                            RedisTallies(aioredis.from_url(redis_server.url,
                                                           socket_timeout=1)),
                            SoleFollower(tmp_path / "alive"), today=lambda: TODAY)
        node._answered("c", True, "d1")
        await until(lambda: not node._tasks)
        redis_server.kill()
        node._answered("c", False, "d2")
        await until(lambda: not node._tasks)
        await node.aclose()
        await runtime.aclose()
        records = list(read_files(data / "compliance.jsonl"))
        [warning] = [r for r in records if r["event"] == "abandonment-warning"]
        assert (warning["answered_30d"], warning["abandoned_30d"]) == (100, 3)
        assert warning["rate"] == 0.03
        assert warning["citation"] == "47 CFR 64.1200(a)(7)"
        [uncounted] = [r for r in records if r["event"] == "abandonment-uncounted"]
        assert uncounted["campaign"] == "c"
        assert uncounted["abandoned"] is False


class TestThroughTheGate:
    """An ALLOW from the real gate is followed by its Linkedid; records share its id."""

    async def test_allowed_predictive_call_is_released_and_recorded(self, tmp_path, monkeypatch):
        from datetime import UTC, datetime

        from prometheus_client import generate_latest

        from callguard.compliance.reader import read_files
        from callguard.config import load_settings
        from callguard.gate import CheckRequest
        from callguard.policy import ConsentKind, ConsentRecord
        from callguard.runtime import open_runtime
        from callguard.stores.writes import AddConsent
        from callguard.watchdog.node import WatchdogNode
        from tests.test_compliance_log import AT, _config, _lists

        monkeypatch.setenv("CALLGUARD_LOG_KEY", "ab" * 32)
        data = tmp_path / "data"
        _lists(data)
        runtime = open_runtime(load_settings(_config(tmp_path, "n", None, data)))
        await runtime.start()
        fake = FakeAmi()
        port = await fake.start()
        node = WatchdogNode(AmiSettings(enabled=True, port=port, reconnect_min_ms=50,
                                        reconnect_max_s=0.5), fake.secret,
                            runtime.compliance, runtime.metrics,
                            EmbeddedTallies(tmp_path / "abandonment.sqlite"),
                            SoleFollower(tmp_path / "alive"))
        runtime.followers.append(node.observe)
        await node.start()
        try:
            await until(lambda: node.tracker.disconnected_at is None)
            await runtime.gate.write([AddConsent(
                "beehive-solar", "+18015550123",
                ConsentRecord(ConsentKind.WRITTEN, datetime(2026, 1, 1, tzinfo=UTC)), "web")])
            events = lab_events(CALL_01)
            decision = await runtime.gate.check(CheckRequest(
                "8015550123", "ut-solar-predictive", at=AT, linkedid=linkedid_of(events),
                front="fastagi"))
            assert decision.allowed, decision.verdict.reason
            before, held = with_g_option(events, CALLED_01)
            fake.hold(held)
            await fake.send(before)
            await until(lambda: sorted(fake.hangups()) == CALLER_01)
            await until(lambda: "callguard_line_release_seconds_count 1.0" in
                        generate_latest(runtime.metrics.registry).decode())
        finally:
            await node.aclose()
            await fake.close()
            await runtime.aclose()
        records = list(read_files(data / "compliance.jsonl"))
        release = [r for r in records if r["event"] == "line-release"]
        assert len(release) == 1
        assert release[0]["decision_id"] == decision.decision_id
        assert release[0]["limit_s"] == 25  # Utah: the predictive call's smallest limit
        assert "13-25a-103(5)(e)" in release[0]["limit_citation"]
        assert release[0]["ended_by"] == "called-party"


class TestShippedFiles:
    def test_manager_conf_filters_pass_exactly_the_events_used(self):
        import re

        from tests.conftest import ROOT

        text = (ROOT / "asterisk-dialplan" / "manager-callguard.conf").read_text()
        named = re.findall(r"^eventfilter\(action\(include\),name\((\w+)\)\) =", text, re.M)
        assert sorted(named) == sorted(USED_EVENTS)
        legacy = re.search(r"^; eventfilter = \^Event: \(([\w|]+)\)", text, re.M)
        assert legacy is not None
        assert sorted(legacy[1].split("|")) == sorted(USED_EVENTS)
        assert re.search(r"^read = call$", text, re.M)
        assert re.search(r"^write = call,reporting$", text, re.M)

    def test_grace_must_stay_below_the_smallest_limit(self, tmp_path):
        from callguard.config import load_settings
        from callguard.errors import ConfigError
        from tests.conftest import ROOT

        text = (ROOT / "config" / "callguard.toml").read_text().replace(
            'packs_dir = "jurisdictions"', f'packs_dir = "{ROOT / "config" / "jurisdictions"}"')
        path = tmp_path / "c.toml"
        path.write_text(text.replace("grace_seconds = 0.0", "grace_seconds = 5"))
        with pytest.raises(ConfigError, match=r"smallest release limit, 5 s \(47 U.S.C. 227"):
            load_settings(path)
        path.write_text(text.replace("grace_seconds = 0.0", "grace_seconds = 2"))
        assert load_settings(path).ami.grace_seconds == 2.0
