"""The trunk Dial() of the shipped dialplan, as chan_pjsip on Asterisk 22 reads it.

An ALLOW ends in ``Dial(<dial string>,RING)``. chan_pjsip.c ``request()`` splits the
resource after ``PJSIP/`` once on '/' (``AST_NONSTANDARD_APP_ARGS(args, tmp, '/')``: endpoint,
then "aor"); an endpoint name that is no endpoint but holds '@' is read as
``request_user@endpoint``. res_pjsip_session.c ``ast_sip_session_create_outgoing`` takes the
"aor" part as a list of AOR names and, when none has a contact, uses it AS the target URI;
res_pjsip.c ``ast_sip_create_dialog_uac`` refuses a target that is not a sip:/sips: URI
(``PJSIP_EINVALIDURI``: "Could not create dialog to invalid URI"), and Dial() ends
CHANUNAVAIL. So ``PJSIP/itsp/8015550123`` — ``${CALLGUARD_TRUNK}/${ARG1}`` with the README's
``CALLGUARD_TRUNK=PJSIP/itsp`` — never reaches the trunk: every allowed call fails. The form
chan_pjsip documents for a trunk is ``PJSIP/8015550123@itsp``: the number becomes the
Request-URI's user part on the trunk's own AOR contact.

The steps between the last verdict check and Dial() are run by a small interpreter of just
the constructs they use (Set, LOCAL, ExecIf, GotoIf to a label, IF, CUT, TOUPPER, and
$[...] with = != < &);
anything else makes it fail rather than guess.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from tests.asterisk_replica import separate_args
from tests.test_dialplan import TEXT

# One trunk as pjsip.conf would define it: endpoint itsp, aors=itsp, a static contact.
ENDPOINTS = {"itsp": "itsp"}
AORS = {"itsp": "sip:sip.itsp.example:5060"}


def _function(name: str, arg: str, variables: dict[str, str]) -> str:
    if name == "CUT":  # func_cut.c: CUT(varname,char-delim,range-spec)
        var, delim, spec = separate_args(arg, ",", 3)
        fields = variables.get(var, "").split(delim or "-")
        first, dash, last = spec.partition("-")
        start = int(first) - 1
        end = len(fields) if dash and not last else int(last or first)
        return delim.join(fields[start:end])
    if name == "TOUPPER":
        return arg.upper()
    if name == "LEN":
        return str(len(arg))
    if name == "FILTER":  # func_strings.c: FILTER(allowed-chars,string)
        allowed, _, value = arg.partition(",")
        return "".join(ch for ch in value if ch in allowed)
    if name == "CHANNEL":
        return variables[f"CHANNEL({arg})"]
    if name == "IF":  # func_logic.c: IF(expr?true:false)
        cond, _, branches = arg.partition("?")
        true, _, false = branches.partition(":")
        return true if cond.strip() not in ("", "0") else false
    raise AssertionError(f"the interpreter does not model {name}()")


def _operand(token: str) -> str:
    token = token.strip()
    return token[1:-1] if len(token) >= 2 and token[0] == token[-1] == '"' else token


def _expression(text: str) -> str:
    """$[...] with the operators the shipped steps use (ast_expr2: | binds loosest, then &,
    then the comparisons). A stray double quote is a syntax error: "" (false)."""
    if text.count('"') % 2:
        return ""
    if " | " in text:
        return "1" if any(_expression(p) != "0" for p in text.split(" | ")) else "0"
    if " & " in text:
        return "1" if all(_expression(p) != "0" for p in text.split(" & ")) else "0"
    for op in (" != ", " >= ", " =~ ", " = ", " < "):
        if op in text:
            left, right = (_operand(p) for p in text.split(op, 1))
            if op == " =~ ":  # op_eqtilde: the length of the match, 0 for none
                found = re.search(right, left)
                return str(len(found.group(0))) if found else "0"
            if op in (" < ", " >= "):  # numbers compare as numbers, else as strings
                try:
                    less = float(left) < float(right)
                except ValueError:
                    less = left < right
                return "1" if less == (op == " < ") else "0"
            return "1" if (left == right) == (op == " = ") else "0"
    raise AssertionError(f"the interpreter does not model $[{text}]")


def substitute(text: str, variables: dict[str, str]) -> str:
    """pbx_substitute_variables_helper for the constructs above, innermost first."""
    while True:
        var = re.search(r"\$\{([^${}]*)\}", text)
        expr = re.search(r"\$\[([^\[\]$]*)\]", text)
        if var is None and expr is None:
            return text
        if var is not None:
            body = var.group(1)
            call = re.fullmatch(r"([A-Z]+)\((.*)\)", body)
            value = (_function(call.group(1), call.group(2), variables) if call
                     else variables.get(body, ""))
            text = text[:var.start()] + value + text[var.end():]
        else:
            assert expr is not None
            text = text[:expr.start()] + _expression(expr.group(1)) + text[expr.end():]


def steps_of_s(context: str = "callguard-dial") -> list[tuple[str, str]]:
    """``context``'s extension s: (label, application call) for each priority."""
    body = TEXT.split(f"\n[{context}]\n", 1)[1].split("\n[", 1)[0]
    steps: list[tuple[str, str]] = []
    for raw in body.splitlines():
        line = raw.split(";", 1)[0].strip()
        if line.startswith("exten =>"):
            if steps:
                break  # the next extension: s is done
            steps.append(("", line.removeprefix("exten =>").split(",", 2)[2]))
        elif line.startswith("same =>") and steps:
            priority, _, app = line.removeprefix("same =>").strip().partition(",")
            label = re.fullmatch(r"n\((\w+)\)", priority)
            steps.append((label.group(1) if label else "", app))
    return steps


