"""The Getvars' own AMI session: a read Asterisk is slow to answer never holds a release.

manager.c runs one session's actions one after another on that session's thread
(``session_do`` -> ``do_message`` -> ``process_message``, which calls the action's handler
in place, then writes the events queued meanwhile): a Getvar stalled in ``action_getvar``
(``ast_func_read`` of a slow function, a channel lock held) held up the next action of the
session — another call's release Hangup — and the events. The fake AMI
(tests/fake_ami.py) handles one connection's actions in the same order, one at a time;
it REPLAYS REAL Asterisk 22.10.1 TRAFFIC from ``../shared/fixtures/asterisk/ami/
lab-asterisk-22.10.1/``. What is synthesised here: the Getvar replies (manager.c
``action_getvar``'s format, as in test_hcid24_from_user_ami), the stall of the endpoint's
``from_user`` read, the called party renamed ``PJSIP/itsp-0000000f`` in call-07 (the lab
has no PJSIP trunk; every other byte as recorded), and the "Login Already In Use" refusal
of manager.conf ``allowmultiplelogin = no`` (manager.c ``process_message``).
"""

from __future__ import annotations

import asyncio
import time

import pytest
import structlog.testing

from callguard.watchdog.calls import Followed
from tests.fake_ami import CRLF, lab_events, linkedid_of, parse
from tests.test_hcid24_from_user_ami import EndpointAmi, _pjsip_events
from tests.test_watchdog import (  # noqa: F401 - node: fixture
    CALL_01,
    CALLED_01,
    CALLER_01,
    UTAH,
    node,
    until,
    with_g_option,
)

pytestmark = pytest.mark.watchdog

CALL_07 = "call-07-ami-hangup-action-cause21"
CALLED_07 = "Local/205@callee-0000000f;1"
PJSIP_07 = "PJSIP/itsp-0000000f"
FROM_USER = "PJSIP_ENDPOINT(itsp,from_user)"
STALL_S = 6.0  # longer than the federal 5 s (47 U.S.C. 227(d)(3)(B))


class StallingAmi(EndpointAmi):
    """SYNTHESISED: the endpoint's from_user Getvar is answered ``STALL_S`` after it is
    read, and that connection's next actions wait behind it (one session, one thread)."""

    stalled_at: float | None = None

    async def _action(self, writer: asyncio.StreamWriter, action: dict[str, str]) -> None:
        if action.get("Action", "").lower() == "getvar" and action.get("Variable") == FROM_USER:
            self.stalled_at = time.monotonic()
            await asyncio.sleep(STALL_S)
        await super()._action(writer, action)


def _call_07_pjsip() -> list[str]:
    return [e.replace(CALLED_07, PJSIP_07) for e in lab_events(CALL_07)]


def _hangup_times(fake, since: float) -> list[float]:
    """When the fake read each Hangup action (what Asterisk would act on), after ``since``."""
    return [at - since for at, a in fake.actions if a.get("Action") == "Hangup"]


async def test_a_stalled_read_does_not_hold_another_calls_release(node):  # noqa: F811
    """Call A (call-07, its called party on PJSIP) rings: its endpoint's from_user is read,
    and Asterisk takes 6 s to answer. Meanwhile call B (call-01, prerecorded: 5 s) ends by
    its called party's hangup. B's Hangups reach Asterisk at once, not behind A's read.
    On one session (before) they waited for the read, or for the session to be dropped
    as silent and the picture to be taken again."""
    fake = StallingAmi()
    fake.endpoint_values["PJSIP_ENDPOINT(itsp,dtmf_mode)"] = "rfc4733"
    n = await node(fake=fake)
    events_a = _call_07_pjsip()
    n.tracker.follow_when_asked(
        Followed("decision-a", linkedid_of(events_a), "ut-solar-predictive", "predictive",
                 25.0, UTAH, "+4930123456", time.monotonic()), events_a)
    ringing = next(i for i, e in enumerate(events_a)
                   if parse(e).get("Event") == "DialBegin" and parse(e).get("Channel"))
    await fake.send(events_a[:ringing + 1])
    await until(lambda: fake.stalled_at is not None)

    events_b = lab_events(CALL_01)
    before, held = with_g_option(events_b, CALLED_01)
    fake.hold(held)
    n.follow(events_b, mode="prerecorded", limit=5.0)
    await fake.send(before)
    called_hung_up = time.monotonic()
    await until(lambda: len(n.named("line-release")) == 1, timeout=STALL_S + 6)
    record = n.named("line-release")[0]
    assert record["decision_id"] == "decision-1"  # call B's, not A's (decision-a)
    times = _hangup_times(fake, called_hung_up)
    assert sorted(fake.hangups()) == CALLER_01
    assert max(times) < 1.0, times  # read by Asterisk at once, the read still stalled
    assert time.monotonic() - fake.stalled_at < STALL_S  # ... as it still is now
    assert record["within_limit"] is True
    assert n.named("violation-risk") == []
    assert n.watchdog.stats["ami_silent"] == 0  # the main session never went silent


