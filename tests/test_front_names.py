"""One list of fronts: the record schema, the fronts' own names and the readers agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

from callguard.front_names import ALL_FRONTS, ASKING_FRONTS, DIALLING_FRONTS
from callguard.resources import record_schemas_dir

PACKAGE = Path(__file__).resolve().parents[1] / "callguard"


def test_the_decision_schema_names_exactly_the_known_fronts() -> None:
    schema = json.loads((record_schemas_dir() / "decision.json").read_text())
    assert schema["properties"]["front"]["enum"] == list(ALL_FRONTS)


def test_every_front_the_code_names_is_known() -> None:
    named = {m.group(1) for path in PACKAGE.rglob("*.py")
             for m in re.finditer(r'\bfront="([a-z]+)"', path.read_text())}
    assert named == set(ALL_FRONTS)


def test_the_subsets_are_subsets() -> None:
    assert set(ASKING_FRONTS) <= set(ALL_FRONTS)
    assert set(ASKING_FRONTS) >= DIALLING_FRONTS
    assert "scrub" not in ASKING_FRONTS
