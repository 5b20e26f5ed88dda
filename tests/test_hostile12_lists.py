"""A do-not-call, wireless or reassigned-number file cut short (an interrupted download, a
full disk while copying) is refused whole, not published without its tail.

A download cut mid-line ends with a partial line and no line break: before, that line
was one malformed line among thousands (under ``--max-bad-share``), and the numbers past
the cut were simply missing — on a first import (nothing to compare, so no
``--max-shrink``) half a state's list could go live, and every number past the cut was
called as "not listed". Real files, and the real CLI for the import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from callguard.errors import ListImportError
from callguard.stores.attributes.dated import parse_dated_file
from callguard.stores.list_files import parse_delta_file, parse_list_file
from tests.conftest import ROOT

NUMBERS = [8015550000 + 7 * i for i in range(2000)]


def _cut(path: Path, text: str, keep: float) -> Path:
    """``text`` cut at ``keep`` of its length, inside a line (as a broken transfer cuts)."""
    data = text.encode()
    at = int(len(data) * keep)
    while data[at - 1:at] == b"\n":  # never on a line boundary: that cut is invisible
        at += 1
    path.write_bytes(data[:at])
    return path


@pytest.mark.parametrize("form", ["plain", "comma", "e164", "crlf"])
def test_list_file_cut_mid_line_is_refused(tmp_path: Path, form: str) -> None:
    lines = {"plain": [f"{n}" for n in NUMBERS],
             "comma": [f"{n // 10**7},{n % 10**7}" for n in NUMBERS],
             "e164": [f"+1 {str(n)[:3]}-{str(n)[3:6]}-{str(n)[6:]}" for n in NUMBERS],
             "crlf": [f"{n}" for n in NUMBERS]}[form]
    ending = "\r\n" if form == "crlf" else "\n"
    path = _cut(tmp_path / "national.txt", "".join(f"{line}{ending}" for line in lines), 0.5)
    with pytest.raises(ListImportError, match="cut short") as caught:
        parse_list_file(path)
    assert "80155" not in str(caught.value).replace("8015550000", "")  # no number in clear


def test_list_file_without_final_line_break_is_read(tmp_path: Path) -> None:
    """A hand-made file whose last line is whole but has no line break is fine."""
    path = tmp_path / "own.txt"
    path.write_text("\n".join(str(n) for n in NUMBERS[:10]))
    assert parse_list_file(path).count == 10


def test_a_dos_end_of_file_mark_is_no_cut(tmp_path: Path) -> None:
    """Ctrl-Z after the last line (old DOS/Windows tools) is no line cut short."""
    path = tmp_path / "dos.txt"
    path.write_bytes(b"".join(b"%d\r\n" % n for n in NUMBERS[:10]) + b"\x1a")
    assert parse_list_file(path).count == 10


def test_malformed_line_inside_the_file_is_still_tolerated(tmp_path: Path) -> None:
    """The bad-line share still applies to lines that ended: one typo in 2,000 passes."""
    path = tmp_path / "typo.txt"
    path.write_text("".join(f"{n}\n" for n in NUMBERS[:1000]) + "80155\n"
                    + "".join(f"{n}\n" for n in NUMBERS[1000:]))
    parsed = parse_list_file(path)
    assert (parsed.count, parsed.bad) == (2000, 1)


def test_delta_file_cut_mid_line_is_refused(tmp_path: Path) -> None:
    text = "".join(f"+{n}\n" for n in NUMBERS[:1000]) + "".join(
        f"-{n}\n" for n in NUMBERS[1000:])
    with pytest.raises(ListImportError, match="cut short"):
        parse_delta_file(_cut(tmp_path / "delta.txt", text, 0.3))


def test_reassigned_file_cut_mid_line_is_refused(tmp_path: Path) -> None:
    text = "phone,disconnect_date\n" + "".join(f"{n},2026-11-{1 + i % 28:02d}\n"
                                               for i, n in enumerate(NUMBERS))
    path = _cut(tmp_path / "reassigned.csv", text, 0.6)
    assert not path.read_bytes().endswith(b"\n")
    with pytest.raises(ListImportError, match="cut short"):
        parse_dated_file(path)


def test_dnc_import_of_a_cut_download_publishes_nothing(tmp_path: Path) -> None:
    """The admin's command: exit non-zero, no version published, the reason named."""
    data = tmp_path / "data"
    data.mkdir(mode=0o750)
    path = _cut(tmp_path / "ut.txt", "".join(f"{n}\n" for n in NUMBERS), 0.5)
    env = {"CALLGUARD_DATA_DIR": str(data), "PATH": "/usr/bin:/bin"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "callguard", *args], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=120, check=False)

    imported = cli("dnc", "import", str(path), "--list", "ut-state",
                   "--published", "2026-12-01", "--covers", "all")
    assert imported.returncode != 0, imported.stderr
    assert "cut short" in imported.stderr
    assert not (data / "lists" / "ut-state" / "CURRENT").exists()


def test_serve_refuses_a_pack_copy_cut_at_a_line_boundary(tmp_path: Path) -> None:
    from tests.conftest import PACKS_DIR
    from tests.serve_node import ServeNode, write_lists

    packs = tmp_path / "packs"
    shutil.copytree(PACKS_DIR, packs)
    lines = (PACKS_DIR / "us-ut.toml").read_text().splitlines(keepends=True)
    second = [i for i, line in enumerate(lines) if line.startswith("[[rules]]")][1]
    (packs / "us-ut.toml").write_text("".join(lines[:second]))  # a copy cut short
    node = ServeNode(tmp_path / "node")
    text = node.config.read_text()
    assert 'packs_dir = ""' in text
    node.config.write_text(text.replace('packs_dir = ""', f'packs_dir = "{packs}"', 1))
    write_lists(node.data, [8015550199])
    try:
        with pytest.raises(RuntimeError, match="us-ut"):
            node.start()
    finally:
        node.stop()
