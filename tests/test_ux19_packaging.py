"""An admin following README's container steps, checked with the real tools (git).

README "Installing it for real", Container: the secrets (HTTP token, AMI secret in both
forms, Redis password in both forms) are written into ``docker/secrets/`` of the clone.
``docker/secrets/.gitignore`` must keep every one of them out of ``git status`` and ``git
add -A``: its patterns are relative to its own directory, so ``secrets/*`` there matched
``docker/secrets/secrets/*`` and the secrets themselves were listed as untracked files,
one ``git add -A`` away from a commit (and a push).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _readme_secret_files() -> list[str]:
    """The files README's container block writes under docker/secrets/."""
    text = README.read_text()
    names = sorted(set(re.findall(r"> docker/secrets/([A-Za-z0-9_.-]+)", text)))
    assert len(names) >= 5, names  # http_token, ami_secret, ami_manager.conf, redis_auth...
    return names


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    git = shutil.which("git") or "git"
    return subprocess.run([git, *args], cwd=cwd, capture_output=True, text=True,
                          check=False)


def test_readme_secrets_are_ignored_by_git(tmp_path: Path) -> None:
    repo = tmp_path / "clone"
    (repo / "docker" / "secrets").mkdir(parents=True)
    shutil.copy(ROOT / "docker" / "secrets" / ".gitignore",
                repo / "docker" / "secrets" / ".gitignore")
    assert _git(repo, "init", "-q").returncode == 0
    names = _readme_secret_files()
    for name in names:
        (repo / "docker" / "secrets" / name).write_text("s3cr3t\n")
    status = _git(repo, "status", "--porcelain", "--untracked-files=all").stdout
    leaked = [line for line in status.splitlines()
              if line.startswith("??") and not line.endswith(".gitignore")]
    assert leaked == [], f"git would add these secrets: {leaked}"
    # The .gitignore itself stays tracked (else a clone has no docker/secrets/ at all).
    assert "docker/secrets/.gitignore" in status
