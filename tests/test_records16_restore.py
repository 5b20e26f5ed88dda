"""A Redis record store restored from an older backup is noticed (high_water.py): a number
whose do-not-call request was recorded after the backup is BLOCKed with the reason, never
ALLOWed (47 CFR 64.1200(d)(3)). A real redis-server restarted on its older AOF, a real
``callguard serve`` and CLI on its data dir.

main: the marker is in the backup too, so the restored store passed as the same one, the
request was gone, and the call was ALLOWed.
"""

from __future__ import annotations

import json
import shutil

from jsonschema import Draft202012Validator

from tests.conftest import ROOT
from tests.redis_server import RedisServer
from tests.serve_node import AT, ServeNode, write_lists

UT = "ut-solar-manual"
FIRST, SECOND, OTHER = 8015550161, 8015550162, 8015550163


def _check(node: ServeNode, number: int) -> dict:
    status, answer = node.json("/v1/check", {"number": str(number), "campaign": UT, "at": AT})
    assert status == 200, answer
    return answer


def _dnc(node: ServeNode, number: int) -> None:
    added = node.cli("internal-dnc", "add", str(number), "--campaign", UT)
    assert added.returncode == 0, added.stderr


def _restore(redis: RedisServer, backup) -> None:
    redis.kill()
    shutil.rmtree(redis.data_dir / "appendonlydir")
    shutil.copytree(backup, redis.data_dir / "appendonlydir")
    redis.start()


def test_a_restored_older_store_blocks_with_the_reason_until_accepted(tmp_path):
    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_records=True,
                     reload_seconds=0.5)
    write_lists(node.data, [])
    try:
        node.start()
        _dnc(node, FIRST)
        assert _check(node, OTHER)["verdict"] == "ALLOW"
        backup = tmp_path / "backup-aof"  # appendfsync always: the files hold every write
        shutil.copytree(redis.data_dir / "appendonlydir", backup)
        _dnc(node, SECOND)
        assert _check(node, SECOND)["verdict"] == "BLOCK"

        _restore(redis, backup)
        answer = _check(node, SECOND)
        assert answer["verdict"] == "BLOCK", answer  # main: ALLOW, its request was gone
        assert "older than one this node already used" in str(answer), answer
        assert "Restore the newest backup" in str(answer)
        assert "records-accept-older" in str(answer)
        assert _check(node, OTHER)["verdict"] == "BLOCK"  # nothing read from it is trusted
        assert node.events("records_store_behind")
        assert node.metric("callguard_records_behind") == 1.0
        status, ready = node.json("/readyz")
        assert status == 503, ready
        assert "older than one this node already used" in str(ready)

        # The CLI on the node's data dir refuses too, and a restarted node still does.
        shown = node.cli("internal-dnc", "show", str(SECOND), "--campaign", UT)
        assert shown.returncode != 0
        assert "older than one this node" in shown.stderr
        node.stop()
        node.start()
        assert _check(node, SECOND)["verdict"] == "BLOCK"
        assert "older than one" in str(_check(node, SECOND))

        # The lost request re-recorded is refused while behind; accepted deliberately,
        # with a record of the acceptance, then re-recorded: BLOCKed by the record.
        accepted = node.cli("records-accept-older", "--reason", "re-recording from the CRM")
        assert accepted.returncode == 0, accepted.stderr
        events = [json.loads(line) for line in
                  (node.data / "compliance.jsonl").read_text().splitlines()]
        record = [e for e in events if e.get("event") == "records-older-accepted"]
        assert record, events
        assert record[0]["reason"] == "re-recording from the CRM"
        assert record[0]["node_mark"] > record[0]["store_mark"]
        schema = json.loads((ROOT / "callguard" / "data" / "schemas" /
                             "records-older-accepted.json").read_text())
        Draft202012Validator(schema).validate(record[0])
        node.until(lambda: node.json("/readyz")[0] == 200, what="ready after acceptance")
        _dnc(node, SECOND)
        assert _check(node, SECOND)["verdict"] == "BLOCK"
        assert _check(node, OTHER)["verdict"] == "ALLOW"
        assert node.metric("callguard_records_behind") == 0.0
        node.stop()

        # A damaged mark file is refused, and the way out its message names can be taken.
        (node.data / "records-redis-high-water.json").write_text("{")
        shown = node.cli("internal-dnc", "show", str(SECOND), "--campaign", UT)
        assert shown.returncode != 0
        assert "damaged" in shown.stderr
        accepted = node.cli("records-accept-older", "--reason", "file damaged by a restore")
        assert accepted.returncode == 0, accepted.stderr
        assert node.cli("internal-dnc", "show", str(SECOND), "--campaign", UT).returncode == 0
    finally:
        node.stop()
        redis.stop()


def test_accept_older_says_why_it_cannot_accept(tmp_path):
    """Without a marker file (a data dir no node served the store from) it blamed a
    'durability marker differs'; a counter key that is not a number raised ValueError (a
    traceback). Both are refusals that say what is wrong; nothing is accepted."""
    import redis as redis_py

    (tmp_path / "redis").mkdir()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    node = ServeNode(tmp_path / "node", redis_url=redis.url, redis_records=True)
    write_lists(node.data, [])
    try:
        unserved = node.cli("records-accept-older", "--reason", "no node here")
        assert unserved.returncode != 0
        assert "no records-redis.marker" in unserved.stderr, unserved.stderr
        assert "Traceback" not in unserved.stderr
        node.start()
        _dnc(node, FIRST)
        node.stop()
        redis_py.Redis.from_url(redis.url).set("callguard:records-seq", "twelve")
        garbled = node.cli("records-accept-older", "--reason", "a foreign key")
        assert garbled.returncode != 0
        assert "is not a number" in garbled.stderr, garbled.stderr
        assert "Traceback" not in garbled.stderr
        assert not [line for line in (node.data / "compliance.jsonl").read_text().splitlines()
                    if "records-older-accepted" in line]
    finally:
        node.stop()
        redis.stop()
