"""hrev114: the edges of heng24's succession rule (``Policy._continued``).

A date outside an ended statute pack counts as encoded only when a statute pack of its
succession (``succeeds``, either way, followed through) of one of its states
(``Scope.states``: the called party's or the origin's; both national) is in force THAT
day. Each test here would pass a wrong rule's call, or block a right one: a chain whose
middle link has ended, two successors of which only a house policy is in force, a
successor scoped by origin (Florida's law on calls placed from Florida), a successor of
another origin state, a national pack succeeded by a state's, and zones straddling a
one-day gap. Synthetic packs (heng24's helpers, the shipped files untouched); synthetic
instants.
"""

from __future__ import annotations

import tomllib
from datetime import UTC, date, datetime
from typing import Any

from callguard.policy import Policy, PolicySettings
from callguard.policy.packs import Pack, pack_from_mapping
from tests.conftest import PACKS_DIR
from tests.test_heng24_narrowed_successor import (
    AFTER,
    CHANGE,
    STRADDLE,
    _applied,
    _decide,
    _fl,
    _new,
    _no_pack,
    _old,
    _policy,
)

FEB = date(2027, 2, 1)
MID_FEB = datetime(2027, 2, 15, 15, 0, tzinfo=UTC)  # 10:00 EST in Miami


def _origin_only(pack_id: str, state: str, **head: Any) -> Pack:
    """us-fl as ``pack_id``, scoped by the call's origin ``state`` alone (no called
    party's state): a text reaching only calls placed from that state."""
    text = (PACKS_DIR / "us-fl.toml").read_text().replace("us-fl:", f"{pack_id}:")
    raw = tomllib.loads(text)
    raw["pack"].update(id=pack_id, **head)
    raw["scope"] = {"origin_states": [state]}
    return pack_from_mapping(raw, origin=f"{pack_id}.toml")


def test_a_chain_of_three_with_its_last_link_in_force():
    """us-fl -> us-fl-2027 (January only) -> us-fl-2027b (from February, narrowed): in
    February the last link speaks for Florida, and 305 is outside its scope."""
    middle = _new(drop=305, effective_until=FEB)
    last = _fl("us-fl-2027b", effective_from=FEB, succeeds="us-fl-2027", version="2027.2.0",
               drop=305)
    verdict = _decide(_policy(_old(), middle, last), MID_FEB)
    assert verdict.allowed, verdict.reason
    assert _applied(verdict) == {"us-federal"}


def test_a_chain_of_three_with_a_gap_after_its_middle_link():
    """The middle link ended 2027-02-01, the last starts 2027-03-01: on 2027-02-15 no
    Florida text is in force, whatever the chain links (a rule asking only whether a
    successor exists, or whether any link is in force on any date, would ALLOW)."""
    middle = _new(drop=305, effective_until=FEB)
    last = _fl("us-fl-2027b", effective_from=date(2027, 3, 1), succeeds="us-fl-2027",
               version="2027.2.0", drop=305)
    _no_pack(_decide(_policy(_old(), middle, last), MID_FEB))
    # the middle link's own days stay encoded
    assert _decide(_policy(_old(), middle, last), AFTER).allowed


def test_two_successors_only_a_house_policy_in_force():
    """A statute successor from 2027-03-01 and a house policy naming us-fl in force from
    the change: the house policy does not speak for Florida's law in February."""
    later = _new(drop=305, starts=date(2027, 3, 1))
    raw = tomllib.loads((PACKS_DIR / "house-litigators.toml").read_text())
    raw["pack"]["succeeds"] = "us-fl"
    house = pack_from_mapping(raw, origin="house-litigators.toml")
    _no_pack(_decide(_policy(_old(), later, house), MID_FEB))


def test_two_statute_successors_one_in_force():
    later = _fl("us-fl-2028", effective_from=date(2028, 1, 1), succeeds="us-fl",
                version="2028.1.0")
    verdict = _decide(_policy(_old(), _new(drop=305), later), AFTER)
    assert verdict.allowed, verdict.reason
    assert _applied(verdict) == {"us-federal"}


