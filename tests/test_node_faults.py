"""Issue 15.5, 15.8, 15.10: a node keeps serving what it has and reports the fault — a
tampered list manifest, a directory where CURRENT should be, a restart on a refused
version — through a real `callguard serve`; a `dnc import` on a full disk leaves nothing
behind; record files are 0600.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import shutil
import stat
import subprocess
import sys
import time
from datetime import UTC, datetime

from callguard.stores.embedded.lists import write_version
from callguard.stores.embedded.records import EmbeddedRecords
from callguard.stores.list_files import ParsedList
from callguard.stores.writes import AddCompanyDnc
from tests.conftest import ROOT
from tests.serve_node import AT, ServeNode, write_lists

LISTED_V1 = 8015550199  # on both lists from v1
ONLY_V2 = 8015550177  # added to national by v2


def _tampered_v2(node: ServeNode, tmp_path) -> None:
    """national v2 (v1 plus ONLY_V2) moved in beside v1 with its 801 chunk relabelled 800,
    then CURRENT switched to it, as a careless hand edit would leave it."""
    side = tmp_path / "side"
    parsed = ParsedList()
    parsed.by_area[801] = [LISTED_V1 % 10_000_000, ONLY_V2 % 10_000_000]
    for version in (1, 2):  # the side copy's v2 is the one we move
        write_version(side, "national", parsed, published=datetime.now(UTC).date(),
                      area_codes=None, source=f"v{version}")
    target = node.data / "lists" / "national"
    shutil.copytree(side / "lists" / "national" / "v2", target / "v2")
    manifest = target / "v2" / "manifest.json"
    manifest.write_text(manifest.read_text().replace('"801": {', '"800": {'))
    pointer = target / ".CURRENT-test"
    pointer.write_text("2\n")
    os.replace(pointer, target / "CURRENT")


def _check(node: ServeNode, number: int) -> dict:
    status, body = node.json("/v1/check", {"number": str(number),
                                           "campaign": "ut-solar-manual", "at": AT})
    assert status == 200, body
    return body


def _ready(node: ServeNode) -> tuple[int, dict]:
    status, body = node.json("/readyz", token=None)
    return status, {c["name"]: c for c in body["checks"]}


class TestListFaultsOnARunningNode:
    """Through the real process: refused, kept serving, logged once, visible."""

    def test_tampered_manifest_then_restart(self, tmp_path):
        """v2's manifest relabels the 801 chunk as 800's (main: v2 served, so a number on
        the national registry was "not on national" and ALLOWed; and a restart on it
        served no national list at all)."""
        node = ServeNode(tmp_path, reload_seconds=0.2)
        write_lists(node.data, [LISTED_V1])
        node.start()
        try:
            assert _ready(node)[0] == 200
            _tampered_v2(node, tmp_path)
            node.until(lambda: _ready(node)[0] == 503, what="readyz 503")
            checks = _ready(node)[1]
            assert "does not match its checksum" in checks["list:national"]["detail"]
            assert "serving v1" in checks["list:national"]["detail"]
            decision = _check(node, LISTED_V1)
            assert decision["rule"] == "us-federal:64.1200(c)(2)", decision
            assert {"name": "national", "version": 1} in decision["lists"]
            time.sleep(1.5)  # seven more reload ticks: still one log line
            refused = node.events("list_version_refused")
            assert len(refused) == 1, refused
            assert (refused[0]["list"], refused[0]["version"], refused[0]["serving"]) == (
                "national", 2, 1)
            assert node.metric("callguard_list_refused", '{list="national"}') == 1
            status = json.loads(node.cli("dnc", "status", "--json", check=True).stdout)
            assert "does not match its checksum" in status["errors"]["national"]
            assert {r["list"]: r["version"] for r in status["lists"]}["national"] == 1
        finally:
            node.stop()
        node.start()  # restarted on the refused v2: v1 serves, readiness says why
        try:
            decision = _check(node, LISTED_V1)
            assert decision["rule"] == "us-federal:64.1200(c)(2)", decision
            unlisted = _check(node, 8015550123)
            assert unlisted["verdict"] == "ALLOW", unlisted
            status, checks = _ready(node)
            assert status == 503
            assert "serving v1" in checks["list:national"]["detail"]
        finally:
            node.stop()

    def test_a_directory_where_current_should_be_does_not_take_the_node_down(self, tmp_path):
        """mkdir data/lists/bogus/CURRENT, and national's CURRENT replaced by a directory:
        the node stays up and keeps deciding with what it has (main: it exited within 5 s
        with "internal error: IsADirectoryError")."""
        node = ServeNode(tmp_path, reload_seconds=0.2)
        write_lists(node.data, [LISTED_V1])
        node.start()
        try:
            (node.data / "lists" / "bogus" / "CURRENT").mkdir(parents=True)
            current = node.data / "lists" / "national" / "CURRENT"
            current.unlink()
            current.mkdir()
            node.until(lambda: len(node.events("list_version_refused")) >= 2, what="logged")
            time.sleep(1.0)
            assert node.alive()
            assert _check(node, LISTED_V1)["rule"] == "us-federal:64.1200(c)(2)"
            status, checks = _ready(node)
            assert status == 503
            assert "CURRENT cannot be read" in checks["list:national"]["detail"]
            assert len(node.events("list_version_refused")) == 2
        finally:
            assert node.stop() == 0


def _fsize_limited(limit: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return preexec


class TestFullDisk:
    """Issue 15.10: a `dnc import` that fails on a full disk leaves nothing behind."""

    def test_import_past_the_file_size_limit_removes_its_staging_dir(self, tmp_path):
        """RLIMIT_FSIZE 4 KiB (Python ignores SIGXFSZ, so write(2) fails with EFBIG, as
        ENOSPC would): exit 3 with "not published", no .staging-*, CURRENT unchanged
        (main: an internal error and the staging directory left behind)."""
        node = ServeNode(tmp_path)
        write_lists(node.data, [LISTED_V1])
        big = tmp_path / "national.txt"
        big.write_text("".join(f"801{2_000_000 + 7 * i:07d}\n" for i in range(20_000)))
        result = subprocess.run(
            [sys.executable, "-m", "callguard", "--config", str(node.config), "dnc", "import",
             str(big), "--list", "national", "--published", "2026-11-20"],
            env=node.env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
            preexec_fn=_fsize_limited(4096))
        assert result.returncode == 3, result.stderr
        assert "not published" in result.stderr
        assert "internal error" not in result.stderr
        list_dir = node.data / "lists" / "national"
        # no staging dir left (the import lock's file stays, as in tests/test_lists.py)
        assert sorted(p.name for p in list_dir.iterdir()) == [".import-lock", "CURRENT", "v1"]
        assert (list_dir / "CURRENT").read_text() == "1\n"


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


class TestFileModes:
    """Issue 15.10: records.sqlite3 and its -wal/-shm hold clear numbers and consent
    evidence: 0600 whatever the umask (main: 0644 in a 0755 data dir)."""

    def test_record_store_files_are_0600(self, tmp_path):
        """While the store is open (its -wal and -shm exist), under umask 022."""
        old = os.umask(0o022)
        try:
            store = EmbeddedRecords(tmp_path / "data" / "records.sqlite3")
            asyncio.run(store.apply([AddCompanyDnc("s", "+18015550123", datetime.now(UTC),
                                                   "t")]))
            names = sorted(p.name for p in (tmp_path / "data").iterdir())
            assert {"records.sqlite3", "records.sqlite3-wal", "records.sqlite3-shm"} <= set(
                names), names
            for name in names:
                assert _mode(tmp_path / "data" / name) == 0o600, name
            store.close()
        finally:
            os.umask(old)

    def test_files_left_0644_by_an_older_callguard_are_tightened(self, tmp_path):
        """A store made before this change is made 0600 when opened."""
        path = tmp_path / "records.sqlite3"
        EmbeddedRecords(path).close()
        os.chmod(path, 0o644)
        EmbeddedRecords(path).close()
        assert _mode(path) == 0o600

    def test_a_list_import_first_leaves_nothing_readable_by_others(self, tmp_path):
        """`dnc import` as the first command, under umask 022 (a shell's default): the data
        dir, the list bitmaps (the seller's licensed copy of the registry), the key — all
        the service user's alone (main: a 0755 data dir and 0644 bitmaps)."""
        node = ServeNode(tmp_path)
        shutil.rmtree(node.data)
        numbers = tmp_path / "national.txt"
        numbers.write_text("8015550199\n2125550143\n")
        node.data.mkdir(mode=0o700)  # as init or install -d -m 0700: no command makes it
        old = os.umask(0o022)
        try:
            result = node.cli("dnc", "import", "--list", "national", "--published",
                              datetime.now(UTC).date().isoformat(), str(numbers))
        finally:
            os.umask(old)
        assert result.returncode == 0, result.stderr
        made = [node.data, *node.data.rglob("*")]
        assert len(made) > 4, made
        assert [str(p) for p in made if _mode(p) & 0o077] == []

    def test_cli_makes_no_data_dir_and_its_store_is_0600(self, tmp_path):
        """`internal-dnc add` on a missing data dir: refused, none made (a mistyped path
        would get a new log key); on a fresh empty one (0755, as a shell makes it) the
        store is 0600."""
        node = ServeNode(tmp_path)
        shutil.rmtree(node.data)
        refused = node.cli("internal-dnc", "add", "8015550123", "--campaign",
                           "ut-solar-manual")
        assert refused.returncode == 2, refused.stderr
        assert not node.data.exists()
        node.data.mkdir(mode=0o755)
        result = node.cli("internal-dnc", "add", "8015550123", "--campaign", "ut-solar-manual")
        assert result.returncode == 0, result.stderr
        assert _mode(node.data / "records.sqlite3") == 0o600


class TestCompanyDncFromMemory:
    """serve answers "not on the seller's list" from memory: a request recorded by another
    process on the same data dir binds its next decision."""

    def test_internal_dnc_add_by_the_cli_blocks_the_running_node_next_call(self, tmp_path):
        """`callguard internal-dnc add` (its own process) while serve runs: ALLOW before,
        BLOCK 64.1200(d)(3) on the next check, without a restart or a reload."""
        node = ServeNode(tmp_path)
        write_lists(node.data, [LISTED_V1])
        node.start()
        try:
            assert _check(node, 8015550123)["verdict"] == "ALLOW"
            node.cli("internal-dnc", "add", "8015550123", "--campaign", "ut-solar-manual",
                     check=True)
            body = _check(node, 8015550123)
            assert (body["verdict"], body["rule"]) == ("BLOCK", "us-federal:64.1200(d)(3)")
            assert _check(node, 8015550124)["verdict"] == "ALLOW"
        finally:
            node.stop()
