"""An embedded list import or rollback said done is on disk (hsto20).

Both end by renaming CURRENT over the old one, and the version's directory in before it;
neither synced the list's directory after, so a power cut could undo a switch already
reported: after an import, the older copy current again (every number listed since
ALLOWed by the node started on it); after a rollback, the bad version back. Nor were the
names of the chunk files, fsync'd, synced in their directory. The syscalls are observed
as made (``os.replace``/``os.fsync`` wrapped, the real ones run): a power cut cannot be
had in a test, the order of the calls that survive one can.
"""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

from callguard.stores.embedded.lists import rollback_version, write_version
from callguard.stores.list_files import ParsedList

PUBLISHED = date(2026, 11, 20)


def _listing(*numbers: int) -> ParsedList:
    parsed = ParsedList()
    for number in numbers:
        parsed.by_area.setdefault(number // 10_000_000, []).append(number % 10_000_000)
    return parsed


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    real_replace, real_fsync = os.replace, os.fsync

    def replace(src, dst, *args, **kwargs):
        real_replace(src, dst, *args, **kwargs)
        seen.append(("replace", str(dst)))

    def fsync(fd):
        real_fsync(fd)
        seen.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))

    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def _synced_after(calls: list[tuple[str, str]], renamed: Path, directory: Path) -> bool:
    where = max(i for i, c in enumerate(calls) if c == ("replace", str(renamed)))
    return ("fsync", str(directory)) in calls[where + 1:]


def test_an_import_is_on_disk_when_done(tmp_path: Path,
                                        calls: list[tuple[str, str]]) -> None:
    meta = write_version(tmp_path, "national", _listing(8015550101), published=PUBLISHED,
                         area_codes=None, source="t")
    list_dir = tmp_path / "lists" / "national"
    assert _synced_after(calls, list_dir / "CURRENT", list_dir)
    assert _synced_after(calls, list_dir / f"v{meta.version}", list_dir)
    staged = [c for c in calls if c[0] == "fsync" and "/.staging-v" in c[1]
              and not c[1].endswith((".roar", ".json"))]
    assert staged, calls  # the chunk files' names, in the directory renamed in


def test_a_rollback_is_on_disk_when_done(tmp_path: Path,
                                         calls: list[tuple[str, str]]) -> None:
    for numbers in ((8015550101,), (8015550101, 8015550202)):
        write_version(tmp_path, "national", _listing(*numbers), published=PUBLISHED,
                      area_codes=None, source="t")
    calls.clear()
    assert rollback_version(tmp_path, "national") == 1
    list_dir = tmp_path / "lists" / "national"
    assert _synced_after(calls, list_dir / "CURRENT", list_dir)
    assert ("fsync", str(list_dir / "v2")) in calls  # the WITHDRAWN mark's name


def test_an_import_removes_what_killed_imports_left(tmp_path: Path) -> None:
    """A staging directory (a list's worth of disk) and a pointer file of an import killed
    mid-way stayed forever: a few crashes filled the disk the stores write to."""
    write_version(tmp_path, "national", _listing(8015550101), published=PUBLISHED,
                  area_codes=None, source="t")
    list_dir = tmp_path / "lists" / "national"
    staged = list_dir / ".staging-v2-999999"
    staged.mkdir()
    (staged / "npa-801.roar").write_bytes(b"\0" * 4096)
    (list_dir / ".CURRENT-999999").write_text("2\n")
    meta = write_version(tmp_path, "national", _listing(8015550101, 8015550202),
                         published=PUBLISHED, area_codes=None, source="t")
    assert meta.version == 2
    assert sorted(p.name for p in list_dir.iterdir()) == [
        ".import-lock", "CURRENT", "v1", "v2"]
