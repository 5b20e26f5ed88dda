"""A Redis record store restored from an older backup and written past a node's mark by a
CLI on another data dir, while the node was down (high_water.py's ids): a real
redis-server restarted on its older AOF, a real ``callguard serve`` and CLI.

main: the import's writes pushed the counter past the node's mark, the node started without
complaint, and the number whose do-not-call request the restore lost was ALLOWed (47 CFR
64.1200(d)(3)).
"""

from __future__ import annotations

import json
import shutil

import orjson
import redis as redis_py
from jsonschema import Draft202012Validator

from tests.conftest import ROOT
from tests.redis_server import RedisServer
from tests.serve_node import AT, ServeNode, write_lists

UT = "ut-solar-manual"
FIRST, SECOND, OTHER, IMPORTED = 8015550161, 8015550162, 8015550163, 8015550164


def _check(node: ServeNode, number: int) -> dict:
    status, answer = node.json("/v1/check", {"number": str(number), "campaign": UT, "at": AT})
    assert status == 200, answer
    return answer


def _dnc(node: ServeNode, number: int) -> None:
    added = node.cli("internal-dnc", "add", str(number), "--campaign", UT)
    assert added.returncode == 0, added.stderr


def test_a_node_down_through_a_restore_rewritten_past_its_mark_blocks_until_accepted(
        tmp_path):
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_records=True,
                     reload_seconds=0.5)
    cron = ServeNode(tmp_path / "cron", redis_url=redis.url, redis_records=True)  # CLI only
    write_lists(node.data, [])
    write_lists(cron.data, [])
    try:
        node.start()
        _dnc(cron, FIRST)
        backup = tmp_path / "backup-aof"  # appendfsync always: the files hold every write
        shutil.copytree(redis.data_dir / "appendonlydir", backup)
        _dnc(node, SECOND)
        assert _check(node, SECOND)["verdict"] == "BLOCK"
        node.stop()  # down through the restore

        redis.kill()
        shutil.rmtree(redis.data_dir / "appendonlydir")
        shutil.copytree(backup, redis.data_dir / "appendonlydir")
        redis.start()
        _dnc(cron, OTHER)  # the nightly import, its mark from before: past the node's
        _dnc(cron, IMPORTED)

        node.start()
        answer = _check(node, SECOND)
        assert answer["verdict"] == "BLOCK", answer  # main: ALLOW, its request was gone
        assert "older than one this node already used" in str(answer), answer
        assert _check(node, OTHER)["verdict"] == "BLOCK"
        assert node.events("records_store_behind")
        assert node.metric("callguard_records_behind") == 1.0
        status, ready = node.json("/readyz")
        assert status == 503, ready
        shown = node.cli("internal-dnc", "show", str(SECOND), "--campaign", UT)
        assert shown.returncode != 0  # main: "no record"
        assert "older than one this node" in shown.stderr

        # Accepted as it is (the counter is past the mark: another history, not a lower
        # counter); the mark adopted is the store's, with its id; then served.
        accepted = node.cli("records-accept-older", "--reason", "re-recording from the CRM")
        assert accepted.returncode == 0, accepted.stderr
        assert "accepted" in accepted.stdout
        events = [json.loads(line) for line in
                  (node.data / "compliance.jsonl").read_text().splitlines()]
        record = [e for e in events if e.get("event") == "records-older-accepted"]
        assert record, events
        assert record[0]["store_mark"] > record[0]["node_mark"]
        schema = json.loads((ROOT / "callguard" / "data" / "schemas" /
                             "records-older-accepted.json").read_text())
        Draft202012Validator(schema).validate(record[0])
        admin = redis_py.Redis.from_url(redis.url)
        saved = orjson.loads((node.data / "records-redis-high-water.json").read_bytes())
        assert saved["seq"] == int(admin.get("callguard:records-seq"))
        assert saved["id"] == admin.hget("callguard:records-seq-ids", saved["seq"]).decode()
        admin.close()
        node.until(lambda: node.json("/readyz")[0] == 200, what="ready after acceptance")
        _dnc(node, SECOND)
        assert _check(node, SECOND)["verdict"] == "BLOCK"
        assert _check(node, IMPORTED)["verdict"] == "BLOCK"
        assert node.metric("callguard_records_behind") == 0.0
    finally:
        node.stop()
        redis.stop()