async def test_read_session_refused_reads_go_on_the_main_session(node):  # noqa: F811
    """manager.conf ``allowmultiplelogin = no`` (manager.c ``process_message``: "Login
    Already In Use" to a second Login of a user logged in; ``__init_manager`` gives each
    user [general]'s value unless its own section sets it): Asterisk refuses the read
    session. The reads go on the main session, as before two sessions (said once), rather
    than answer "unknown" — the follow variable, DIALSTATUS and DIALEDPEERNUMBER read after
    an outage decide releases, the endpoint's from_user the caller ID. Before (hrev124):
    no Getvar went out at all and the caller ID, presented as from_user says, was recorded
    ``unverified``."""
    fake = EndpointAmi(allowmultiplelogin=False)
    fake.endpoint_values[FROM_USER] = "+4930123456"
    fake.endpoint_values["PJSIP_ENDPOINT(itsp,dtmf_mode)"] = "rfc4733"
    n = await node(fake=fake)
    await asyncio.sleep(0.3)  # the read session tried, and was refused
    assert not n.watchdog.reading
    assert fake.read_logins == 0
    events = _pjsip_events()
    fake.variables[("PJSIP/itsp-00000001", "CONNECTEDLINE(pres)")] = "allowed_not_screened"
    n.follow(events, caller_id="+4930123456")
    cut = next(i for i, e in enumerate(events) if parse(e).get("Event") == "BridgeEnter")
    with structlog.testing.capture_logs() as logs:
        await fake.send(events[:cut])
        await until(lambda: any(a.get("Action") == "Getvar" for _, a in fake.actions))
        await asyncio.sleep(0.05)
        await fake.send(events[cut:])
        await until(lambda: n.named("line-release"), timeout=5.0)
    record = n.named("line-release")[0]
    assert record["within_limit"] is True
    assert record["caller_id"] == "verified", (record, n.watchdog.stats)
    assert next(a.get("Variable") for _, a in fake.actions
                if a.get("Action") == "Getvar" and "Channel" not in a) == FROM_USER
    assert n.watchdog.stats["getvar_no_read_session"] == 0
    assert n.watchdog.stats["getvar_on_main_session"] >= 1
    assert [e["event"] for e in logs].count("ami_reads_on_main_session") == 1  # said once
    assert n.watchdog.connected  # the main session is not touched by the refusals


async def test_read_session_goes_and_comes_back_with_the_main_one(node):  # noqa: F811
    """The read session logs in after the main one ("Events: off": no event reaches it),
    is dropped with it and logs in again after the main one's next login."""
    fake = EndpointAmi()
    n = await node(fake=fake)
    await until(lambda: n.watchdog.reading)
    assert (fake.logins, fake.read_logins, fake.sessions) == (1, 1, 1)
    logins = [a for _, a in fake.actions if a.get("Action") == "Login"]
    assert [a.get("Events") for a in logins] == ["call", "off"]
    await fake.drop()
    await until(lambda: fake.logins == 2 and fake.read_logins == 2, timeout=5.0)
    await until(lambda: n.watchdog.connected and n.watchdog.reading)


def test_the_renamed_fixture_is_the_recorded_call():
    events = _call_07_pjsip()
    assert len(events) == len(lab_events(CALL_07))
    assert sum(PJSIP_07 in e for e in events) == sum(
        CALLED_07 in e for e in lab_events(CALL_07)) > 0
    assert all(CRLF in e for e in events)


class SlowReadLoginAmi(EndpointAmi):
    """SYNTHESISED: the read session's Login (Events: off) is answered 0.4 s late (a
    remote Asterisk, a busy manager)."""

    async def _action(self, writer: asyncio.StreamWriter, action: dict[str, str]) -> None:
        if action.get("Action", "").lower() == "login" and action.get("Events") == "off":
            await asyncio.sleep(0.4)
        await super()._action(writer, action)


async def test_a_read_asked_while_the_read_session_logs_in_waits_for_it(node):  # noqa: F811
    """Just after the main login (the picture's reads) the read session may not be logged
    in yet: the read waits for it within the action timeout, not "unknown" at once."""
    fake = SlowReadLoginAmi()
    fake.endpoint_values[FROM_USER] = "+4930123456"
    n = await node(fake=fake)
    assert not n.watchdog.reading
    reply = await n.watchdog._read({"Action": "Getvar", "Variable": FROM_USER})
    assert reply.get("Value") == "+4930123456"
    assert n.watchdog.reading


async def test_a_read_asked_while_the_read_login_is_refused_goes_on_the_main_one(node):  # noqa: F811
    """The read session's first Login is being refused (manager.c ``process_message``
    sleeps 1 s before "Login Already In Use"; 0.4 s here) when a read is asked just after
    the main login (the picture's reads): it is read on the main session once the refusal
    is in, within the action timeout — not "unknown" after waiting the whole timeout for
    a login that never comes (before hrev124)."""
    fake = EndpointAmi(allowmultiplelogin=False, in_use_delay=0.4)
    fake.endpoint_values[FROM_USER] = "+4930123456"
    n = await node(fake=fake)
    assert not n.watchdog.reading
    reply = await n.watchdog._read({"Action": "Getvar", "Variable": FROM_USER})
    assert reply.get("Value") == "+4930123456"
    assert not n.watchdog.reading
    assert fake.read_logins == 0
    assert n.watchdog.stats["getvar_on_main_session"] == 1


