"""An accepted lost or replaced record store leaves a ``store-adopted`` compliance record.

main: the operator's way out of a lost store (remove ``records.id`` or
``records-redis.marker``, re-import, restart) left no trace in the compliance log: asked
"was the opt-out on record then?", an officer could not tell that the consent/EBR/DNC store
had been replaced. And a node still running after the way out kept the "lost" text on
/readyz with no word that a restart is what is left. identity.py, Runtime.note_store.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from callguard.stores.embedded.identity import LAST_STORE_FILE, Adoption, adoption
from tests.conftest import ROOT
from tests.serve_node import AT, ServeNode, write_lists
from tests.test_cli import cli

SCHEMA = json.loads((ROOT / "callguard/data/schemas/store-adopted.json").read_text())
ADD = ("internal-dnc", "add", "8015550142", "--campaign", "ut-solar-manual")


def _adopted(log: Path) -> list[dict]:
    if not log.exists():
        return []
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    found = [r for r in records if r.get("event") == "store-adopted"]
    for record in found:
        errors = [e.message for e in Draft202012Validator(SCHEMA).iter_errors(record)]
        assert not errors, (record, errors)
    return found


def _remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


class TestRule:
    """The pure rule: the store served from before (``records.last-store``) and now."""

    def test_the_same_store_says_nothing(self):
        assert adoption(("embedded", "a"), "embedded", "a") == (None, False)

    def test_no_store_remembered_is_a_first_store_remembered_quietly(self):
        assert adoption(None, "embedded", "a") == (None, True)

    def test_another_store_is_an_adoption_naming_the_one_before(self):
        assert adoption(("embedded", "a"), "embedded", "b") == (
            Adoption("embedded", "b", "embedded", "a"), True)

    def test_a_backend_switched_is_an_adoption(self):
        assert adoption(("embedded", "a"), "redis", "a") == (
            Adoption("redis", "a", "embedded", "a"), True)

    def test_an_unreadable_last_store_names_no_previous(self):
        assert adoption(("", ""), "embedded", "b") == (Adoption("embedded", "b", None, None),
                                                      True)


class TestEmbedded:
    """Real CLI processes on a real data dir."""

    def test_a_first_install_records_no_adoption(self, tmp_path):
        assert cli(*ADD, data_dir=tmp_path).returncode == 0
        assert cli(*ADD, data_dir=tmp_path).returncode == 0
        assert _adopted(tmp_path / "compliance.jsonl") == []
        assert (tmp_path / LAST_STORE_FILE).read_text().split()[0] == "embedded"

    def test_the_way_out_of_a_lost_store_is_recorded_once(self, tmp_path):
        log = tmp_path / "compliance.jsonl"
        assert cli(*ADD, data_dir=tmp_path).returncode == 0
        old = (tmp_path / "records.id").read_text().strip()
        _remove_store(tmp_path / "records.sqlite3")
        refused = cli(*ADD, data_dir=tmp_path)
        assert refused.returncode == 3, refused.stderr
        assert _adopted(log) == []  # refused: not adopted
        (tmp_path / "records.id").unlink()  # the operator accepts the store
        assert cli(*ADD, data_dir=tmp_path).returncode == 0
        assert cli(*ADD, data_dir=tmp_path).returncode == 0  # once, not at every start
        found = _adopted(log)
        assert len(found) == 1, found
        new = (tmp_path / "records.id").read_text().strip()
        assert new != old
        assert (found[0]["backend"], found[0]["store_id"], found[0]["previous_id"],
                found[0]["previous_backend"], found[0]["records"]) == (
            "embedded", new, old, "embedded", 0)
        assert found[0]["node"]
        shown = cli("tail", "-n", "all", "--event", "store-adopted", data_dir=tmp_path)
        assert shown.returncode == 0, shown.stderr
        assert "STORE-ADOPTED" in shown.stdout, shown.stdout
        assert f"previous_id={old}" in shown.stdout, shown.stdout
        assert f"store_id={new}" in shown.stdout, shown.stdout
        report = cli("report", "--json", data_dir=tmp_path)
        assert report.returncode == 0, report.stderr
        adopted = json.loads(report.stdout)["store_adopted"]
        assert [a["logged_at"] for a in adopted] == [found[0]["logged_at"]], adopted
        assert "the record store was replaced on" in report.stderr, report.stderr
        before = cli("report", "--json", "--until", "2020-01-01", data_dir=tmp_path)
        assert json.loads(before.stdout)["store_adopted"] == []  # not in that range

    def test_a_store_replaced_and_its_id_file_removed_while_down_is_recorded(self, tmp_path):
        """No refusal seen at all (the operator removed records.id with the store): the
        remembered store still tells a replacement from a first install."""
        other = tmp_path / "other"
        node = tmp_path / "node"
        for where in (other, node):
            where.mkdir()
            assert cli(*ADD, data_dir=where).returncode == 0
        assert cli("internal-dnc", "add", "8015550143", "--campaign", "ut-solar-manual",
                   data_dir=other).returncode == 0
        old = (node / "records.id").read_text().strip()
        _remove_store(node / "records.sqlite3")
        (node / "records.id").unlink()
        (other / "records.sqlite3").rename(node / "records.sqlite3")
        assert cli(*ADD, data_dir=node).returncode == 0
        found = _adopted(node / "compliance.jsonl")
        assert len(found) == 1, found
        assert found[0]["previous_id"] == old
        assert found[0]["store_id"] == (other / "records.id").read_text().strip()
        assert found[0]["records"] == 2  # both opt-outs of the store adopted, at adoption

    def test_a_data_dir_from_before_last_store_is_adopted_quietly(self, tmp_path):
        assert cli(*ADD, data_dir=tmp_path).returncode == 0
        (tmp_path / LAST_STORE_FILE).unlink()  # as a data dir upgraded to this version
        assert cli(*ADD, data_dir=tmp_path).returncode == 0
        assert _adopted(tmp_path / "compliance.jsonl") == []
        assert (tmp_path / LAST_STORE_FILE).exists()


def test_a_running_node_says_restart_after_the_way_out_and_evidence_shows_the_caveat(
        tmp_path):
    """The node started on a lost store; the operator removes records.id and re-imports
    while it runs: /readyz (and the log) say to restart it; the adoption is recorded once;
    `evidence` for the number shows the replacement as a caveat."""
    node = ServeNode(tmp_path / "node")
    write_lists(node.data, [8015550199])
    node.start()
    check = {"number": "8015550142", "campaign": "ut-solar-manual", "at": AT}
    try:
        optout = {"number": "8015550142", "campaign": "ut-solar-predictive"}
        assert node.json("/v1/opt-out", optout)[0] == 200
    finally:
        node.stop()
    _remove_store(node.data / "records.sqlite3")
    node.start()
    try:
        status, ready = node.json("/readyz", token=None)
        detail = {c["name"]: c for c in ready["checks"]}["records"]["detail"]
        assert status == 503
        assert "restart the node" not in detail[:40], detail  # lost: the way out first
        (node.data / "records.id").unlink()
        status, ready = node.json("/readyz", token=None)
        detail = {c["name"]: c for c in ready["checks"]}["records"]["detail"]
        assert status == 503, ready  # still refusing: the node BLOCKs until restarted
        assert "StoreError: restart the node" in detail[:40], detail
        imported = node.cli(*ADD)
        assert imported.returncode == 0, imported.stdout + imported.stderr
        status, ready = node.json("/readyz", token=None)
        detail = {c["name"]: c for c in ready["checks"]}["records"]["detail"]
        assert status == 503
        assert "StoreError: restart the node" in detail[:40], detail
        decision = node.json("/v1/check", check)[1]
        assert decision["rule"] == "callguard:store-unavailable", decision
        assert "restart the node" in decision["reason"], decision
    finally:
        node.stop()
    assert "record-store-accepted-restart-needed" in node.stderr_path.read_text()
    node.start()
    try:
        assert node.json("/readyz", token=None)[0] == 200
        assert node.json("/v1/check", check)[1]["rule"] == "us-federal:64.1200(d)(3)"
    finally:
        node.stop()
    found = _adopted(node.data / "compliance.jsonl")
    assert len(found) == 1, found  # by the import, the first start after the way out
    shown = node.cli("evidence", "8015550142", "--format", "json")
    assert shown.returncode in (0, 2), shown.stdout + shown.stderr
    document = json.loads(shown.stdout)
    assert [a["store_id"] for a in document["store_adopted"]] == [found[0]["store_id"]]
    assert "the record store was replaced on" in shown.stderr, shown.stderr
    text = node.cli("evidence", "8015550142")
    assert "the record store was replaced on" in text.stdout, text.stdout


@pytest.mark.parametrize("way_out", ["removed", "written-anew"])
async def test_redis_a_lost_server_says_restart_after_the_way_out(tmp_path, redis_server,
                                                                   way_out):
    from redis import asyncio as aioredis

    from callguard.stores.redis.records import RecordsSettings, RedisRecords
    from callguard.stores.redis.remembered import MARKER_FILE

    remember = tmp_path / MARKER_FILE

    def store() -> RedisRecords:
        return RedisRecords(aioredis.from_url(redis_server.url, socket_timeout=2),
                            RecordsSettings(), remember=remember)

    first = store()
    await first.start()
    await first.aclose()
    admin = aioredis.from_url(redis_server.url)
    await admin.flushall()
    running = store()
    await running.start()
    try:
        assert running.refusing_writes is not None
        assert not running.refusing_writes.startswith("restart the node")
        if way_out == "removed":
            remember.unlink()
        else:  # the file removed, then an import (another process) adopted the server
            remember.unlink()
            importer = store()
            await importer.start()
            assert importer.refusing_writes is None
            await importer.aclose()
        for reason in (running.refusing_writes, running.refusing_reads,
                       await running.verify()):
            assert reason is not None
            assert reason.startswith("restart the node"), reason
    finally:
        await running.aclose()
        await admin.aclose()


def test_redis_the_way_out_is_recorded_once(tmp_path, redis_server):
    import redis

    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_records=True)
    log = node.data / "compliance.jsonl"
    assert node.cli(*ADD).returncode == 0
    marker_file = node.data / "records-redis.marker"
    old = marker_file.read_text().strip()
    assert _adopted(log) == []
    admin = redis.Redis.from_url(redis_server.url)
    admin.flushall()
    refused = node.cli(*ADD)
    assert refused.returncode == 3, refused.stdout + refused.stderr
    assert _adopted(log) == []
    marker_file.unlink()
    assert node.cli(*ADD).returncode == 0
    assert node.cli(*ADD).returncode == 0
    found = _adopted(log)
    assert len(found) == 1, found
    assert (found[0]["backend"], found[0]["previous_id"], found[0]["store_id"],
            found[0]["records"]) == ("redis", old, marker_file.read_text().strip(), 0)
