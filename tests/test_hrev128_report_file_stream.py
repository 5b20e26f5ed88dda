"""Review hrev128 of hoff25 (session 28): `report --file X` now reads the unarchived
stream too. X may be the node's own live log, whose every record the node also wrote to
the stream: each decision, scrub, question and withdrawal must be counted once (by
decision id), not twice; `evidence --file X` likewise. Real redis-server, two real
nodes' records (`callguard check`), a real `archive --stream`."""

from __future__ import annotations

import orjson

from tests.log_files import cli
from tests.test_hfix24_report_stream import _nodes
from tests.test_hoff25_officer_stream import _officer


def _figures(done) -> dict:
    assert done.returncode == 0, done.stderr
    report = orjson.loads(done.stdout)
    report.pop("sources")
    report.pop("generated", None)
    return report


def test_report_file_of_the_nodes_own_log_counts_each_record_once(tmp_path, redis_server):
    paths, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    own = tmp_path / "node-a" / "compliance.jsonl"
    # node-a: archive (1, 2), its file (1, 4), the stream after the archive (3, 4)
    plain = cli("report", "--json", config_path=paths["node-a"])
    filed = cli("report", "--file", str(own), "--json", config_path=paths["node-a"])
    assert _figures(filed) == _figures(plain)
    assert orjson.loads(filed.stdout)["decisions"] == 4
    # an officer, no archive: the whole stream (1-4) and node-a's own file (1, 4) again
    officer = _officer(tmp_path, redis_server)
    whole = cli("report", "--json", config_path=officer)
    both = cli("report", "--file", str(own), "--json", config_path=officer)
    assert _figures(both) == _figures(whole)
    assert orjson.loads(both.stdout)["decisions"] == 4
    said = orjson.loads(both.stdout)["sources"]["unarchived"]
    assert own.name in said, said
    assert "redis stream" in said, said
    # evidence over the same sources: node-a's later decision listed once
    later_a = [i for i, n in made.items() if n == "node-a"][-1]
    found = cli("evidence", "--decision", later_a, "--file", str(own), "--format", "json",
                config_path=officer)
    assert found.returncode == 0, found.stderr
    ids = [d["decision_id"] for d in orjson.loads(found.stdout)["decisions"]]
    assert ids == [later_a], ids


def test_a_trim_of_archived_entries_only_is_no_alarm(tmp_path, redis_server):
    """The stream trimmed exactly through the archive's last entry (a purge's MINID, or
    MAXLEN after a long lag): nothing unarchived is gone. The archivers' group delivered
    that entry as the ``entries-read``-th of ``entries-added``; the rest are all there, so
    no "may be missing" and no INCOMPLETE (it said so on every such report: hoff25)."""
    import redis

    paths, made = _nodes(tmp_path, redis_server)
    made.pop("asked")
    client = redis.Redis.from_url(redis_server.url)
    entries = client.xrange("callguard:compliance", "-", "+")
    manifest = orjson.loads((tmp_path / "node-a" / "archive" / "manifest.json").read_bytes())
    after = manifest["stream"]["callguard:compliance"]
    kept = [e for e, _ in entries if e.decode() > after]
    assert kept
    assert len(kept) < len(entries)
    assert client.xtrim("callguard:compliance", minid=kept[0], approximate=False) > 0
    done = cli("report", "--json", config_path=paths["node-a"])
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["decisions"] == 4
    assert "trimmed" not in done.stderr
    # one unarchived entry trimmed too: said, as before
    assert client.xtrim("callguard:compliance", minid=kept[1], approximate=False) == 1
    lost = cli("report", "--json", config_path=paths["node-a"])
    assert lost.returncode == 1, lost.stderr
    assert "trimmed past the archive's position" in " ".join(lost.stderr.split())


def test_the_group_rule_of_trimmed_past():
    """``trimmed_past`` with the archivers' group (XINFO GROUPS as redis-py returns it)."""
    from callguard.cli.unarchived_stream import ARCHIVE_GROUP, trimmed_past
    from callguard.compliance.archive.ingest import GROUP

    assert ARCHIVE_GROUP == GROUP
    info = {"length": 2, "entries-added": 5, "first-entry": (b"400-0", {b"r": b"{}"}),
            "last-generated-id": b"500-0"}

    def group(last: bytes, read: int | None) -> dict:
        return {"name": GROUP.encode(), "last-delivered-id": last, "entries-read": read}

    key = "callguard:compliance"
    assert trimmed_past(info, key, "300-0", group(b"300-0", 3)) is None  # 4, 5 kept
    assert trimmed_past(info, key, "300-0", group(b"300-0", 2)) is not None  # 3 lost
    assert trimmed_past(info, key, "300-0", group(b"350-0", 4)) is not None  # undelivered
    assert trimmed_past(info, key, "300-0", group(b"300-0", None)) is not None
    assert trimmed_past(info, key, "300-0", None) is not None
    assert trimmed_past({**info, "entries-added": None}, key, "300-0",
                        group(b"300-0", 3)) is not None