@dataclass
class Outcome:
    """Where the steps ended: ``dial`` with Dial()'s arguments, ``goto`` with the
    extension a GotoIf sent the call to, or ``ended`` when AGI() returned -1 (res_agi.c
    agi_exec_full: AGISTATUS=HANGUP ends the PBX run, or goes to T on a timeout)."""

    how: str
    where: str = ""
    dial: list[str] = field(default_factory=list)


AgiHook = Callable[[list[str], dict[str, str]], Awaitable[str]]


async def run_s(variables: dict[str, str], agi: AgiHook | None = None, *,
                start: int = 0, context: str = "callguard-dial") -> Outcome:
    """Run ``context``'s s from step ``start`` on a channel holding ``variables``.

    ``AGI()`` calls ``agi`` with its substituted arguments (app.c separate_args, as
    agi_exec_full splits them) and the channel; it returns the AGISTATUS to set."""
    steps = steps_of_s(context)
    at = start
    while at < len(steps):
        name, _, data = steps[at][1].partition("(")
        data, at = data[:-1], at + 1
        if name == "Dial":
            return Outcome("dial", dial=separate_args(substitute(data, variables), ",", 9))
        if name == "NoOp":
            continue
        if name == "AGI":
            assert agi is not None, "AGI() reached without a FastAGI peer"
            status = await agi(separate_args(substitute(data, variables), ",", 99), variables)
            variables["AGISTATUS"] = status
            if status == "HANGUP":
                return Outcome("ended", "HANGUP")
            continue
        if name == "GotoIf":  # GotoIf(cond?label) or GotoIf(cond?exten,1)
            cond, _, target = substitute(data, variables).partition("?")
            if cond.strip() in ("", "0"):
                continue
            if target.endswith(",1"):
                return Outcome("goto", target.removesuffix(",1"))
            at = next(i for i, (lab, _) in enumerate(steps) if lab == target)
            continue
        if name == "ExecIf":
            cond, _, branch = substitute(data, variables).partition("?")
            if cond.strip() in ("", "0"):
                continue
            name, _, data = separate_args(branch, ":", 2)[0].partition("(")
            data = data[:-1]
        else:
            data = substitute(data, variables)
        assert name == "Set", f"the interpreter does not model {name}()"
        target, _, value = data.partition("=")
        local = re.fullmatch(r"LOCAL\((\w+)\)", target)
        variables[local.group(1) if local else target] = value
    raise AssertionError("the steps ran out without Dial() or a GotoIf away")


