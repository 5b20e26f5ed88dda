"""The embedded record store's file is removed or replaced under a running node.

SQLite in WAL mode goes on reading and writing the file it opened, wherever its path now
points: a write to a removed file commits (no rollback journal, so no
``SQLITE_READONLY_DBMOVED``) and is gone when the node closes it. So an opt-out was
answered "recorded" and lost at the restart, and the do-not-call entry ``callguard records
add`` wrote into the new file at the path was never read by the node, which went on
ALLOWing the number. Real files, a real runtime; the CLI's write is a second store opened
on the path, as the CLI opens it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from callguard.compliance.logkey import NumberProtector
from callguard.config import load_settings
from callguard.errors import StoreError
from callguard.gate import CheckRequest
from callguard.policy.frequency import FrequencyClaim
from callguard.runtime import Runtime, open_runtime
from callguard.stores.embedded.frequency import EmbeddedFrequency
from callguard.stores.embedded.lists import write_version
from callguard.stores.embedded.records import _CHECK_FILES_S, EmbeddedRecords
from callguard.stores.list_files import ParsedList
from callguard.stores.writes import AddCompanyDnc

UT = "ut-solar-manual"
NUMBER = "8015550123"
AT = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
_HASH = NumberProtector(bytes(32)).hash


@pytest.fixture
async def node(tmp_path: Path):
    listed = ParsedList()
    listed.by_area[801] = [5550199]
    for name in ("national", "ut-state"):
        write_version(tmp_path, name, listed, published=date(2026, 11, 25), area_codes=None,
                      source="t")
    settings = load_settings(data_dir=tmp_path)
    runtime = open_runtime(settings)
    runtime.gate._clock = lambda: AT
    yield runtime
    await runtime.aclose()


def _remove_records(data_dir: Path) -> None:
    for path in data_dir.glob("records.sqlite3*"):
        path.unlink()


async def _check(runtime: Runtime) -> str:
    decision = await runtime.gate.check(CheckRequest(number=NUMBER, campaign=UT,
                                                     front="http"))
    return decision.verdict.verdict


async def _cli_adds_dnc(data_dir: Path, solicitor: str) -> None:
    """What ``callguard records add`` does: open the store at its path and write."""
    cli = EmbeddedRecords(data_dir / "records.sqlite3")
    try:
        await cli.apply([AddCompanyDnc(solicitor, "+1" + NUMBER, AT, "cli")])
    finally:
        cli.close()


class TestRecordFileRemovedUnderTheNode:
    async def test_an_opt_out_into_a_removed_file_is_not_acknowledged(self, node):
        assert await _check(node) == "ALLOW"
        _remove_records(node.settings.data_dir)
        with pytest.raises(StoreError, match="removed or replaced"):
            await node.gate.opt_out(NUMBER, UT, source="t")

    async def test_a_dnc_the_cli_writes_into_the_new_file_blocks_the_calls_after(self, node):
        """Noticed by a lookup within a second (``_CHECK_FILES_S``: three stats are too
        dear for every call), then every call is BLOCKed."""
        assert await _check(node) == "ALLOW"
        _remove_records(node.settings.data_dir)
        # Without records.id the CLI accepts the new file (else it refuses it: identity.py).
        (node.settings.data_dir / "records.id").unlink()
        solicitor = node.gate._campaigns[UT].solicitor
        await _cli_adds_dnc(node.settings.data_dir, solicitor)
        await asyncio.sleep(_CHECK_FILES_S)
        decision = await node.gate.check(CheckRequest(number=NUMBER, campaign=UT,
                                                      front="http"))
        assert decision.verdict.verdict == "BLOCK"
        assert "removed or replaced" in decision.verdict.reason
        assert NUMBER not in decision.verdict.reason
        assert await _check(node) == "BLOCK"  # and every call after

    async def test_a_removed_wal_is_noticed_before_a_write_is_acknowledged(self, node):
        """Only ``-wal`` and ``-shm`` removed ("stray files"): the node's commits go on
        into the removed ``-wal``, lost at a crash (seen: both opt-outs gone after
        ``os._exit``), and the CLI's go into new ones the node never reads."""
        assert await node.gate.opt_out(NUMBER, UT, source="t") == "+1" + NUMBER
        data_dir = node.settings.data_dir
        for suffix in ("-wal", "-shm"):
            (data_dir / f"records.sqlite3{suffix}").unlink()
        with pytest.raises(StoreError, match="removed or replaced"):
            await node.gate.opt_out("8015550124", UT, source="t")
        assert await _check(node) == "BLOCK"

    async def test_a_backup_moved_into_place_is_noticed_by_name(self, node):
        data_dir = node.settings.data_dir
        copy = data_dir / "restored.sqlite3"
        source = sqlite3.connect(data_dir / "records.sqlite3")
        target = sqlite3.connect(copy)
        source.backup(target)
        source.close()
        target.close()
        for suffix in ("-wal", "-shm"):
            with_suffix = data_dir / f"records.sqlite3{suffix}"
            if with_suffix.exists():
                with_suffix.unlink()
        os.replace(copy, data_dir / "records.sqlite3")
        with pytest.raises(StoreError, match="removed or replaced"):
            await node.gate.opt_out(NUMBER, UT, source="t")
        assert await _check(node) == "BLOCK"

    async def test_the_same_file_still_serves(self, node, tmp_path):
        """No false alarm: the file left where it is keeps serving and writing."""
        assert await node.gate.opt_out(NUMBER, UT, source="t") == "+1" + NUMBER
        assert await _check(node) == "BLOCK"
        shutil.copy(tmp_path / "records.sqlite3", tmp_path / "copy.sqlite3")  # a backup
        # A checkpoint that truncates the -wal (and a size limit) keeps its inode.
        other = sqlite3.connect(tmp_path / "records.sqlite3")
        other.execute("PRAGMA journal_size_limit=0")
        other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        other.close()
        assert (tmp_path / "records.sqlite3-wal").stat().st_size == 0
        assert await node.gate.opt_out("8015550124", UT, source="t") == "+18015550124"


