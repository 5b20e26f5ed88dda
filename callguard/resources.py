"""The files shipped inside the package (``callguard/data/``), found through importlib.resources.

The same paths serve a checkout, an editable install and a wheel: the demo configuration,
the jurisdiction packs with their statute cases, the demo lists, the OpenAPI description
and the JSON schemas. Nothing here reaches outside the package, so an installed callguard
never looks for a ``config/`` or ``docs/`` directory that only a clone has.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

__all__ = ["DATA", "bundled_config", "decision_schema", "demo_list", "openapi_spec",
           "packs_dir", "record_schemas_dir"]


def _data_dir() -> Path:
    """``callguard/data`` as a real directory (packs are read with ``Path.glob``)."""
    root = files("callguard").joinpath("data")
    # Installed from a wheel or a checkout, the package is a directory on disk; a zipped
    # install (zipimport) would need as_file() and is not supported.
    return Path(str(root))


DATA = _data_dir()


def bundled_config() -> Path:
    """The demo configuration (``--config`` default)."""
    return DATA / "callguard.toml"


def packs_dir() -> Path:
    """The shipped jurisdiction packs and their ``*.tests.toml`` statute cases."""
    return DATA / "jurisdictions"


def demo_list(name: str) -> Path:
    """A demo do-not-call list (``national`` or ``ut-state``)."""
    return DATA / "demo" / f"{name}.txt"


def openapi_spec() -> Path:
    """The HTTP port's OpenAPI description (served at ``/openapi.json``)."""
    return DATA / "openapi.json"


def decision_schema() -> Path:
    """The JSON Schema of ``check --json`` and ``POST /v1/check``."""
    return DATA / "decision.schema.json"


def record_schemas_dir() -> Path:
    """One JSON Schema per compliance record kind."""
    return DATA / "schemas"
