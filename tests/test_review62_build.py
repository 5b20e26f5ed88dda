"""The build uses nothing setuptools has announced it will remove.

pyproject's build backend is ``setuptools>=68``, unpinned: every fresh machine (CI's clone,
the Dockerfile's build stage, an admin's ``pip install``) builds with the newest release.
``license = { text = ... }`` drew "SetuptoolsDeprecationWarning: `project.license` as a
TOML table is deprecated ... By 2027-Feb-18, you need to update your project": a release
after that date refuses it, and then ``scripts/setup.sh`` (which now stops when pip fails,
as it should) stops CI, the image and every install at once. Checked with the real tools:
``pip wheel -v`` on a copy of the tree, its build's own words read.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIP = Path(sys.executable).parent / "pip"

pytestmark = pytest.mark.skipif(not PIP.exists(), reason="needs the venv's pip")


def test_the_build_draws_no_deprecation(tmp_path: Path) -> None:
    source = tmp_path / "src"  # a copy: pip builds in the tree it is given
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "callguard", source / "callguard",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run([str(PIP), "wheel", "-v", "--no-deps", "-w", str(tmp_path / "out"),
                           str(source)], capture_output=True, text=True, timeout=300,
                          check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    said = [line.strip() for line in (done.stdout + done.stderr).splitlines()
            if "DeprecationWarning" in line]
    assert said == [], said
