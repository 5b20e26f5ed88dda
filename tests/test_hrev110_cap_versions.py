"""hrev110: review of hrev105's cap versions (c9c984c), for the called party.

Each version of an amended cap now reads its own claim (``FrequencyResult.count_for(rule,
own)``), but when its own claim was not in the store's answer it still fell back to the
FIRST claim of its rule id: the 72-hour version read the 24-hour version's count (never
larger) and PASSed three calls in 72 hours. No store rebuilds claims (every store answers
the claims it was given), so the fallback served only answers that are not this plan's;
now a version whose own claim is absent BLOCKs ("the store answered without this rule's
count"), as a rule whose id is absent always did. Also pinned: each store (Ledger, the
embedded SQLite store) answers both versions' claims, each in its own window, and counts
the call once. Synthetic instants and history.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from callguard.numbers import NumberParser
from callguard.numbers.location import parse_location
from callguard.policy import (
    CallAttempt,
    Campaign,
    DialingMode,
    FactKind,
    Facts,
    ListCheck,
    Status,
    Verdict,
)
from callguard.policy.frequency import FrequencyResult, Ledger, judge_claims
from tests.test_hrev105_cap_versions import _policy

REGIONS = frozenset({"US", "GU"})
PARSER = NumberParser(regions=REGIONS)
CAMPAIGN = Campaign(id="hrev110", solicitor="hrev110 seller", caller_id="+12125550161",
                    default_mode=DialingMode.MANUAL, origin_state="NY", packs=())
CAP = "us-fl:501.616(6)(b)"
AT = datetime(2027, 1, 1, 0, 0, tzinfo=UTC)  # 19:00 ET 2026-12-31, 10:00 Guam 2027-01-01
SELLER = f"seller:{CAMPAIGN.solicitor}"


def _plan(front: str):
    policy = _policy()
    attempt = CallAttempt(PARSER.parse("3052345678"), CAMPAIGN, DialingMode.MANUAL, AT,
                          parse_location("96910", regions=REGIONS), front=front)
    return policy, policy.plan(attempt)


def _decide(policy, plan, result: FrequencyResult) -> Verdict:
    lists = {n: ListCheck(n, 1, date(2026, 12, 20), False, True) for n in plan.list_names}
    facts = Facts(lists=lists, fetched=frozenset(FactKind),
                  values={FactKind.FREQUENCY: result})
    verdict = policy.decide(plan, facts)
    assert isinstance(verdict, Verdict)
    return verdict


def test_a_version_whose_own_claim_is_missing_does_not_read_the_other_one():
    """PASSed before: the 72-hour version read the 24-hour claim's count (0)."""
    policy, plan = _plan("scrub")
    history = [(SELLER, AT - timedelta(hours=h)) for h in (30, 40, 50)]
    short = tuple(c for c in plan.read if c.rule_id != CAP or c.window_s == 24 * 3600)
    assert len(short) == len(plan.read) - 1
    verdict = _decide(policy, plan, judge_claims(short, history, AT))
    assert not verdict.allowed, verdict.reason
    (cap,) = [o for o in verdict.outcomes if o.rule_id == CAP]
    assert cap.status is Status.BLOCK, cap.reason


def test_the_ledger_counts_the_call_once_and_each_window_apart():
    """Both versions' claims reserved together: one row, each claim its own count."""
    _, plan = _plan("fastagi")
    ledger = Ledger()
    number = "+13052345678"
    ledger.calls[number] = [(SELLER, AT - timedelta(hours=h)) for h in (30, 40)]
    result = ledger.reserve(number, plan.reserved, AT)
    assert result.granted
    counts = {c.window_s: n for c, n in zip(result.claims, result.counts, strict=True)
              if c.rule_id == CAP}
    assert counts == {24 * 3600: 0, 72 * 3600: 2}
    assert len(ledger.calls[number]) == 3  # counted once, not once per version
    refused = ledger.reserve(number, plan.reserved, AT + timedelta(minutes=1))
    assert not refused.granted
    assert refused.claims[refused.refused or 0].window_s == 72 * 3600


async def test_the_embedded_store_counts_the_call_once_and_each_window_apart(tmp_path):
    """The SQLite store answers as the Ledger: each version's claim in its own window."""
    from callguard.compliance.logkey import NumberProtector
    from callguard.policy.frequency import FrequencyClaim
    from callguard.stores.embedded.frequency import EmbeddedFrequency

    _, plan = _plan("fastagi")
    number = "+13052345678"
    store = EmbeddedFrequency(tmp_path / "frequency.sqlite3", NumberProtector(bytes(32)).hash,
                              retention_s=86_400, clock=lambda: AT)
    try:
        seed = FrequencyClaim("seed", SELLER, 3600, 1000)
        for hours in (30, 40):
            assert (await store.reserve(number, [seed], AT - timedelta(hours=hours))).granted
        result = await store.reserve(number, plan.reserved, AT)
        assert result.granted
        counts = {c.window_s: n for c, n in zip(result.claims, result.counts, strict=True)
                  if c.rule_id == CAP}
        assert counts == {24 * 3600: 0, 72 * 3600: 2}
        assert result.held is not None
        assert result.held.subjects.count(SELLER) == 1  # one row for both versions
        refused = await store.reserve(number, plan.reserved, AT + timedelta(minutes=1))
        assert not refused.granted
        assert refused.claims[refused.refused or 0].window_s == 72 * 3600
    finally:
        await store.aclose()


async def test_redis_counts_the_call_once_and_two_nodes_grant_one(redis_server):
    """The Lua script answers as the Ledger; two nodes racing for the last call under the
    72-hour version (two of three counted, none in 24 hours) grant exactly one."""
    import asyncio

    from callguard.policy.frequency import FrequencyClaim
    from tests.test_frequency import redis_node

    _, plan = _plan("fastagi")
    number = "+13052345678"
    nodes = [redis_node(redis_server.url), redis_node(redis_server.url)]
    try:
        seed = FrequencyClaim("seed", SELLER, 3600, 1000)
        for hours in (30, 40):
            assert (await nodes[0].reserve(number, [seed], AT - timedelta(hours=hours))).granted
        results = await asyncio.gather(*(node.reserve(number, plan.reserved, AT)
                                         for node in nodes))
        assert sorted(r.granted for r in results) == [False, True]
        (granted,) = [r for r in results if r.granted]
        counts = {c.window_s: n for c, n in zip(granted.claims, granted.counts, strict=True)
                  if c.rule_id == CAP}
        assert counts == {24 * 3600: 0, 72 * 3600: 2}
        (refused,) = [r for r in results if not r.granted]
        assert refused.claims[refused.refused or 0].window_s == 72 * 3600
        assert refused.counts[refused.refused or 0] == 3  # the call counted once, not twice
    finally:
        for node in nodes:
            await node.aclose()
