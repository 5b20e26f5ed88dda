"""The embedded stores under a full file system and a lock held past the busy timeout
(hsto19).

Examined with real files: a write refused either way is refused whole, acknowledged never,
and the store works again once space is freed or the lock let go. Found: the reasons were
SQLite's alone — "disk I/O error" for a full tmpfs (the ``-shm`` could not grow) and
"database is locked" — which named neither the cause nor the way out. They do now.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from callguard.errors import StoreError
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.writes import AddCompanyDnc
from tests.test_cli_ux import ROOT

UNSHARE = shutil.which("unshare")
DNC = AddCompanyDnc("beehive-solar", "+18015550123", datetime(2026, 12, 1, tzinfo=UTC), "t")


async def test_a_lock_held_past_the_busy_timeout_is_named(tmp_path: Path) -> None:
    path = tmp_path / "records.sqlite3"
    store = EmbeddedRecords(path)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sqlite3, sys, time
            db = sqlite3.connect({str(path)!r}, isolation_level=None)
            db.execute("BEGIN IMMEDIATE")
            print("held", flush=True)
            sys.stdin.read()
            """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError) as refused:
            await store.apply([DNC])
        text = str(refused.value)
        assert "database is locked" in text
        assert "another process has held its write lock for more than 5 s" in text
    finally:
        holder.communicate("", timeout=10)  # let go
    assert await store.apply([DNC]) == (1,)  # and the store writes again
    assert await store.company_dnc("beehive-solar", "+18015550123") is not None
    store.close()


_FULL = """
import asyncio, os, sys
from datetime import UTC, datetime
from pathlib import Path
from callguard.errors import StoreError
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.writes import AddCompanyDnc

root = Path(sys.argv[1])
store = EmbeddedRecords(root / "records.sqlite3")
with open(root / "filler", "wb") as filler:
    try:
        while True:
            filler.write(b"\\0" * 65536)
            filler.flush()
    except OSError:
        pass
at = datetime(2026, 12, 1, tzinfo=UTC)
writes = [AddCompanyDnc("beehive-solar", f"+1801555{i:04d}", at, "x" * 2000)
          for i in range(200)]
try:
    asyncio.run(store.apply(writes))
    print("ACKNOWLEDGED")
except StoreError as exc:
    print("REFUSED", exc)
os.remove(root / "filler")
print("AFTER", asyncio.run(store.apply(writes[:1])))
"""


def test_a_full_file_system_is_named_and_nothing_is_acknowledged(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    script = tmp_path / "full.py"
    script.write_text(_FULL)
    done = subprocess.run(
        [UNSHARE or "unshare", "-rm", "sh", "-c",
         f"mount -t tmpfs -o size=256k tmpfs {mount} || exit 97; "
         f'exec "{sys.executable}" {script} {mount}'],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        timeout=120, check=False)
    if done.returncode == 97 or ("mount" in done.stderr and not done.stdout):
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert "ACKNOWLEDGED" not in done.stdout
    assert "REFUSED" in done.stdout, done.stdout
    assert "the file system holding it is full" in done.stdout
    assert "AFTER (1,)" in done.stdout  # space freed: the store writes again


async def test_a_record_store_cut_short_is_named_damaged_with_the_way_out(tmp_path: Path
                                                                         ) -> None:
    path = tmp_path / "records.sqlite3"
    store = EmbeddedRecords(path)
    await store.apply([AddCompanyDnc("beehive-solar", f"+1801555{i:04d}", DNC.at, "x" * 500)
                       for i in range(100)])
    store.close()  # the last close checkpoints the WAL into the file
    with path.open("r+b") as handle:
        handle.truncate(path.stat().st_size // 3)
    try:
        damaged = EmbeddedRecords(path)
    except StoreError as exc:  # refused at the opening, or at the first read
        refused = exc
    else:
        with pytest.raises(StoreError) as raised:
            await damaged.company_dnc("beehive-solar", "+18015550099")
        refused = raised.value
        damaged.close()
    text = str(refused)
    assert "malformed" in text
    assert "the file is damaged" in text
    assert "restore the whole data dir from one backup" in text
