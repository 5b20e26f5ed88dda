"""An embedded import stopped after its version's directory was renamed in, before CURRENT
named it (hrev72, review of hsto20's be79a74).

The read-back of every chunk runs between the two — the longest step of a big import,
when an operator presses Ctrl-C (the wrong file), or the process is killed. The version's
directory stayed: never current, never said done, yet a version like any other. The next
import took the number above it; ``dnc rollback`` then went back to it — the aborted
import (the wrong file: numbers missing, calls to them ALLOWed) instead of the version
before — and so did a node whose current version it refuses (the newest older one that
verifies). be79a74 removed the staging directories such imports leave, not this.
The Ctrl-C is a real SIGINT, the kill a real SIGKILL of a real process, each delivered
while the chunks are read back.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import date
from pathlib import Path

import pytest

from callguard.stores.embedded import lists
from callguard.stores.embedded.lists import rollback_version, write_version
from callguard.stores.list_files import ParsedList

PUBLISHED = date(2026, 11, 20)


def _listing(*numbers: int) -> ParsedList:
    parsed = ParsedList()
    for number in numbers:
        parsed.by_area.setdefault(number // 10_000_000, []).append(number % 10_000_000)
    return parsed


def _import(root: Path, *numbers: int) -> int:
    return write_version(root, "national", _listing(*numbers), published=PUBLISHED,
                         area_codes=None, source="t").version


def test_an_import_stopped_by_ctrl_c_in_its_read_back_leaves_no_version(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _import(tmp_path, 8015550101, 8015550202) == 1
    real = lists.decode_version_chunk

    def interrupted(*args, **kwargs):  # the operator's Ctrl-C, during the read-back
        signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    monkeypatch.setattr(lists, "decode_version_chunk", interrupted)
    # Python's own SIGINT handler, whatever an earlier test left installed (an in-process
    # `serve` adds a loop handler): the Ctrl-C must raise KeyboardInterrupt here.
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            _import(tmp_path, 8015550101)  # the wrong file: 801-555-0202 missing
    finally:
        signal.signal(signal.SIGINT, before)
    monkeypatch.setattr(lists, "decode_version_chunk", real)
    list_dir = tmp_path / "lists" / "national"
    assert (list_dir / "CURRENT").read_text().strip() == "1"
    assert not (list_dir / "v2").exists()
    _import(tmp_path, 8015550101, 8015550202, 8015550303)  # the right one
    assert rollback_version(tmp_path, "national") == 1


def test_an_import_killed_in_its_read_back_is_not_a_rollback_target(tmp_path: Path
                                                                     ) -> None:
    assert _import(tmp_path, 8015550101, 8015550202) == 1
    killed = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        import os, signal
        from datetime import date
        from pathlib import Path
        from callguard.stores.embedded import lists
        from callguard.stores.list_files import ParsedList

        def killed(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

        lists.decode_version_chunk = killed
        parsed = ParsedList()
        parsed.by_area[801] = [5550101]
        lists.write_version(Path({str(tmp_path)!r}), "national", parsed,
                            published=date(2026, 11, 20), area_codes=None, source="t")
        """)], capture_output=True, text=True, timeout=60, check=False)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    list_dir = tmp_path / "lists" / "national"
    assert (list_dir / "v2").is_dir()  # renamed in, never current
    assert (list_dir / "CURRENT").read_text().strip() == "1"
    # the killed import's directory removed, its number (never current) taken anew
    assert _import(tmp_path, 8015550101, 8015550202, 8015550303) == 2
    assert lists.load_version(tmp_path, "national", 2).meta.count == 3
    assert rollback_version(tmp_path, "national") == 1


def test_a_withdrawn_version_above_current_is_kept(tmp_path: Path) -> None:
    """A rollback's withdrawn version stays (the record of what was undone)."""
    _import(tmp_path, 8015550101)
    _import(tmp_path, 8015550101, 8015550202)
    assert rollback_version(tmp_path, "national") == 1
    assert _import(tmp_path, 8015550101, 8015550303) == 3
    list_dir = tmp_path / "lists" / "national"
    assert (list_dir / "v2" / "WITHDRAWN").exists()
    assert rollback_version(tmp_path, "national") == 1
