"""Examiner hast14: the caller-ID check must read the presentation the wire uses.

What the called party's phone is shown is decided, for chan_pjsip, by
res_pjsip_session.c ``set_from_header`` (and res_pjsip_caller_id.c ``add_id_headers`` for
P-Asserted-Identity): ``restricted`` is ``ast_party_id_presentation()`` of the channel's
connected line, and channel.c ``ast_party_id_presentation`` combines the name's and the
number's presentations — a valid restricted name outranks an allowed number. So a call
whose connected-line name is ``prohib`` goes out with ``From: Anonymous`` and no
P-Asserted-Identity (unless the trunk has ``trust_id_outbound``), whatever the number's
own presentation says.

The watchdog read ``CONNECTEDLINE(num-pres)`` (func_callerid.c ``party_id_read`` →
``party_number_read``: the number's presentation alone) and recorded such a call
``verified``. ``CONNECTEDLINE(pres)`` is the combined one: ``party_id_read``'s
``pres[entation]`` member is ``ast_named_caller_presentation(ast_party_id_presentation(id))``.

The Getvar answers below are computed as Asterisk 22 computes them (``_asterisk_reads``,
a port of the two functions named); the events are those of
``test_watchdog_examiner_went_on`` with the connected line on the called party's DialEnd.
"""

from __future__ import annotations

from callguard.watchdog.calls import CallTracker, Followed, ReadVariable, TrackerSettings
from tests.test_watchdog_examiner_went_on import CALL, CUSTOMER, TWO, UTAH, _customer_answered

CAMPAIGN_NUMBER = "+4930123456"
_RESTRICTION = 0x60
_NAMES = {0: "allowed_not_screened", 3: "allowed", 32: "prohib_not_screened",
          35: "prohib", 67: "unavailable"}


def _combined(name_pres: int | None, number_pres: int) -> int:
    """channel.c ``ast_party_id_presentation``: the most restrictive valid one wins (name
    restricted 0, allowed 1, unavailable 2; an invalid name 3, never winning)."""
    priority = {0x20: 0, 0x00: 1, 0x40: 2}
    number_value = number_pres & _RESTRICTION
    screening = number_pres & 0x03
    value = number_value
    if name_pres is not None and priority.get(name_pres & _RESTRICTION, 3) < priority.get(
            number_value, 3):
        value = name_pres & _RESTRICTION
    return 67 if value == 0x40 else value | screening


def _asterisk_reads(variable: str, name_pres: int | None, number_pres: int) -> str:
    """What ``Getvar`` answers for the called party's connected line (func_callerid.c
    ``connectedline_read`` → ``party_id_read``)."""
    if variable == "CONNECTEDLINE(num-pres)":
        return _NAMES[number_pres]
    if variable == "CONNECTEDLINE(pres)":
        return _NAMES[_combined(name_pres, number_pres)]
    raise AssertionError(variable)


def _checked(name_pres: int | None, number_pres: int) -> tuple[str | None, list[str]]:
    """The call answered, its presentation read as Asterisk answers; the tracker's word."""
    reports: list[tuple[str, dict]] = []
    tracker = CallTracker(TrackerSettings(), report=lambda n, **f: reports.append((n, f)))
    effects: list[object] = []
    for i, event in enumerate(_customer_answered()):
        shown = ({"DestConnectedLineNum": CAMPAIGN_NUMBER}
                 if event.get("DestChannel") == CUSTOMER else {})
        effects += tracker.feed({**event, **shown}, 10.0 + i * 0.1)
        if i == 6:
            effects += tracker.follow(Followed("d-1", CALL, "c", "predictive", 25.0, UTAH,
                                               CAMPAIGN_NUMBER, asker=TWO))
    [read] = [e for e in effects if isinstance(e, ReadVariable) and e.channel]
    assert read.channel == CUSTOMER
    tracker.variable_read(CALL, CUSTOMER, read.variable,
                          _asterisk_reads(read.variable, name_pres, number_pres), 11.0)
    # the trunk endpoint's from_user, unset (hcid24: read too on a PJSIP channel)
    tracker.variable_read(CALL, "", "PJSIP_ENDPOINT(itsp,from_user)", "", 11.0)
    # ... proven unset by the endpoint's dtmf_mode, never "" for an endpoint Asterisk found
    # (hrev113: a failed function read answers "" too)
    tracker.variable_read(CALL, "", "PJSIP_ENDPOINT(itsp,dtmf_mode)", "rfc4733", 11.0)
    return tracker.calls[CALL].caller_id, [n for n, _ in reports]


def test_a_restricted_name_hides_the_number_and_is_a_mismatch():
    """Name ``prohib`` (a CONNECTEDLINE(name-pres) set after the gate's MSet, a phone's
    Privacy: id), number allowed: the INVITE carries no caller ID. Before: "verified"."""
    caller_id, records = _checked(name_pres=35, number_pres=0)
    assert caller_id == "mismatch"
    assert "caller-id-mismatch" in records


def test_control_both_allowed_is_verified():
    assert _checked(name_pres=0, number_pres=0) == ("verified", [])


def test_control_no_name_the_number_decides():
    """No valid name (``ast_party_id_presentation``: priority 3): the number's own."""
    assert _checked(name_pres=None, number_pres=0)[0] == "verified"
    assert _checked(name_pres=None, number_pres=32)[0] == "mismatch"


def test_an_allowed_name_does_not_lift_a_restricted_number():
    assert _checked(name_pres=0, number_pres=35)[0] == "mismatch"
