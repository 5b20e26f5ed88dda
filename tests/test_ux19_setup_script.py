"""scripts/setup.sh (README "Two commands") stops when pip fails.

Its pip line ended in ``| grep -v ... || true``, which swallowed pip's status, and its check
``python -c "import callguard"`` ran in the clone, where it imported ./callguard whatever pip
had done: a failed install (an index without a pinned version, no network) said nothing,
and demo.sh went on to a missing ``.venv/bin/callguard`` — or, after a ``git pull`` that
changed a pin, ran the install from before. Run for real: a copy of the clone whose
pyproject pins a dependency no index has, and the real python3 -m venv and pip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASH = shutil.which("bash")

pytestmark = pytest.mark.skipif(BASH is None or shutil.which("python3") is None,
                                reason="needs bash and python3")


def test_setup_fails_when_pip_fails(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    clone.mkdir()
    for name in ("README.md", "pyproject.toml"):
        shutil.copy(ROOT / name, clone / name)
    shutil.copytree(ROOT / "scripts", clone / "scripts")
    shutil.copytree(ROOT / "callguard", clone / "callguard",
                    ignore=shutil.ignore_patterns("__pycache__", "*.tests.toml"))
    pyproject = clone / "pyproject.toml"
    text = pyproject.read_text()
    assert "dependencies = [\n" in text
    pyproject.write_text(text.replace(
        "dependencies = [\n", 'dependencies = [\n    "callguard-no-such-dependency==0.0.1",\n', 1))
    assert BASH is not None
    done = subprocess.run([BASH, "scripts/setup.sh"], cwd=clone, capture_output=True,
                          text=True, timeout=600, check=False)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "callguard failed to install" in done.stderr
    assert not (clone / ".venv" / "bin" / "callguard").exists()