def test_the_shipped_user_may_log_in_twice():
    """manager.c ``__init_manager`` gives a user [general]'s allowmultiplelogin unless its
    own section sets it, and ``process_message`` refuses a second Login of the user when it
    is no: the shipped user sets yes itself, so the read session logs in whatever
    [general] says. Failed before hrev124 (the file left it to [general])."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "asterisk-dialplan"
            / "manager-callguard.conf").read_text()
    section = text[text.index("[callguard]"):]
    lines = [line.split(";", 1)[0].strip() for line in section.splitlines()]
    assert [line for line in lines if line.startswith("allowmultiplelogin")] == [
        "allowmultiplelogin = yes"]


async def test_close_with_a_read_in_flight_ends_both_sessions(node):  # noqa: F811
    """Shutdown while a read is stalled on the read session: the read answers at once
    (ConnectionError, "unknown"), both connections are closed, and neither session
    reconnects afterwards."""
    fake = StallingAmi()
    n = await node(fake=fake)
    await until(lambda: n.watchdog.reading)
    read = asyncio.create_task(n.watchdog._read({"Action": "Getvar", "Variable": FROM_USER}))
    await until(lambda: fake.stalled_at is not None)
    await n.watchdog.aclose()
    with pytest.raises(ConnectionError):
        await asyncio.wait_for(read, 1.0)
    for manager in (n.watchdog._manager, n.watchdog._reader):
        protocol = manager.protocol
        assert protocol is None or protocol.closed  # each transport closed by aclose
    logins = (fake.logins, fake.read_logins)
    await asyncio.sleep(0.5)  # several reconnect backoffs of the node's settings
    assert (fake.logins, fake.read_logins) == logins
    assert not n.watchdog.connected
    assert not n.watchdog.reading


async def test_a_read_session_whose_connect_hangs_lets_the_reads_go_on_the_main_one(
        node, monkeypatch):  # noqa: F811
    """The read session's TCP connect is never answered (a SYN dropped: a firewall
    limiting new connections to the manager port, Asterisk's listen backlog full) while
    the main session is up. asyncio's ``create_connection`` has no timeout of its own: the
    kernel gives up after its SYN retries (Linux ``tcp_syn_retries`` 6: ~127 s). Before
    (hrev130) the session stayed "connecting" that long and every read waited the action
    timeout and answered "unknown" — the follow variable, DIALSTATUS and DIALEDPEERNUMBER
    of the picture after a login among them. Now a connect unanswered within the action
    timeout fails as an unreachable one: the reads go on the main session and the read
    session is tried again at its backoff."""
    fake = EndpointAmi()
    fake.endpoint_values[FROM_USER] = "+4930123456"
    loop = asyncio.get_running_loop()
    real = type(loop).create_connection
    dials: list[int] = []

    async def create_connection(self, factory, host=None, port=None, **kwargs):
        if port == getattr(fake, "port", None):
            dials.append(port)
            if len(dials) == 2:  # the read session's first connect: no SYN-ACK comes
                await asyncio.Event().wait()
        return await real(self, factory, host, port, **kwargs)

    monkeypatch.setattr(type(loop), "create_connection", create_connection)
    n = await node(fake=fake)
    await until(lambda: len(dials) >= 2)
    assert not n.watchdog.reading
    replies = []
    for _ in range(3):  # after the first action timeout, at once on the main session
        try:  # as ``_getvar`` takes it: a timeout is "unknown"
            reply = await n.watchdog._read({"Action": "Getvar", "Variable": FROM_USER})
        except (TimeoutError, ConnectionError):
            reply = {}
        replies.append(reply.get("Value"))
        if replies[-1] is not None:
            break
    assert replies[-1] == "+4930123456", (replies, n.watchdog.stats)
    await until(lambda: n.watchdog.reading, timeout=5.0)  # a new connect logs in
    assert fake.read_logins == 1


async def test_a_connect_that_completes_after_close_never_logs_in(node, monkeypatch):  # noqa: F811
    """Shutdown while the read session's connect is under way: the connection that
    completes afterwards is closed unused, no Login goes out on it. Before (hrev130)
    panoramisk's ``connection_made`` sent the Login on it, after ``aclose``."""
    fake = EndpointAmi()
    loop = asyncio.get_running_loop()
    real = type(loop).create_connection
    dials: list[int] = []
    answer = asyncio.Event()

    async def create_connection(self, factory, host=None, port=None, **kwargs):
        if port == getattr(fake, "port", None):
            dials.append(port)
            if len(dials) == 2:  # the read session's connect: answered after the close
                await answer.wait()
        return await real(self, factory, host, port, **kwargs)

    monkeypatch.setattr(type(loop), "create_connection", create_connection)
    n = await node(fake=fake)
    await until(lambda: len(dials) >= 2)
    await n.watchdog.aclose()
    answer.set()
    await asyncio.sleep(0.5)
    assert fake.read_logins == 0
    assert (fake.logins, len(dials)) == (1, 2)
