"""Review 37: ``dnc rollback`` on a node's data dir after Redis was restored from an older
backup (hux17). The CLI reads ``redis-lists-served.json`` and refuses a version older than
the one ``serve`` last served; the rollback's record must not go with it. A real
redis-server on a free port, the real CLI, real files."""

from __future__ import annotations

import json

import pytest

from callguard.stores.redis.lists import SERVED_LISTS_FILE
from tests.serve_node import AT_DATE, ServeNode


@pytest.mark.usefixtures("redis_server")
def test_a_rollback_the_nodes_refuse_is_still_recorded_and_said(tmp_path, redis_server):
    """v1..v3 imported; this node last served v9 (Redis since restored from an older
    backup: the file names it). ``dnc rollback`` moves Redis to v2 — done, so the
    compliance log records it, and the admin reads that this node refuses v2 and why.
    Before: no list-change record of the rollback (the CLI found no current version
    through the file), and only 'national is back at v2'."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_lists=True)
    for count in (1, 2, 3):
        path = tmp_path / f"national-{count}.txt"
        path.write_text("".join(f"801555010{n}\n" for n in range(count)))
        imported = node.cli("dnc", "import", str(path), "--list", "national", "--published",
                            AT_DATE.isoformat(), "--covers", "all", "--max-shrink", "1")
        assert imported.returncode == 0, imported.stderr
    (node.data / SERVED_LISTS_FILE).write_text(json.dumps({"national": {
        "version": 9, "digest": "0" * 64, "imported_at": "2099-01-01T00:00:00+00:00"}}))

    result = node.cli("dnc", "rollback", "--list", "national")
    assert "back at v2" in result.stderr, result.stderr
    changes = [json.loads(line) for line in
               (node.data / "compliance.jsonl").read_text().splitlines()
               if '"list-change"' in line]
    assert [(c["action"], c["version"]) for c in changes] == [
        ("publish", 1), ("publish", 2), ("publish", 3), ("rollback", 2)]
    assert "older than v9" in " ".join(result.stderr.split())


@pytest.mark.usefixtures("redis_server")
def test_a_mistyped_list_is_dropped_whatever_this_node_last_served(tmp_path, redis_server):
    """``nationl`` (a typo no pack reads) imported; this node last served a newer copy of
    it (Redis since restored). ``dnc drop nationl`` removes what Redis holds and records
    it. Before: 'no list nationl to drop' — the CLI saw it through the file, found none."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_lists=True)
    path = tmp_path / "nationl.txt"
    path.write_text("8015550101\n")
    imported = node.cli("dnc", "import", str(path), "--list", "nationl", "--new-list",
                        "--published", AT_DATE.isoformat(), "--covers", "all")
    assert imported.returncode == 0, imported.stderr
    (node.data / SERVED_LISTS_FILE).write_text(json.dumps({"nationl": {
        "version": 9, "digest": "0" * 64, "imported_at": "2099-01-01T00:00:00+00:00"}}))
    result = node.cli("dnc", "drop", "nationl")
    assert result.returncode == 0, result.stderr
    assert "dropped nationl (was v1" in result.stderr
    assert '"drop"' in (node.data / "compliance.jsonl").read_text()


@pytest.mark.usefixtures("redis_server")
def test_a_cut_short_download_is_refused_on_a_node_refusing_the_restored_copy(
        tmp_path, redis_server):
    """ut-state v1 holds 10 numbers; this node last served a newer copy (Redis since
    restored: the file names v9). The admin's fix is to import the newest copy — a download
    cut short to 2 numbers is refused as any other (a drop of 80%), and a later import
    keeps the coverage without --covers. Before: the CLI found no current version through
    the file, skipped the shrink check and published the 2 numbers (nodes take it: newer),
    and asked for --covers as for a first import."""
    node = ServeNode(tmp_path / "node", redis_url=redis_server.url, redis_lists=True)
    full, short = tmp_path / "ut-state.txt", tmp_path / "ut-state-short.txt"
    full.write_text("".join(f"80155501{n:02d}\n" for n in range(10)))
    short.write_text("8015550100\n8015550101\n")
    imported = node.cli("dnc", "import", str(full), "--list", "ut-state", "--published",
                        AT_DATE.isoformat(), "--covers", "all")
    assert imported.returncode == 0, imported.stderr
    (node.data / SERVED_LISTS_FILE).write_text(json.dumps({"ut-state": {
        "version": 9, "digest": "0" * 64, "imported_at": "2099-01-01T00:00:00+00:00"}}))
    refused = node.cli("dnc", "import", str(short), "--list", "ut-state", "--published",
                       AT_DATE.isoformat())
    assert refused.returncode == 1, refused.stderr
    assert "a download cut short?" in refused.stderr
    again = node.cli("dnc", "import", str(full), "--list", "ut-state", "--published",
                     AT_DATE.isoformat())
    assert again.returncode == 0, again.stderr
    assert "covering all area codes" in again.stderr
