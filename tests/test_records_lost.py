"""A record store lost or replaced while the node was down is refused, not read as empty.

main: a node started on a data dir whose ``records.sqlite3`` was gone (deleted, lost with a
disk, a data dir restored without it) made a new, empty store and ALLOWed numbers that had
opted out (47 CFR 64.1200(d)(3)). callguard/stores/embedded/identity.py.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
import structlog

from callguard.errors import StoreError
from callguard.stores.embedded.identity import id_path, judge
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.writes import AddCompanyDnc
from tests.serve_node import AT, ServeNode, write_lists
from tests.test_cli import cli

SELLER, NUMBER = "beehive-solar", "+18015550142"


class TestJudge:
    """The pure rule: what the database and ``records.id`` hold."""

    def test_a_new_store_gets_a_fresh_id_in_both(self):
        found = judge(None, None, "f")
        assert (found.store_id, found.write_db, found.write_file, found.lost) == (
            "f", True, True, False)

    def test_a_removed_id_file_is_written_again_from_the_database(self):
        found = judge("a", None, "f")
        assert (found.store_id, found.write_db, found.write_file, found.lost) == (
            "a", False, True, False)

    def test_the_same_id_serves(self):
        found = judge("a", "a", "f")
        assert (found.store_id, found.write_db, found.write_file, found.lost) == (
            "a", False, False, False)

    @pytest.mark.parametrize("in_db", [None, "b"])
    def test_a_database_without_the_files_id_is_lost(self, in_db):
        assert judge(in_db, "a", "f").lost


def _opt_out(path: Path) -> None:
    async def go() -> None:
        store = EmbeddedRecords(path)
        try:
            await store.apply([AddCompanyDnc(SELLER, NUMBER, datetime.now(UTC), "t")])
        finally:
            store.close()
    asyncio.run(go())


def _remove_store(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)


def _dnc(path: Path) -> object:
    async def go() -> object:
        store = EmbeddedRecords(path)
        try:
            return await store.company_dnc(SELLER, NUMBER)
        finally:
            store.close()
    return asyncio.run(go())


class TestEmbeddedStore:
    """Real files, one process."""

    def test_a_removed_store_is_refused_at_every_opening_until_the_id_file_is_removed(
            self, tmp_path):
        path = tmp_path / "records.sqlite3"
        _opt_out(path)
        assert id_path(path).exists()
        _remove_store(path)
        for _ in range(2):  # the empty store made by the first opening is not adopted
            with pytest.raises(StoreError, match=r"remove .*records\.id"):
                _dnc(path)

        async def write() -> None:
            store = EmbeddedRecords(path)
            try:
                await store.apply([AddCompanyDnc(SELLER, NUMBER, datetime.now(UTC), "t")])
            finally:
                store.close()
        with pytest.raises(StoreError, match=r"not the one records\.id names"):
            asyncio.run(write())
        old = id_path(path).read_text()
        id_path(path).unlink()  # the operator accepts the store
        assert _dnc(path) is None
        assert id_path(path).read_text() != old

    def test_the_log_line_of_a_lost_store_names_the_way_out(self, tmp_path):
        """main logged only "record-store-lost" with the paths: an operator reading the log
        (not /readyz) learned that something was lost, not what to do."""
        path = tmp_path / "records.sqlite3"
        _opt_out(path)
        _remove_store(path)
        with structlog.testing.capture_logs() as logs, pytest.raises(StoreError):
            _dnc(path)
        lost = [e for e in logs if e["event"] == "record-store-lost"]
        assert lost, logs
        assert "remove records.id and re-import" in lost[0].get("detail", ""), lost[0]
        assert "restart the node" in lost[0].get("detail", ""), lost[0]

    def test_a_store_from_another_data_dir_is_refused(self, tmp_path):
        path = tmp_path / "records.sqlite3"
        other = tmp_path / "other" / "records.sqlite3"
        other.parent.mkdir()
        _opt_out(path)
        _opt_out(other)
        _remove_store(path)
        for suffix in ("", "-wal", "-shm"):
            source = other.with_name(other.name + suffix)
            if source.exists():
                source.rename(path.with_name(path.name + suffix))
        with pytest.raises(StoreError, match=r"not the one records\.id names"):
            _dnc(path)

    def test_a_backup_put_back_and_a_removed_id_file_are_accepted(self, tmp_path):
        """No false alarm: a copy carries the id; an id file lost alone is written again."""
        path = tmp_path / "records.sqlite3"
        _opt_out(path)
        backup = tmp_path / "backup.sqlite3"
        source, target = sqlite3.connect(path), sqlite3.connect(backup)
        source.backup(target)
        source.close()
        target.close()
        _remove_store(path)
        backup.rename(path)
        assert _dnc(path) is not None
        before = id_path(path).read_text()
        id_path(path).unlink()
        assert _dnc(path) is not None
        assert id_path(path).read_text() == before

    def test_a_store_made_before_the_check_is_adopted(self, tmp_path):
        path = tmp_path / "records.sqlite3"
        _opt_out(path)
        db = sqlite3.connect(path)
        db.execute("DROP TABLE callguard_meta")
        db.commit()
        db.close()
        id_path(path).unlink()
        assert _dnc(path) is not None
        assert id_path(path).exists()


def test_the_cli_refuses_a_lost_store_and_names_the_way_out(tmp_path):
    """`internal-dnc add` then the store removed: `show`, `add` and `check` refuse (exit 3,
    and BLOCK callguard:store-unavailable) and name records.id."""
    added = cli("internal-dnc", "add", "8015550142", "--campaign", "ut-solar-manual",
                data_dir=tmp_path)
    assert added.returncode == 0, added.stderr
    _remove_store(tmp_path / "records.sqlite3")
    shown = cli("internal-dnc", "show", "8015550142", "--campaign", "ut-solar-manual",
                data_dir=tmp_path)
    assert shown.returncode == 3, shown.stdout + shown.stderr
    assert "records.id" in shown.stderr
    again = cli("internal-dnc", "add", "8015550142", "--campaign", "ut-solar-manual",
                data_dir=tmp_path)
    assert again.returncode == 3, again.stderr
    assert "not recorded" in again.stderr
    assert "records.id" in again.stderr
    assert (tmp_path / "records.sqlite3").exists()  # made empty by that opening
    shown = cli("internal-dnc", "show", "8015550142", "--campaign", "ut-solar-manual",
                data_dir=tmp_path)
    assert shown.returncode == 3, shown.stdout + shown.stderr
    assert "records.id" in shown.stderr
    checked = cli("check", "8015550142", "--campaign", "ut-solar-manual", "--at", AT,
                  "--json", data_dir=tmp_path)
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert json.loads(checked.stdout)["rule"] == "callguard:store-unavailable"


def test_a_node_started_on_a_lost_store_blocks_every_call_and_is_not_ready(tmp_path):
    """The node is stopped, its record store lost, started again: main ALLOWed the number
    that had opted out and said ready."""
    node = ServeNode(tmp_path / "node")
    write_lists(node.data, [8015550199])
    node.start()
    try:
        optout = {"number": "8015550142", "campaign": "ut-solar-predictive"}
        assert node.json("/v1/opt-out", optout)[0] == 200
        check = {"number": "8015550142", "campaign": "ut-solar-manual", "at": AT}
        assert node.json("/v1/check", check)[1]["rule"] == "us-federal:64.1200(d)(3)"
    finally:
        node.stop()
    _remove_store(node.data / "records.sqlite3")
    node.start()
    try:
        decision = node.json("/v1/check", check)[1]
        assert decision["verdict"] == "BLOCK", decision
        assert decision["rule"] == "callguard:store-unavailable", decision
        other = node.json("/v1/check", {**check, "number": "8015550123"})[1]
        assert other["rule"] == "callguard:store-unavailable", other
        status, ready = node.json("/readyz", token=None)
        assert status == 503, ready
        records = {c["name"]: c for c in ready["checks"]}["records"]
        assert not records["ok"]
        # The way out, within the 200 characters /readyz keeps of it.
        assert "remove records.id and re-import" in records["detail"], records["detail"]
        assert node.json("/v1/opt-out", optout)[0] == 503
        # The operator does what it says, in its order, the node still running: remove
        # records.id, re-import (refused before), restart.
        refused = node.cli("internal-dnc", "add", "8015550142", "--campaign",
                           "ut-solar-manual")
        assert refused.returncode == 3, refused.stdout + refused.stderr
        (node.data / "records.id").unlink()
        imported = node.cli("internal-dnc", "add", "8015550142", "--campaign",
                            "ut-solar-manual")
        assert imported.returncode == 0, imported.stdout + imported.stderr
        # Not accepted by the running node before its restart: no call in between.
        other = node.json("/v1/check", {**check, "number": "8015550123"})[1]
        assert other["rule"] == "callguard:store-unavailable", other
    finally:
        node.stop()
    node.start()
    try:
        assert node.json("/readyz", token=None)[0] == 200
        assert node.json("/v1/check", check)[1]["rule"] == "us-federal:64.1200(d)(3)"
        assert node.json("/v1/check", {**check, "number": "8015550123"})[1][
            "verdict"] == "ALLOW"
    finally:
        node.stop()


def test_first_openers_at_once_agree_on_one_id(tmp_path):
    """Four processes opening a new store at once (a node and CLI commands): one id, in
    the database and in records.id; none of them finds the store lost."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    path = tmp_path / "records.sqlite3"
    code = ("import sys; from pathlib import Path;"
            "from callguard.stores.embedded.records import EmbeddedRecords;"
            "s = EmbeddedRecords(Path(sys.argv[1])); assert s._lost is None; s.close()")
    runs = [subprocess.Popen([sys.executable, "-c", code, str(path)], cwd=ROOT,
                             stderr=subprocess.PIPE, text=True) for _ in range(4)]
    for run in runs:
        _, err = run.communicate(timeout=60)
        assert run.returncode == 0, err
    db = sqlite3.connect(path)
    (stored,) = db.execute("SELECT value FROM callguard_meta WHERE key = 'store_id'").fetchone()
    db.close()
    assert id_path(path).read_text().strip() == stored
    assert _dnc(path) is None