class TestCountsFileRemovedUnderTheNode:
    """The call-frequency counts (embedded): a count committed into a removed file is
    lost at the restart, and a second process on the data dir counts in the new file, so
    the two split the cap between them. The reservation is refused (the gate BLOCKs)."""

    CLAIM = FrequencyClaim("us-fl:501.616(6)(b)", "seller:x", 86_400, 3)
    NOON = datetime(2026, 11, 25, 17, 0, tzinfo=UTC)

    async def test_a_reservation_into_a_removed_file_is_refused(self, tmp_path):
        path = tmp_path / "frequency.sqlite3"
        store = EmbeddedFrequency(path, _HASH, retention_s=86_400)
        try:
            first = await store.reserve("+13055550123", [self.CLAIM], self.NOON)
            assert first.granted
            for found in tmp_path.glob("frequency.sqlite3*"):
                found.unlink()
            with pytest.raises(StoreError, match="removed or replaced"):
                await store.reserve("+13055550123", [self.CLAIM], self.NOON)
        finally:
            await store.aclose()

    async def test_a_removed_wal_is_noticed(self, tmp_path):
        path = tmp_path / "frequency.sqlite3"
        store = EmbeddedFrequency(path, _HASH, retention_s=86_400)
        try:
            assert (await store.reserve("+13055550123", [self.CLAIM], self.NOON)).granted
            (tmp_path / "frequency.sqlite3-wal").unlink()
            with pytest.raises(StoreError, match="removed or replaced"):
                await store.reserve("+13055550123", [self.CLAIM], self.NOON)
        finally:
            await store.aclose()

    async def test_the_same_file_still_counts(self, tmp_path):
        store = EmbeddedFrequency(tmp_path / "frequency.sqlite3", _HASH, retention_s=86_400)
        try:
            for count in range(3):
                result = await store.reserve("+13055550123", [self.CLAIM], self.NOON)
                assert result.granted
                assert result.counts == (count,)
        finally:
            await store.aclose()