def run_to_dial(variables: dict[str, str]) -> list[str]:
    """Run [callguard-dial] s from after its last check to Dial(): Dial's arguments."""
    steps = steps_of_s()
    after = 1 + max(i for i, (_, a) in enumerate(steps)
                    if "?unanswered,1" in a or "?blocked,1" in a)
    outcome = asyncio.run(run_s(variables, start=after))
    assert outcome.how == "dial", outcome
    return outcome.dial


def pjsip_request_uri(resource: str) -> str:
    """The Request-URI chan_pjsip would send for ``Dial(PJSIP/<resource>)``, or the
    failure it logs (chan_pjsip.c request, multi-domain default; res_pjsip_session.c
    ast_sip_session_create_outgoing; res_pjsip.c ast_sip_create_dialog_uac)."""
    parts = separate_args(resource, "/", 2)
    endpoint, aor = parts[0], (parts[1] if len(parts) > 1 else "")
    request_user = ""
    if endpoint not in ENDPOINTS and "@" in endpoint:
        request_user, endpoint = endpoint.split("@", 1)
    if endpoint not in ENDPOINTS:
        raise LookupError(f"endpoint '{endpoint}' was not found")
    location = aor or ENDPOINTS[endpoint]
    uri = next((AORS[a] for a in location.split(",") if a in AORS), location)
    if not uri.startswith(("sip:", "sips:")):
        raise ValueError(f"Endpoint '{endpoint}': Could not create dialog to invalid URI "
                         f"'{uri}'")
    if request_user:
        scheme, _, rest = uri.partition(":")
        uri = f"{scheme}:{request_user}@{rest.split('@')[-1]}"
    return uri


def dial(number: str, trunk: str, mode: str = "manual", ring: str = "") -> list[str]:
    return run_to_dial({"CALLGUARD_TRUNK": trunk, "ARG1": number, "ARG3": mode,
                        "ARG5": ring, "CALLGUARD_MIN_RING": "20"})


@pytest.mark.parametrize("trunk", ["PJSIP/itsp", "pjsip/itsp"])
@pytest.mark.parametrize("number", ["8015550123", "+18015550123"])
def test_an_allowed_call_reaches_the_trunk_with_the_checked_number(trunk, number):
    """The README's CALLGUARD_TRUNK=PJSIP/itsp dials the checked number on the trunk."""
    peers, *_ = dial(number, trunk)
    tech, _, resource = peers.partition("/")
    assert tech.upper() == "PJSIP"
    assert pjsip_request_uri(resource) == f"sip:{number}@sip.itsp.example:5060"


def test_the_number_is_never_read_as_an_aor_or_uri():
    """Before the fix the number sat in chan_pjsip's "aor" slot: no SIP URI, no call."""
    with pytest.raises(ValueError, match="invalid URI '8015550123'"):
        pjsip_request_uri("itsp/8015550123")


def test_other_technologies_keep_tech_trunk_number():
    """IAX2 and DAHDI read TECH/peer/number (chan_iax2 / chan_dahdi dial strings)."""
    assert dial("8015550123", "IAX2/itsp")[0] == "IAX2/itsp/8015550123"
    assert dial("8015550123", "DAHDI/g1")[0] == "DAHDI/g1/8015550123"


def dial_seconds(timeout: str) -> int | None:
    """app_dial.c: the timeout argument as atoi() reads it; <= 0 is "infinite" (None)."""
    digits = re.match(r"\s*[-+]?\d*", timeout)
    value = int(digits.group(0)) if digits and digits.group(0).strip(" +-") else 0
    return value if value > 0 else None


@pytest.mark.parametrize(("mode", "ring", "expected"), [
    ("manual", "", "30"), ("manual", "12", "20"), ("predictive", "12", "20"),
    ("", "25", "25"), ("prerecorded", "", "30"), ("predictive", "025", "025"),
    ("manual", "25", "25"), ("fax", "5", "20"),
])
def test_ring_time_reaches_dial(mode, ring, expected):
    """The interpreter runs the RING steps too: the 64.1200(a)(6) minimum for every mode
    (a manual call Dial() gave up on after 12 s was disconnected by the caller unanswered)."""
    assert dial("8015550123", "PJSIP/itsp", mode, ring)[1] == expected


