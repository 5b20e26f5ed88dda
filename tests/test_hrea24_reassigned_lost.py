"""A reassigned-number copy this node served and lost is unread, not "no data" (hrea24).

``ReassignedNumbers`` (47 CFR 64.1200(m)) read a missing ``attr-reassigned`` as "no data
loaded: consent on record is honoured". A node restarted on a Redis that lost its data
(FLUSHALL, no AOF) knows it served the copy (its data dir's ``redis-lists-served.json``,
hsto22/hsto23) and said so in ``/readyz`` — but the gate still decided as if the site had
never loaded the data: a consent the lost copy voided (given before the number's permanent
disconnect) was honoured again, and a predictive call to the new subscriber of a
reassigned number was ALLOWed. Shown on main: the restarted node answered ALLOW.

Now such a copy is unread (``CallAttempt.unread``, as a scope list lost from Redis): a call
resting on a consent valid at the call is BLOCKed naming the lost copy and 64.1200(m); a
call with no consent on record is not this rule's. "Never loaded on this node" still
honours consent (without the safe harbor). Real ``callguard serve``, real redis-server on
a free port, the CLI in a subprocess; the rule also directly on a synthetic attempt.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

from callguard.policy import CallAttempt, DialingMode
from callguard.policy.engine import Policy, PolicySettings
from callguard.policy.model import ConsentKind, ConsentRecord, FactKind, Facts, ListCheck
from callguard.policy.rules.number_kind import REASSIGNED_LIST
from tests.conftest import NY_CAMPAIGN, PACKS, PARSER
from tests.redis_server import RedisServer
from tests.serve_node import AT, AT_DATE, ServeNode
from tests.test_redis_lists import connect

RULE = "us-federal:64.1200(m)"
CAMPAIGN = "ut-solar-predictive"
REASSIGNED = 2125550142  # the previous subscriber's consent; disconnected since
OTHER = 2125550143  # a consent, never disconnected per the data
BARE = 2125550144  # no consent on record
DISCONNECTED = AT_DATE - timedelta(days=60)
GRANTED = f"{(AT_DATE - timedelta(days=400)).isoformat()}T12:00:00Z"


def _import_lists(node: ServeNode, tmp) -> None:
    path = tmp / "dnc.txt"
    path.write_text("8015550199\n")
    for name in ("national", "ut-state", "fl-state", "ok-state"):
        result = node.cli("dnc", "import", str(path), "--list", name, "--published",
                          AT_DATE.isoformat(), "--covers", "all", "--max-shrink", "1")
        assert result.returncode == 0, result.stderr


def _verdict(node: ServeNode, number: int) -> dict:
    status, answer = node.json("/v1/check", {"number": str(number), "campaign": CAMPAIGN,
                                             "at": AT})
    assert status == 200, answer
    return answer


def _outcome(answer: dict) -> dict:
    (outcome,) = [o for o in answer["outcomes"] if o["rule"] == RULE]
    return outcome


async def _flush(url: str) -> None:
    client = connect(url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


def test_a_lost_reassigned_copy_does_not_honour_the_consent_it_voided(tmp_path):
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis", appendonly="no")
    redis.start()
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_lists=True,
                     reload_seconds=0.5)
    try:
        _import_lists(node, tmp_path)
        dated = tmp_path / "reassigned.csv"
        dated.write_text(f"{REASSIGNED},{DISCONNECTED.isoformat()}\n")
        result = node.cli("attributes", "import", str(dated), "--kind", "reassigned",
                          "--published", AT_DATE.isoformat(), "--covers", "all")
        assert result.returncode == 0, result.stderr
        for number in (REASSIGNED, OTHER):
            result = node.cli("consent", "add", str(number), "--campaign", CAMPAIGN,
                              "--kind", "written", "--granted", GRANTED)
            assert result.returncode == 0, result.stderr
        node.start()
        before = _verdict(node, REASSIGNED)
        assert before["verdict"] == "BLOCK", before
        assert before["rule"] == RULE, before
        assert _verdict(node, OTHER)["verdict"] == "ALLOW"  # a consent the data leaves

        asyncio.run(_flush(redis.url))  # Redis loses everything; a cron imports the
        _import_lists(node, tmp_path)  # do-not-call lists again, not the attribute data
        node.until(lambda: len(node.events("list_version_loaded")) >= 9)  # 5, then 4
        held = _verdict(node, REASSIGNED)  # the running node keeps the copy it holds
        assert held["verdict"] == "BLOCK", held
        assert held["rule"] == RULE, held

        node.stop()
        node.start()  # serves no copy of attr-reassigned: its data dir says it served one
        after = _verdict(node, REASSIGNED)
        assert after["verdict"] == "BLOCK", after  # main: ALLOW on the voided consent
        assert after["rule"] == RULE, after
        reason = _outcome(after)["reason"]
        assert REASSIGNED_LIST in reason, reason
        assert "lost" in reason, reason
        assert "64.1200(m)" in reason, reason
        # a consent the lost copy may have voided cannot be told from one it left
        other = _verdict(node, OTHER)
        assert other["verdict"] == "BLOCK", other
        assert other["rule"] == RULE, other
        # a call resting on no consent is not this rule's (the others decide)
        bare = _outcome(_verdict(node, BARE))
        assert bare["status"] == "pass", bare
        assert "no consent valid at the call" in bare["reason"], bare
        # the CLI reads the node's data dir file, as the node does
        cli = json.loads(node.cli("check", str(REASSIGNED), "--campaign", CAMPAIGN, "--at",
                                  AT, "--json").stdout)
        assert cli["verdict"] == "BLOCK", cli
        assert cli["rule"] == RULE, cli
        assert str(REASSIGNED) not in node.stderr()

        # imported again: read again, the voided consent BLOCKed by the data itself
        result = node.cli("attributes", "import", str(dated), "--kind", "reassigned",
                          "--published", AT_DATE.isoformat(), "--covers", "all")
        assert result.returncode == 0, result.stderr
        node.until(lambda: _verdict(node, OTHER)["verdict"] == "ALLOW")
        again = _verdict(node, REASSIGNED)
        assert again["rule"] == RULE, again
        assert "predates" in _outcome(again)["reason"], again
    finally:
        node.stop()
        redis.stop()


# The rule itself, on a synthetic attempt: no clock but the call's instant.
CALL = datetime.fromisoformat("2026-07-22T11:00:00-04:00")
CONSENT = ConsentRecord(ConsentKind.WRITTEN, datetime.fromisoformat("2025-01-10T12:00:00+00:00"))
POLICY = Policy(PACKS, PolicySettings())


def _decide(*, unread: bool, consents: tuple[ConsentRecord, ...],
            check: ListCheck | None = None):
    attempt = CallAttempt(PARSER.parse("2125550123"), NY_CAMPAIGN, DialingMode.PRERECORDED,
                          CALL, unread=frozenset({REASSIGNED_LIST}) if unread else frozenset())
    plan = POLICY.plan(attempt)
    lists: dict[str, ListCheck | None] = {
        name: ListCheck(name, 1, CALL.date() - timedelta(days=1), False, True)
        for name in plan.list_names}
    lists[REASSIGNED_LIST] = check
    verdict = POLICY.decide(plan, Facts(lists, consents, fetched=frozenset(FactKind)))
    (outcome,) = [o for o in verdict.outcomes if o.rule_id == RULE]
    return verdict, outcome


def test_the_rule_blocks_a_consent_it_cannot_check_on_a_lost_copy():
    verdict, outcome = _decide(unread=True, consents=(CONSENT,))
    assert outcome.status.value == "block", outcome
    assert "lost" in outcome.reason
    assert REASSIGNED_LIST in outcome.reason
    assert "64.1200(m)" in outcome.reason
    assert not verdict.allowed


def test_the_rule_leaves_a_call_with_no_valid_consent_on_a_lost_copy():
    revoked = ConsentRecord(ConsentKind.WRITTEN, CONSENT.granted_at,
                            revoked_at=datetime.fromisoformat("2026-01-01T00:00:00+00:00"))
    for consents in ((), (revoked,)):
        _, outcome = _decide(unread=True, consents=consents)
        assert outcome.status.value == "pass", outcome


def test_never_loaded_still_honours_consent_without_the_safe_harbor():
    verdict, outcome = _decide(unread=False, consents=(CONSENT,))
    assert outcome.status.value == "pass", outcome
    assert "no reassigned-number data loaded" in outcome.reason
    assert verdict.allowed, verdict.reason


def test_a_loaded_copy_is_read_whatever_unread_says():
    """Unread is the gate's word for a copy it does not hold; one held is judged."""
    cut = ListCheck(REASSIGNED_LIST, 2, CALL.date() - timedelta(days=1), True, True,
                    disconnected=CALL.date() - timedelta(days=30))
    _, outcome = _decide(unread=True, consents=(CONSENT,), check=cut)
    assert outcome.status.value == "block", outcome
    assert "predates" in outcome.reason, outcome
