"""The OpenAPI description the HTTP port serves at ``/openapi.json``.

``callguard/data/openapi.json`` is OpenAPI 3.1, whose schema dialect is JSON Schema 2020-12, the
dialect of ``callguard/data/decision.schema.json``: the file points its ``Decision`` schema at that
document (``{"$ref": "decision.schema.json"}``, right for a reader of the files), and the
served copy carries it inline, so clients and tools need one URL and the 22 fields of a
decision are written down once.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from callguard.resources import DATA

__all__ = ["DOCS_DIR", "decision_schema", "openapi_document"]

DOCS_DIR = DATA  # callguard/data: shipped in the wheel (callguard.resources)
_DECISION_FILE = "decision.schema.json"
# Keywords that name the file itself: inside another document they would re-base its refs.
_FILE_ONLY = ("$schema", "$id")


def decision_schema(docs: Path = DOCS_DIR) -> dict[str, Any]:
    """``callguard/data/decision.schema.json`` as an embeddable schema."""
    schema: dict[str, Any] = json.loads((docs / _DECISION_FILE).read_text(encoding="utf-8"))
    return {k: v for k, v in schema.items() if k not in _FILE_ONLY}


def compose(spec: dict[str, Any], decision: dict[str, Any]) -> dict[str, Any]:
    """``spec`` with every schema that points at the decision file replaced by it."""
    schemas = spec.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if schema == {"$ref": _DECISION_FILE}:
            schemas[name] = decision
    return spec


@cache
def openapi_document(docs: Path = DOCS_DIR) -> bytes:
    """The self-contained description, read once."""
    spec = json.loads((docs / "openapi.json").read_text(encoding="utf-8"))
    return json.dumps(compose(spec, decision_schema(docs)), indent=1).encode()
