"""Helper hwd26, over sockets: a CALLGUARD_FOLLOW read that comes back unread after a
restart is asked once more; unread again, it is said and counted.

Replays lab call-01 (``../shared/fixtures``, ``call-01-answered-callee-hangs-up``) as
``TestFollowFromTheChannel.test_without_channelvars_getvar_finds_the_call_again`` does:
manager.conf without channelvars, the watchdog killed mid-call, the called party hanging
up while nobody watched, a new process finding the call again by a Getvar of each live
channel's CALLGUARD_FOLLOW (``CallTracker._resume``).

SYNTHESISED: the fake Asterisk leaves the first CALLGUARD_FOLLOW Getvar of each channel
unanswered (``_StallFirstFollow``: an Asterisk busy after a restart, the read timing out
past ``action_timeout_ms``); the variables' values and DIALSTATUS, as in the test above.
The control answers every Getvar "No such channel" (``FakeAmi.answer_getvar``), as the
lab's call-08 recorded Asterisk answering a Getvar of a channel gone (``Response: Error``,
``Message: No such channel``).
"""

from __future__ import annotations

import asyncio
import time

from tests.fake_ami import FakeAmi, lab_events
from tests.test_watchdog import (
    CALL_01,
    CALLED_01,
    CALLER_01,
    CALLER_DIAL,
    carried,
    node,  # noqa: F401 - the fixture
    send_with_follow,
    until,
    with_g_option,
)

FOLLOW = "CALLGUARD_FOLLOW"


class _StallFirstFollow(FakeAmi):
    """SYNTHESISED: the first CALLGUARD_FOLLOW Getvar of each channel gets no reply."""

    def __init__(self) -> None:
        super().__init__()
        self.stalled: set[str] = set()

    async def _action(self, writer, action):  # type: ignore[no-untyped-def]
        if (action.get("Action", "").lower() == "getvar" and action.get("Variable") == FOLLOW):
            channel = self.resolve(action.get("Channel", "")) or action.get("Channel", "")
            if channel not in self.stalled:
                self.stalled.add(channel)
                self.actions.append((time.monotonic(), action))
                return  # never answered: the read times out
        await super()._action(writer, action)


async def _restart_after_the_called_party_went(node, fake: FakeAmi):  # noqa: F811
    first = await node(fake=fake)
    before, held = with_g_option(lab_events(CALL_01), CALLED_01)
    fake.hold(held)
    await send_with_follow(fake, before[:-6], carried())
    await first.kill()
    await fake.send(before[-6:])  # the called party hangs up while nobody watches
    fake.variables[(CALLER_DIAL, "DIALSTATUS")] = "ANSWER"
    return await node(fake=fake, known_until=time.monotonic())


async def test_a_follow_read_stalled_past_the_timeout_is_asked_again(node):  # noqa: F811
    fake = _StallFirstFollow()
    second = await _restart_after_the_called_party_went(node, fake)
    await until(lambda: second.named("line-release"), timeout=8.0)
    assert sorted(fake.hangups()) == CALLER_01
    asked = [c for c, v in fake.getvars() if v == FOLLOW]
    assert asked.count(CALLER_DIAL) == 2  # stalled once, asked once more
    [record] = second.named("line-release")
    assert record["ended_by"] == "called-party"
    assert record["followed_again"] is True
    assert second.watchdog.stats["follow_unread"] == 0


async def test_control_no_such_channel_twice_is_said_and_counted(node):  # noqa: F811
    fake = FakeAmi(answer_getvar=False)
    second = await _restart_after_the_called_party_went(node, fake)
    await until(lambda: second.watchdog.stats["follow_unread"] == 1, timeout=8.0)
    asked = [c for c, v in fake.getvars() if v == FOLLOW]
    assert asked.count(CALLER_DIAL) == 2  # once more, not for ever
    await asyncio.sleep(0.5)
    assert [c for c, v in fake.getvars() if v == FOLLOW].count(CALLER_DIAL) == 2
    assert fake.hangups() == []
    assert second.named("line-release") == []


class _SlowReadLogin(FakeAmi):
    """SYNTHESISED: the read session's Login (Events: off) is answered 3 s late: the read
    session is not ready for longer than the action timeout (1 s here)."""

    async def _action(self, writer, action):  # type: ignore[no-untyped-def]
        if action.get("Action", "").lower() == "login" and action.get("Events") == "off":
            await asyncio.sleep(3.0)
        await super()._action(writer, action)


async def test_a_follow_re_ask_goes_on_the_main_session_while_the_read_one_is_down(
        node):  # noqa: F811
    """The re-ask (``ReadVariable.main_ok``) does not wait for a read session that is not
    there: it goes on the main session at once; a first read waits for the read session
    within the timeout, as before, and comes back unread."""
    from callguard.watchdog.calls import ReadVariable

    n = await node(fake=_SlowReadLogin())
    assert not n.watchdog.reading
    started = time.monotonic()
    await n.watchdog._getvar(ReadVariable("l", CALLER_DIAL, FOLLOW, main_ok=True))
    assert time.monotonic() - started < 0.5  # answered ("No such channel"), not timed out
    assert n.watchdog.stats["getvar_again_on_main_session"] == 1
    started = time.monotonic()
    await n.watchdog._getvar(ReadVariable("l", CALLER_DIAL, FOLLOW))
    assert time.monotonic() - started >= 0.9  # waited the read session's login, timed out
    assert n.watchdog.stats["getvar_again_on_main_session"] == 1
