"""Every file the package reads at run time is in the wheel (session 27, hoff24).

callguard finds its data through importlib.resources (callguard/resources.py), so a file
the wheel leaves out is missing only outside the clone: a checkout and an editable install
still read it from the source tree. pyproject's package-data listed ``data/*`` and
``data/*/*``: a file one folder deeper (a pack's fixtures folder, a schema group) was left
out of the wheel without a word. These tests read the globs as setuptools does.
"""

from __future__ import annotations

import glob
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ROOT


def _patterns() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return list(data["tool"]["setuptools"]["package-data"]["callguard"])


def _covered(root: Path) -> set[str]:
    """The files under ``root`` (a copy of callguard/) the package-data globs take."""
    found: set[str] = set()
    for pattern in _patterns():
        for name in glob.glob(pattern, root_dir=root, recursive=True):
            if (root / name).is_file():
                found.add(Path(name).as_posix())
    return found


def test_every_tracked_file_of_the_package_is_package_data() -> None:
    """Not only callguard/data: a template or a schema beside the code counts too."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("needs git")
    tracked = subprocess.run([git, "ls-files", "callguard"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    wanted = {Path(p).relative_to("callguard").as_posix() for p in tracked
              if not p.endswith(".py")}
    assert wanted
    assert sorted(wanted - _covered(ROOT / "callguard")) == []


def test_a_file_three_folders_down_in_data_goes_into_the_wheel(tmp_path) -> None:
    """Built for real: a copy of the source with files deeper than ``data/*/*``."""
    source = tmp_path / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    shutil.copytree(ROOT / "callguard", source / "callguard",
                    ignore=shutil.ignore_patterns("__pycache__"))
    deep = ["callguard/data/jurisdictions/fixtures/us-ut/holidays.toml",
            "callguard/data/schemas/v2/decision.schema.json"]
    for name in deep:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("{}\n")
    # what a working tree holds beside them and a wheel must not carry: "data/**/*" takes
    # every depth, so a pytest run's bytecode or an editor's backup there went in (hrev118)
    junk = ["callguard/data/jurisdictions/__pycache__/conftest.cpython-311.pyc",
            "callguard/data/__pycache__/x.cpython-311.pyc",
            "callguard/data/jurisdictions/us-ut.toml~"]
    for name in junk:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_bytes(b"junk")
    pip = Path(sys.executable).parent / "pip"
    subprocess.run([str(pip), "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                    str(source)], check=True, capture_output=True, timeout=180)
    wheel = next((tmp_path / "dist").glob("callguard-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(set(deep) - names) == []
    assert sorted(set(junk) & names) == []
