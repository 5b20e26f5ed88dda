"""hrev114: ``expiry_warnings`` counts as a successor only a pack that speaks for the ended
pack's law, the engine's test (``Pack.speaks_for``, ``Policy._continued``).

Before, any pack naming it in ``succeeds`` silenced "ends with no successor" — a house
policy, another state's statute — while the engine refused every call in the ended pack's
scope ``callguard:no-pack`` from its end: the warning meant to see that coming was quiet.
Synthetic packs (the shipped files read, changed in memory); synthetic days.
"""

from __future__ import annotations

import tomllib
from datetime import date

from callguard.policy import pack_from_mapping
from callguard.policy.expiry import expiry_warnings
from callguard.policy.packs import Pack
from tests.conftest import PACKS_DIR

ENDS = date(2027, 1, 1)
TODAY = date(2026, 12, 3)


def _ending_ut() -> Pack:
    doc = tomllib.loads((PACKS_DIR / "us-ut.toml").read_text())
    doc["pack"]["effective_until"] = ENDS
    return pack_from_mapping(doc)


def _named(file: str, **head: object) -> Pack:
    doc = tomllib.loads((PACKS_DIR / file).read_text())
    doc["pack"].update(succeeds="us-ut", **head)
    return pack_from_mapping(doc)


def test_a_house_policy_naming_it_does_not_silence_the_warning():
    house = _named("house-litigators.toml")
    warnings = expiry_warnings({"us-ut": _ending_ut(), house.id: house}, TODAY, 30)
    assert [w.name for w in warnings] == ["us-ut"]


def test_another_states_statute_naming_it_does_not_silence_the_warning():
    md = _named("us-md.toml")
    warnings = expiry_warnings({"us-ut": _ending_ut(), md.id: md}, TODAY, 30)
    assert [w.name for w in warnings] == ["us-ut"]


def test_the_engine_and_the_warning_agree():
    """What the warning calls a successor is what the engine lets continue the law."""
    old = _ending_ut()
    # the HB 45 pack is a house policy of Utah's scope: it speaks for no enacted law
    for other in (_named("house-litigators.toml"), _named("us-md.toml"),
                  _named("us-ut-hb45-2000.toml")):
        assert not other.speaks_for(old)
        assert expiry_warnings({"us-ut": old, other.id: other}, TODAY, 30) != []
    # a statute of Utah's law (here a narrowed one: calls placed from Utah) does
    doc = tomllib.loads((PACKS_DIR / "us-md.toml").read_text())
    doc["pack"].update(succeeds="us-ut")
    doc["scope"] = {"origin_states": ["UT"]}
    narrowed = pack_from_mapping(doc)
    assert narrowed.speaks_for(old)
    assert expiry_warnings({"us-ut": old, narrowed.id: narrowed}, TODAY, 30) == []