@pytest.mark.parametrize("ring", ["5s", "5 s", '5"', "9abc", "5^60", "1.5", "-5", "x"])
@pytest.mark.parametrize("mode", ["predictive", "prerecorded", "", "manual"])
def test_a_ringsecs_that_is_not_whole_seconds_never_rings_a_call_short(mode, ring):
    """RINGSECS reaches $[...] and Dial(): "5s" compared as a string is not below "20", and
    Dial() reads it with atoi() as 5 s (64.1200(a)(6): at least 15 s / 4 rings). Anything
    but digits rings the default 30 s."""
    timeout = dial("8015550123", "PJSIP/itsp", mode, ring)[1]
    assert timeout == "30"
    assert (dial_seconds(timeout) or 0) >= 20


async def _allow(args: list[str], channel: dict[str, str]) -> str:
    """callguard's ALLOW, as its EXEC MSet leaves it on the channel (the AGI is not the
    subject here: tests/test_dialplan13_failclosed.py runs it against a real front)."""
    channel.update(CALLGUARD_VERDICT="ALLOW", CALLGUARD_DECISION_ID="0190-id")
    return "SUCCESS"


@pytest.mark.parametrize("minimum", ["20s", "15.5", "2 0", '2"0', "-20", "10", "0", "x"])
@pytest.mark.parametrize("ring", ["5", "12", ""])
def test_an_administrators_min_ring_that_is_not_whole_seconds_of_20_or_more_is_20(
        minimum, ring):
    """CALLGUARD_MIN_RING comes from [globals]: "20s" is no number to ast_expr2 (make_str:
    a digit-led token with a letter is a string), so "5" < "20s" compared as strings is
    false and a 5 s RINGSECS reached Dial() (64.1200(a)(6): 15 s or four rings). A value
    below 20 would ring short too: Dial's timer starts before ringing. Either rings 20 s."""
    chan = {"CALLGUARD_TRUNK": "PJSIP/itsp", "ARG1": "8015550123", "ARG2": "c1",
            "ARG3": "manual", "ARG5": ring, "CALLGUARD_MIN_RING": minimum,
            "CHANNEL(linkedid)": "1.1"}
    outcome = asyncio.run(run_s(chan, _allow))
    assert outcome.how == "dial", outcome
    assert (dial_seconds(outcome.dial[1]) or 0) >= 20
    assert outcome.dial[1] in ("20", "30")


@pytest.mark.parametrize(("minimum", "ring", "expected"), [
    ("25", "12", "25"), ("25", "", "30"), ("45", "30", "45"), ("", "5", "20")])
def test_an_administrators_min_ring_of_20_or_more_is_kept(minimum, ring, expected):
    chan = {"CALLGUARD_TRUNK": "PJSIP/itsp", "ARG1": "8015550123", "ARG2": "c1",
            "ARG3": "predictive", "ARG5": ring, "CALLGUARD_MIN_RING": minimum,
            "CHANNEL(linkedid)": "1.1"}
    outcome = asyncio.run(run_s(chan, _allow))
    assert outcome.dial[1] == expected


@pytest.mark.parametrize(("minimum", "ring"), [
    ("20", "4294968"), ("20", "0004294968"), ("20", "8589935"), ("4294968", "12")])
def test_a_ring_time_dial_cannot_hold_in_an_int_rings_30(minimum, ring):
    """app_dial.c dial_exec_full: ``to = atoi(args.timeout); if (to > 0) to *= 1000;`` in
    an int: 4294968 s is 4294968000 ms, 704 ms once wrapped (8589935: 408 ms), so
    a digits-only RINGSECS (or CALLGUARD_MIN_RING) of seven digits or more rang the call
    under a second, under 64.1200(a)(6)'s 15 s. Six digits (999999000 ms) still fit."""
    chan = {"CALLGUARD_TRUNK": "PJSIP/itsp", "ARG1": "8015550123", "ARG2": "c1",
            "ARG3": "manual", "ARG5": ring, "CALLGUARD_MIN_RING": minimum,
            "CHANNEL(linkedid)": "1.1"}
    timeout = asyncio.run(run_s(chan, _allow)).dial[1]
    wrapped = (int(timeout) * 1000 + 2**31) % 2**32 - 2**31  # the int Dial() waits on
    assert wrapped >= 20_000
    assert timeout == "30"
