"""Embedded list store: file forms, refusals, versions, corruption (fail closed, keep serving)."""

from __future__ import annotations

import asyncio
import gzip
from datetime import date

import pytest

from callguard.errors import ListImportError
from callguard.stores.embedded.lists import EmbeddedListRegistry, write_version
from callguard.stores.list_files import parse_list_file


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
