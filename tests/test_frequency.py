"""Call-frequency caps: the pure rule over a synthetic clock, the fact registry, and the
check-and-reserve of both backends (two nodes on one real Redis, two processes on one
SQLite file), with the store failing closed."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import tomllib
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import generate_latest

from callguard.compliance.logkey import NumberProtector
from callguard.errors import ConfigError, StoreError
from callguard.facts import fetch_facts, register_fact, registered
from callguard.numbers import parse_location
from callguard.policy import (
    RESERVING,
    CallAttempt,
    Campaign,
    DialingMode,
    FactKind,
    Facts,
    ListCheck,
    NeedFacts,
    Policy,
    PolicySettings,
    Status,
    Verdict,
    pack_from_mapping,
)
from callguard.policy.frequency import FrequencyClaim, Ledger, count_instants, judge_claims
from callguard.policy.model import with_seller_subjects
from callguard.policy.rules import frequency_claims, read_claims, reserved_claims
from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.redis.frequency import RedisFrequency
from tests.conftest import PACKS, PACKS_DIR, PARSER

KEY = bytes(range(32))
HASH = NumberProtector(KEY).hash
FL = Campaign(id="fl-solar", solicitor="sunshine-solar", caller_id="+13055550100",
              default_mode=DialingMode.MANUAL, origin_state="FL", packs=())
FL_ROOFING = replace(FL, id="fl-roofing")
NOON = datetime(2026, 7, 22, 12, 0, tzinfo=UTC) + timedelta(hours=4)  # 12:00 EDT
CAP_RULE = "us-fl:501.616(6)(b)"


def lists_for(day: date) -> dict[str, ListCheck | None]:
    names = {n for p in PACKS.values() for r in p.rules for n in r.list_names}
    return {n: ListCheck(n, 1, day - timedelta(days=1), False, True) for n in names}


def decide(policy: Policy, ledger: Ledger, attempt: CallAttempt,
           facts: Facts | None = None) -> tuple[Verdict, list[frozenset[FactKind]]]:
    """The gate's rounds over pure parts: records empty, the reservation from ``ledger``;
    an ALLOW no reservation counted is counted after (``Policy.counted_after``), marked by
    an empty ask."""
    plan = policy.plan(attempt)
    facts = facts or Facts(lists=lists_for(attempt.at.date()))
    asked: list[frozenset[FactKind]] = []
    result = policy.decide(plan, facts)
    partial = ()
    while isinstance(result, NeedFacts):
        asked.append(result.kinds)
        partial = result.partial
        values = dict(facts.values)
        if result.kinds & RESERVING:
            values[FactKind.FREQUENCY] = ledger.judge(
                attempt.number.e164, reserved_claims(plan.rules, plan.caps, attempt),
                read_claims(plan.rules, attempt), attempt.at)
        facts = replace(facts, fetched=facts.fetched | result.kinds, values=values)
        result = policy.decide(plan, facts, partial)
    if after := policy.counted_after(plan, facts, result):  # the gate's count after the answer
        asked.append(frozenset())
        ledger.reserve(attempt.number.e164, after, attempt.at)
    return result, asked


def attempt(at: datetime, campaign: Campaign = FL, number: str = "3055550123",
            mode: DialingMode = DialingMode.MANUAL, front: str | None = "fastagi"
            ) -> CallAttempt:
    return CallAttempt(PARSER.parse(number), campaign, mode, at, None, front)



@contextlib.asynccontextmanager
async def node_counts(tmp_path: Path, redis_server, **records_settings):
    """The counts as a node wires them (open_frequency beside the Redis record store, the
    shipped config pointed at ``redis_server``), and an admin client of the same server."""
    from callguard.config import load_settings
    from callguard.runtime import open_frequency
    from callguard.stores.redis.records import RedisRecords
    from tests.serve_node import ServeNode

    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    settings = load_settings(node.config, data_dir=node.data)
    settings = replace(settings, records=replace(settings.records, **records_settings))
    records = RedisRecords(aioredis_client(redis_server.url), settings.records)
    await records.start()
    store = open_frequency(settings, records, HASH)
    admin = aioredis_client(redis_server.url)
    try:
        yield store, records, admin
    finally:
        await admin.aclose()
        await store.aclose()
        await records.aclose()

class TestPolicy:
    """The rule over a synthetic clock and an in-memory ledger."""

    def test_three_calls_in_24_hours_then_the_fourth_is_blocked(self):
        """Fla. Stat. 501.616(6)(b): a fourth call within 24 hours is blocked, citing it."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        for hour in range(3):
            verdict, _ = decide(policy, ledger, attempt(NOON + timedelta(hours=hour)))
            assert verdict.allowed, verdict.reason
        verdict, _ = decide(policy, ledger, attempt(NOON + timedelta(hours=3)))
        assert not verdict.allowed
        assert verdict.deciding is not None
        assert verdict.deciding.rule_id == CAP_RULE
        assert "3 call(s)" in verdict.deciding.reason

    def test_the_window_rolls(self):
        """The first call leaves the count exactly 24 hours later; the block was not counted."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        for hour in (0, 1, 2):
            assert decide(policy, ledger, attempt(NOON + timedelta(hours=hour)))[0].allowed
        assert not decide(policy, ledger, attempt(NOON + timedelta(hours=5)))[0].allowed
        day_later = NOON + timedelta(hours=24)
        assert decide(policy, ledger, attempt(day_later))[0].allowed
        assert not decide(policy, ledger, attempt(day_later + timedelta(minutes=1)))[0].allowed
        assert len(ledger.calls["+13055550123"]) == 4

    def test_a_blocked_call_is_never_counted_nor_reserved(self):
        """A call blocked by the hours never asks for the reservation; the ledger is empty."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        late = NOON + timedelta(hours=9)  # 21:00 EDT
        verdict, asked = decide(policy, ledger, attempt(late))
        assert not verdict.allowed
        assert all(FactKind.FREQUENCY not in kinds for kinds in asked)
        assert ledger.calls == {}
        cap = next(o for o in verdict.outcomes if o.rule_id == CAP_RULE)
        assert cap.status is Status.NOT_APPLICABLE
        assert "not counted" in cap.reason

    def test_consent_is_fetched_before_the_reservation_is_asked(self):
        """A predictive call asks for consent first; without it the call is blocked and
        nothing is counted."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        verdict, asked = decide(policy, ledger, attempt(NOON, mode=DialingMode.PREDICTIVE))
        assert FactKind.FREQUENCY not in asked[0]
        assert not verdict.allowed
        assert all(FactKind.FREQUENCY not in kinds for kinds in asked)
        assert ledger.calls == {}

    def test_the_scrub_front_is_judged_but_not_counted(self):
        """A scrub places no call: nothing is counted, but the cap is judged on the calls
        already counted (PASS before, BLOCK after three), never "not applicable"."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        for _ in range(5):
            verdict, _asked = decide(policy, ledger, attempt(NOON, front="scrub"))
            assert verdict.allowed, verdict.reason
            cap = next(o for o in verdict.outcomes if o.rule_id == CAP_RULE)
            assert cap.status is Status.PASS, cap.reason
            assert "read only, nothing counted" in cap.reason
        assert ledger.calls == {}
        for hour in range(3):
            assert decide(policy, ledger, attempt(NOON + timedelta(hours=hour)))[0].allowed
        verdict, _ = decide(policy, ledger, attempt(NOON + timedelta(hours=4), front="scrub"))
        assert not verdict.allowed
        assert verdict.deciding is not None
        assert verdict.deciding.rule_id == CAP_RULE
        assert "3 call(s)" in verdict.deciding.reason
        assert "already counted in 24 hours" in verdict.deciding.reason
        assert len(ledger.calls["+13055550123"]) == 3

    def test_every_campaign_of_the_seller_shares_the_count(self):
        """Default reading: one subject per seller, across campaigns and caller IDs."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        for hour, campaign in enumerate((FL, FL_ROOFING, FL)):
            assert decide(policy, ledger, attempt(NOON + timedelta(hours=hour),
                                                  campaign))[0].allowed
        assert not decide(policy, ledger, attempt(NOON + timedelta(hours=4),
                                                  FL_ROOFING))[0].allowed

    def test_a_number_outside_every_capped_state_is_still_counted(self):
        """A Utah number: no frequency rule applies, yet its ALLOW is counted under every
        loaded cap's subject (after the answer: no reservation is asked for); no cap
        judges it, so the verdict names none."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        verdict, asked = decide(policy, ledger, attempt(NOON + timedelta(hours=2),
                                                        number="8015550123"))
        assert verdict.allowed, verdict.reason
        assert asked[-1] == frozenset()  # counted after the answer
        assert all(FactKind.FREQUENCY not in kinds for kinds in asked)
        assert ledger.calls["+18015550123"] == [("seller:sunshine-solar",
                                                 NOON + timedelta(hours=2))]
        assert not any("frequency" in o.rule_id or o.rule_id == CAP_RULE
                       for o in verdict.outcomes)

    def test_a_blocked_call_outside_every_capped_state_is_not_counted(self):
        """The recording waits for every rule: a Utah number called at 23:00 MDT is
        blocked by the hours, and nothing is reserved."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        verdict, asked = decide(policy, ledger, attempt(NOON + timedelta(hours=11),
                                                        number="8015550123"))
        assert not verdict.allowed
        assert all(FactKind.FREQUENCY not in kinds for kinds in asked)
        assert ledger.calls == {}

    def test_calls_made_before_a_number_came_into_scope_count(self):
        """Issue 18: three calls to a Georgia number sent without a CRM location (only the
        federal pack applies, no cap), then one the CRM places in Miami: Florida's cap
        applies and counts the three earlier calls, so the fourth is blocked."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        miami = parse_location("33101")
        for hour in range(3):
            call = attempt(NOON + timedelta(hours=hour), number="4045550123")
            verdict, _ = decide(policy, ledger, call)
            assert verdict.allowed, verdict.reason
            assert not any(o.rule_id == CAP_RULE for o in verdict.outcomes)
        verdict, _ = decide(policy, ledger, replace(
            attempt(NOON + timedelta(hours=3), number="4045550123"), location=miami))
        assert not verdict.allowed
        assert verdict.deciding is not None
        assert verdict.deciding.rule_id == CAP_RULE
        assert "3 call(s)" in verdict.deciding.reason

    def test_a_call_no_cap_covers_is_recorded_under_every_reading_loaded(self):
        """us-ok read per campaign-subject and us-md per campaign: a Georgia call of a
        campaign naming a subject is recorded under the seller (us-fl), its subject and its
        campaign; then the CRM places the person in Oklahoma and the subject's count holds
        the three earlier calls."""
        from callguard.config import load_pack_file

        packs = {**PACKS,
                 "us-ok": load_pack_file(PACKS_DIR / "us-ok.toml", choices={
                     "us-ok:same-subject": "campaign-subject"}),
                 "us-md": load_pack_file(PACKS_DIR / "us-md.toml", choices={
                     "us-md:same-subject": "campaign"})}
        policy, ledger = Policy(packs, PolicySettings()), Ledger()
        solar = replace(FL, id="solar-leads", subject="solar")
        for hour in range(3):
            call = attempt(NOON + timedelta(hours=hour), solar, number="4045550123")
            plan = policy.plan(call)
            assert not frequency_claims(plan.rules, call)  # no cap applies
            assert decide(policy, ledger, call)[0].allowed
        assert {subject for subject, _ in ledger.calls["+14045550123"]} == {
            "seller:sunshine-solar", "subject:solar", "campaign:solar-leads"}
        okc = replace(attempt(NOON + timedelta(hours=3), solar, number="4045550123"),
                      location=parse_location("73102"))
        verdict, _ = decide(policy, ledger, okc)
        assert not verdict.allowed
        assert verdict.deciding is not None
        assert verdict.deciding.rule_id == "us-ok:775C.4:frequency"

    def test_the_scrub_and_what_ifs_record_nothing_outside_every_capped_state(self):
        """A front no cap counts (the scrub) and a question that places no call (``check
        --at``) ask for no reservation when no cap applies: nothing to judge, nothing to
        count."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        for call in (attempt(NOON, number="8015550123", front="scrub"),
                     replace(attempt(NOON, number="8015550123"), places_call=False)):
            verdict, asked = decide(policy, ledger, call)
            assert verdict.allowed, verdict.reason
            assert all(FactKind.FREQUENCY not in kinds for kinds in asked)
        assert ledger.calls == {}

    def test_two_full_caps_both_block(self):
        """A Maryland number the CRM places in Florida: both three-call caps apply, and the
        fourth call breaks both, so the verdict names both (the store refuses at the first
        full claim; the second is still full, not passed)."""
        policy, ledger = Policy(PACKS, PolicySettings()), Ledger()
        miami = parse_location("33101")

        def md_call(at: datetime) -> CallAttempt:
            return CallAttempt(PARSER.parse("3015550123"), FL, DialingMode.MANUAL, at, miami,
                               "fastagi")

        for hour in range(3):
            assert decide(policy, ledger, md_call(NOON + timedelta(hours=hour)))[0].allowed
        verdict, _ = decide(policy, ledger, md_call(NOON + timedelta(hours=3)))
        assert not verdict.allowed
        blocking = {o.rule_id for o in verdict.outcomes if o.status is Status.BLOCK}
        assert blocking == {CAP_RULE, "us-md:14-4502:frequency"}
        assert len(ledger.calls["+13015550123"]) == 3

    def test_count_instants_judge_from_the_earlier_and_count_at_the_later(self):
        """A placed call: windows end at the earlier of ``at`` and the clock, the call is
        counted at the later; a question placing no call is judged at its own ``at``."""
        ahead, behind = NOON + timedelta(hours=5), NOON - timedelta(hours=5)
        assert count_instants(ahead, NOON, True) == (NOON, ahead)
        assert count_instants(behind, NOON, True) == (behind, NOON)
        assert count_instants(ahead, NOON, False) == (ahead, ahead)
        assert count_instants(NOON, None, True) == (NOON, NOON)
        ledger = Ledger()
        claim = FrequencyClaim("r", "seller:x", 3600, 1)
        assert ledger.reserve("n", [claim], behind, NOON).granted
        assert ledger.calls["n"] == [("seller:x", NOON)]
        assert not ledger.reserve("n", [claim], NOON + timedelta(minutes=30)).granted

    def test_judge_counts_a_call_exactly_a_window_ago_as_outside(self):
        """(at - window, +inf): the edge is outside, a later stamp (a clock ahead) inside."""
        claim = FrequencyClaim("r", "seller:x", 3600, 1)
        at = NOON
        assert judge_claims([claim], [("seller:x", at - timedelta(hours=1))], at).granted
        assert not judge_claims([claim], [("seller:x", at + timedelta(minutes=5))],
                                at).granted


class TestPackSchema:
    """The call-frequency kind has a closed schema like every other kind."""

    def doc(self, **rule):
        data = tomllib.loads((PACKS_DIR / "us-fl.toml").read_text())
        cap = next(r for r in data["rules"] if r["kind"] == "call-frequency")
        cap.update(rule)
        return data

    @pytest.mark.parametrize(("change", "message"), [
        ({"windw_hours": 24}, "windw_hours"),
        ({"cap": 0}, "cap"),
        ({"subject": "planet"}, "subject"),
        ({"fronts": []}, "fronts is empty"),
        ({"fronts": ["telegraph"]}, "fronts"),
    ])
    def test_a_mistyped_or_bad_key_does_not_load(self, change, message):
        """Each fault is refused with the key named."""
        with pytest.raises(ConfigError, match=message):
            pack_from_mapping(self.doc(**change), origin="test")


class TestRegistry:
    """Fact kinds register their fetchers; the gate iterates the table."""

    def test_every_fact_kind_has_a_fetcher(self):
        """The shipped kinds are all registered, each naming its store."""
        assert set(registered()) == set(FactKind)
        assert registered()[FactKind.FREQUENCY].store == "frequency"

    def test_a_kind_cannot_be_registered_twice(self):
        """A second fetcher for a kind is a programming error, not a silent override."""
        with pytest.raises(RuntimeError, match="registered twice"):
            register_fact(FactKind.CONSENT, store="records")(lambda *a: None)  # type: ignore[arg-type,return-value]

    async def test_a_store_the_node_lacks_is_a_store_error(self):
        """Asking for the reservation without a frequency store fails closed."""
        policy = Policy(PACKS, PolicySettings())
        plan = policy.plan(attempt(NOON))
        with pytest.raises(StoreError, match="'frequency' store"):
            await fetch_facts({}, plan, Facts(), frozenset({FactKind.FREQUENCY}))


# ---- the stores -----------------------------------------------------------------------

CLAIM = FrequencyClaim(CAP_RULE, "seller:sunshine-solar", 24 * 3600, 3)
WINDOW = timedelta(hours=24)


def check_window_invariant(granted: list[datetime], refused: list[datetime]) -> None:
    """No window of 24 hours holds more than three granted calls; every refusal saw three
    granted calls stamped after its window began."""
    ordered = sorted(granted)
    for index, at in enumerate(ordered):
        inside = [t for t in ordered[: index + 1] if t > at - WINDOW]
        assert len(inside) <= CLAIM.cap, (at, inside)
    for at in refused:
        assert sum(1 for t in granted if t > at - WINDOW) >= CLAIM.cap, at


def _instants(steps: list[tuple[int, int, int]]) -> list[tuple[int, int]]:
    """(node, gap, jitter) -> (node, minutes): calls move forward in time, each stamped
    up to 30 minutes off (two nodes' clocks, checks in flight), under the stores' skew."""
    minutes, calls = 0, []
    for node, gap, jitter in steps:
        minutes += gap
        calls.append((node, max(0, minutes + jitter)))
    return calls


ops = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 6 * 60), st.integers(-30, 30)),
               min_size=1, max_size=24).map(_instants)


@pytest.fixture(scope="module")
def shared_redis(tmp_path_factory):
    from tests.redis_server import RedisServer

    server = RedisServer(tmp_path_factory.mktemp("freq-redis"))
    server.start()
    yield server
    server.stop()


def aioredis_client(url: str):
    from redis import asyncio as aioredis

    return aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=1)


def redis_node(url: str, **kw) -> RedisFrequency:
    from redis import asyncio as aioredis

    client = aioredis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
    return RedisFrequency(client, HASH, retention_s=kw.pop("retention_s", 2 * 86_400), **kw)


async def run_two_nodes(url: str, number: str, calls: list[tuple[int, int]]
                        ) -> tuple[list[datetime], list[datetime]]:
    nodes = [redis_node(url), redis_node(url)]
    start = NOON
    granted: list[datetime] = []
    refused: list[datetime] = []

    async def one(node: int, minutes: int) -> None:
        at = start + timedelta(minutes=minutes)
        result = await nodes[node].reserve(number, [CLAIM], at)
        (granted if result.granted else refused).append(at)

    try:
        for batch in range(0, len(calls), 4):  # up to four checks in flight at once
            await asyncio.gather(*(one(n, m) for n, m in calls[batch: batch + 4]))
    finally:
        for node in nodes:
            await node.aclose()
    return granted, refused


async def node_count(url: str, e164: str) -> int:
    """The count of ``e164`` under ``CLAIM`` at NOON, read by a node of its own."""
    node = redis_node(url)
    try:
        return (await node.count(e164, [CLAIM], NOON))[0]
    finally:
        await node.aclose()


class TestRedisTwoNodes:
    """Two nodes (two clients) on one real Redis."""

    @settings(max_examples=40, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(calls=ops, number=st.integers(0, 10**6))
    def test_no_number_gets_more_allows_in_a_window_than_its_cap(self, shared_redis, calls,
                                                                 number):
        """Interleaved checks from both nodes, in any order of their instants: never more
        than three ALLOWs in any 24 hours; a refusal always had three counted."""
        e164 = f"+1305{number:07d}"
        import redis

        redis.Redis.from_url(shared_redis.url).delete(
            f"callguard:freq:{{{HASH(e164)}}}:{CLAIM.subject}")
        granted, refused = asyncio.run(run_two_nodes(shared_redis.url, e164, calls))
        check_window_invariant(granted, refused)
        assert len(granted) + len(refused) == len(calls)

    async def test_concurrent_burst_on_one_instant_grants_exactly_the_cap(self, shared_redis):
        """Twenty checks at once from two nodes for one number: exactly three are allowed."""
        nodes = [redis_node(shared_redis.url), redis_node(shared_redis.url)]
        results = await asyncio.gather(*(nodes[i % 2].reserve("+13055559999", [CLAIM], NOON)
                                         for i in range(20)))
        assert sum(r.granted for r in results) == 3
        for node in nodes:
            await node.aclose()

    async def test_counts_after_their_answers_go_in_as_one_batch(self, shared_redis):
        """``reserve_all`` (the counts after an answer): each count lands on the real
        server, two of one number in one batch see each other, a call with no claims is
        nothing; a guard that refuses fails each count, none written."""
        node = redis_node(shared_redis.url)
        batch = [("+13055558801", (CLAIM,), NOON, NOON), ("+13055558802", (CLAIM,), NOON, NOON),
                 ("+13055558801", (CLAIM,), NOON, NOON), ("+13055558803", (), NOON, NOON)]
        try:
            results = await node.reserve_all(batch)
            assert [r.counts for r in results] == [(0,), (0,), (1,), ()]
            assert (await node.count("+13055558801", [CLAIM], NOON)) == (2,)
        finally:
            await node.aclose()
        refusing = redis_node(shared_redis.url, refusing=lambda: "appendfsync everysec")
        try:
            failed = await refusing.reserve_all(batch[:2])
            assert all(isinstance(r, StoreError) for r in failed), failed
            assert (await node_count(shared_redis.url, "+13055558802")) == 1
        finally:
            await refusing.aclose()

    async def test_a_refusing_durability_guard_blocks_the_reservation(self, shared_redis):
        """A Redis that is not durable (the record store's guard) counts nothing."""
        node = redis_node(shared_redis.url, refusing=lambda: "appendfsync everysec")
        with pytest.raises(StoreError, match="cannot be trusted"):
            await node.reserve("+13055550001", [CLAIM], NOON)
        await node.aclose()

    async def test_flushall_or_fsync_off_on_the_live_server_refuses_the_reservation(
            self, tmp_path, redis_server):
        """As a node wires it (open_frequency beside the Redis record store): FLUSHALL, or
        CONFIG SET appendfsync everysec, on the live server — no reconnect, no probe — and
        the next reservation raises (the gate BLOCKs): the wiped counts never answer 0 and
        a count is never acknowledged un-fsynced (main: granted until the next reload tick
        or /readyz probe asked the record store again)."""
        async with node_counts(tmp_path, redis_server) as (store, records, admin):
            results = [await store.reserve("+13055550077", [CLAIM], NOON) for _ in range(4)]
            assert [r.granted for r in results] == [True, True, True, False]
            await admin.config_set("appendfsync", "everysec")
            with pytest.raises(StoreError, match="appendfsync=everysec"):
                await store.reserve("+13055550078", [CLAIM], NOON)
            await admin.config_set("appendfsync", "always")
            assert await records.verify() is None  # the next probe or reload tick
            assert (await store.reserve("+13055550078", [CLAIM], NOON)).granted
            await admin.flushall()
            with pytest.raises(StoreError, match="lost its data"):
                await store.reserve("+13055550077", [CLAIM], NOON)
            assert await admin.dbsize() == 0, "nothing counted on the emptied server"
            with pytest.raises(StoreError, match="lost its data"):
                await store.count("+13055550077", [CLAIM], NOON)

    async def test_appendfsync_set_back_to_always_counts_at_once(self, tmp_path,
                                                                 redis_server):
        """appendfsync everysec refuses the next reservation at once, and the one after it;
        set back to always, the next reservation is granted — no probe, no reload tick
        between (main: refused until the record store was asked again)."""
        async with node_counts(tmp_path, redis_server) as (store, records, admin):
            assert (await store.reserve("+13055550081", [CLAIM], NOON)).granted
            await admin.config_set("appendfsync", "everysec")
            for _ in range(2):
                with pytest.raises(StoreError, match="appendfsync=everysec"):
                    await store.reserve("+13055550081", [CLAIM], NOON)
            await admin.config_set("appendfsync", "always")
            assert (await store.reserve("+13055550081", [CLAIM], NOON)).granted
            assert await store.count("+13055550081", [CLAIM], NOON) == (3,)
            assert records.refusing_counts is None

    async def test_a_dropped_connection_rereads_a_scrub_but_never_recounts_a_call(
            self, tmp_path, redis_server):
        """The connection drops after the server answered (the answer lost). A scrub's
        count is read again on a fresh connection and answers. A reservation is not run
        again: its script ran — the call is counted — but it carries no decision id (its
        member is a random token per group), so a second run would count it twice; it
        fails (the gate BLOCKs) and the count holds it once."""
        from callguard.stores.redis.records import RecordsSettings, RedisRecords
        from tests.redis_proxy import RedisProxy

        proxy = RedisProxy(redis_server.port)
        await proxy.start()
        records = RedisRecords(aioredis_client(redis_server.url), RecordsSettings())
        await records.start()
        store = redis_node(proxy.url, guard=records, refusing=lambda: records.refusing_counts)
        try:
            assert (await store.reserve("+13055550082", [CLAIM], NOON)).granted
            proxy.cut_next(after_reply=True)
            assert await store.count("+13055550082", [CLAIM], NOON) == (1,)
            proxy.cut_next(after_reply=True)
            with pytest.raises(StoreError, match="may or may not have been counted"):
                await store.reserve("+13055550082", [CLAIM], NOON)
            assert proxy.cut == 2
            assert await store.count("+13055550082", [CLAIM], NOON) == (2,)
            assert (await store.reserve("+13055550082", [CLAIM], NOON)).granted
            assert await store.count("+13055550082", [CLAIM], NOON) == (3,)
        finally:
            await store.aclose()
            await records.aclose()
            await proxy.aclose()

    async def test_a_server_that_may_evict_counts_refuses_even_when_warned(
            self, tmp_path, redis_server):
        """on_weak_durability = "warn" lets writes go on with a weak AOF, but a server
        switched to allkeys-lru may evict a count — an ALLOW past the cap: refused (main:
        counted on)."""
        async with node_counts(tmp_path, redis_server, on_weak_durability="warn") as (
                store, _, admin):
            assert (await store.reserve("+13055550079", [CLAIM], NOON)).granted
            await admin.config_set("maxmemory-policy", "allkeys-lru")
            with pytest.raises(StoreError, match="may evict"):
                await store.reserve("+13055550079", [CLAIM], NOON)

    async def test_a_full_server_still_counts_for_a_scrub(self, tmp_path, redis_server):
        """maxmemory reached (noeviction): a scrub's read-only count still answers — it
        writes nothing (main: its MULTI was refused whole, so every scrub BLOCKed)."""
        async with node_counts(tmp_path, redis_server) as (store, _, admin):
            assert (await store.reserve("+13055550080", [CLAIM], NOON)).granted
            used = int((await admin.info("memory"))["used_memory"])
            await admin.config_set("maxmemory", str(used + 1024))
            try:
                with pytest.raises(Exception, match="maxmemory"):
                    await admin.set("filler", "x" * 200_000)
                assert await store.count("+13055550080", [CLAIM], NOON) == (1,)
            finally:
                await admin.config_set("maxmemory", "0")

    async def test_killed_mid_way_every_allow_was_counted(self, tmp_path):
        """Redis SIGKILLed while two nodes reserve: after the kill every check raises (the
        gate BLOCKs); after a restart from the AOF every ALLOW given is in the count."""
        from tests.redis_server import RedisServer

        server = RedisServer(tmp_path / "r")
        server.data_dir.mkdir()
        server.start()
        nodes = [redis_node(server.url), redis_node(server.url)]
        granted: dict[str, int] = {}
        failures = 0
        killed = asyncio.Event()

        async def worker(node: RedisFrequency, offset: int) -> None:
            nonlocal failures
            # Until the kill and a little past it, however fast the disk (fixed count once
            # finished before the kill on an idle machine).
            after_kill = 0
            for i in range(20_000):
                if killed.is_set():
                    after_kill += 1
                    if after_kill > 20:
                        return
                number = f"+1305555{(offset + i) % 50:04d}"
                try:
                    result = await node.reserve(number, [CLAIM], NOON + timedelta(seconds=i))
                except StoreError:
                    failures += 1
                    assert killed.is_set(), "a store error before the kill"
                    continue
                if result.granted:
                    granted[number] = granted.get(number, 0) + 1

        async def killer() -> None:
            await asyncio.sleep(0.3)
            killed.set()
            server.kill()

        await asyncio.gather(worker(nodes[0], 0), worker(nodes[1], 25), killer())
        assert failures > 0
        assert granted
        server.start()
        assert_every_allow_counted(server.url, granted)
        for node in nodes:
            await node.aclose()
        server.stop()


def assert_every_allow_counted(url: str, granted: dict[str, int]) -> None:
    """After a restart from the AOF: every ALLOW given is in its number's count, and no
    number was granted more than the cap."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        for number, count in granted.items():
            key = f"callguard:freq:{{{HASH(number)}}}:{CLAIM.subject}"
            assert client.zcard(key) >= count, number
            assert count <= CLAIM.cap
    finally:
        client.close()


def _process_reserve(path: str, number: str, minutes: list[int], out) -> None:
    # Each process runs its own calls in order, at its own pace: one can be days ahead of
    # the other (``ops`` spans up to six days), as no two nodes' clocks are. Under a
    # two-day retention its sweep then deleted rows the other still counted, and the
    # invariant failed for a reason that is not the reservation's atomicity (what this
    # checks). The retention covers the whole span; the sweep is TestEmbeddedRetention's.
    store = EmbeddedFrequency(Path(path), HASH, retention_s=8 * 86_400)
    for m in minutes:
        result = store.reserve_sync(number, (CLAIM,), NOON + timedelta(minutes=m))
        out.put((m, result.granted))
    store._db.close()


class TestEmbeddedTwoProcesses:
    """Two processes on one SQLite file."""

    def run(self, path: Path, number: str, parts: list[list[int]]
            ) -> tuple[list[datetime], list[datetime]]:
        context = multiprocessing.get_context("spawn")
        out = context.Queue()
        workers = [context.Process(target=_process_reserve, args=(str(path), number, p, out))
                   for p in parts]
        for w in workers:
            w.start()
        results = [out.get(timeout=60) for _ in range(sum(len(p) for p in parts))]
        for w in workers:
            w.join(timeout=30)
            assert w.exitcode == 0
        granted = [NOON + timedelta(minutes=m) for m, ok in results if ok]
        refused = [NOON + timedelta(minutes=m) for m, ok in results if not ok]
        return granted, refused

    def test_a_burst_from_two_processes_grants_exactly_the_cap(self, tmp_path):
        """Forty checks of one instant from two processes: exactly three are allowed."""
        granted, _ = self.run(tmp_path / "f.sqlite3", "+13055550123", [[0] * 20, [0] * 20])
        assert len(granted) == 3

    @settings(max_examples=5, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(calls=ops)
    def test_interleavings_never_exceed_the_cap(self, tmp_path, calls):
        """Any instants, split between two processes: the window invariant holds."""
        import uuid

        parts = [[m for n, m in calls if n == 0], [m for n, m in calls if n == 1]]
        granted, refused = self.run(tmp_path / f"{uuid.uuid4().hex}.sqlite3", "+13055550124",
                                    parts)
        check_window_invariant(granted, refused)

    async def test_a_concurrent_burst_in_one_process_grants_exactly_the_cap(self, tmp_path):
        """Twenty reservations in flight at once share group commits: exactly three pass."""
        store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=86_400)
        results = await asyncio.gather(*(store.reserve("+13055550123", [CLAIM], NOON)
                                         for _ in range(20)))
        assert sum(r.granted for r in results) == 3
        assert [r.counts[0] for r in results if r.granted] == [0, 1, 2]
        await store.aclose()

    async def test_an_unwritable_store_raises(self, tmp_path):
        """A reservation that cannot be written is a StoreError (the gate BLOCKs)."""
        store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=86_400)
        store._db.close()
        with pytest.raises(StoreError, match="not counted"):
            await store.reserve("+13055550123", [CLAIM], NOON)


class TestEmbeddedRetention:
    """Rows past retention go when their key is reserved again; the counts never change."""

    async def test_rows_past_retention_are_trimmed_and_the_window_counts_alone(self, tmp_path):
        """Retention two days, window one: a row three days old is deleted at the next
        reservation of the number, one 36 hours old is kept but not counted; another
        number's old row goes too (the group's sweep: a number never called again no
        longer keeps its rows for ever)."""
        store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=2 * 86_400,
                                  clock=lambda: NOON)
        for hours in (72, 36):
            assert store.reserve_sync("+13055550123", (CLAIM,), NOON - timedelta(hours=hours)
                                      ).granted
        assert store.reserve_sync("+13055550124", (CLAIM,), NOON - timedelta(hours=72)
                                  ).granted

        def rows() -> list[tuple[str, int]]:
            return store._db.execute("SELECT key, at_ms FROM frequency ORDER BY key, at_ms"
                                     ).fetchall()

        ms = int(NOON.timestamp() * 1000)
        mine = f"{HASH('+13055550123')}:{CLAIM.subject}"
        assert len(rows()) == 3  # written with their own instants: nothing past retention
        result = await store.reserve("+13055550123", [CLAIM], NOON)
        assert result.granted
        assert result.counts == (0,)
        assert rows() == sorted([(mine, ms - 36 * 3_600_000), (mine, ms)])
        await store.aclose()


class TestEmbeddedSweep:
    def test_rows_of_numbers_never_called_again_are_swept_and_young_ones_kept(self,
                                                                             tmp_path):
        """Every ALLOW adds a row; the per-key trim only runs when the number is reserved
        again, so numbers called once stayed for ever (the file grew by every call). Each
        group also deletes from the oldest rows those past retention (+ skew), up to four
        per reservation: ten numbers called three days ago are gone after three
        reservations of other numbers, while rows inside the window stay and counts do not
        change."""
        store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=2 * 86_400,
                                  clock=lambda: NOON)
        for i in range(10):
            assert store.reserve_sync(f"+1305555{i:04d}", (CLAIM,),
                                      NOON - timedelta(hours=72)).granted
        young = NOON - timedelta(hours=40)  # past the window, inside retention
        assert store.reserve_sync("+13055559999", (CLAIM,), young).granted

        def rows() -> int:
            return store._db.execute("SELECT count(*) FROM frequency").fetchone()[0]

        assert rows() <= 11
        for i in range(3):
            assert store.reserve_sync(f"+1801555{i:04d}", (CLAIM,), NOON).granted
        left = store._db.execute("SELECT at_ms FROM frequency ORDER BY at_ms").fetchall()
        assert [ms for (ms,) in left] == [int(young.timestamp() * 1000)] + [
            int(NOON.timestamp() * 1000)] * 3
        assert store.count_batch([("+13055559999", (CLAIM,), NOON)]) == [(0,)]


class TestEmbeddedCost:
    def test_a_reservation_reads_no_more_rows_than_its_cap(self, tmp_path):
        """Every ALLOW adds a row to its number's keys, under a cap or not, so a number a
        campaign no cap covers calls thousands of times a day holds thousands of rows: a
        reservation reads the count no further than the cap (whether it is reached is all
        the count decides) and a claim that only records not at all. SQLite's own
        instruction count (a progress handler, deterministic) is about the same for a
        key of 5,000 rows as for one of 5 (it grew with the rows: 2.4x -> 6.7x the null
        responder in bench_sip, one number)."""
        from callguard.policy.frequency import RECORD_ONLY_CAP

        store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=86_400,
                                  clock=lambda: NOON)
        recorded = FrequencyClaim("r (recorded)", CLAIM.subject, CLAIM.window_s,
                                  RECORD_ONLY_CAP)

        def steps(number: str, rows: int) -> int:
            key = f"{HASH(number)}:{CLAIM.subject}"
            at = int((NOON - timedelta(hours=1)).timestamp() * 1000)
            store._db.executemany("INSERT INTO frequency (key, at_ms) VALUES (?, ?)",
                                  [(key, at + i) for i in range(rows)])
            ticks = [0]

            def tick() -> int:
                ticks[0] += 1
                return 0

            store._db.set_progress_handler(tick, 100)
            try:
                for claim in (CLAIM, recorded):
                    store.reserve_sync(number, (claim,), NOON)
                store.count_batch([(number, (CLAIM, recorded), NOON)])
            finally:
                store._db.set_progress_handler(None, 0)
            return ticks[0]

        few, many = steps("+13055550123", 5), steps("+13055550124", 5_000)
        assert many <= few + 5, (few, many)


class TestEmbeddedCheckpoints:
    async def test_the_wal_is_checkpointed_beside_the_commits_and_restarts(self, tmp_path):
        """SQLite's own checkpoint ran inside the commit that crossed 1,000 WAL pages, and
        that group's decisions waited for its copy and two fsyncs: the commits take none
        (``wal_autocheckpoint`` 0) and a thread of the store's checkpoints every few
        commits. It completes when no group is being written, so the WAL starts over:
        after 60 commits with pauses, it holds no more than the last few commits' frames
        (without the thread it would hold every frame since the opening)."""
        import time

        store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=86_400,
                                  clock=lambda: NOON, checkpoint_every=8)
        try:
            assert store._db.execute("PRAGMA wal_autocheckpoint").fetchone() == (0,)
            for i in range(60):
                assert store.reserve_sync(f"+1305555{i:04d}", (CLAIM,), NOON).granted
                time.sleep(0.005)
            checkpointer = store._checkpointer
            deadline = time.monotonic() + 5
            while checkpointer.completed < 3 and time.monotonic() < deadline:
                time.sleep(0.01)
            assert checkpointer.completed >= 3, (checkpointer.checkpoints,
                                                 checkpointer.completed)
            assert store.reserve_sync("+18015550123", (CLAIM,), NOON).granted
            # (busy, frames in the WAL, frames checkpointed): a WAL that never restarted
            # would hold the frames of all 61 commits (three pages each at least).
            frames = store._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1]
            assert 0 < frames < 40, frames
        finally:
            await store.aclose()
        assert not checkpointer._thread.is_alive()

    async def test_a_failing_checkpoint_is_logged_once_and_the_thread_goes_on(self,
                                                                             tmp_path):
        """A checkpoint that fails (its connection gone here; disk full, an I/O error
        alike) was dropped without a word while the WAL grew for ever (the commits take
        none); it is logged once until one succeeds, and the thread lives on. Its
        connection syncs (``FULL``, not the build's default): a checkpoint that did not
        would let the WAL restart over frames whose pages the file had not synced."""
        import time

        store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=86_400,
                                  clock=lambda: NOON, checkpoint_every=2)
        checkpointer = store._checkpointer
        try:
            assert checkpointer._db.execute("PRAGMA synchronous").fetchone() == (2,)
            checkpointer._db.close()
            with structlog.testing.capture_logs() as logs:
                for i in range(12):
                    assert store.reserve_sync(f"+1305555{i:04d}", (CLAIM,), NOON).granted
                    time.sleep(0.01)
                deadline = time.monotonic() + 5
                while checkpointer.failed < 3 and time.monotonic() < deadline:
                    time.sleep(0.01)
            assert checkpointer.failed >= 3
            assert [e["event"] for e in logs if "checkpoint" in e["event"]] == [
                "frequency_checkpoint_failed"], logs
            assert checkpointer._thread.is_alive()
        finally:
            await store.aclose()
        assert not checkpointer._thread.is_alive()

    @pytest.mark.parametrize("bound", [100, None])
    async def test_a_store_never_idle_still_restarts_its_wal(self, tmp_path, monkeypatch,
                                                             bound):
        """Commits back to back: the checkpoint beside them never copies the last frames,
        so it never completes and the WAL would grow for ever (230 MB in a minute of the
        benchmark's groups). Past ``WAL_FRAMES_MAX`` frames the store's next commit completes
        the checkpoint the thread could not (a thread waiting for the lock seldom got it
        from a tight loop: 1,000-2,000 frames here): the WAL stays near that bound (``None``: the
        bound out of reach, the WAL grows — the check can fail)."""
        import os

        import callguard.stores.embedded.frequency as module

        monkeypatch.setattr(module, "WAL_FRAMES_MAX", bound or 10**9)
        store = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=86_400,
                                  clock=lambda: NOON, checkpoint_every=4)
        try:
            # 1,200 commits (2,400+ frames): without the bound, a checkpoint the thread
            # completes once under load (the full run saw 828 frames after 600) still
            # leaves the WAL past 1,000; with it, the WAL stays near the bound either way.
            for i in range(1200):
                assert store.reserve_sync(f"+1305555{i:04d}", (CLAIM,), NOON).granted
            wal = os.path.getsize(f"{tmp_path / 'f.sqlite3'}-wal") // 4120  # frames
        finally:
            await store.aclose()
        if bound is None:
            assert wal > 1000, wal
        else:
            assert wal < 600, wal


class TestGate:
    """The gate over the real stores: the reservation is the last fetch, and fails closed."""

    @pytest.fixture
    async def runtime(self, tmp_path):
        from callguard.config import load_settings
        from callguard.runtime import open_runtime
        from callguard.stores.embedded.lists import write_version
        from callguard.stores.list_files import parse_list_file

        listing = tmp_path / "list.txt"
        listing.write_text("3055550199\n")
        for name in ("national", "fl-state", "ut-state"):
            write_version(tmp_path, name, parse_list_file(listing), published=date(2026, 7, 20),
                          area_codes=None, source="test")
        rt = open_runtime(load_settings(data_dir=tmp_path))
        yield rt
        await rt.aclose()

    async def check(self, rt, minutes: int, number: str = "3055550123"):
        from callguard.gate import CheckRequest

        return await rt.gate.check(CheckRequest(number, "ut-solar-manual",
                                                at=NOON + timedelta(minutes=minutes),
                                                front="fastagi"))

    async def test_the_fourth_call_to_a_florida_number_is_blocked(self, runtime):
        """Three ALLOWs within 24 hours, then a BLOCK citing 501.616(6)(b)."""
        for minutes in (0, 30, 60):
            decision = await self.check(runtime, minutes)
            assert decision.allowed, decision.verdict.reason
        decision = await self.check(runtime, 90)
        assert not decision.allowed
        assert decision.verdict.deciding.rule_id == CAP_RULE

    async def test_a_frequency_store_that_fails_blocks_citing_the_store(self, runtime):
        """The reservation cannot be written: BLOCK, callguard:store-unavailable."""
        runtime.frequency._db.close()
        decision = await self.check(runtime, 0)
        assert not decision.allowed
        assert decision.verdict.deciding.rule_id == "callguard:store-unavailable"
        assert "not counted" in decision.verdict.reason
        with structlog.testing.capture_logs() as logs:
            utah = await self.check(runtime, 0, number="8015550123")
            await runtime.gate.counts_after.settle()
        assert utah.allowed, "a call no cap covers is counted after the answer, not judged"
        assert runtime.gate.counts_after.failed == 1
        scraped = generate_latest(runtime.metrics.registry).decode()  # not a log line alone
        assert 'callguard_frequency_counts_after_total{outcome="failed"} 1.0' in scraped
        assert 'callguard_frequency_counts_after_total{outcome="posted"} 1.0' in scraped
        failed = [e for e in logs if e["event"] == "frequency_count_failed"]
        assert len(failed) == 1
        assert "8015550123" not in str(failed)

    async def test_a_call_no_cap_covers_does_not_wait_for_its_count(self, runtime):
        """Counted after the answer: with the node's store held (its reservation waits until
        released), the call is decided, recorded and answered; the count lands once the
        store goes on, in the real store."""

        class Held:
            def __init__(self, store):
                self.store, self.go = store, asyncio.Event()

            async def reserve(self, *args, **kwargs):
                await self.go.wait()
                return await self.store.reserve(*args, **kwargs)

            async def reserve_all(self, batch):
                await self.go.wait()
                return await self.store.reserve_all(batch)

        held = Held(runtime.frequency)
        runtime.gate._stores["frequency"] = held
        decision = await asyncio.wait_for(self.check(runtime, 0, number="8015550123"), 5)
        assert decision.allowed
        assert runtime.gate.counts_after.posted == 1
        assert runtime.gate.counts_after.waiting == 1, "answered before the count was written"
        held.go.set()
        await runtime.gate.counts_after.settle()
        assert runtime.gate.counts_after.failed == 0
        counted = await runtime.frequency.count(
            "+18015550123", [FrequencyClaim("r", "seller:beehive-solar", 86400, 3)],
            NOON + timedelta(minutes=1))
        assert list(counted) == [1]

    async def test_counts_after_go_to_the_store_as_one_batch(self, runtime):
        """Forty calls no cap covers, posted within the linger: one task writes them all
        (not one task per count), every count lands in the real store, and a count the
        store refuses fails alone."""
        from callguard.facts.frequency import CountsAfter

        after = CountsAfter()
        claim = FrequencyClaim("r", "seller:beehive-solar", 86400, 3)
        for n in range(40):
            after.post(runtime.frequency, f"+1801555{n:04d}", (claim,), NOON, NOON)
        after.post(runtime.frequency, "+18015559999", (), NOON, NOON)  # nothing to count
        assert after.waiting == 41
        after._timer.cancel()
        after._flush()
        assert len(after._pending) == 1, "one task for the batch"
        assert after.waiting == 41
        await after.settle()
        assert (after.posted, after.failed, after.waiting) == (41, 0, 0)
        for n in (0, 39):
            counted = await runtime.frequency.count(f"+1801555{n:04d}", [claim],
                                                    NOON + timedelta(minutes=1))
            assert list(counted) == [1]
        runtime.frequency._db.close()  # the store cannot write: each count fails
        with structlog.testing.capture_logs() as logs:
            for n in range(3):
                after.post(runtime.frequency, f"+1801556{n:04d}", (claim,), NOON, NOON)
            await after.settle()
        assert after.failed == 3
        assert len([e for e in logs if e["event"] == "frequency_count_failed"]) == 3

    async def test_calls_before_the_crm_placed_the_number_in_florida_count(self, runtime):
        """Issue 18, the scope change through the gate and the embedded store: three calls
        to a Georgia number with no CRM location (no cap applies) are counted; the fourth,
        with a Miami ZIP, is under Florida's cap and blocked."""
        from callguard.gate import CheckRequest

        for minutes in (0, 30, 60):
            decision = await self.check(runtime, minutes, number="4045550123")
            assert decision.allowed, decision.verdict.reason
        await runtime.gate.counts_after.settle()  # counted after each answer, not awaited
        decision = await runtime.gate.check(CheckRequest(
            "4045550123", "ut-solar-manual", at=NOON + timedelta(minutes=90),
            front="fastagi", location="33101"))
        assert not decision.allowed
        assert decision.verdict.deciding.rule_id == CAP_RULE

    async def test_an_instant_ahead_of_the_clock_keeps_earlier_calls_in_the_window(
            self, runtime):
        """POST /v1/check takes the client's ``at``, but the call is placed now: three calls
        two hours ago, then one sent with an ``at`` 23 hours ahead is judged over the 24
        hours before now too, and blocked (the window from ``at`` would have left the
        three out)."""
        from callguard.gate import CheckRequest

        now = NOON + timedelta(hours=2)
        runtime.gate._clock = lambda: NOON
        for minutes in (0, 1, 2):
            assert (await self.check(runtime, minutes)).allowed
        runtime.gate._clock = lambda: now
        decision = await runtime.gate.check(CheckRequest(
            "3055550123", "ut-solar-manual", at=now + timedelta(hours=23), front="http"))
        assert not decision.allowed
        assert decision.verdict.deciding.rule_id == CAP_RULE

    async def test_an_instant_behind_the_clock_counts_the_call_now(self, runtime):
        """Three calls sent with an ``at`` 23 hours behind the clock are counted when they
        are placed (now), not 23 hours earlier: a call two hours later is the fourth."""
        from callguard.gate import CheckRequest

        runtime.gate._clock = lambda: NOON
        for minutes in (0, 1, 2):
            decision = await runtime.gate.check(CheckRequest(
                "3055550123", "ut-solar-manual", front="http",
                at=NOON - timedelta(hours=23) + timedelta(minutes=minutes)))
            assert decision.allowed, decision.verdict.reason
        later = NOON + timedelta(hours=2)
        runtime.gate._clock = lambda: later
        decision = await runtime.gate.check(CheckRequest(
            "3055550123", "ut-solar-manual", at=later, front="http"))
        assert not decision.allowed
        assert decision.verdict.deciding.rule_id == CAP_RULE

    async def test_redis_killed_blocks_and_never_allows_uncounted(self, runtime, tmp_path):
        """A node on Redis: allowed while Redis counts; once killed, BLOCK."""
        from tests.redis_server import RedisServer

        server = RedisServer(tmp_path / "r")
        server.data_dir.mkdir()
        server.start()
        runtime.gate._stores["frequency"] = redis_node(server.url)
        assert (await self.check(runtime, 0)).allowed
        server.kill()
        decision = await self.check(runtime, 10)
        assert not decision.allowed
        assert decision.verdict.deciding.rule_id == "callguard:store-unavailable"
        await runtime.gate._stores["frequency"].aclose()


class TestReadOnlyCount:
    """``count``: the read-only count of both backends, same keys, nothing written."""

    @pytest.fixture(params=["embedded", "redis"])
    async def store(self, request, tmp_path, shared_redis):
        if request.param == "redis":
            node = redis_node(shared_redis.url)
            await node._client.flushall()
        else:
            node = EmbeddedFrequency(tmp_path / "f.sqlite3", HASH, retention_s=86_400)
        yield node
        await node.aclose()

    async def test_count_agrees_with_the_reference_and_writes_nothing(self, store):
        """After calls at 0, 1 and 2 hours: the count at each instant is judge_claims',
        and counting a hundred times does not stop the cap granting its third call."""
        ledger = Ledger()
        for hour in (0, 1):
            at = NOON + timedelta(hours=hour)
            assert (await store.reserve("+13055550123", [CLAIM], at)).granted
            ledger.reserve("+13055550123", [CLAIM], at)
        for minutes in (0, 59, 61, 24 * 60, 24 * 60 + 59, 24 * 60 + 61, 26 * 60):
            at = NOON + timedelta(minutes=minutes)
            expected = judge_claims([CLAIM], ledger.calls["+13055550123"], at).counts
            assert await store.count("+13055550123", [CLAIM], at) == expected, minutes
        for _ in range(100):
            assert await store.count("+13055550123", [CLAIM], NOON) == (2,)
        assert await store.count("+13055550124", [CLAIM], NOON) == (0,)
        assert (await store.reserve("+13055550123", [CLAIM], NOON)).granted
        assert not (await store.reserve("+13055550123", [CLAIM], NOON)).granted


    async def test_a_closed_window_counts_a_call_exactly_a_window_ago(self, store):
        """The site reading "inside" (window_start = "closed"): both stores, the reference
        and the read-only count agree that a call exactly 24 h before counts, one a
        millisecond older does not; the default (open) counts neither."""
        closed = replace(CLAIM, cap=1, closed=True)
        opened = replace(CLAIM, cap=1)
        assert (await store.reserve("+13055550123", [opened], NOON)).granted
        day = NOON + timedelta(hours=24)
        history = [(CLAIM.subject, NOON)]
        assert judge_claims([closed], history, day).counts == (1,)
        assert judge_claims([opened], history, day).counts == (0,)
        assert judge_claims([closed], history, day + timedelta(milliseconds=1)).counts == (0,)
        assert await store.count("+13055550123", [closed], day) == (1,)
        assert await store.count("+13055550123", [opened], day) == (0,)
        assert await store.count("+13055550123", [closed],
                                 day + timedelta(milliseconds=1)) == (0,)
        refused = await store.reserve("+13055550123", [closed], day)
        assert (refused.granted, refused.counts) == (False, (1,))
        assert (await store.reserve("+13055550123", [opened], day)).granted


    async def test_a_campaign_naming_no_subject_counts_the_named_subjects_calls(self, store):
        """Reading campaign-subject (us-ok:same-subject): a campaign naming no subject is
        counted per seller, so the seller's calls on named subjects are in its count on
        both stores; a campaign naming another subject still counts apart."""
        claims = _subject_claims()
        roofing = OK_ROOFING
        gutters = replace(roofing, id="ok-gutters", subject="gutters")
        unnamed = replace(roofing, id="ok-unnamed", subject=None)

        for hour, campaign in enumerate((roofing, gutters, roofing)):
            at = NOON + timedelta(hours=hour)
            assert (await store.reserve("+14055550123", claims(campaign, at), at)).granted
        at = NOON + timedelta(hours=3)
        refused = await store.reserve("+14055550123", claims(unnamed, at), at)
        assert (refused.granted, refused.counts) == (False, (3,))
        assert (await store.reserve("+14055550123", claims(gutters, at), at)).granted

    async def test_a_campaign_naming_no_subject_counts_against_each_named_subject(
            self, store):
        """The other way round: three calls of the seller's campaign naming no subject,
        then one of its campaign naming roofing — refused (the unnamed calls cannot be
        shown not to be on roofing; each was recorded under every subject the seller's
        campaigns name, ``with_seller_subjects``), on both stores."""
        claims, roofing = _subject_claims(), OK_ROOFING
        campaigns = with_seller_subjects({
            "ok-roofing": roofing, "ok-unnamed": replace(roofing, id="ok-unnamed",
                                                         subject=None)})
        assert campaigns["ok-unnamed"].seller_subjects == {"roofing"}

        for hour in range(3):
            at = NOON + timedelta(hours=hour)
            granted = await store.reserve("+14055550123", claims(campaigns["ok-unnamed"], at),
                                          at)
            assert granted.granted
        at = NOON + timedelta(hours=3)
        refused = await store.reserve("+14055550123", claims(roofing, at), at)
        assert (refused.granted, refused.counts[0]) == (False, 3)


OK_ROOFING = Campaign(id="ok-roofing", solicitor="red-dirt-roofing", caller_id="+14055550100",
                      default_mode=DialingMode.MANUAL, origin_state="OK", packs=(),
                      subject="roofing")


def _subject_claims() -> Callable[[Campaign, datetime], tuple[FrequencyClaim, ...]]:
    """What a call to 4055550123 claims under us-ok's ``campaign-subject`` reading."""
    from callguard.config import load_pack_file

    chosen = load_pack_file(PACKS_DIR / "us-ok.toml",
                            choices={"us-ok:same-subject": "campaign-subject"})
    policy = Policy({**PACKS, "us-ok": chosen}, PolicySettings())

    def claims(campaign: Campaign, at: datetime) -> tuple[FrequencyClaim, ...]:
        call = attempt(at, campaign, number="4055550123")
        return frequency_claims(policy.plan(call).rules, call)

    return claims


class TestScrubGate:
    """The scrub front through the real gate on both backends: judged read-only against the
    calls counted, its own rows tentative, nothing written."""

    runtime = TestGate.runtime
    check = TestGate.check

    @pytest.fixture(params=["embedded", "redis"])
    async def node(self, request, runtime, shared_redis):
        if request.param == "redis":
            redis = redis_node(shared_redis.url)
            await redis._client.flushall()
            runtime.gate._stores["frequency"] = redis
            runtime.frequency, embedded = redis, runtime.frequency
            yield runtime
            runtime.frequency = embedded
            await redis.aclose()
        else:
            yield runtime

    async def scrub(self, rt, counts, minutes: int, number: str = "3055550123"):
        from callguard.facts.frequency import FREQUENCY
        from callguard.gate import CheckRequest

        return await rt.gate.check(CheckRequest(number, "ut-solar-manual",
                                                at=NOON + timedelta(minutes=minutes),
                                                front="scrub", stores={FREQUENCY: counts}))

    @staticmethod
    def cap_of(decision):
        return next(o for o in decision.verdict.outcomes if o.rule_id == CAP_RULE)

    async def test_a_scrub_after_three_counted_calls_blocks_the_number(self, node):
        """Fla. Stat. 501.616(6)(b): three calls counted, the scrub row BLOCKs citing it."""
        from callguard.facts.frequency import ScrubCounts

        first = await self.scrub(node, ScrubCounts(node.frequency), 0)
        assert first.allowed, first.verdict.reason
        assert self.cap_of(first).status is Status.PASS
        for minutes in (0, 30, 60):
            assert (await self.check(node, minutes)).allowed
        decision = await self.scrub(node, ScrubCounts(node.frequency), 90)
        assert not decision.allowed
        assert decision.verdict.deciding.rule_id == CAP_RULE
        assert "scrub: 3 call(s)" in decision.verdict.reason
        assert "already counted in 24 hours" in decision.verdict.reason
        assert self.cap_of(decision).status is Status.BLOCK

    async def test_one_number_four_times_allows_exactly_three_rows(self, node):
        """Rows of one number count against each other; the fourth BLOCKs as a scrub row."""
        from callguard.facts.frequency import ScrubCounts

        counts = ScrubCounts(node.frequency)
        decisions = [await self.scrub(node, counts, 0) for _ in range(4)]
        assert [d.allowed for d in decisions] == [True, True, True, False]
        assert decisions[3].verdict.deciding.rule_id == CAP_RULE
        assert "earlier rows of this file take the remaining calls" in \
            decisions[3].verdict.reason
        other = await self.scrub(node, counts, 0, number="3055550124")
        assert other.allowed, "another number has its own count"

    async def test_a_scrub_writes_no_count(self, node):
        """After a scrub of the number four times, live calls still get their three."""
        from callguard.facts.frequency import ScrubCounts

        counts = ScrubCounts(node.frequency)
        for _ in range(4):
            await self.scrub(node, counts, 0)
        for minutes in (0, 30, 60):
            decision = await self.check(node, minutes)
            assert decision.allowed, decision.verdict.reason
        assert not (await self.check(node, 90)).allowed

    async def test_a_count_that_cannot_be_read_blocks(self, node):
        """The store does not answer: the scrub row BLOCKs with the reason (fail closed)."""
        from callguard.facts.frequency import ScrubCounts
        from tests.redis_server import free_port

        store = node.frequency
        if isinstance(store, EmbeddedFrequency):
            store._db.close()
        else:
            store = redis_node(f"redis://127.0.0.1:{free_port()}")  # nobody listens
        decision = await self.scrub(node, ScrubCounts(store), 0)
        assert not decision.allowed
        assert decision.verdict.deciding.rule_id == "callguard:store-unavailable"
        assert "could not be read" in decision.verdict.reason
        if store is not node.frequency:
            await store.aclose()

    async def test_check_at_is_a_question_judged_read_only(self, node):
        """``callguard check --at`` places no call: judged on the counts, never counted."""
        from callguard.gate import CheckRequest

        def ask(minutes: int) -> CheckRequest:
            return CheckRequest("3055550123", "ut-solar-manual", front="cli",
                                at=NOON + timedelta(minutes=minutes), places_call=False)

        for _ in range(5):
            decision = await node.gate.check(ask(0))
            assert decision.allowed, decision.verdict.reason
            assert "read only, nothing counted" in self.cap_of(decision).reason
        for minutes in (0, 30, 60):
            assert (await self.check(node, minutes)).allowed
        decision = await node.gate.check(ask(90))
        assert not decision.allowed
        assert "cli: 3 call(s)" in decision.verdict.reason


def test_reserve_copies_every_field_of_facts() -> None:
    """``reserve`` (callguard/facts/frequency.py) builds its Facts field by field (cheaper
    than ``dataclasses.replace`` on every capped call): a field added to Facts must be
    copied there too, or the reservation would silently drop it."""
    import dataclasses

    from callguard.policy.model import Facts

    copied = {"lists", "consents", "ebr", "company_dnc", "fetched", "values"}
    assert {f.name for f in dataclasses.fields(Facts)} == copied, (
        "Facts changed: copy the new field in callguard.facts.frequency.reserve")
