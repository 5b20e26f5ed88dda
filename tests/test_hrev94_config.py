"""Review of ``[fastagi] ask_liveness`` (hagi22, session 25): the key was documented only
in README's table, not in the shipped callguard.toml (what ``callguard init`` writes and an
admin edits), where every other [fastagi] key is.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

from callguard.fronts.fastagi.server import FastAgiSettings

ROOT = Path(__file__).resolve().parent.parent


def _fastagi_section(text: str) -> str:
    return text.split("\n[fastagi]\n", 1)[1].split("\n[", 1)[0]


def test_shipped_config_names_every_fastagi_key() -> None:
    """An admin edits the file ``callguard init`` writes (the shipped callguard.toml), not
    README: ``ask_liveness`` was only in README's table. Every key is there, set or
    commented out at its default, and the file still loads as before."""
    path = ROOT / "callguard" / "data" / "callguard.toml"
    text = path.read_text()
    section = _fastagi_section(text)
    named = set(re.findall(r"^#? ?([a-z_]+) = ", section, re.M))
    fields = {f.name for f in dataclasses.fields(FastAgiSettings)}
    assert fields <= named, sorted(fields - named)
    assert "ask_liveness" not in tomllib.loads(text)["fastagi"]  # commented: off as before
    readme = (ROOT / "README.md").read_text()
    table = readme.split("`[fastagi]` (all optional):", 1)[1].split("\n\n", 2)[1]
    assert all(f"`{name}`" in table for name in fields), table