_NODE = """
import asyncio, os, subprocess, sys
from datetime import UTC, datetime
from pathlib import Path
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.writes import AddCompanyDnc
AT = datetime(2026, 11, 25, 18, tzinfo=UTC)
path = Path(sys.argv[1])
async def main():
    node = EmbeddedRecords(path)
    await node.apply([AddCompanyDnc("x", "+18015550100", AT, "node")])
    EmbeddedRecords(path).close()  # a second store of this process opens and closes
    subprocess.run([sys.executable, "-c", sys.argv[2], str(path)], check=True)
    try:
        await node.apply([AddCompanyDnc("x", "+18015550123", AT, "node")])
        print("acknowledged", flush=True)
    except Exception as exc:
        print("refused", type(exc).__name__, flush=True)
    os._exit(0)  # a crash: no close, no checkpoint
asyncio.run(main())
"""

_CLI = """
import asyncio, sys
from datetime import UTC, datetime
from pathlib import Path
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.writes import AddCompanyDnc
cli = EmbeddedRecords(Path(sys.argv[1]))
asyncio.run(cli.apply([AddCompanyDnc("x", "+18015550199", datetime.now(UTC), "cli")]))
cli.close()
"""


class TestAStoreOpenedTwiceInOneProcess:
    async def test_its_locks_survive_so_another_process_leaves_its_wal_alone(self, tmp_path):
        """``private_database`` opened and closed the database file at every opening: POSIX
        then drops every lock this process holds on it, so the CLI closing next took the
        node for gone, checkpointed and removed the ``-wal`` and ``-shm`` the node still
        wrote into. The node's next opt-out was acknowledged and lost at a crash (now it
        would be refused: the files are not the ones opened). Neither, any more."""
        import subprocess
        import sys

        path = tmp_path / "records.sqlite3"
        done = subprocess.run([sys.executable, "-c", _NODE, str(path), _CLI], check=True,
                              capture_output=True, text=True, timeout=60)
        assert done.stdout.strip() == "acknowledged", done.stdout + done.stderr
        after = EmbeddedRecords(path)
        try:
            for number in ("+18015550100", "+18015550199", "+18015550123"):
                assert await after.company_dnc("x", number) is not None, number
        finally:
            after.close()


@contextlib.contextmanager
def _unwritable(path: Path) -> Iterator[None]:
    """``path`` as a file this process cannot write: mode 0400, or (root passes any mode)
    the immutable attribute; skipped where neither can be had."""
    if os.geteuid() != 0:
        path.chmod(0o400)
        try:
            yield
        finally:
            path.chmod(0o600)
        return
    chattr = shutil.which("chattr")
    if chattr is None or subprocess.run([chattr, "+i", str(path)], capture_output=True,
                                        check=False).returncode != 0:
        pytest.skip("root, and no immutable attribute here: no file it cannot write")
    try:
        yield
    finally:
        subprocess.run([chattr, "-i", str(path)], check=True)


class TestAFileTheNodeCannotWrite:
    """``private_database`` no longer opens an existing file (closing it would drop the
    locks), and SQLite opens a file it cannot write read-only without a word: the node
    then served, ready, and refused every opt-out. Refused at the opening, as it was."""

    async def test_is_refused_at_the_opening_not_at_the_first_opt_out(self, tmp_path):
        records = tmp_path / "records.sqlite3"
        EmbeddedRecords(records).close()
        counts = tmp_path / "frequency.sqlite3"
        await EmbeddedFrequency(counts, _HASH, retention_s=86_400).aclose()
        opens = ((records, lambda: EmbeddedRecords(records)),
                 (counts, lambda: EmbeddedFrequency(counts, _HASH, retention_s=86_400)))
        for path, opening in opens:
            with _unwritable(path):
                with pytest.raises(PermissionError):
                    open(path, "r+b").close()  # the premise, checked
                with pytest.raises(StoreError, match="Permission denied"):
                    opening()
