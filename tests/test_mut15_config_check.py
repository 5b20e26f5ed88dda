"""Mutation-testing gaps in ``config check``'s record-store checks (hmut15).

Each test failed one mutant that every other test let pass:

- a node whose data dir remembers no Redis marker yet (its first start, or a second node
  sharing the server) is no lost store, whatever marker the server holds: a check that
  compared the two without asking whether one was remembered told a healthy site "the
  server lost its data ... remove the marker, re-import the records";
- ``on_weak_durability = "warn"``: a server that could lose an acknowledged record is a
  WARNING config check prints (serve starts), not silence;
- a running node's ``records.sqlite3`` whose identity is still only in its ``-wal`` (not yet
  checkpointed) is read through the WAL: read as immutable, the database file alone holds
  no identity and the right store was called lost, with the advice to remove records.id.

A real redis-server and real SQLite files; the check functions called in-process.
"""

from __future__ import annotations

import socket
import sqlite3
from dataclasses import replace

from callguard.cli import config_check
from callguard.config import load_settings
from callguard.stores.embedded.identity import id_path
from callguard.stores.redis.records import MARKER_KEY
from tests.redis_server import RedisServer


def _redis_settings(tmp_path, server: RedisServer, on_weak: str = "refuse"):
    settings = load_settings(data_dir=tmp_path / "data")
    (tmp_path / "data").mkdir(exist_ok=True)
    return replace(settings, redis_url=server.url, records=replace(
        settings.records, backend="redis", on_weak_durability=on_weak))


def _command(server: RedisServer, *words: str) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as client:
        parts = [f"${len(w)}\r\n{w}\r\n" for w in words]
        client.sendall(f"*{len(words)}\r\n{''.join(parts)}".encode())
        client.recv(64)


def test_a_node_that_remembers_no_marker_is_not_told_the_server_lost_its_data(
        tmp_path, redis_server):
    _command(redis_server, "SET", MARKER_KEY, "f" * 32)  # another node's marker
    problems, warnings = config_check._redis_records(_redis_settings(tmp_path, redis_server))
    assert problems == []
    assert warnings == []


def test_weak_durability_with_warn_is_a_warning_config_check_prints(tmp_path):
    server = RedisServer(tmp_path / "redis", appendonly="no", appendfsync="everysec")
    server.data_dir.mkdir()
    server.start()
    try:
        settings = _redis_settings(tmp_path, server, on_weak="warn")
        problems, warnings = config_check._redis_records(settings)
        assert problems == []
        assert len(warnings) == 1
        assert "appendonly=no" in warnings[0]
        assert "serve starts" in warnings[0]
        info, _ = config_check.describe(settings)
        assert any("appendonly=no" in w for w in info["warnings"]), info["warnings"]
    finally:
        server.stop()


def test_an_identity_only_in_the_wal_is_read_through_it(tmp_path):
    """A node running: its store made in WAL mode, the id committed to the ``-wal`` and
    not checkpointed. That is the right store: no problem."""
    settings = load_settings(data_dir=tmp_path)
    path = tmp_path / "records.sqlite3"
    held = sqlite3.connect(path)
    try:
        held.execute("PRAGMA journal_mode=WAL")
        held.execute("PRAGMA wal_autocheckpoint=0")
        held.execute("CREATE TABLE callguard_meta (key TEXT PRIMARY KEY, value TEXT)")
        held.execute("INSERT INTO callguard_meta VALUES ('store_id', 'abc123')")
        held.commit()
        assert (tmp_path / "records.sqlite3-wal").stat().st_size > 0
        id_path(path).write_text("abc123\n", encoding="ascii")
        assert config_check._embedded_records(settings) == []
        id_path(path).write_text("def456\n", encoding="ascii")
        assert "record store not the one records.id names" in " ".join(
            config_check._embedded_records(settings))
    finally:
        held.close()
