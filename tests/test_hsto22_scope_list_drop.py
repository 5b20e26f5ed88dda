"""A way out for a site that stopped calling a state, and a scope list Redis lost (hsto22).

`dnc drop` refused every list a pack reads: a site that no longer called Florida and let
its `fl-state` copy age had every call BLOCKed, nationwide (a stale scope list is unread:
Florida's pack then reaches every number), for as long as the copy stayed, and a Redis
node kept serving a dropped copy until restarted. Now `dnc drop LIST --yes` drops such a
list when the configuration names it in `[lists] not_loaded` (the site's own statement that
it does without it), records the drop (`read_by`, `not_loaded`), and every node stops
serving it.

And the other way round: `[lists] not_loaded` is the shipped default, so a node restarted on
a Redis that lost its data (no AOF, FLUSHALL) read a scope list it had served as absent on
purpose: a Floridian's New York mobile on `fl-state` was ALLOWed. Now a list the data dir
says was served, that Redis no longer holds with no record of a drop, is an error: unread,
every call in its scope BLOCKed, `/readyz` not ready with the fix. Real `callguard serve`,
real redis-server on a free port, the CLI in a subprocess.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import structlog

from callguard.stores.redis.lists import RedisListRegistry
from tests.redis_server import RedisServer
from tests.serve_node import AT, AT_DATE, ServeNode
from tests.test_redis_lists import connect, publish, wait_for

NEW_YORK = 2125550143  # a Floridian's New York mobile: on fl-state only, when listed
MIAMI = 3055550143
STALE = (AT_DATE - timedelta(days=200)).isoformat()  # past Florida's quarter and 3 months


def _import(node: ServeNode, tmp, name: str, numbers: list[int], published: str) -> None:
    path = tmp / f"{name}-{published}-{len(numbers)}.txt"
    path.write_text("".join(f"{n}\n" for n in numbers))
    result = node.cli("dnc", "import", str(path), "--list", name, "--published", published,
                      "--covers", "all", "--max-shrink", "1")
    assert result.returncode == 0, result.stderr


def _every_list(node: ServeNode, tmp, *, florida: list[int], published: str) -> None:
    for name in ("national", "ut-state", "ok-state"):
        _import(node, tmp, name, [8015550199], AT_DATE.isoformat())
    _import(node, tmp, "fl-state", florida, published)


def _cli_check(node: ServeNode, number: int) -> dict:
    result = node.cli("check", str(number), "--campaign", "ut-solar-manual", "--at", AT,
                      "--json")
    return json.loads(result.stdout)


def _verdict(node: ServeNode, number: int) -> dict:
    status, answer = node.json("/v1/check", {"number": str(number),
                                             "campaign": "ut-solar-manual", "at": AT})
    assert status == 200, answer
    return answer


def _florida_check(node: ServeNode) -> dict:
    _, ready = node.json("/readyz")
    return next(c for c in ready["checks"] if c["name"] == "list:fl-state")


def _until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def _drops(node: ServeNode) -> list[dict]:
    lines = (node.data / "compliance.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines)
            if r.get("event") == "list-change" and r.get("action") == "drop"]


def test_a_stale_florida_copy_is_dropped_on_purpose_embedded(tmp_path):
    """The copy is 200 days old: every call, a New York number's too, is BLOCKed by
    us-fl's freshness rule. Refused without --yes, refused when not_loaded does not name
    the list, dropped with both: New York ALLOWed, Miami BLOCKed naming fl-state, the drop
    in the compliance log and in `dnc status`; a serving node stops serving the copy."""
    node = ServeNode(tmp_path / "node", reload_seconds=0.5)
    _every_list(node, tmp_path, florida=[8015550199], published=STALE)
    before = _cli_check(node, NEW_YORK)
    assert before["verdict"] == "BLOCK", before
    assert before["rule"] == "us-fl:501.059(4):freshness", before
    node.start()
    try:
        assert _verdict(node, NEW_YORK)["verdict"] == "BLOCK"

        refused = node.cli("dnc", "drop", "fl-state")
        assert refused.returncode == 2, refused.stderr
        assert "--yes" in " ".join(refused.stderr.split())
        shipped = node.config.read_text()
        node.config.write_text(shipped.replace('not_loaded = ["fl-state", "ok-state"]',
                                               'not_loaded = ["ok-state"]'))
        refused = node.cli("dnc", "drop", "fl-state", "--yes")
        assert refused.returncode == 2, refused.stderr
        assert "not_loaded" in " ".join(refused.stderr.split())
        node.config.write_text(shipped)

        dropped = node.cli("dnc", "drop", "fl-state", "--yes")
        assert dropped.returncode == 0, dropped.stderr
        assert "not loaded on purpose ([lists] not_loaded)" in " ".join(dropped.stderr.split())
        [record] = _drops(node)
        assert record["list"] == "fl-state"
        assert record["not_loaded"] is True
        assert record["read_by"] == ["us-fl"]

        _until(lambda: _verdict(node, NEW_YORK)["verdict"] == "ALLOW")  # the node too
        assert node.events("list_dropped")
        assert _florida_check(node)["ok"]
        assert "not loaded on purpose" in _florida_check(node)["detail"]
        after = _cli_check(node, NEW_YORK)
        assert after["verdict"] == "ALLOW", after
        miami = _cli_check(node, MIAMI)
        assert miami["verdict"] == "BLOCK", miami
        assert "fl-state" in miami["reason"], miami
        status = node.cli("dnc", "status")
        assert "not loaded on purpose ([lists] not_loaded; read by us-fl)" in " ".join(
            status.stdout.split())
    finally:
        node.stop()


def test_a_dropped_scope_list_leaves_every_redis_node(tmp_path):
    """Lists in Redis: the serving node stops serving the dropped copy at once (it kept it
    until restarted, every call BLOCKed), and restarted it reads the list as absent on
    purpose, not as lost."""
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_lists=True,
                     reload_seconds=0.5)
    try:
        _every_list(node, tmp_path, florida=[8015550199], published=STALE)
        node.start()
        assert _verdict(node, NEW_YORK)["verdict"] == "BLOCK"
        dropped = node.cli("dnc", "drop", "fl-state", "--yes")
        assert dropped.returncode == 0, dropped.stderr
        _until(lambda: _verdict(node, NEW_YORK)["verdict"] == "ALLOW")
        assert node.events("list_dropped")
        node.stop()
        node.start()
        assert _verdict(node, NEW_YORK)["verdict"] == "ALLOW"
        assert _florida_check(node)["ok"], _florida_check(node)
        # imported again: served again, the record of the drop gone with it
        _import(node, tmp_path, "fl-state", [NEW_YORK], AT_DATE.isoformat())
        _until(lambda: _verdict(node, NEW_YORK)["verdict"] == "BLOCK")
        assert asyncio.run(_dropped_key(redis.url)) == 0
    finally:
        node.stop()
        redis.stop()


async def _dropped_key(url: str) -> int:
    client = connect(url)
    try:
        return int(await client.exists("callguard:list:fl-state:dropped"))
    finally:
        await client.aclose()


async def _flush(url: str) -> None:
    client = connect(url)
    try:
        await client.flushall()
    finally:
        await client.aclose()


def test_a_scope_list_redis_lost_is_unread_after_a_restart(tmp_path):
    """fl-state holds the New York mobile; Redis is flushed and national, ut-state and
    ok-state imported again (a daily cron), fl-state not. The running node keeps its copy
    (BLOCK). Restarted, it has none, and not_loaded (the shipped default) names fl-state:
    the number was ALLOWed. Now BLOCKed, /readyz names the loss and the fix."""
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis", appendonly="no")
    redis.start()
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_lists=True,
                     reload_seconds=0.5)
    try:
        _every_list(node, tmp_path, florida=[NEW_YORK], published=AT_DATE.isoformat())
        node.start()
        assert _verdict(node, NEW_YORK)["verdict"] == "BLOCK"
        asyncio.run(_flush(redis.url))
        for name in ("national", "ut-state", "ok-state"):
            _import(node, tmp_path, name, [8015550199], AT_DATE.isoformat())
        _until(lambda: len(node.events("list_version_loaded")) >= 7)  # 4, then 3 again
        assert _verdict(node, NEW_YORK)["verdict"] == "BLOCK"  # its copy, still served

        node.stop()
        node.start()
        answer = _verdict(node, NEW_YORK)
        assert answer["verdict"] == "BLOCK", answer
        assert "fl-state" in answer["reason"], answer
        check = _florida_check(node)
        assert not check["ok"], check
        assert "lost its data" in check["detail"]
        assert node.json("/readyz")[0] == 503
        status = node.cli("dnc", "status")
        assert "lost its data" in " ".join((status.stdout + status.stderr).split())
        scrub_cli = _cli_check(node, NEW_YORK)
        assert scrub_cli["verdict"] == "BLOCK", scrub_cli
        assert str(NEW_YORK) not in node.stderr()

        _import(node, tmp_path, "fl-state", [NEW_YORK], AT_DATE.isoformat())
        _until(lambda: _florida_check(node)["ok"])
        assert _verdict(node, NEW_YORK)["verdict"] == "BLOCK"  # on the list again
        assert _verdict(node, 2125550144)["verdict"] == "ALLOW"
    finally:
        node.stop()
        redis.stop()


def test_the_cli_reads_the_loss_as_the_node_does(tmp_path):
    """A registry on the node's data dir file (read only, as the CLI's) says the list is
    lost; one without the file (another data dir) has nothing to compare."""
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis", appendonly="no")
    redis.start()
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_lists=True)
    try:
        _every_list(node, tmp_path, florida=[NEW_YORK], published=AT_DATE.isoformat())
        node.start()
        node.stop()
        asyncio.run(_flush(redis.url))

        async def errors(with_file: bool) -> dict[str, str]:
            client = connect(redis.url)
            registry = RedisListRegistry(client)
            try:
                if with_file:
                    registry.remember_in(node.data / "redis-lists-served.json", write=False)
                await registry.sync()
                return dict(registry.errors)
            finally:
                await client.aclose()

        found = asyncio.run(errors(True))
        assert set(found) == {"national", "ut-state", "fl-state", "ok-state"}, found
        assert "v1" in found["fl-state"]
        assert asyncio.run(errors(False)) == {}
    finally:
        node.stop()
        redis.stop()


async def test_a_serving_node_notices_a_flush_without_an_announcement(redis_server):
    """FLUSHALL drops no connection and announces nothing: the serving node followed
    announcements only, and said nothing until its connection dropped. With nothing
    announced for ``check_seconds`` it syncs every list, and says the list is gone."""
    client = connect(redis_server.url)
    await publish(client, [8015550101])
    node = RedisListRegistry(connect(redis_server.url), retry_seconds=0.1, check_seconds=0.2)
    try:
        with structlog.testing.capture_logs() as logs:
            await node.start()
            for _ in range(500):  # the follower subscribed (and made its catch-up sync)
                [(_, subscribers)] = await client.pubsub_numsub("callguard:lists:published")
                if subscribers:
                    break
                await asyncio.sleep(0.01)
            await asyncio.sleep(0.3)
            await client.flushall()
            await wait_for(lambda: any(e["event"] == "list_gone_from_redis" for e in logs),
                           timeout=5)
        assert node.snapshot("national").contains(8015550101)  # its copy, still served
    finally:
        await node.close()
        await client.aclose()
