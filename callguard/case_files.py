"""Reading statute-case files (``*.tests.toml``) and the pack files beside them.

The cases and their runner are pure (``callguard.policy.cases``); this module only finds
and parses files, for ``callguard packs check`` and the pytest collector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from callguard.errors import ConfigError
from callguard.policy.cases import CaseSuite, load_suite
from callguard.tomlfile import read_toml

__all__ = ["CASES_SUFFIX", "cases_beside", "pack_documents", "read_suite"]

CASES_SUFFIX = ".tests.toml"


def _parse(path: Path) -> dict[str, Any]:
    return read_toml(path)


def pack_documents(directory: Path) -> list[tuple[str, dict[str, Any]]]:
    """Every pack file in ``directory`` (not the ``*.tests.toml`` beside them), parsed."""
    if not directory.is_dir():
        raise ConfigError(f"{directory} is not a directory of packs")
    return [(str(path), _parse(path)) for path in sorted(directory.glob("*.toml"))
            if not path.name.endswith(CASES_SUFFIX)]


def read_suite(path: Path) -> CaseSuite:
    """Load one cases file and the packs it runs against (``packs_dir``, default its own
    directory)."""
    doc = _parse(path)
    packs_dir = doc.get("packs_dir", ".")
    if not isinstance(packs_dir, str):
        raise ConfigError(f"{path}: packs_dir must be a string (a directory)")
    return load_suite(str(path), doc, pack_documents((path.parent / packs_dir).resolve()))


def cases_beside(pack_file: Path) -> Path | None:
    """``us-ut.tests.toml`` for ``us-ut.toml``, when it exists."""
    candidate = pack_file.with_name(pack_file.stem + CASES_SUFFIX)
    return candidate if candidate.is_file() else None
