"""The contract with Asterisk: every name the dialplan, the server and the tests share.

Dialplan call (positional arguments after the URL)::

    AGI(agi://HOST:4573/callguard,NUMBER,CAMPAIGN,MODE,LINKEDID,LOCATION)
    AGI(agi://HOST:4573/callguard-optout,NUMBER,CAMPAIGN,MODE,LINKEDID)

``MODE`` may be empty (the campaign's default); ``LINKEDID`` is ``${CHANNEL(linkedid)}``
(``agi_uniqueid`` is not the Linkedid); ``LOCATION`` is an IANA zone or a 5-digit ZIP.
The answer is one ``EXEC MSet(...)`` carrying every variable below; it stands once
``GET VARIABLE`` of its fresh id (``CALLGUARD_DECISION_ID``, or ``CALLGUARD_OPTOUT_ID``)
is answered with that id before anything else (wire.py ``AgiChannel.confirm``).
"""

from __future__ import annotations

__all__ = [
    "ARG_CAMPAIGN",
    "ARG_COUNT",
    "ARG_LINKEDID",
    "ARG_LOCATION",
    "ARG_MODE",
    "ARG_NUMBER",
    "DEFAULT_BLOCK_CAUSE",
    "OPTOUT_ID",
    "OPTOUT_RESULT",
    "PRESENTATION_ALLOWED",
    "ROUTE_CHECK",
    "ROUTE_OPTOUT",
    "VAR_CALLERID_NUM",
    "VAR_CALLERID_PRES",
    "VAR_CALLERNAME_PRES",
    "VAR_CAUSE",
    "VAR_DECISION_ID",
    "VAR_FOLLOW",
    "VAR_REASON",
    "VAR_RULE",
    "VAR_VERDICT",
]

ROUTE_CHECK = "callguard"
ROUTE_OPTOUT = "callguard-optout"

# agi_arg_N header names, in the order the dialplan passes them.
ARG_NUMBER = "agi_arg_1"
ARG_CAMPAIGN = "agi_arg_2"
ARG_MODE = "agi_arg_3"
ARG_LINKEDID = "agi_arg_4"
ARG_LOCATION = "agi_arg_5"

# How many arguments each route takes; an agi_arg_N beyond these means the dialplan split
# a value (a comma inside a variable) or a newline added lines: the call is BLOCKed.
ARG_COUNT = {ROUTE_CHECK: 5, ROUTE_OPTOUT: 4}

VAR_VERDICT = "CALLGUARD_VERDICT"  # ALLOW or BLOCK; anything else means: do not dial
VAR_RULE = "CALLGUARD_RULE"
VAR_REASON = "CALLGUARD_REASON"
VAR_DECISION_ID = "CALLGUARD_DECISION_ID"
VAR_CAUSE = "CALLGUARD_CAUSE"  # hangup cause to use on BLOCK
OPTOUT_RESULT = "CALLGUARD_OPTOUT"  # OK once durable, FAILED otherwise
# The opt-out answer's own random id (no decision is recorded for it): read back with
# GET VARIABLE, as a check's decision id is, so only Asterisk's reply confirms the answer.
OPTOUT_ID = "CALLGUARD_OPTOUT_ID"
# On an ALLOW the watchdog follows: what it needs, carried by the channel (set as
# __CALLGUARD_FOLLOW, so the dialled leg inherits it; manager.conf channelvars puts it on
# every AMI event). Format: callguard/watchdog/carry.py.
VAR_FOLLOW = "CALLGUARD_FOLLOW"

# Set on ALLOW so the solicitor's number is shown (13-25a-103(6); H.B. 45 106(4)).
# CALLERPRES() is gone since Asterisk 17; CALLERID(num-pres) works on 13-22. The name's
# presentation too: channel.c ast_party_id_presentation lets a restricted name outrank an
# allowed number, and res_pjsip_session.c set_from_header (and res_pjsip_caller_id.c
# add_id_headers, for P-Asserted-Identity) then keep the campaign's number out of the
# INVITE unless the trunk has trust_id_outbound - a phone that sent Privacy: id, or a
# CALLERID(name-pres) set before the Gosub, would place the call with no caller ID.
VAR_CALLERID_NUM = "CALLERID(num)"
VAR_CALLERID_PRES = "CALLERID(num-pres)"
VAR_CALLERNAME_PRES = "CALLERID(name-pres)"
PRESENTATION_ALLOWED = "allowed_not_screened"

DEFAULT_BLOCK_CAUSE = 21  # Call Rejected
