"""An administrator's CALLGUARD_BACKSTOP as TIMEOUT(absolute) reads it: never disarmed.

funcs/func_timeout.c ``timeout_write`` reads the value with
``sscanf(value, "%30ld%30lf", &sec, &x)``; when nothing is read (``res == 0``: "five",
"off") or ``sec < 0`` it sets ``when`` to zero, and ``ast_channel_setwhentohangup_tv`` with
a zero offset CLEARS the absolute timeout ("Setting of 0 disables the timeout"). So a
typo'd [globals] CALLGUARD_BACKSTOP, or 0, left AGI() with no backstop at all: a stalled
callguard held the channel for as long as it stayed stalled (res_agi.c ``run_agi`` never
times out a FastAGI peer) — on a channel already answered (an Originate straight to the
customer) the called party in dead air. The steps of ``s`` run in the interpreter of
test_dialplan13_pjsip.py up to AGI(), where the hook reads what TIMEOUT(absolute) was set to.
"""

from __future__ import annotations

import asyncio
import re

import pytest

from tests.test_dialplan13_pjsip import run_s


def timeout_write_seconds(value: str) -> float:
    """func_timeout.c timeout_write: the absolute timeout a value arms, 0 when disarmed.

    ``%ld`` skips white space and reads an optional sign and digits; ``%lf`` then reads a
    float from what follows (``"5.5"`` is 5 and .5). Nothing read (or EOF) or a negative
    ``sec``: zero, which ``ast_channel_setwhentohangup_tv`` takes as "no timeout"."""
    whole = re.match(r"\s*([-+]?\d+)", value)
    if whole is None:
        return 0.0
    sec = int(whole.group(1))
    if sec < 0:
        return 0.0
    rest = re.match(r"\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)", value[whole.end():])
    return sec + (float(rest.group(1)) if rest else 0.0)


def test_the_port_reads_as_timeout_write():
    assert timeout_write_seconds("5") == 5
    assert timeout_write_seconds("5s") == 5
    assert timeout_write_seconds("5.5") == 5.5
    assert timeout_write_seconds("five") == 0
    assert timeout_write_seconds("0") == 0
    assert timeout_write_seconds("-5") == 0
    assert timeout_write_seconds("") == 0


async def _armed_at_agi(context: str, backstop: str) -> float:
    """The seconds TIMEOUT(absolute) holds when ``context``'s AGI() starts."""
    armed: list[float] = []

    async def agi(args: list[str], channel: dict[str, str]) -> str:
        armed.append(timeout_write_seconds(channel.get("TIMEOUT(absolute)", "0")))
        return "HANGUP"  # the run ends here: what follows is not the subject

    chan = {"CALLGUARD_TRUNK": "PJSIP/itsp", "ARG1": "8015550123", "ARG2": "c1",
            "ARG3": "manual", "CALLGUARD_BACKSTOP": backstop, "CHANNEL(linkedid)": "1.1"}
    outcome = await run_s(chan, agi, context=context)
    assert outcome.how == "ended", outcome
    [seconds] = armed
    return seconds


CONTEXTS = ["callguard-dial", "callguard-optout"]


@pytest.mark.parametrize("backstop", ["five", "off", "0", "00", "-5", "s5", "no", "0.0",
                                      "1O"])
@pytest.mark.parametrize("context", CONTEXTS)
def test_a_backstop_timeout_write_cannot_read_is_the_default(context, backstop):
    """Before the fix "five", "0" or "-5" reached TIMEOUT(absolute) as given: disarmed."""
    assert asyncio.run(_armed_at_agi(context, backstop)) == 5


@pytest.mark.parametrize("backstop", ["5s", "2.5", " 3", "7 s"])
@pytest.mark.parametrize("context", CONTEXTS)
def test_a_backstop_that_is_not_whole_seconds_is_the_default(context, backstop):
    """Whole seconds only, as for CALLGUARD_MIN_RING: what the admin meant by "7 s" is a
    guess, and the default 5 is the documented bound."""
    assert asyncio.run(_armed_at_agi(context, backstop)) == 5


@pytest.mark.parametrize(("backstop", "expected"), [("", 5), ("3", 3), ("12", 12),
                                                    ("05", 5)])
@pytest.mark.parametrize("context", CONTEXTS)
def test_a_backstop_of_whole_seconds_is_kept(context, backstop, expected):
    assert asyncio.run(_armed_at_agi(context, backstop)) == expected


@pytest.mark.parametrize("backstop", ["1000000", "99999999999999999999",
                                      "9223372036854775807"])
@pytest.mark.parametrize("context", CONTEXTS)
def test_a_backstop_of_seven_digits_or_more_is_the_default(context, backstop):
    """A long value is no bound: ``%30ld`` saturates at LONG_MAX and
    ``ast_channel_setwhentohangup_tv`` adds it to now (utils.c ``ast_tvadd``, a signed
    overflow: from 19 digits on a 64-bit build, 9 on a 32-bit one), and 1000000 s is 11
    days of a stalled callguard holding the call. Before the fix each was kept as given."""
    assert asyncio.run(_armed_at_agi(context, backstop)) == 5


@pytest.mark.parametrize("context", CONTEXTS)
def test_a_backstop_of_six_digits_is_kept(context):
    assert asyncio.run(_armed_at_agi(context, "999999")) == 999999