def test_a_successor_scoped_by_florida_origin_speaks_for_florida():
    """Florida's amended law reaches only calls placed from Florida: a call from New York
    to 305 is no longer reached by it (the called party's state and the origin state are
    both the state whose law the pack encodes)."""
    succ = _origin_only("us-fl-2027", "FL", effective_from=CHANGE, succeeds="us-fl",
                        version="2027.1.0")
    verdict = _decide(_policy(_old(), succ), AFTER)
    assert verdict.allowed, verdict.reason
    assert _applied(verdict) == {"us-federal"}


def test_a_successor_scoped_by_another_origin_does_not():
    """A Georgia-origin text naming us-fl: it says nothing of Florida's law."""
    succ = _origin_only("us-ga-2027", "GA", effective_from=CHANGE, succeeds="us-fl",
                        version="2027.1.0")
    _no_pack(_decide(_policy(_old(), succ), AFTER))


def test_a_national_pack_succeeded_by_a_states_pack_stays_refused():
    """us-federal ends; a Florida statute naming it holds 305 but says nothing of the
    national law for a call to anywhere else (an Oklahoma number)."""
    raw = tomllib.loads((PACKS_DIR / "us-federal.toml").read_text())
    raw["pack"]["effective_until"] = CHANGE
    federal = pack_from_mapping(raw, origin="us-federal.toml")
    fl = _fl("us-fl-2027", effective_from=date(2020, 1, 1), succeeds="us-federal",
             version="2027.1.0")
    policy = Policy({p.id: p for p in (federal, fl)}, PolicySettings())
    _no_pack(_decide(policy, AFTER, "4052345678"), "us-federal")
    _no_pack(_decide(policy, AFTER, "3052345678"), "us-federal")


def test_a_national_pack_succeeded_by_a_national_pack():
    raw = tomllib.loads((PACKS_DIR / "us-federal.toml").read_text())
    raw["pack"]["effective_until"] = CHANGE
    old = pack_from_mapping(raw, origin="us-federal.toml")
    text = (PACKS_DIR / "us-federal.toml").read_text().replace("us-federal:", "us-fed-2027:")
    raw = tomllib.loads(text)
    raw["pack"].update(id="us-fed-2027", effective_from=CHANGE, succeeds="us-federal",
                       version="2027.1.0")
    new = pack_from_mapping(raw, origin="us-fed-2027.toml")
    policy = Policy({p.id: p for p in (old, new)}, PolicySettings())
    verdict = _decide(policy, AFTER, "4052345678")
    assert verdict.allowed, verdict.reason
    assert _applied(verdict) == {"us-fed-2027"}


def test_zones_straddling_a_one_day_gap_stay_refused():
    """The old text ends 2026-12-31 (exclusive), the narrowed one starts 2027-01-01:
    Miami's 2026-12-31 is in no text; Guam's 2027-01-01 is the successor's. The later
    date being covered does not cover the earlier one."""
    old = _fl(effective_until=date(2026, 12, 31))
    policy = _policy(old, _new(drop=305))
    _no_pack(_decide(policy, STRADDLE, location="96910"))


def test_a_florida_house_policy_naming_it_does_not_speak_for_florida():
    """A house policy of Florida's scope (a seller's own narrower rule) in force from the
    change, naming us-fl: it is no enacted law, so Florida's law after the change is not
    encoded. (heng24's house-policy test used a national house policy, which the state
    test alone refuses: dropping ``is_statute`` from the rule passed every test.)"""
    house = _fl("acme-fl", kind="house-policy", effective_from=CHANGE, succeeds="us-fl",
                version="2027.1.0", drop=305)
    _no_pack(_decide(_policy(_old(), house), AFTER))
    _no_pack(_decide(_policy(_old(), house), AFTER, "7862345678"))
