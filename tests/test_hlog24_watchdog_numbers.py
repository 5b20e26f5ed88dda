"""No dialled or presented number in the watchdog's records or its operational log (hlog24).

The lab's call-01 (Asterisk 22.10.1, ../shared/fixtures/asterisk/ami, replayed over real
TCP by tests/fake_ami.py) dials extension ``201``; here it dials the NANP number
8015550123 instead, in every field Asterisk puts the dialled number in: the called
channel's name (``Local/8015550123@callee-00000001;1``), ``Exten``, ``Extension``,
``CallerIDNum``, ``ConnectedLineNum``, ``DestCallerIDNum``, a ``Value`` naming the
channel. The caller ID presented is the lab's own, +4930123456; the one expected, for a
mismatch, +18015550100. Each record kind the tracker writes from traffic (line release,
violation risk, caller-ID mismatch and unverified) is driven, encoded by the real
``RecordEncoder`` as the log writes it, and the operational log (stderr, the real
``configure_logging`` chain) captured: no 7-digit run of any of the three numbers may
appear in either. (``abandonment-warning`` / ``-uncounted`` are written by
``watchdog/node.py`` from the campaign's 30-day counts: campaign id, counts, rate, the
store's error, no field of the traffic.)

Nothing leaked (session 27): the tracker names channels through ``events.safe_channel``
where it makes the fields, and the encoder again (``safe_channel``, ``_clean``: every
string, map keys too, through ``redact_digits``); the operational chain has
``redact_event``. With the tracker's and the encoder's redaction made the identity, these
tests fail (``8015550 (of 8015550123) in the compliance record``).
"""

from __future__ import annotations

import re
import time

import pytest
import structlog

from callguard.audit import configure_logging
from callguard.compliance.logkey import NumberProtector
from callguard.compliance.record import RecordEncoder
from callguard.watchdog.calls import Followed
from tests.fake_ami import FakeAmi, lab_events, linkedid_of
from tests.test_watchdog import (
    CALL_01,
    UTAH,
    Node,
    send_answered_then_rest,
    until,
    with_g_option,
)

KEY = bytes.fromhex("ab" * 32)
DIALLED = "8015550123"
PRESENTED = "+4930123456"  # the lab's caller ID
EXPECTED = "+18015550100"
CALLED = f"Local/{DIALLED}@callee-00000001;1"
_FIELDS = re.compile(r"(?m)^(Exten|Extension|CallerIDNum|ConnectedLineNum|DestCallerIDNum|"
                     r"DestConnectedLineNum|DestExten): 201(?=\r?$)")


def _dialling_a_number(events: list[str], *, calling_legs: bool = False) -> list[str]:
    """``calling_legs``: the Originate's legs named with the number too, as the shipped
    predictive dialplan names them (``Local/NUMBER@callguard-example-predictive``)."""
    out = []
    for event in events:
        changed = _FIELDS.sub(lambda m: f"{m[1]}: {DIALLED}", event)
        if calling_legs:
            changed = changed.replace("Local/long@", f"Local/{DIALLED}@")
        out.append(changed.replace("201@", f"{DIALLED}@"))  # channels, Device, DialString
    assert any(CALLED in e for e in out)
    assert not any("201@" in e for e in out)
    return out


def _runs(number: str) -> list[str]:
    digits = number.lstrip("+")
    return [digits[i:i + 7] for i in range(len(digits) - 6)]


def _assert_no_number(text: str, where: str) -> None:
    for number in (DIALLED, PRESENTED, EXPECTED):
        for run in _runs(number):
            assert run not in text, f"{run} (of {number}) in {where}: {text[:600]}"


@pytest.fixture
async def node():
    saved = structlog.get_config()
    configure_logging(KEY)
    made: list[Node] = []

    async def make(**kwargs) -> Node:
        fake_kwargs = {k: kwargs.pop(k) for k in ("honour_hangup",) if k in kwargs}
        made.append(await Node(FakeAmi(**fake_kwargs), **kwargs).start())
        return made[-1]

    try:
        yield make
    finally:
        for each in made:
            await each.stop()
        structlog.configure(**saved)


def _follow(n: Node, events: list[str], *, mode: str = "predictive", limit: float = 25.0,
            caller_id: str = PRESENTED) -> None:
    n.tracker.follow_when_asked(Followed(
        "018f2b9e-0c1d-7a3b-9c4d-5e6f7a8b9c0d", linkedid_of(events), "ut-solar-predictive",
        mode, limit, UTAH, caller_id, time.monotonic()), events)


def _written(n: Node, capfd) -> str:
    encoder = RecordEncoder(NumberProtector(KEY), node="n1", packs={},
                            campaigns=["ut-solar-predictive"], enabled=[])
    lines = [encoder.event(name, fields).decode() for name, fields in n.reports]
    for line in lines:
        _assert_no_number(line, "the compliance record")
    _assert_no_number(capfd.readouterr().err, "the operational log")
    return "".join(lines)


@pytest.mark.parametrize("calling_legs", [False, True], ids=["called", "calling-too"])
async def test_line_release_and_violation_risk(node, capfd, calling_legs):
    n = await node(honour_hangup=False, retry=0.1)
    events = _dialling_a_number(lab_events(CALL_01), calling_legs=calling_legs)
    before, held = with_g_option(events, CALLED)
    n.fake.hold(held)
    _follow(n, events, mode="prerecorded", limit=0.5)
    await n.fake.send(before)
    await until(lambda: n.named("violation-risk"))
    n.fake.honour_hangup = True
    await until(lambda: n.named("line-release"))
    written = _written(n, capfd)
    for kind in ('"event":"violation-risk"', '"event":"line-release"', "still_up",
                 "hangups_sent"):
        assert kind in written


async def test_caller_id_mismatch(node, capfd):
    n = await node()
    events = _dialling_a_number(lab_events(CALL_01))
    n.fake.variables[(CALLED, "CONNECTEDLINE(pres)")] = "prohib_passed_screen"
    _follow(n, events, caller_id=EXPECTED)
    await send_answered_then_rest(n, events)
    await until(lambda: n.named("caller-id-mismatch"))
    await until(lambda: n.named("line-release"))
    assert '"event":"caller-id-mismatch"' in _written(n, capfd)


async def test_caller_id_unverified(node, capfd):
    n = await node()
    events = _dialling_a_number(lab_events(CALL_01))
    n.fake.answer_getvar = False
    _follow(n, events)
    await send_answered_then_rest(n, events)
    await until(lambda: n.named("line-release"))
    await until(lambda: n.named("caller-id-unverified"))
    assert '"event":"caller-id-unverified"' in _written(n, capfd)
