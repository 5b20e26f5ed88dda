"""Embedded list store: file forms, refusals, versions, corruption (fail closed, keep serving)."""

from __future__ import annotations

import asyncio
import errno
import gzip
import json
from datetime import UTC, date, datetime

import pytest
import structlog

from callguard.errors import ListImportError, StoreError
from callguard.fronts.http.readiness import Readiness
from callguard.stores.embedded.lists import EmbeddedListRegistry, write_version
from callguard.stores.list_files import parse_list_file
from tests.conftest import PACKS

TODAY = datetime.now(UTC).date()


def publish(root, name, text, covers=None, published=date(2026, 7, 1)):
    path = root / f"{name}.txt"
    path.write_text(text)
    return write_version(root, name, parse_list_file(path, max_bad_share=0.5),
                         published=published, area_codes=covers, source=path.name)


class TestFileForms:
    """Every form a call center receives."""

    def test_plain_forms_and_registry_lines(self, tmp_path):
        """10 digits, 1+10, E.164 with punctuation, and 'area code,phone number'."""
        path = tmp_path / "l.txt"
        path.write_text("# comment\n\n8015550101\n18015550102\n+1 (801) 555-0103\n"
                        "801,5550104\n801.555.0105\n")
        parsed = parse_list_file(path)
        assert sorted(parsed.by_area[801]) == [5550101, 5550102, 5550103, 5550104, 5550105]
        assert parsed.bad == 0

    def test_gzip(self, tmp_path):
        """A gzip'd file is read the same."""
        path = tmp_path / "l.txt.gz"
        path.write_bytes(gzip.compress(b"8015550101\n4355550102\n"))
        assert parse_list_file(path).count == 2

    def test_bad_lines_reported_with_line_numbers(self, tmp_path):
        """Malformed lines are counted and named."""
        path = tmp_path / "l.txt"
        path.write_text("8015550101\nnot a number\n0015550101\n" + "8015550102\n" * 97)
        parsed = parse_list_file(path, max_bad_share=0.05)
        assert parsed.bad == 2
        assert parsed.bad_examples[0].startswith("line 2:")
        assert parsed.bad_examples[1].startswith("line 3:")

    @pytest.mark.parametrize("header", ["phone_number", "AreaCode,PhoneNumber",
                                        "\ufeffArea Code, Phone Number", "PHONENUMBR"])
    def test_a_header_line_is_not_malformed(self, tmp_path, header):
        """A tiny file whose first line names its columns was refused whole ("1 of 6 lines
        malformed"): the header is skipped, not counted, and said. (The registry's own
        full-list files have none; exports and vendors' files do. PHONENUMBR: ten letters,
        the fixed-width form's row size.)"""
        path = tmp_path / "l.txt"
        path.write_text(f"{header}\n" + "".join(f"801555010{i}\n" for i in range(5)))
        parsed = parse_list_file(path)
        assert parsed.bad == 0
        assert parsed.lines == 5
        assert parsed.count == 5
        assert parsed.header == header.lstrip("\ufeff")

    @pytest.mark.parametrize("first", ["801555O101", "80l-555-0101", "801,555", "phone 1",
                                       "".join(chr(0xFF10 + int(d)) for d in "801555010")])
    def test_a_damaged_first_line_is_still_malformed(self, tmp_path, first):
        """Only a line with no digit at all is a header: a damaged number on the first line
        still counts, and a tiny file with one is still refused."""
        path = tmp_path / "l.txt"
        path.write_text(f"{first}\n" + "".join(f"801555010{i}\n" for i in range(5)))
        with pytest.raises(ListImportError, match="1 of 6 lines malformed"):
            parse_list_file(path)

    def test_only_the_first_line_may_be_a_header(self, tmp_path):
        """Column names in the middle of a file (two files concatenated) are malformed."""
        path = tmp_path / "l.txt"
        path.write_text("phone\n8015550101\nphone\n8015550102\n")
        parsed = parse_list_file(path, max_bad_share=0.5)
        assert parsed.header == "phone"
        assert parsed.bad == 1
        assert parsed.bad_examples == ["line 3: 'phone'"]

    def test_too_many_bad_lines_refuses_the_file(self, tmp_path):
        """Over the limit, nothing is imported."""
        path = tmp_path / "l.txt"
        path.write_text("8015550101\ngarbage\n")
        with pytest.raises(ListImportError, match="1 of 2 lines malformed"):
            parse_list_file(path, max_bad_share=0.01)

    def test_truncated_gzip_is_refused(self, tmp_path):
        """A truncated download is refused whole, with a clear error."""
        data = gzip.compress(b"8015550101\n" * 1000)
        path = tmp_path / "l.txt.gz"
        path.write_bytes(data[: len(data) // 2])
        with pytest.raises(ListImportError, match="unreadable"):
            parse_list_file(path)

    def test_empty_file_is_refused(self, tmp_path):
        """No numbers: refused rather than published as an empty list."""
        path = tmp_path / "l.txt"
        path.write_text("# nothing\n")
        with pytest.raises(ListImportError, match="no numbers"):
            parse_list_file(path)


class TestVersions:
    """New versions are built beside the current one and switched atomically."""

    def test_membership_and_coverage(self, tmp_path):
        """A listed number is found; an uncovered area code says so."""
        publish(tmp_path, "national", "8015550101\n", covers=frozenset({801, 385}))
        snapshot = EmbeddedListRegistry(tmp_path).snapshot("national")
        assert snapshot.contains(8015550101)
        assert not snapshot.contains(8015550102)
        assert snapshot.covers(385)
        assert not snapshot.covers(435)

    def test_reload_swaps_to_the_new_version(self, tmp_path):
        """The old snapshot object stays intact; reload picks up v2."""
        publish(tmp_path, "national", "8015550101\n")
        registry = EmbeddedListRegistry(tmp_path)
        old = registry.snapshot("national")
        publish(tmp_path, "national", "8015550202\n")
        registry.reload()
        new = registry.snapshot("national")
        assert (old.meta.version, new.meta.version) == (1, 2)
        assert old.contains(8015550101)
        assert not old.contains(8015550202)
        assert new.contains(8015550202)
        assert not new.contains(8015550101)

    def test_each_version_served_is_said_in_the_log(self, tmp_path):
        """The Redis registry logs ``list_version_loaded``; the embedded one said nothing
        when it took a newly imported version (the versions found at start are not said:
        every CLI command would print them)."""
        import structlog.testing

        publish(tmp_path, "national", "8015550101\n")
        with structlog.testing.capture_logs() as logs:
            registry = EmbeddedListRegistry(tmp_path)
            publish(tmp_path, "national", "8015550202\n8015550203\n")
            registry.reload()
        loaded = [(e["list"], e["version"], e["count"]) for e in logs
                  if e["event"] == "list_version_loaded"]
        assert loaded == [("national", 2, 2)]

    def test_corrupt_chunk_is_refused_and_old_version_keeps_serving(self, tmp_path):
        """A truncated chunk fails its SHA-256; v1 keeps answering, the error is reported."""
        publish(tmp_path, "national", "8015550101\n")
        registry = EmbeddedListRegistry(tmp_path)
        publish(tmp_path, "national", "8015550202\n8015550303\n")
        chunk = tmp_path / "lists" / "national" / "v2" / "npa-801.roar"
        chunk.write_bytes(chunk.read_bytes()[:-3])
        registry.reload()
        assert registry.snapshot("national").meta.version == 1
        assert "SHA-256 mismatch" in registry.errors["national"]

    def test_fresh_node_refuses_corrupt_current_version(self, tmp_path):
        """With no good version to keep, the list is absent (and the gate blocks)."""
        publish(tmp_path, "national", "8015550101\n")
        (tmp_path / "lists" / "national" / "v1" / "npa-801.roar").write_bytes(b"junk")
        registry = EmbeddedListRegistry(tmp_path)
        assert registry.snapshot("national") is None
        assert "national" in registry.errors


class TestDelta:
    """Delta files: additions and deletions against the current version."""

    def _cli(self, *args, data_dir):
        from tests.test_cli import cli
        return cli(*args, data_dir=data_dir)

    def test_delta_builds_the_next_version(self, tmp_path):
        """v1 {0101, 0102} + (+0103, -0101) = v2 {0102, 0103}, coverage kept."""
        publish(tmp_path, "national", "8015550101\n8015550102\n", covers=frozenset({801}))
        delta = tmp_path / "d.txt"
        delta.write_text("+801-555-0103\n-8015550101\n")
        result = self._cli("dnc", "import", str(delta), "--list", "national", "--published",
                           "2026-07-02", "--delta-base", "1", data_dir=tmp_path)
        assert result.returncode == 0, result.stderr
        snapshot = EmbeddedListRegistry(tmp_path).snapshot("national")
        assert snapshot.meta.version == 2
        assert [snapshot.contains(n) for n in (8015550101, 8015550102, 8015550103)] == [
            False, True, True]
        assert snapshot.meta.area_codes == frozenset({801})

    def test_delta_against_a_stale_base_is_refused(self, tmp_path):
        """A delta for v1 while v2 is current would drop v2's changes: refused."""
        publish(tmp_path, "national", "8015550101\n")
        publish(tmp_path, "national", "8015550102\n")
        delta = tmp_path / "d.txt"
        delta.write_text("+8015550103\n")
        result = self._cli("dnc", "import", str(delta), "--list", "national", "--published",
                           "2026-07-02", "--delta-base", "1", data_dir=tmp_path)
        assert result.returncode == 1
        assert "not the current version" in result.stderr
        assert EmbeddedListRegistry(tmp_path).snapshot("national").meta.version == 2

    def test_delta_lines_need_a_sign(self, tmp_path):
        """Unsigned lines are malformed; over the limit the delta is refused whole."""
        publish(tmp_path, "national", "8015550101\n")
        delta = tmp_path / "d.txt"
        delta.write_text("8015550103\n+8015550104\n")
        result = self._cli("dnc", "import", str(delta), "--list", "national", "--published",
                           "2026-07-02", "--delta-base", "1", data_dir=tmp_path)
        assert result.returncode == 1
        assert "want +NUMBER or -NUMBER" in result.stderr

    def test_rollback_after_delta(self, tmp_path):
        """`dnc rollback` returns to the base version."""
        publish(tmp_path, "national", "8015550101\n")
        publish(tmp_path, "national", "8015550102\n")
        result = self._cli("dnc", "rollback", "--list", "national", data_dir=tmp_path)
        assert result.returncode == 0
        assert EmbeddedListRegistry(tmp_path).snapshot("national").meta.version == 1

    def test_rollback_with_nothing_before_is_a_usage_error(self, tmp_path):
        """A list with one version (or none) has nothing to roll back to: exit 2 saying so,
        no traceback, the current version untouched (a usage error, not a store fault)."""
        publish(tmp_path, "national", "8015550101\n")
        for name, said in (("national", "national v1 has no previous version"),
                           ("ut-state", "ut-state has no current version")):
            result = self._cli("dnc", "rollback", "--list", name, data_dir=tmp_path)
            assert result.returncode == 2, result.stderr
            assert "usage error" in result.stderr
            assert said in result.stderr
            assert "Traceback" not in result.stderr
        assert EmbeddedListRegistry(tmp_path).snapshot("national").meta.version == 1


class TestFixedWidthFastPath:
    """The numpy path for plain 10-digit files says exactly what the line parser says."""

    def test_same_numbers_and_same_bad_lines(self, tmp_path):
        """Valid lines, a 0-area code, a 1-exchange, letters: identical results both ways."""
        import random

        from callguard.stores import list_files

        rng = random.Random(3)
        lines = [f"{rng.choice([801, 385, 212])}{rng.randint(200, 999)}"
                 f"{rng.randint(0, 9999):04d}" for _ in range(5000)]
        lines[10] = "0015550123"
        lines[20] = "8011550123"
        lines[30] = "80155501ab"
        path = tmp_path / "plain.txt"
        path.write_text("\n".join(lines) + "\n")
        assert list_files._fixed_width(path)
        fast = list_files._parse_fixed_width(path, None)
        slow = list_files._parse_lines(path, None)
        assert (fast.lines, fast.bad) == (slow.lines, slow.bad) == (5000, 3)
        assert [e.split(":")[0] for e in fast.bad_examples] == ["line 11", "line 21", "line 31"]
        assert {a: sorted(v) for a, v in fast.by_area.items()} == {
            a: sorted(v) for a, v in slow.by_area.items()}

    def test_other_forms_take_the_line_parser(self, tmp_path):
        """1+10 digits or punctuation is not fixed-width: the general parser reads it."""
        from callguard.stores import list_files

        path = tmp_path / "l.txt"
        path.write_text("18015550101\n")
        assert not list_files._fixed_width(path)
        assert parse_list_file(path).count == 1


async def test_async_reload_swaps_whole_versions(tmp_path):
    """The serving node's reload yields between area codes and swaps only complete versions."""
    publish(tmp_path, "national", "8015550101\n")
    registry = EmbeddedListRegistry(tmp_path)
    publish(tmp_path, "national", "8015550202\n3855550202\n4355550202\n")
    seen = []

    async def watch():
        for _ in range(20):
            seen.append(registry.snapshot("national").meta.version)
            await asyncio.sleep(0)

    watcher = asyncio.ensure_future(watch())
    await registry.reload_async()
    await watcher
    snapshot = registry.snapshot("national")
    assert snapshot.meta.version == 2
    assert all(snapshot.contains(n) for n in (8015550202, 3855550202, 4355550202))
    assert set(seen) <= {1, 2}


def _manifest(root, version, name="national"):
    return root / "lists" / name / f"v{version}" / "manifest.json"


class TestManifestIntegrity:
    """Issue 15.5: everything a lookup or a freshness check reads from the manifest (which
    area code a chunk is, the published date, coverage, version) is under its checksum."""

    @pytest.mark.parametrize(("old", "new"), [
        ('"801": {', '"800": {'),  # the chunk of 801 read as 800's: 801 numbers "not listed"
        ('"published": "2026-07-01"', '"published": "2026-12-01"'),  # a stale copy "fresh"
        ('"area_codes": "all"', '"area_codes": [800]'),  # coverage changed
        ('"version": 2', '"version": 3'),
    ])
    def test_tampered_manifest_is_refused_and_v1_keeps_serving(self, tmp_path, old, new):
        """Still valid JSON, chunk hashes intact: refused on the checksum (main: served)."""
        publish(tmp_path, "national", "8015550101\n")
        registry = EmbeddedListRegistry(tmp_path)
        publish(tmp_path, "national", "8015550101\n8015550202\n")
        path = _manifest(tmp_path, 2)
        text = path.read_text()
        assert old in text
        path.write_text(text.replace(old, new))
        registry.reload()
        assert registry.snapshot("national").meta.version == 1
        assert "does not match its checksum" in registry.errors["national"]
        assert "serving v1" in registry.errors["national"]

    def test_a_manifest_without_checksum_is_refused(self, tmp_path):
        """Stripping the checksum is no way around it."""
        publish(tmp_path, "national", "8015550101\n")
        path = _manifest(tmp_path, 1)
        doc = json.loads(path.read_text())
        del doc["checksum"]
        path.write_text(json.dumps(doc))
        registry = EmbeddedListRegistry(tmp_path)
        assert registry.snapshot("national") is None
        assert "no checksum" in registry.errors["national"]

    def test_a_manifest_moved_to_another_version_is_refused(self, tmp_path):
        """v1's manifest copied over v2's (its checksum intact) names v1: refused."""
        publish(tmp_path, "national", "8015550101\n")
        publish(tmp_path, "national", "8015550202\n")
        _manifest(tmp_path, 2).write_bytes(_manifest(tmp_path, 1).read_bytes())
        registry = EmbeddedListRegistry(tmp_path)
        assert "manifest is v1's" in registry.errors["national"]
        assert registry.snapshot("national").meta.version == 1

    def test_a_node_started_on_a_corrupt_current_serves_the_previous_good_one(self, tmp_path):
        """Issue 15.10: a restart on a refused v2 serves v1 and says so (main: no list)."""
        publish(tmp_path, "national", "8015550101\n")
        publish(tmp_path, "national", "8015550202\n")
        path = _manifest(tmp_path, 2)
        path.write_text(path.read_text().replace('"801": {', '"800": {'))
        registry = EmbeddedListRegistry(tmp_path)
        snapshot = registry.snapshot("national")
        assert snapshot.meta.version == 1
        assert snapshot.contains(8015550101)
        assert "serving v1" in registry.errors["national"]

    def test_refused_version_is_logged_once_and_not_read_every_tick(self, tmp_path,
                                                                      monkeypatch):
        """Issue 15.10: one log line, one read, however many reloads; a new CURRENT is read."""
        from callguard.stores.embedded import lists as module

        reads = []
        real = module.load_version
        monkeypatch.setattr(module, "load_version",
                            lambda root, name, version: reads.append(version) or real(
                                root, name, version))
        publish(tmp_path, "national", "8015550101\n")
        registry = EmbeddedListRegistry(tmp_path)
        publish(tmp_path, "national", "8015550202\n")
        chunk = tmp_path / "lists" / "national" / "v2" / "npa-801.roar"
        chunk.write_bytes(chunk.read_bytes()[:-3])
        reads.clear()
        with structlog.testing.capture_logs() as logs:
            for _ in range(5):
                registry.reload()
        assert reads == [2]
        assert [e["event"] for e in logs] == ["list_version_refused"]
        assert logs[0]["serving"] == 1
        publish(tmp_path, "national", "8015550303\n")  # v3 is read, and served
        registry.reload()
        assert registry.snapshot("national").meta.version == 3
        assert "national" not in registry.errors

    def test_a_directory_where_current_should_be_is_an_error_not_a_crash(self, tmp_path):
        """Issue 15.8: mkdir lists/bogus/CURRENT; every list keeps serving, the fault is
        reported (main: IsADirectoryError out of reload, the node exited)."""
        publish(tmp_path, "national", "8015550101\n")
        registry = EmbeddedListRegistry(tmp_path)
        (tmp_path / "lists" / "bogus" / "CURRENT").mkdir(parents=True)
        current = tmp_path / "lists" / "national" / "CURRENT"
        current.unlink()
        current.mkdir()
        registry.reload()
        assert registry.snapshot("national").contains(8015550101)
        assert "cannot be read" in registry.errors["bogus"]
        assert "serving v1" in registry.errors["national"]
        current.rmdir()
        current.write_text("1\n")
        registry.reload()
        assert "national" not in registry.errors

    def test_readiness_reports_the_refused_version(self, tmp_path):
        """/readyz's list check is not ok while the published version is refused."""
        publish(tmp_path, "national", "8015550101\n", published=TODAY)
        publish(tmp_path, "ut-state", "8015550101\n", published=TODAY)
        publish(tmp_path, "national", "8015550202\n", published=TODAY)
        path = _manifest(tmp_path, 2)
        path.write_text(path.read_text().replace('"801": {', '"800": {'))
        registry = EmbeddedListRegistry(tmp_path)
        readiness = Readiness(packs=PACKS, lists=registry, records=None, pings={},
                              clock_check=lambda: (True, "test"))
        checks = {c.name: c for c in readiness._list_checks()}
        assert not checks["list:national"].ok
        assert "checksum" in checks["list:national"].detail
        assert checks["list:ut-state"].ok

    def test_readiness_reports_a_refused_list_no_freshness_rule_names(self, tmp_path):
        """An attribute list (reassigned numbers) has no freshness rule; its refused
        version left the node ready while a consent was honoured unchecked (hatt20)."""
        publish(tmp_path, "national", "8015550101\n", published=TODAY)
        publish(tmp_path, "ut-state", "8015550101\n", published=TODAY)
        registry = EmbeddedListRegistry(tmp_path)
        (tmp_path / "lists" / "attr-reassigned" / "CURRENT").mkdir(parents=True)
        registry.reload()
        assert "attr-reassigned" in registry.errors
        readiness = Readiness(packs=PACKS, lists=registry, records=None, pings={},
                              clock_check=lambda: (True, "test"))
        checks = {c.name: c for c in readiness._list_checks()}
        assert not checks["list:attr-reassigned"].ok
        assert "cannot be read" in checks["list:attr-reassigned"].detail
        assert checks["list:national"].ok

    def test_a_list_not_loaded_on_purpose_keeps_the_node_ready(self, tmp_path):
        """[lists] not_loaded (a state this site never calls): /readyz stays ok and says
        that its calls are BLOCKed; any other missing list is not ready."""
        publish(tmp_path, "national", "8015550101\n", published=TODAY)
        registry = EmbeddedListRegistry(tmp_path)
        strict = Readiness(packs=PACKS, lists=registry, records=None, pings={},
                           clock_check=lambda: (True, "test"))
        assert not {c.name: c for c in strict._list_checks()}["list:ut-state"].ok
        lenient = Readiness(packs=PACKS, lists=registry, records=None, pings={},
                            clock_check=lambda: (True, "test"),
                            not_loaded=frozenset({"ut-state"}))
        check = {c.name: c for c in lenient._list_checks()}["list:ut-state"]
        assert check.ok
        assert "BLOCKed" in check.detail

    def test_not_loaded_cannot_name_the_national_registry(self, tmp_path):
        from callguard.config import load_settings
        from callguard.errors import ConfigError
        from tests.conftest import ROOT

        text = (ROOT / "callguard" / "data" / "callguard.toml").read_text().replace(
            'packs_dir = "jurisdictions"', 'packs_dir = ""')  # the installed packs
        path = tmp_path / "c.toml"
        shipped = 'not_loaded = ["fl-state", "ok-state"]\n'
        assert shipped in text
        path.write_text(text.replace(shipped, 'not_loaded = ["national"]\n', 1))
        with pytest.raises(ConfigError, match="not_loaded cannot name 'national'"):
            load_settings(path)
        path.write_text(text.replace(shipped, 'not_loaded = ["fl-state"]\n', 1))
        assert load_settings(path).lists_not_loaded == frozenset({"fl-state"})


class TestStagingAndModes:
    """Issue 15.10: a failed import leaves nothing behind."""

    def test_failed_write_removes_its_staging_dir(self, tmp_path, monkeypatch):
        """ENOSPC on the manifest: StoreError, no .staging-*, CURRENT unchanged."""
        from callguard.stores.embedded import lists as module

        publish(tmp_path, "national", "8015550101\n")
        real = module._fsync_write

        def full(path, data):
            if path.name == "manifest.json":
                raise OSError(errno.ENOSPC, "No space left on device")
            real(path, data)

        monkeypatch.setattr(module, "_fsync_write", full)
        with pytest.raises(StoreError, match="No space left"):
            publish(tmp_path, "national", "8015550202\n")
        list_dir = tmp_path / "lists" / "national"
        # the import lock stays (an empty file): nothing staged is left
        assert sorted(p.name for p in list_dir.iterdir()) == [".import-lock", "CURRENT", "v1"]
        assert (list_dir / "CURRENT").read_text() == "1\n"
