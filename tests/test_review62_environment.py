"""No environment_unknown warning on a setup made by callguard's own files.

`config check` and `serve` name each CALLGUARD_* variable outside KNOWN_ENVIRONMENT. A
name that the unit, callguard-admin, the image, compose's secrets file, init's
secrets.env or README's environment list sets, and that the list lacks, would warn on
every correct node: the warning admins learn to skip is the one that would have named a
mistyped CALLGUARD_LOG_KEY. Read from those files themselves, so a variable added to one
of them without the list fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

from callguard.cli.init import _SECRETS
from callguard.config import KNOWN_ENVIRONMENT, environment_warnings

ROOT = Path(__file__).resolve().parents[1]
NAME = re.compile(r"CALLGUARD_[A-Z0-9_]*[A-Z0-9]")


def _set_by_our_files() -> set[str]:
    unit = (ROOT / "systemd" / "callguard.service").read_text()
    admin = (ROOT / "systemd" / "callguard-admin").read_text()
    image = (ROOT / "docker" / "Dockerfile").read_text()
    compose = (ROOT / "docker" / "compose.yaml").read_text()
    names = set(NAME.findall("\n".join(re.findall(r"^Environment=(\S+)", unit, re.M))))
    names |= set(NAME.findall(admin))  # what it reads, exports and keeps through sudo
    names |= set(NAME.findall(" ".join(re.findall(r"CALLGUARD_\w+=", image))))
    names |= set(NAME.findall(" ".join(re.findall(r"'(CALLGUARD_\w+)=", compose))))
    names |= set(NAME.findall(_SECRETS))
    return names


def test_our_own_files_set_no_unknown_variable() -> None:
    names = _set_by_our_files()
    assert {"CALLGUARD_CONFIG", "CALLGUARD_DATA_DIR", "CALLGUARD_LOG_KEY",
            "CALLGUARD_SERVICE_USER", "CALLGUARD_REDIS_PASSWORD"} <= names, names
    assert environment_warnings(dict.fromkeys(names, "x")) == []
    assert names <= KNOWN_ENVIRONMENT


def test_readme_environment_list_is_known() -> None:
    """README's configuration section lists the variables an admin may set."""
    text = (ROOT / "README.md").read_text()
    start = text.index("\nEnvironment: `CALLGUARD_")
    listed = set(NAME.findall(text[start:text.index("\n\n", start)]))
    assert "CALLGUARD_MALLOC_TUNING" in listed
    assert environment_warnings(dict.fromkeys(listed, "x")) == [], listed
